"""Prometheus alerting rules for the crawls this plugin exports, durations as parameters.

``render()`` gives the rule file as YAML text; with the defaults it is the
file ``plugins/prometheus/rules/scrapy.rules.yml`` of the repository (a test
checks it). The console script ``scrapy-ws-prometheus-rules`` writes it, with
the defaults or other durations::

    scrapy-ws-prometheus-rules --stall 30m --down-for 5m -o /etc/prometheus/rules/scrapy.yml

The alerts:

``ScrapyCrawlStalled``
    running (never paused or pausing) for the whole ``stall`` window, started
    longer than ``stall`` ago, and no response received in that window.
``ScrapyErrorRate``
    more than ``error_rate`` ERROR log records per minute over ``error_window``.
``ScrapySpiderClosedAbnormally``
    a crawl ended with a finish reason not in ``ok_reasons`` (seen while the
    service lingers: ``WEBSERVICE_LINGER``).
``ScrapyServiceDown``
    a service whose crawl was scraped in the last ``down_window`` is no
    longer up (its target down, or gone from service discovery), and the
    last thing seen of it was not lingering after its crawls finished: the
    process vanished without finishing.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

__all__ = ["DEFAULTS", "duration_seconds", "main", "render", "rules"]

#: The parameters of :func:`render` and their defaults (the shipped file).
DEFAULTS: dict[str, Any] = {
    "stall": "10m",
    "stall_for": "1m",
    "error_rate": 10.0,
    "error_window": "5m",
    "error_for": "5m",
    "ok_reasons": ("finished",),
    "down_for": "1m",
    "down_window": "1h",
    "group": "scrapy-webservice",
    "interval": None,
}

_UNITS = {"y": 365 * 86400, "w": 7 * 86400, "d": 86400, "h": 3600, "m": 60, "s": 1, "ms": 0.001}
_DURATION = re.compile(r"^(?:\d+y)?(?:\d+w)?(?:\d+d)?(?:\d+h)?(?:\d+m)?(?:\d+s)?(?:\d+ms)?$")
_PART = re.compile(r"(\d+)(ms|[ywdhms])")
_REASON = re.compile(r"^[A-Za-z0-9_]+$")
_HEADER = """\
# Alerting rules of scrapy-webservice-prometheus. Generated: do not edit by hand,
# render them with other durations instead:
#   scrapy-ws-prometheus-rules --stall 10m --down-for 1m ... -o scrapy.rules.yml
# {parameters}
"""


def duration_seconds(duration: str) -> float:
    """``"1h30m"`` → ``5400.0``: a Prometheus duration, checked (``ValueError`` if not one)."""
    if not isinstance(duration, str) or not duration or not _DURATION.match(duration):
        raise ValueError(f"not a Prometheus duration (like 90s, 10m, 1h30m): {duration!r}")
    return float(sum(int(n) * _UNITS[unit] for n, unit in _PART.findall(duration)))


def _seconds_literal(duration: str) -> str:
    seconds = duration_seconds(duration)
    return str(int(seconds)) if seconds == int(seconds) else repr(seconds)


def _positive(name: str, duration: str) -> str:
    if duration_seconds(duration) <= 0:
        raise ValueError(f"{name} must be longer than 0: {duration!r}")
    return duration


def rules(
    stall: str = DEFAULTS["stall"],
    stall_for: str = DEFAULTS["stall_for"],
    error_rate: float = DEFAULTS["error_rate"],
    error_window: str = DEFAULTS["error_window"],
    error_for: str = DEFAULTS["error_for"],
    ok_reasons: Iterable[str] = DEFAULTS["ok_reasons"],
    down_for: str = DEFAULTS["down_for"],
    down_window: str = DEFAULTS["down_window"],
    group: str = DEFAULTS["group"],
    interval: str | None = DEFAULTS["interval"],
) -> dict[str, Any]:
    """The rule file as data (what :func:`render` writes as YAML)."""
    stall = _positive("stall", stall)
    error_window = _positive("error_window", error_window)
    down_window = _positive("down_window", down_window)
    for duration in (stall_for, error_for, down_for):
        duration_seconds(duration)
    if not isinstance(error_rate, (int, float)) or error_rate < 0:
        raise ValueError(f"error_rate must be a number of records per minute >= 0: {error_rate!r}")
    reasons = list(ok_reasons)
    if not reasons or not all(isinstance(r, str) and _REASON.match(r) for r in reasons):
        raise ValueError(f"ok_reasons must be finish reasons like 'finished': {reasons!r}")
    reason_regex = "|".join(reasons)
    where = "spider {{ $labels.spider }} on {{ $labels.instance }}"

    stalled = {
        "alert": "ScrapyCrawlStalled",
        "expr": (
            f'min_over_time(scrapy_engine_state{{state="running"}}[{stall}]) == 1\n'
            f"and ignoring (state) time() - scrapy_start_time_seconds"
            f" > {_seconds_literal(stall)}\n"
            f"unless ignoring (state) increase(scrapy_response_received_total[{stall}]) > 0"
        ),
        "for": stall_for,
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": f"Scrapy crawl stalled: {where}",
            "description": (
                f"The crawl of {where} has been running for {stall}"
                " without receiving a response (not paused: a paused crawl is never stalled)."
            ),
        },
    }
    error_rate_text = f"{error_rate:g}"
    errors = {
        "alert": "ScrapyErrorRate",
        "expr": (
            f'rate(scrapy_log_records_total{{level="ERROR"}}[{error_window}]) * 60'
            f" > {error_rate_text}"
        ),
        "for": error_for,
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": f"Scrapy crawl logs errors: {where}",
            "description": (
                f"The crawl of {where} logs {{{{ $value | humanize }}}} ERROR records"
                f" per minute (over {error_window}; the threshold is {error_rate_text})."
            ),
        },
    }
    abnormal = {
        "alert": "ScrapySpiderClosedAbnormally",
        "expr": f'scrapy_finish_reason_info{{reason!~"{reason_regex}"}} == 1',
        "labels": {"severity": "warning"},
        "annotations": {
            "summary": f"Scrapy spider closed abnormally: {where}",
            "description": (
                f"The crawl of {where} ended with finish reason"
                f' "{{{{ $labels.reason }}}}" (expected: {", ".join(reasons)}).'
            ),
        },
    }
    down = {
        "alert": "ScrapyServiceDown",
        "expr": (
            f"last_over_time(scrapy_crawl_info[{down_window}])\n"
            f"and on (job, instance, pid)"
            f" last_over_time(scrapy_webservice_lingering[{down_window}]) == 0\n"
            f"unless on (job, instance, pid) up == 1"
        ),
        "for": down_for,
        "labels": {"severity": "critical"},
        "annotations": {
            "summary": f"Scrapy service down: {where}",
            "description": (
                f"The process serving the crawl of {where} stopped answering"
                f" (or left service discovery) without finishing: it was not lingering"
                f" after its crawls ended. Killed, crashed or out of memory?"
            ),
        },
    }
    group_data: dict[str, Any] = {"name": group}
    if interval is not None:
        group_data["interval"] = _positive("interval", interval)
    group_data["rules"] = [stalled, errors, abnormal, down]
    return {"groups": [group_data]}


_PLAIN = re.compile(r"^[A-Za-z][A-Za-z0-9_.-]*$|^[0-9][0-9a-z]*[a-z]$")
_NOT_PLAIN = frozenset({"true", "false", "yes", "no", "on", "off", "null", "y", "n"})


def _scalar(key: str, value: Any, indent: str) -> str:
    if isinstance(value, str):
        if key == "expr" or "\n" in value:
            # PromQL as a literal block: no quoting, as it is typed in Prometheus.
            return "|-" + "".join(f"\n{indent}  {line}" for line in value.split("\n"))
        if _PLAIN.match(value) and value.lower() not in _NOT_PLAIN:
            return value  # alert names, durations, severities: as they are
        if value.isprintable():
            return "'" + value.replace("'", "''") + "'"
    return json.dumps(value, ensure_ascii=False)  # a JSON scalar is a YAML scalar


def _yaml(value: Any, indent: str = "") -> list[str]:
    """Block YAML of dicts, lists and scalars: all the rule file needs."""
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, (dict, list)) and item:
                lines.append(f"{indent}{key}:")
                lines += _yaml(item, indent + "  ")
            else:
                lines.append(f"{indent}{key}: {_scalar(key, item, indent)}")
    elif isinstance(value, list):
        for item in value:
            nested = _yaml(item, indent + "  ")
            lines.append(f"{indent}- {nested[0].lstrip()}")
            lines += nested[1:]
    else:
        lines.append(f"{indent}{_scalar('', value, indent)}")
    return lines


def render(**parameters: Any) -> str:
    """The rule file as YAML; the parameters are those of :func:`rules` (see ``DEFAULTS``)."""
    unknown = set(parameters) - set(DEFAULTS)
    if unknown:
        raise TypeError(f"unknown rule parameters: {', '.join(sorted(unknown))}")
    data = rules(**parameters)
    used = {**DEFAULTS, **parameters}
    shown = " ".join(
        f"{name}={','.join(value) if isinstance(value, (list, tuple)) else value}"
        for name, value in used.items()
        if value is not None
    )
    return _HEADER.format(parameters=shown) + "\n".join(_yaml(data)) + "\n"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scrapy-ws-prometheus-rules",
        description="Write the Prometheus alerting rules of scrapy-webservice crawls.",
    )
    option = parser.add_argument
    option("--stall", default=DEFAULTS["stall"], help="no response for this long while running")
    option("--stall-for", default=DEFAULTS["stall_for"], help="'for' of ScrapyCrawlStalled")
    option(
        "--error-rate",
        type=float,
        default=DEFAULTS["error_rate"],
        help="ERROR log records per minute above which ScrapyErrorRate fires",
    )
    option("--error-window", default=DEFAULTS["error_window"], help="window of that rate")
    option("--error-for", default=DEFAULTS["error_for"], help="'for' of ScrapyErrorRate")
    option(
        "--ok-reason",
        action="append",
        dest="ok_reasons",
        help="a finish reason that is no abnormal close (repeatable; default: finished)",
    )
    option("--down-for", default=DEFAULTS["down_for"], help="'for' of ScrapyServiceDown")
    option(
        "--down-window",
        default=DEFAULTS["down_window"],
        help="how long a vanished service is remembered (and alerted on)",
    )
    option("--group", default=DEFAULTS["group"], help="name of the rule group")
    option("--interval", help="evaluation interval of the group (default: Prometheus's)")
    option("-o", "--output", type=Path, help="file to write (default: standard output)")
    options = parser.parse_args(argv)
    output = options.output
    args = {name: getattr(options, name) for name in DEFAULTS}
    if args["ok_reasons"] is None:
        args["ok_reasons"] = DEFAULTS["ok_reasons"]
    try:
        text = render(**args)
    except ValueError as exc:
        parser.error(str(exc))
    if output is None:
        sys.stdout.write(text)
    else:
        output.write_text(text)
        print(f"rules written to {output}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
