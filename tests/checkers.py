"""Independent checkers run on what the service serves: the Nu HTML Checker (``vnu.jar``, the
W3C validator) and, for the browser tests, axe-core. Both come from npm into ``tests/js``
(``scripts/test.sh`` runs ``npm ci`` there); Java runs the validator."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest

TOOLS = Path(__file__).resolve().parent / "js" / "node_modules"
VNU_JAR = TOOLS / "vnu-jar" / "build" / "dist" / "vnu.jar"
AXE_JS = TOOLS / "axe-core" / "axe.min.js"


def tool(path: Path) -> Path:
    if not path.exists():
        pytest.fail(f"{path} is missing: run `npm ci` in tests/js (scripts/test.sh does)")
    return path


def html_problems(body: bytes, kind: str = "--html") -> list[dict[str, Any]]:
    """Every error and warning the Nu HTML Checker reports for ``body`` (UTF-8; ``kind`` is
    ``--html`` or ``--css``)."""
    java = shutil.which("java")
    if java is None:
        pytest.fail("java is missing: apt-get install default-jre-headless")
    done = subprocess.run([java, "-jar", str(tool(VNU_JAR)), "--format", "json", kind,
                           "--also-check-css", "-"],
                          input=body, capture_output=True, timeout=120, check=False)
    report = json.loads(done.stderr or b'{"messages": []}')
    messages: list[dict[str, Any]] = report["messages"]
    return [m for m in messages if m["type"] == "error" or m.get("subType") == "warning"]
