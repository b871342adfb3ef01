"""The checks ``ticker check`` runs, in the order it prints them.

A check is a function of the ``Context`` that returns its lines (none when it does not apply).
A feature with settings of its own adds its checks with ``register``.
"""

from __future__ import annotations

from collections.abc import Callable

from ticker.checks.broker import redis_checks
from ticker.checks.host import host_checks
from ticker.checks.reach import check_push, check_webhooks
from ticker.checks.result import Context, Result, Status, fail
from ticker.checks.settings import check_origins, check_secret

Check = Callable[[Context], list[Result]]


def _one(check: Callable[[Context], Result]) -> Check:
    def run(ctx: Context) -> list[Result]:
        return [check(ctx)]

    run.__name__ = check.__name__
    return run


CHECKS: list[Check] = [
    _one(check_secret), _one(check_origins), redis_checks, host_checks, check_push,
    check_webhooks,
]


def register(check: Check) -> Check:
    """Add a check to those ``ticker check`` runs (after the built-in ones)."""
    CHECKS.append(check)
    return check


def run_checks(ctx: Context) -> list[Result]:
    """Every check's lines; a check that crashes is a FAIL that says so, never a traceback."""
    results: list[Result] = []
    for check in CHECKS:
        try:
            results.extend(check(ctx))
        except Exception as exc:  # one broken check must not hide the others
            results.append(fail(check.__name__, f"the check itself failed: "
                                f"{type(exc).__name__}: {exc}", "report this as a ticker bug"))
    return results


def passed(results: list[Result]) -> bool:
    return all(r.status is not Status.FAIL for r in results)
