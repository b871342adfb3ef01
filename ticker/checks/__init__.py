"""``ticker check``: is this configuration, the broker it names and this machine fit to serve?

One module per subject: ``settings`` (secret, origins), ``broker`` (Redis reachable and set up
for ticker's guarantees), ``clock`` (this node against Redis TIME), ``host`` (descriptors and
accept queues against the expected readers), ``reach`` (push and webhooks). ``registry`` runs
them in order (``register`` adds more), ``report`` prints them, ``command`` is the
subcommand; nothing is imported here, so ``ticker serve`` does not load the checks.
"""
