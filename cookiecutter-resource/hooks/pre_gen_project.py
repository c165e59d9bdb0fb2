"""Refuse answers that would give a plugin that cannot work, with a message that says why."""

import re
import sys

PLUGIN_NAME = "{{ cookiecutter.plugin_name }}"
WS_NAME = "{{ cookiecutter.ws_name }}"
BUILT_INS = {"crawler", "stats", "enginestatus", "events", "plugins", "health"}

errors = []
if not re.fullmatch(r"[a-z][a-z0-9]*(-[a-z0-9]+)*", PLUGIN_NAME) or len(PLUGIN_NAME) > 40:
    errors.append(
        f"plugin_name {PLUGIN_NAME!r} is not valid: use lowercase letters, digits and single"
        " hyphens, starting with a letter, at most 40 characters (for example 'queue-stats')"
    )
if not WS_NAME.strip():
    errors.append("ws_name is empty: it is the resource's path under the service root")
elif not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", WS_NAME):
    errors.append(
        f"ws_name {WS_NAME!r} is not valid: one path segment of letters, digits, '_', '.'"
        " or '-', not starting with '_' (names starting with '_' are never served)"
    )
elif WS_NAME in BUILT_INS:
    errors.append(
        f"ws_name {WS_NAME!r} is a built-in resource of scrapy-webservice; choose another"
        f" (built-ins: {', '.join(sorted(BUILT_INS))})"
    )

if errors:
    for error in errors:
        print(f"ERROR: {error}", file=sys.stderr)
    sys.exit(1)
