"""The fan-out core and the models import no I/O: checked on the source, not by convention."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2] / "ticker"
FORBIDDEN = {"asyncio", "socket", "redis", "starlette", "uvicorn", "websockets", "httpx", "uvloop"}


@pytest.mark.parametrize("package", ["hub", "model"])
def test_core_packages_import_no_io(package: str) -> None:
    for path in (ROOT / package).glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            for name in names:
                assert name.split(".")[0] not in FORBIDDEN, f"{path.name} imports {name}"


def _imports(path: Path) -> list[str]:
    names: list[str] = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module:
            names.append(node.module)
    return names


def test_the_relay_gets_the_fan_out_injected_and_the_session_knows_no_socket() -> None:
    assert not [n for n in _imports(ROOT / "relay.py") if n.startswith("ticker.transports")]
    session = _imports(ROOT / "session.py")
    assert not [n for n in session if n.startswith("ticker.transports")
                or n.split(".")[0] in FORBIDDEN], session
