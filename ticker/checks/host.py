"""Checks of this machine against the readers it should hold: descriptors and accept queues."""

from __future__ import annotations

import resource
from pathlib import Path

from ticker.checks.result import Context, Result, fail, ok, warn
from ticker.server import LISTEN_BACKLOG

SPARE_DESCRIPTORS = 100  # Redis connections, log files, the listening socket, a proxy's extras


def _readers(ctx: Context) -> str:
    told = "" if ctx.readers_given else " (the default; pass --readers N)"
    return f"{ctx.readers:,} readers{told}"


def check_nofile(ctx: Context,
                 limits: tuple[int, int] | None = None, name: str = "host.nofile") -> Result:
    soft, hard = limits or resource.getrlimit(resource.RLIMIT_NOFILE)
    shown_hard = "unlimited" if hard == resource.RLIM_INFINITY else f"{hard:,}"
    want = int(ctx.readers * 1.2) + SPARE_DESCRIPTORS
    found = f"ulimit -n is {soft:,} (hard {shown_hard}) for {_readers(ctx)}"
    action = (f"raise it to at least {want:,}: LimitNOFILE= in the systemd unit, "
              "--ulimit nofile= for a container, ulimit -n in a shell (docs/deploy.md)")
    if soft < ctx.readers + SPARE_DESCRIPTORS:
        return fail(name, f"{found}: one descriptor per reader, so connections past the limit "
                    "are refused (EMFILE)", action)
    if soft < want:
        return warn(name, f"{found}: less than 20% headroom for a reconnect storm", action)
    return ok(name, found)


def read_sysctl(ctx: Context, key: str) -> int | None:
    path = Path(ctx.proc) / "sys" / key.replace(".", "/")
    try:
        return int(path.read_text().split()[0])
    except (OSError, ValueError, IndexError):
        return None


def check_somaxconn(ctx: Context, name: str = "host.somaxconn") -> Result:
    value = read_sysctl(ctx, "net.core.somaxconn")
    want = min(ctx.readers, LISTEN_BACKLOG)
    if value is None:
        return warn(name, "cannot read net.core.somaxconn (not Linux?)",
                    f"make sure the accept queue holds {want:,} connections")
    backlog = min(value, LISTEN_BACKLOG)
    fits = (f"caps ticker's listen backlog of {LISTEN_BACKLOG:,} at {backlog:,}"
            if value < LISTEN_BACKLOG else f"fits ticker's listen backlog of {LISTEN_BACKLOG:,}")
    found = f"net.core.somaxconn is {value:,}: it {fits}, for {_readers(ctx)}"
    if backlog < want:
        return warn(name, f"{found}: in a reconnect storm (a deploy, a proxy restart) "
                    "connections beyond the queue wait for SYN retransmits (1 s, 3 s, 7 s …)",
                    "sysctl -w net.core.somaxconn=8192, and keep it in "
                    "/etc/sysctl.d/90-ticker.conf (a container has its own: --sysctl)")
    return ok(name, found)


def check_syn_backlog(ctx: Context, name: str = "host.syn-backlog") -> Result:
    value = read_sysctl(ctx, "net.ipv4.tcp_max_syn_backlog")
    want = min(ctx.readers, LISTEN_BACKLOG)
    if value is None:
        return warn(name, "cannot read net.ipv4.tcp_max_syn_backlog (not Linux?)",
                    f"make sure half-open connections have room for {want:,}")
    found = f"net.ipv4.tcp_max_syn_backlog is {value:,} for {_readers(ctx)}"
    if value < want:
        return warn(name, f"{found}: a reconnect storm's SYNs beyond it are dropped or answered "
                    "with syncookies", "sysctl -w net.ipv4.tcp_max_syn_backlog=16384, and keep "
                    "it in /etc/sysctl.d/90-ticker.conf")
    return ok(name, found)


def host_checks(ctx: Context) -> list[Result]:
    return [check_nofile(ctx), check_somaxconn(ctx), check_syn_backlog(ctx)]
