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
#: Per-minute rates are over the last minute. Fits an 80-column terminal.
COLUMNS: list[tuple[str, Callable[[dict[str, Any]], str]]] = [
    ("SPIDER", lambda r: str(r["spider"])),
    ("STATE", lambda r: str(r["state"])),
    ("PAGES", lambda r: _count(r, "pages")),
    ("ITEMS", lambda r: _count(r, "items")),
    ("IN FLIGHT", lambda r: str(r["in_flight"])),
    ("ERRORS", lambda r: str(r["errors"])),
    ("RETRIES", lambda r: str(r["retries"])),
    ("ELAPSED", lambda r: _duration(r["elapsed"])),
]


def _count(rates: dict[str, Any], name: str) -> str:
    return f"{rates[name]} ({rates['last_minute'][f'{name}_per_minute']:.0f}/min)"


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


def _view(all_rates: dict[str, dict[str, Any]], url: str) -> Any:
    """The lines of ``status``, with a title, the states in colour, cut to the terminal."""
    from rich.console import Group
    from rich.text import Text

    def line(text: str, style: str = "") -> Text:
        return Text(text, style=style, no_wrap=True, overflow="ellipsis")

    lines = [line(f"scrapy-ws watch {url}   {time.strftime('%H:%M:%S')}", "bold")]
    if all_rates:
        header, *rows = status_lines(all_rates)
        lines.append(line(header, "bold"))
        for text, rates in zip(rows, all_rates.values(), strict=True):
            lines.append(line(text, _STATE_STYLES.get(rates["state"], "")))
    else:
        lines.append(line("(no spider running)"))
    lines.append(line("Ctrl-C to stop watching", "dim"))
    return Group(*lines)


_STATE_STYLES = {"pausing": "yellow", "paused": "red", "closing": "dim"}


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
    with Live(_view(rates, client.url), console=console, auto_refresh=False) as live:
        while rates:
            time.sleep(interval)
            polled = poll()
            if polled is None:
                break
            rates = polled
            live.update(_view(rates, client.url), refresh=True)
    console.print("Crawl finished: no spider is running.")
    return "finished"
