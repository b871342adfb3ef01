"""``ticker webhooks test NAME``: send one signed ping to a configured endpoint and say what
came back (exit 0 on a ``2xx``, 1 otherwise, 2 for an unknown name)."""

from __future__ import annotations

import argparse
import asyncio

from ticker.config import Settings, WebhookConfig, load_settings
from ticker.outbound.client import Outbound
from ticker.outbound.rules import AddressRules
from ticker.reach.settings import webhook_name
from ticker.reach.webhooks.endpoint import Endpoint


def add_command(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    webhooks = commands.add_parser("webhooks", help="check the configured webhook endpoints")
    actions = webhooks.add_subparsers(dest="webhooks_command", required=True)
    test = actions.add_parser("test", help="send a signed ping to the endpoint NAME")
    test.add_argument("name", metavar="NAME", help="the endpoint's name (or its URL's host)")


def run(args: argparse.Namespace) -> int:
    settings = load_settings()
    hooks = {webhook_name(h): h for h in settings.webhooks}
    hook = hooks.get(args.name)
    if hook is None:
        known = ", ".join(sorted(hooks)) or "none configured ([[webhooks]] in TICKER_CONFIG)"
        raise ValueError(f"no webhook endpoint named {args.name!r} (known: {known})")

    outcome, status = asyncio.run(send_ping(settings, hook))
    print(f"{args.name}: {hook.url}: {outcome} ({status})")
    return 0 if outcome == "delivered" else 1


async def send_ping(settings: Settings, hook: WebhookConfig) -> tuple[str, str]:
    """One signed ping to ``hook`` (also ``ticker check``'s): its outcome (``delivered``,
    ``failed``, ``network``, ``refused``) and the HTTP status, or ``no answer``."""
    outbound = Outbound(AddressRules(settings.outbound_allow), concurrency=1)
    try:
        answer, outcome = await Endpoint(hook, outbound).ping()
    finally:
        await outbound.aclose()
    return outcome, f"HTTP {answer.status}" if answer is not None else "no answer"
