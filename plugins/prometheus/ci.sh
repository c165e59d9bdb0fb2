#!/bin/sh
# CI of the plugin: its own virtual environment with scrapy-webservice from
# this repository, the plugin, ruff and its tests (the real Prometheus server
# is needed: apt-get install prometheus; the tests say so if it is missing).
set -eu
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install --quiet ../.. -e '.[test]'
.venv/bin/ruff check src tests
.venv/bin/ruff format --check src tests
.venv/bin/python -m pytest "$@"
