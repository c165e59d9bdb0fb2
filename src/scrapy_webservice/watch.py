"""What ``scrapy-ws status`` and ``scrapy-ws watch`` show: one row per running spider.

Both read ``stats.get_rates()``, the same numbers a script gets with
``--json``; ``watch`` redraws them with ``rich`` until the crawl ends.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable
from typing import IO, Any

from .client import WebServiceClient, WebServiceError

__all__ = ["COLUMNS", "row", "status_lines", "watch"]

#: Column titles, and how each cell is made from one spider's rates.
COLUMNS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("SPIDER", lambda r: str(r["spider"])),
    ("STATE", lambda r: str(r["state"])),
    ("PAGES", lambda r: str(r["pages"])),
    ("PAGES/MIN", lambda r: f"{r['last_minute']['pages_per_minute']:.1f}"),
    ("ITEMS", lambda r: str(r["items"])),
    ("ITEMS/MIN", lambda r: f"{r['last_minute']['items_per_minute']:.1f}"),
    ("IN FLIGHT", lambda r: str(r["in_flight"])),
    ("ERRORS", lambda r: str(r["errors"])),
    ("RETRIES", lambda r: str(r["retries"])),
    ("ELAPSED", lambda r: _duration(r["elapsed"])),
]


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def row(rates: dict[str, Any]) -> list[str]:
    return [cell(rates) for _, cell in COLUMNS]


def status_lines(all_rates: dict[str, dict[str, Any]]) -> list[str]:
    """A header and one aligned line per spider (per-minute rates: the last minute)."""
    rows = [[title for title, _ in COLUMNS]] + [row(r) for r in all_rates.values()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


def _table(all_rates: dict[str, dict[str, Any]], url: str) -> Any:
    from rich.table import Table

    table = Table(title=f"scrapy-ws watch {url}", caption="Ctrl-C to stop watching")
    for title, _ in COLUMNS:
        table.add_column(title, justify="left" if title in ("SPIDER", "STATE") else "right")
    for rates in all_rates.values():
        style = {"pausing": "yellow", "paused": "red", "closing": "dim"}.get(rates["state"])
        table.add_row(*row(rates), style=style)
    if not all_rates:
        table.add_row("(no spider running)", *[""] * (len(COLUMNS) - 1))
    return table


def watch(
    client: WebServiceClient,
    interval: float,
    as_json: bool = False,
    stream: IO[str] | None = None,
) -> str:
    """Show the spiders' rates every ``interval`` seconds; returns why it stopped.

    It stops when the crawl ends: every spider it saw has closed, or the
    service has gone away after answering at least once. A service that is
    not reachable at the start is an error for the caller.
    """
    stream = stream or sys.stdout
    seen = False

    def poll() -> dict[str, dict[str, Any]] | None:
        nonlocal seen
        try:
            rates = client.call("stats", "get_rates")
        except WebServiceError as exc:
            if seen and exc.status is None:
                return None  # the service stopped with its crawl
            raise
        seen = True
        return rates

    if as_json:
        while (rates := poll()) is not None:
            print(json.dumps({"time": time.time(), "spiders": rates}), file=stream, flush=True)
            if not rates:
                break
            time.sleep(interval)
        return "finished"

    from rich.console import Console
    from rich.live import Live

    console = Console(file=stream)
    rates = poll() or {}
    with Live(_table(rates, client.url), console=console, auto_refresh=False) as live:
        while rates:
            time.sleep(interval)
            polled = poll()
            if polled is None:
                break
            rates = polled
            live.update(_table(rates, client.url), refresh=True)
    console.print("Crawl finished: no spider is running.")
    return "finished"
