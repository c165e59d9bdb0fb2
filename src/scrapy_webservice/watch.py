"""What ``scrapy-ws status`` and ``scrapy-ws watch`` show: one row per running spider.

Both read ``stats.get_rates()`` of every service they are given, the same
numbers a script gets with ``--json``; ``watch`` redraws them with ``rich``
until the crawls end.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Callable, Sequence
from typing import IO, Any

from .client import WebServiceClient, WebServiceError

__all__ = ["COLUMNS", "annotated_rates", "row", "status_lines", "watch"]

#: One service's rates: the client that asked, and ``stats.get_rates()``'s answer.
Section = tuple[WebServiceClient, dict[str, dict[str, Any]]]

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


def annotated_rates(sections: Sequence[Section]) -> dict[str, dict[str, Any]]:
    """Every service's rates in one mapping, for ``--json``.

    Each spider's rates gain ``service`` (the URL) and ``pid``; a spider
    name that several services run is keyed ``name@pid`` for each of them.
    """
    counts: dict[str, int] = {}
    for _, rates in sections:
        for name in rates:
            counts[name] = counts.get(name, 0) + 1
    merged: dict[str, dict[str, Any]] = {}
    for client, rates in sections:
        for name, value in rates.items():
            key = name if counts[name] == 1 else f"{name}@{client.pid}"
            merged[key] = {**value, "service": client.url, "pid": client.pid}
    return merged


def _view(sections: Sequence[Section]) -> Any:
    """The lines of ``status``, with a title, the states in colour, cut to the terminal."""
    from rich.console import Group
    from rich.text import Text

    def line(text: str, style: str = "") -> Text:
        return Text(text, style=style, no_wrap=True, overflow="ellipsis")

    stamp = time.strftime("%H:%M:%S")
    if len(sections) == 1:
        lines = [line(f"scrapy-ws watch {sections[0][0].url}   {stamp}", "bold")]
    else:
        lines = [line(f"scrapy-ws watch: {len(sections)} services   {stamp}", "bold")]
    for client, all_rates in sections:
        if len(sections) > 1:
            lines.append(line(f"{client.name}:", "bold"))
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
    clients: WebServiceClient | Sequence[WebServiceClient],
    interval: float,
    as_json: bool = False,
    stream: IO[str] | None = None,
) -> str:
    """Show the spiders' rates every ``interval`` seconds; returns why it stopped.

    It stops when the crawls end: every spider it saw has closed, or each
    service has gone away after answering at least once. A service that is
    not reachable at the start is an error for the caller.
    """
    stream = stream or sys.stdout
    watched = [clients] if isinstance(clients, WebServiceClient) else list(clients)
    seen: set[int] = set()

    def poll() -> list[Section]:
        sections = []
        for client in list(watched):
            try:
                rates = client.call("stats", "get_rates")
            except WebServiceError as exc:
                if id(client) in seen and exc.status is None:
                    watched.remove(client)  # the service stopped with its crawl
                    continue
                raise
            seen.add(id(client))
            sections.append((client, rates))
        return sections

    def running(sections: list[Section]) -> bool:
        return any(rates for _, rates in sections)

    if as_json:
        while sections := poll():
            line = {"time": time.time(), "spiders": annotated_rates(sections)}
            print(json.dumps(line), file=stream, flush=True)
            if not running(sections):
                break
            time.sleep(interval)
        return "finished"

    from rich.console import Console
    from rich.live import Live

    console = Console(file=stream)
    sections = poll()
    with Live(_view(sections), console=console, auto_refresh=False) as live:
        while running(sections):
            time.sleep(interval)
            sections = poll()
            if not sections:
                break
            live.update(_view(sections), refresh=True)
    console.print("Crawl finished: no spider is running.")
    return "finished"
