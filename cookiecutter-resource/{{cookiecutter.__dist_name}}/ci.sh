#!/bin/sh
# The plugin's CI: a fresh virtual environment, the plugin and its test
# dependencies installed, then its tests. SCRAPY_WEBSERVICE may name another
# scrapy-webservice to install first (a path or a pip requirement).
set -eu
cd "$(dirname "$0")"
python3 -m venv .venv
if [ -n "${SCRAPY_WEBSERVICE:-}" ]; then
    .venv/bin/pip install --quiet "$SCRAPY_WEBSERVICE"
fi
.venv/bin/pip install --quiet -e '.[test]'
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
