#!/bin/sh
# The plugin's CI: a fresh virtual environment, scrapy-webservice, the plugin
# and its test dependencies installed, then ruff and the plugin's tests.
#
# Until scrapy-webservice is released on PyPI, it is installed from, in order:
#   1. SCRAPY_WEBSERVICE, when set: a clone of scrapy-webservice (its
#      directory) or a wheel built from one (a .whl file);
#   2. the clone of scrapy-webservice this project sits in, if any (found by
#      walking up from this directory to scrapy-webservice's pyproject.toml);
#   3. PyPI (pip install scrapy-webservice).
set -eu
cd "$(dirname "$0")"
here=$(pwd)

core=""
if [ -n "${SCRAPY_WEBSERVICE:-}" ]; then
    core=$SCRAPY_WEBSERVICE
    case $core in
        *.whl) [ -f "$core" ] || core="" ;;
        *) [ -f "$core/pyproject.toml" ] || core="" ;;
    esac
    if [ -z "$core" ]; then
        echo "ci.sh: SCRAPY_WEBSERVICE=$SCRAPY_WEBSERVICE is neither a clone of scrapy-webservice (a directory with its pyproject.toml) nor a wheel file (.whl)" >&2
        exit 2
    fi
else
    dir=$(dirname "$here")
    while :; do
        if [ -f "$dir/pyproject.toml" ] && grep -q '^name = "scrapy-webservice"$' "$dir/pyproject.toml"; then
            core=$dir
            break
        fi
        [ "$dir" = "/" ] && break
        dir=$(dirname "$dir")
    done
fi

python3 -m venv .venv
if [ -n "$core" ]; then
    echo "ci.sh: installing scrapy-webservice from $core"
    .venv/bin/pip install --quiet "$core"
elif ! .venv/bin/pip install --quiet scrapy-webservice; then
    cat >&2 <<'MESSAGE'
ci.sh: scrapy-webservice could not be installed from PyPI (it has no release there yet).
Set SCRAPY_WEBSERVICE to a clone of https://github.com/scrapy-webservice/scrapy-webservice
or to a wheel built from one, then run ./ci.sh again:
    SCRAPY_WEBSERVICE=/path/to/scrapy-webservice ./ci.sh
    SCRAPY_WEBSERVICE=/path/to/scrapy_webservice-0.1.0-py3-none-any.whl ./ci.sh
(or render this template inside a clone of scrapy-webservice: ci.sh then finds it by itself).
MESSAGE
    exit 1
fi
.venv/bin/pip install --quiet -e '.[test]'
.venv/bin/ruff check .
.venv/bin/python -m pytest "$@"
