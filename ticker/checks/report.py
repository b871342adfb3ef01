"""``ticker check``'s output: one line per check for people, one JSON document for machines."""

from __future__ import annotations

import json

from ticker.checks.result import Result, Status


def counts(results: list[Result]) -> dict[str, int]:
    return {status.value: sum(1 for r in results if r.status is status) for status in Status}


def as_text(results: list[Result]) -> str:
    width = max((len(r.name) for r in results), default=0)
    lines = []
    for r in results:
        lines.append(f"{r.status.value:<4}  {r.name:<{width}}  {r.message}")
        if r.action:
            lines.append(f"{'':<4}  {'':<{width}}  → {r.action}")
    tally = counts(results)
    lines.append(f"ticker check: {tally['FAIL']} FAIL, {tally['WARN']} WARN, {tally['OK']} OK")
    return "\n".join(lines)


def as_json(results: list[Result]) -> str:
    tally = counts(results)
    return json.dumps({"ok": tally["FAIL"] == 0, "counts": tally,
                       "checks": [r.as_json() for r in results]}, indent=2)
