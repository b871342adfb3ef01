"""Checks of Web Push and webhooks (docs/push.md, docs/webhooks.md).

Their settings are checked when they load (``ticker.reach.settings``: a push-service origin or a
``[[webhooks]]`` entry that cannot work is the ``config`` FAIL); these look at what loading
cannot: where the VAPID key is, whom push services can contact, and whether each webhook
endpoint answers the signed ping ``ticker webhooks test`` sends.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import redis
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from ticker.brokers.redis_url import is_cluster, server_url
from ticker.checks.result import Context, Result, fail, ok, warn
from ticker.reach.push.vapid import SECRET_NAME
from ticker.reach.settings import webhook_name
from ticker.reach.webhooks.ping import send_ping

DEFAULT_CONTACT = "mailto:ticker@localhost"


def check_push_services(ctx: Context) -> Result:
    name = "push.services"
    services = ctx.settings.push_services
    plain = [origin for origin in services if origin.startswith("http://")]
    if plain:
        return warn(name, f"TICKER_PUSH_SERVICES allows plain http: {', '.join(plain)} "
                    "(pushes there cross the network unencrypted at the transport)",
                    "keep http:// push services for tests only")
    return ok(name, f"pushes go only to {', '.join(services)}")


def check_push_contact(ctx: Context) -> Result:
    name = "push.contact"
    contact = ctx.settings.push_contact
    if contact == DEFAULT_CONTACT:
        return warn(name, f"TICKER_PUSH_CONTACT is the default {contact}: push services write "
                    "to this address about problems with your pushes before they block them",
                    "set TICKER_PUSH_CONTACT to a mailbox someone reads (mailto:) or a page")
    return ok(name, f"push services can reach you at {contact}")


def _key_file_result(path: Path, name: str) -> Result:
    if not path.exists():
        if not path.parent.exists() or not path.parent.is_dir():
            return fail(name, f"TICKER_PUSH_KEY_FILE={path}: its directory does not exist",
                        "create the directory (writable by ticker) or fix the path")
        return ok(name, f"TICKER_PUSH_KEY_FILE={path} does not exist yet: the first start "
                  "makes it (mode 0600); every node must then have the same file")
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        return fail(name, f"TICKER_PUSH_KEY_FILE={path} cannot be used: {exc}",
                    "restore the file, or remove it to make a new key (every browser must "
                    "then subscribe again)")
    if not isinstance(key, ec.EllipticCurvePrivateKey) or key.curve.name != "secp256r1":
        return fail(name, f"TICKER_PUSH_KEY_FILE={path} is not a P-256 private key",
                    "point it at the VAPID key ticker made, or remove it to make a new one")
    if path.stat().st_mode & 0o077:
        return warn(name, f"TICKER_PUSH_KEY_FILE={path} is readable by other users: whoever "
                    "reads it can push to every subscriber", f"chmod 600 {path}")
    return ok(name, f"VAPID key in {path}")


def check_push_key(ctx: Context) -> Result:
    name = "push.key"
    settings = ctx.settings
    if settings.push_key_file:
        return _key_file_result(Path(settings.push_key_file), name)
    if settings.embedded:
        return warn(name, "no TICKER_PUSH_KEY_FILE on the embedded broker: the VAPID key lives "
                    "as long as the process, and browsers must subscribe again after a restart",
                    "set TICKER_PUSH_KEY_FILE to a path ticker may write (see docs/push.md)")
    if is_cluster(settings.broker_url):
        return ok(name, "the VAPID key is kept in Redis Cluster, shared by every node")
    key = f"{settings.redis_prefix}secret:{SECRET_NAME}"
    try:
        with redis.Redis.from_url(server_url(settings.broker_url), socket_timeout=ctx.timeout,
                                  socket_connect_timeout=ctx.timeout) as client:
            present = bool(client.exists(key))
    except (redis.RedisError, OSError):
        return warn(name, "cannot look for the VAPID key: Redis does not answer (see broker)",
                    "run ticker check again once Redis answers")
    if present:
        return ok(name, f"the VAPID key is in Redis ({key}), shared by every node")
    return ok(name, f"no VAPID key in Redis yet ({key}): the first node to start makes it")


def check_push(ctx: Context) -> list[Result]:
    return [check_push_services(ctx), check_push_contact(ctx), check_push_key(ctx)]


def check_webhooks(ctx: Context) -> list[Result]:
    """Each endpoint gets the signed ping of ``ticker webhooks test``; one that does not answer
    is a WARN, not a FAIL: a partner's outage must not stop a deploy, and events wait for it."""
    results = []
    for hook in ctx.settings.webhooks:
        name = f"webhook.{webhook_name(hook)}"
        try:
            outcome, status = asyncio.run(
                asyncio.wait_for(send_ping(ctx.settings, hook), ctx.timeout * 5))
        except TimeoutError:
            outcome, status = "network", "no answer in time"
        if outcome == "delivered":
            results.append(ok(name, f"{hook.url} took a signed ping ({status})"))
        elif outcome == "refused":
            results.append(fail(name, f"{hook.url}: ticker's outbound rules refuse it (a "
                                "private or loopback address?)", "list its network in "
                                "TICKER_OUTBOUND_ALLOW if it is meant to be reached"))
        else:
            results.append(warn(name, f"{hook.url} did not take a signed ping: {outcome} "
                                f"({status}); events wait for it, retried, then parked",
                                f"ask the receiver's owner; ticker webhooks test "
                                f"{webhook_name(hook)} repeats the ping"))
    return results
