"""From Scrapy stat keys to Prometheus metric names, types and labels.

Scrapy stats are a flat dict of ``"a/b_c"`` keys that any extension may
add to; Prometheus wants ``snake_case`` names with a ``scrapy_`` prefix,
``_total`` on counters, units in the name, and one family per name with
one type. This module is the whole mapping, so it can be read and tested
on its own.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass
from datetime import datetime

__all__ = ["PREFIX", "Metric", "metric_for", "metric_value", "sanitize"]

PREFIX = "scrapy_"

#: Stat families whose last segment is a label value, not part of a name.
LABELLED: list[tuple[str, str, str]] = [
    ("downloader/response_status_count/", "downloader_response_status", "status"),
    ("downloader/request_method_count/", "downloader_request_method", "method"),
    ("downloader/exception_type_count/", "downloader_exception_type", "type"),
    ("log_count/", "log_records", "level"),
    ("retry/reason_count/", "retry_reason", "reason"),
    ("spider_exceptions/", "spider_exception_type", "type"),
    ("item_dropped_reasons_count/", "item_dropped_reason", "reason"),
    ("scheduler/enqueued/", "scheduler_enqueued_queue", "queue"),
    ("scheduler/dequeued/", "scheduler_dequeued_queue", "queue"),
]
#: Keys that count up but whose name does not say so.
COUNTERS = frozenset(
    {
        "scheduler/enqueued",
        "scheduler/dequeued",
        "dupefilter/filtered",
        "retry/max_reached",
        "offsite/filtered",
        "offsite/domains",
        "downloader/request_bytes",
        "downloader/response_bytes",
    }
)
#: Gauges in bytes whose name does not say so.
BYTES = ("memusage/",)

_NOT_NAME = re.compile(r"[^a-z0-9_]+")
_UNDERSCORES = re.compile(r"_+")


@dataclass(frozen=True)
class Metric:
    """Where one stat goes: family ``name`` (without ``_total``), its type, one label."""

    name: str
    type: str  # "counter" or "gauge"
    label: tuple[str, str] | None = None  # (label name, value)
    documentation: str = ""


def sanitize(text: str) -> str:
    """``"Downloader/Request-Count"`` → ``"downloader_request_count"``."""
    # Always behind PREFIX, so a name may start with a digit.
    return _UNDERSCORES.sub("_", _NOT_NAME.sub("_", text.lower())).strip("_") or "unnamed"


def _is_counter(key: str) -> bool:
    last = key.rsplit("/", 1)[-1]
    return key in COUNTERS or last == "count" or last.endswith("_count")


def metric_for(key: str, value: object) -> Metric | None:
    """The metric of one stat, or ``None`` when the value is not a number or a time.

    Only the key and whether the value is a time decide it, and a scrape asks
    for every key each time: the answer is cached (benchmarks/stats_scaling.py
    found the name rules to be a quarter of a scrape at 10,000 keys).
    """
    if isinstance(value, datetime):
        return _metric_for(key, True)
    if not isinstance(value, (int, float)):
        return None
    return _metric_for(key, False)


@functools.lru_cache(maxsize=65536)
def _metric_for(key: str, is_time: bool) -> Metric:
    if is_time:
        name = f"{PREFIX}{sanitize(key)}_seconds"
        return Metric(name, "gauge", documentation=f"Scrapy stat {key} (Unix time)")
    for prefix, family, label in LABELLED:
        if key.startswith(prefix) and key != f"{prefix}count" and len(key) > len(prefix):
            return Metric(
                f"{PREFIX}{family}",
                "counter",
                (label, key[len(prefix) :]),
                f"Scrapy stats {prefix}<{label}>",
            )
    name = sanitize(key)
    if _is_counter(key):
        name = re.sub(r"_count$", "", name) or name
        return Metric(f"{PREFIX}{name}", "counter", documentation=f"Scrapy stat {key}")
    if key.startswith(BYTES) and not name.endswith("_bytes"):
        name += "_bytes"
    return Metric(f"{PREFIX}{name}", "gauge", documentation=f"Scrapy stat {key}")


def metric_value(value: datetime | float) -> float:
    """The sample of a stat that :func:`metric_for` gave a metric (a number or a time)."""
    if isinstance(value, datetime):
        return value.timestamp()
    return float(value)
