#!/usr/bin/env bash
# Build the documentation site into docs/_build/html, every warning an error.
# Uses the project's .venv (made only if it is missing) with the docs extra.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/python ]; then
    python3 -m venv .venv
fi
.venv/bin/pip install --quiet -e '.[test,docs]'

# A fresh build: an incremental one only re-reads changed pages, and would
# not repeat the warnings of the others.
rm -rf docs/_build
.venv/bin/sphinx-build -W --keep-going -b html docs docs/_build/html
