#!/bin/sh
# CI of the plugin: its own virtual environment with scrapy-webservice from
# this repository, the plugin (the official mcp SDK comes with it), ruff and
# its tests (real crawls, driven by the mcp SDK's client over stdio).
set -eu
cd "$(dirname "$0")"
python3 -m venv .venv
# The Prometheus plugin too: the fleet test (scrapy-ws --prometheus URL mcp) scrapes real crawls.
.venv/bin/pip install --quiet ../.. ../prometheus -e '.[test]'
.venv/bin/ruff check src tests
.venv/bin/ruff format --check src tests
.venv/bin/python -m pytest "$@"
