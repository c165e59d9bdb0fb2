#!/bin/sh
# CI of the plugin: its own virtual environment with scrapy-webservice from
# this repository, the plugin, ruff and its tests. The browser tests drive
# Debian's headless Chromium through chromedriver (./install-chromium.sh
# installs both); without them those tests are skipped and say so, unless
# SCRAPY_WS_REQUIRE_BROWSER=1, as in CI.
set -eu
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install --quiet ../.. -e '.[test]'
.venv/bin/ruff check src tests
.venv/bin/ruff format --check src tests
.venv/bin/python -m pytest "$@"
