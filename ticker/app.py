"""The composition root: settings → broker → hub → relay → routes, inside one lifespan.

This is the only module that knows every part. The WebSocket transport reaches the running
parts through the lifespan state (uvicorn hands it to its WebSocket protocol class).
"""

from __future__ import annotations

import contextlib
import gc
import logging
from collections.abc import AsyncIterator

from starlette.applications import Starlette

from ticker.auth import Verifier, check_secret
from ticker.brokers import open_broker
from ticker.config import Settings, load_settings
from ticker.hub import Hub
from ticker.metrics import Metrics
from ticker.newsroom import Newsroom
from ticker.presence import bind_gauge, open_presence
from ticker.ratelimit import MemoryRateLimiter, RateLimiter, RedisRateLimiter
from ticker.reach.service import Reach
from ticker.relay import Relay
from ticker.revocation import open_deny_list
from ticker.runtime import Runtime
from ticker.scheduler import Scheduler
from ticker.session import Sessions
from ticker.shutdown import close_step
from ticker.transports.fanout import Fanout
from ticker.web.middleware import middleware
from ticker.web.problems import HANDLERS
from ticker.web.routes import build_routes

log = logging.getLogger("ticker")


def build_runtime(settings: Settings) -> Runtime:
    if settings.secret is None:
        raise ValueError("a signing secret is required (TICKER_SECRET)")
    limits = settings.limits
    hub = Hub(snapshot_size=limits.snapshot_size, ring_size=min(limits.ring_size, settings.history),
              latest_max=limits.latest_max)
    fanout = Fanout(hub, tick_seconds=limits.ping_idle_seconds / hub.ping_ticks)
    broker = open_broker(settings)
    count, period = settings.rate()
    limiter: RateLimiter
    if settings.embedded:
        limiter = MemoryRateLimiter(count, period)
    else:
        limiter = RedisRateLimiter(settings.broker_url, settings.redis_prefix, count, period)
    feeds = [f.id for f in settings.feeds]
    metrics = Metrics(feeds)  # every per-feed series at 0 from start-up
    relay = Relay(broker, hub, fanout, feeds, metrics)
    sessions = Sessions(settings, hub, relay.recover, fanout.schedule, metrics)
    fanout.on_tick.append(sessions.tick)
    metrics.bind({
        "deliveries": lambda: fanout.deliveries,
        "writes": lambda: fanout.writes,
        "log_reads": lambda: relay.log_reads,
        "gap_events": lambda: relay.gaps_filled,
        "resumes_too_large": lambda: hub.resumes_too_large,
        "reconnects": lambda: float(getattr(broker, "reconnects", 0)),
    })
    metrics.bind_health(  # the embedded broker has no connection to lose
        broker_up=lambda: getattr(broker, "listener_state", "connected") == "connected",
        ready=lambda: relay.ready)
    scheduler = Scheduler(broker, [f.id for f in settings.feeds])
    metrics.bind({"scheduled_fired": lambda: scheduler.fired})
    deny_list = open_deny_list(settings.broker_url, settings.redis_prefix)
    runtime = Runtime(settings=settings, broker=broker, hub=hub, fanout=fanout, relay=relay,
                      newsroom=Newsroom(broker, limiter),
                      verifier=Verifier(settings.secret, deny_list.is_revoked),
                      metrics=metrics, limiter=limiter, sessions=sessions, scheduler=scheduler,
                      deny_list=deny_list,
                      reach=Reach(settings, broker, metrics.registry, seen=hub.last_seq))
    runtime.presence = open_presence(settings.broker_url, settings.redis_prefix,
                                     runtime.local_readers)
    bind_gauge(metrics.registry, [f.id for f in settings.feeds], runtime.local_readers)
    _wire_desk(runtime)
    return runtime


def _wire_desk(runtime: Runtime) -> None:
    """The desk's notices reach this node's desk streams: from the embedded broker directly,
    or from the feeds' desk channels on Redis."""
    from ticker.brokers.memory import MemoryBroker
    from ticker.brokers.redis_keys import feed_keys
    from ticker.desk import DeskWire

    settings = runtime.settings
    if isinstance(runtime.broker, MemoryBroker):
        runtime.broker.on_desk = runtime.desk.deliver
        return
    channels = {f.id: feed_keys(settings.redis_prefix, f.id).desk for f in settings.feeds}
    runtime.desk_wire = DeskWire(settings.broker_url, channels, runtime.desk.deliver,
                                 runtime.desk.resync)


def create_app(settings: Settings) -> Starlette:
    runtime = build_runtime(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[dict[str, Runtime]]:
        await runtime.deny_list.start()
        await runtime.relay.start()
        runtime.fanout.start()
        runtime.scheduler.start()  # after the relay: the broker is started
        if runtime.presence is not None:
            await runtime.presence.start()
        if runtime.desk_wire is not None:
            await runtime.desk_wire.start()
        if runtime.reach is not None:
            await runtime.reach.start()
        # what start-up built lives as long as the process: keep it out of every garbage
        # collection, so a full collection costs what the readers hold, not the libraries
        # (a 10,000-reader node paused up to ~0.1 s per full collection: docs/benchmarks.md)
        gc.freeze()
        log.info("ticker ready: %d feeds on %s", len(settings.feeds),
                 settings.broker_url.split("://")[0] + "://")
        try:
            yield {"ticker": runtime}
        finally:  # every step bounded (ticker/shutdown.py)
            if runtime.presence is not None:
                await close_step("presence", runtime.presence.aclose)
            if runtime.desk_wire is not None:
                await close_step("desk wire", runtime.desk_wire.aclose)
            await close_step("scheduler", runtime.scheduler.aclose)
            if runtime.reach is not None:
                await close_step("reach", runtime.reach.aclose)
            await close_step("fan-out", runtime.fanout.stop)
            await close_step("relay", runtime.relay.aclose)
            await close_step("rate limiter", runtime.limiter.aclose)
            await close_step("deny list", runtime.deny_list.aclose)

    app = Starlette(routes=build_routes(), lifespan=lifespan, exception_handlers=HANDLERS,
                    middleware=middleware(settings))
    app.state.runtime = runtime
    return app


def app_from_env() -> Starlette:
    """The app factory of ``ticker serve --workers N``: each worker process builds its own app —
    its own hub, broker connections and one subscription per feed — from the environment."""
    settings = load_settings()
    if settings.secret is not None:
        check_secret(settings.secret)
    return create_app(settings)
