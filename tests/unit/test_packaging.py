"""Two distributions: the server (``ticker``) and the publishers (``ticker-publishers``, import
name ``ticker_publishers``). A client installs neither the server nor its dependencies; the
server does not install feedparser; the publishers ship the server's wire types as
``ticker_publishers.wire`` and its guard for outbound requests as ``ticker_publishers.outbound``
(links to ``ticker/model`` and ``ticker/outbound`` in the source tree)."""

from __future__ import annotations

import importlib.metadata
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import msgspec

import ticker.model
import ticker_publishers.wire

ROOT = Path(__file__).resolve().parents[2]
SERVER_ONLY = {"uvicorn", "redis", "starlette", "websockets", "httptools", "uvloop", "pyjwt",
               "prometheus-client"}


def requirements(distribution: str) -> set[str]:
    required = importlib.metadata.requires(distribution) or []
    return {re.split(r"[<>=;\[ ]", r, maxsplit=1)[0].lower() for r in required
            if "extra ==" not in r}


def test_the_publishers_need_nothing_of_the_server() -> None:
    assert requirements("ticker-publishers") & SERVER_ONLY == set()
    assert "ticker" not in requirements("ticker-publishers")
    assert "feedparser" not in requirements("ticker")


def test_the_publishers_import_without_the_server_installed() -> None:
    # a meta path finder that refuses the server and its dependencies, as on a client machine
    probe = (
        "import sys\n"
        "class Refuse:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        f"        if name.split('.')[0] in {sorted({'ticker', *SERVER_ONLY} - {'pyjwt'})!r}"
        " + ['jwt', 'prometheus_client']:\n"
        "            raise ImportError(f'{name} is not installed here')\n"
        "sys.meta_path.insert(0, Refuse())\n"
        "import ticker_publishers, ticker_publishers.cli, ticker_publishers.bridge\n"
        "from ticker_publishers.wire import Item, PinEvent, Snapshot\n"
        "from ticker_publishers.outbound.sync import guarded_client\n"
        "print('ok')\n"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True,
                          timeout=60, check=False)
    assert done.stdout.strip() == "ok", done.stderr


def test_the_wire_types_are_the_servers() -> None:
    for name in ticker.model.__all__:
        ours, theirs = getattr(ticker_publishers.wire, name), getattr(ticker.model, name)
        if isinstance(theirs, type) and issubclass(theirs, msgspec.Struct):
            assert msgspec.json.schema(ours) == msgspec.json.schema(theirs), name


def test_the_wheel_carries_the_wire_files(tmp_path: Path) -> None:
    # built from a copy (links followed, as an sdist does), so no build/ is left in the tree
    source = tmp_path / "publishers"
    shutil.copytree(ROOT / "publishers", source,
                    ignore=shutil.ignore_patterns("build", "*.egg-info"))
    subprocess.run([sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps",
                    "-w", str(tmp_path), str(source)],
                   check=True, timeout=300, capture_output=True)
    (wheel,) = tmp_path.glob("ticker_publishers-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        shipped = [(f, f"ticker_publishers/{name}/{f.name}")
                   for name, folder in (("wire", "model"), ("outbound", "outbound"))
                   for f in (ROOT / "ticker" / folder).glob("*.py")]
        for source, packed in shipped:
            assert packed in names, packed
            assert archive.read(packed) == source.read_bytes()
        assert "ticker_publishers/py.typed" in names
        assert not any(n.startswith("ticker/") for n in names)
