#!/usr/bin/env bash
# Install everything the tests need, then run the checks and the whole suite.
# This is the test command README.md gives, and what CI runs (.ci/run).
set -euo pipefail
cd "$(dirname "$0")/.."

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_updated=""
need_apt() {  # need_apt <command> <debian package>
  if ! command -v "$1" >/dev/null 2>&1; then
    if [ -z "$apt_updated" ]; then as_root apt-get update -qq; apt_updated=1; fi
    as_root apt-get install -y -qq "$2"
  fi
}

need_apt redis-server redis-server
need_apt chromium chromium
# independent checkers the tests run: the Nu HTML Checker (Java), axe-core and the AsyncAPI
# parser (Node), installed from tests/js/package-lock.json
need_apt java default-jre-headless
need_apt node nodejs
need_apt npm npm
need_apt promtool prometheus  # promtool: checks and unit-tests deploy/prometheus/ticker-rules.yml
# the tests use the machine's Redis on 6379 (and start private ones for fault tests)
if ! redis-cli -p 6379 ping >/dev/null 2>&1; then
  redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
fi

python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q -e '.[test]' -e ./publishers
(cd tests/js && npm ci --no-audit --no-fund --loglevel=error)

.venv/bin/ruff check ticker publishers tests bench
.venv/bin/mypy ticker publishers tests
if [ $# -gt 0 ]; then
  exec .venv/bin/python -m pytest "$@"
fi
# Two runs: Playwright's sync API keeps an event loop running in the main thread while its
# browser is open, which asyncio tests cannot share.
.venv/bin/python -m pytest tests --ignore=tests/browser
.venv/bin/python -m pytest tests/browser
