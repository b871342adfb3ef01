"""``ticker check [--json] [--readers N] [--nodes N]``: the arguments and the exit status."""

from __future__ import annotations

import argparse
from typing import Any

from ticker.checks.result import DEFAULT_READERS, Context, Result, Status, fail
from ticker.config import ConfigError, load_settings


def add_parser(commands: Any) -> None:
    """Add ``check`` to the ``ticker`` command's subcommands."""
    check = commands.add_parser(
        "check", help="check the configuration and what it points at (exit 1 on any FAIL)")
    check.add_argument("--json", action="store_true", help="one JSON document on stdout")
    check.add_argument("--readers", type=_positive, metavar="N",
                       help=f"readers each ticker process should hold (default "
                            f"{DEFAULT_READERS:,}): checked against ulimit -n and the backlogs")
    check.add_argument("--nodes", type=_positive, default=1, metavar="N",
                       help="ticker processes (workers × machines) sharing the broker: checked "
                            "against Redis maxclients")


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < 1:
        raise argparse.ArgumentTypeError("must be at least 1")
    return value


def results_for(args: argparse.Namespace) -> list[Result]:
    from ticker.checks.registry import run_checks  # Redis and HTTP clients: only when checking

    try:
        settings = load_settings()
    except ConfigError as exc:
        return [fail("config", str(exc), "fix the setting it names; ticker serve refuses it too")]
    readers = args.readers if args.readers is not None else DEFAULT_READERS
    ctx = Context(settings=settings, readers=readers, readers_given=args.readers is not None,
                  nodes=args.nodes)
    return run_checks(ctx)


def run(args: argparse.Namespace) -> int:
    """Print the results; 0 when nothing FAILed, 1 otherwise."""
    from ticker.checks.report import as_json, as_text

    results = results_for(args)
    print(as_json(results) if args.json else as_text(results), flush=True)
    return 1 if any(r.status is Status.FAIL for r in results) else 0
