#!/bin/sh
# CI of the plugin: its own virtual environment with scrapy-webservice from
# this repository, the plugin, ruff, promtool on the alerting rules, and its
# tests (the real Prometheus server and Alertmanager are needed:
# apt-get install prometheus prometheus-alertmanager; the tests say so if
# they are missing).
set -eu
cd "$(dirname "$0")"
python3 -m venv .venv
.venv/bin/pip install --quiet ../.. -e '.[test]'
.venv/bin/ruff check src tests
.venv/bin/ruff format --check src tests
# The alerting rules: valid, and their unit tests (rules/*_test.yml) pass.
if command -v promtool >/dev/null 2>&1; then
    promtool check rules rules/scrapy.rules.yml
    (cd rules && promtool test rules ./*_test.yml)
elif [ -n "${SCRAPY_WS_REQUIRE_PROMETHEUS:-}" ]; then
    echo "promtool is missing: apt-get install prometheus" >&2
    exit 1
else
    echo "promtool is missing (apt-get install prometheus): the rules are not checked" >&2
fi
.venv/bin/python -m pytest "$@"
