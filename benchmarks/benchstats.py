"""A stats collector for the crawl benchmark's child processes.

``STATS_CLASS = "benchstats.BenchStatsCollector"`` with ``BENCH_STATS_FILE``
set: when the spider closes, the crawl's stats are written there as JSON,
with the times of the first and last response (to compute the steady
throughput, without start-up and shutdown) and the process's peak RSS.
The same collector runs in every configuration compared.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path
from typing import Any

from scrapy.statscollectors import MemoryStatsCollector

RESPONSES = "response_received_count"
#: Every this many responses the current RSS is read (from /proc, where there is one).
RSS_EVERY = 100
_PAGE = resource.getpagesize()


def current_rss() -> int | None:
    """Resident set size now, in bytes; ``None`` without ``/proc``."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * _PAGE
    except (OSError, IndexError, ValueError):
        return None


class BenchStatsCollector(MemoryStatsCollector):
    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self._path = crawler.settings.get("BENCH_STATS_FILE")
        self._first: float | None = None
        self._last: float | None = None
        self._responses = 0
        self._rss: list[int] = []

    def inc_value(self, key: str, *args: Any, **kwargs: Any) -> None:
        super().inc_value(key, *args, **kwargs)
        if key == RESPONSES:
            now = time.monotonic()
            if self._first is None:
                self._first = now
            self._last = now
            self._responses += 1
            if self._responses % RSS_EVERY == 1 and (rss := current_rss()) is not None:
                self._rss.append(rss)

    def _persist_stats(self, stats: Any, *args: Any) -> None:
        super()._persist_stats(stats, *args)
        if not self._path:
            return
        usage = resource.getrusage(resource.RUSAGE_SELF)
        data = {
            "stats": stats,
            "first_response": self._first,
            "last_response": self._last,
            "ru_maxrss_kib": usage.ru_maxrss,  # KiB on Linux
            "rss_samples": self._rss,  # bytes, every RSS_EVERY responses
            "cpu_seconds": usage.ru_utime + usage.ru_stime,
        }
        Path(self._path).write_text(json.dumps(data, default=str))
