"""Outbound HTTP, guarded in one place: push services, webhook endpoints and the RSS bridge.

``rules`` says which origins and addresses may be reached (standard library only, so the
publishers may import it); ``network`` resolves names and connects only to checked addresses;
``client`` is the service's one shared async client; ``sync`` a blocking one for the bridge.

Only the standard library, httpx/httpcore and relative imports: the publishers' distribution
ships these files as ``ticker_publishers.outbound`` (``publishers/ticker_publishers/outbound`` is
a link here), so the bridge is guarded without installing the server.
"""
