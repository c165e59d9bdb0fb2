"""What ``scrapy-ws status`` and ``scrapy-ws watch`` show: one row per running spider.

Both read ``stats.get_rates()`` of every service they are given, the same
numbers a script gets with ``--json``; ``watch`` redraws them with ``rich``
until the crawls end. ``watch`` also shows each spider's downloader delay
and concurrency (``crawler/downloader.slots``), the numbers ``scrapy-ws tune``
changes, so that a tuning shows up where its effect on the rates does.
"""

from __future__ import annotations

import json
import sys
import time
import urllib.parse
from collections.abc import Callable, Sequence
from typing import IO, Any

from ..rpc.messages import METHOD_NOT_FOUND
from .client import JsonRpcError, WebServiceClient, WebServiceError

__all__ = [
    "COLUMNS",
    "WATCH_COLUMNS",
    "Downloaders",
    "annotated_rates",
    "row",
    "status_lines",
    "watch",
]

#: One service's rates: the client that asked, and ``stats.get_rates()``'s answer.
Section = tuple[WebServiceClient, dict[str, dict[str, Any]]]

#: Column titles, and how each cell is made from one spider's rates.
Columns = list[tuple[str, Callable[[dict[str, Any]], str]]]

#: ``status``'s columns. Per-minute rates are over the last minute. Fits an 80-column terminal.
COLUMNS: Columns = [
    ("SPIDER", lambda r: str(r["spider"])),
    ("STATE", lambda r: str(r["state"])),
    ("PAGES", lambda r: _count(r, "pages")),
    ("ITEMS", lambda r: _count(r, "items")),
    ("IN FLIGHT", lambda r: str(r["in_flight"])),
    ("ERRORS", lambda r: str(r["errors"])),
    ("RETRIES", lambda r: str(r["retries"])),
    ("ELAPSED", lambda r: _duration(r["elapsed"])),
]


#: ``watch`` adds these after ``status``'s columns (past 80 columns: a wide terminal
#: shows them, a narrow one cuts them first): the delay and per-slot concurrency
#: of the downloader's new slots, and the crawl-wide limit; empty where unknown.
WATCH_COLUMNS: Columns = [
    *COLUMNS,
    ("DELAY", lambda r: _downloader(r, "{delay:g}s")),
    ("CONCURRENCY", lambda r: _downloader(r, "{concurrency} (total {total_concurrency})")),
]


def _downloader(rates: dict[str, Any], template: str) -> str:
    facts = rates.get("downloader")
    try:
        return template.format(**facts) if facts else ""
    except (KeyError, TypeError, ValueError):  # a service's odd answer never stops watching
        return ""


def _count(rates: dict[str, Any], name: str) -> str:
    return f"{rates[name]} ({rates['last_minute'][f'{name}_per_minute']:.0f}/min)"


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}"


def row(rates: dict[str, Any], columns: Columns = COLUMNS) -> list[str]:
    return [cell(rates) for _, cell in columns]


def status_lines(all_rates: dict[str, dict[str, Any]], columns: Columns = COLUMNS) -> list[str]:
    """A header and one aligned line per spider (per-minute rates: the last minute)."""
    rows = [[title for title, _ in columns]] + [row(r, columns) for r in all_rates.values()]
    widths = [max(len(r[i]) for r in rows) for i in range(len(columns))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(r, widths, strict=True)).rstrip() for r in rows
    ]


def annotated_rates(sections: Sequence[Section]) -> dict[str, dict[str, Any]]:
    """Every service's rates in one mapping, for ``--json``.

    Each spider's rates gain ``service`` (the URL), ``instance`` (its
    ``host:port``, as Prometheus names a target) and ``pid``; a spider name
    that several services run is keyed ``name@pid`` for each of them
    (``name@host:port`` for a remote service, whose pid is unknown).
    """
    counts: dict[str, int] = {}
    for _, rates in sections:
        for name in rates:
            counts[name] = counts.get(name, 0) + 1
    merged: dict[str, dict[str, Any]] = {}
    for client, rates in sections:
        instance = urllib.parse.urlsplit(client.url).netloc
        for name, value in rates.items():
            suffix = client.pid if client.pid is not None else instance
            key = name if counts[name] == 1 else f"{name}@{suffix}"
            merged[key] = {**value, "service": client.url, "instance": instance, "pid": client.pid}
    return merged


def _view(sections: Sequence[Section], down: Sequence[str] = ()) -> Any:
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
            header, *rows = status_lines(all_rates, WATCH_COLUMNS)
            lines.append(line(header, "bold"))
            for text, rates in zip(rows, all_rates.values(), strict=True):
                lines.append(line(text, _STATE_STYLES.get(rates["state"], "")))
        else:
            lines.append(line("(no spider running)"))
    lines += [line(text, "red") for text in down]
    lines.append(
        line("DELAY, CONCURRENCY: of the downloader's new slots; Ctrl-C to stop watching", "dim")
    )
    return Group(*lines)


_STATE_STYLES = {"pausing": "yellow", "paused": "red", "closing": "dim"}


class Downloaders:
    """Each spider's downloader delay and concurrency, one ``slots`` call per spider a poll.

    A service without ``crawler/downloader`` (one older than this command)
    answers 404 or "method not found": its columns stay empty, and it is not
    asked again. Any other failure (a spider that just closed, a service
    going away) leaves them empty for this poll only; watching goes on.
    """

    def __init__(self) -> None:
        self._lacking: set[int] = set()

    def facts(self, client: WebServiceClient, rates: dict[str, Any]) -> dict[str, Any] | None:
        """``{delay, concurrency, total_concurrency}`` of new slots, or ``None``."""
        if id(client) in self._lacking:
            return None
        spider = rates.get("crawl_id") or rates.get("spider")
        try:
            slots = client.call("crawler/downloader", "slots", spider)
        except JsonRpcError as exc:
            if exc.code == METHOD_NOT_FOUND:
                self._lacking.add(id(client))
            return None
        except WebServiceError as exc:
            if exc.status == 404:
                self._lacking.add(id(client))
            return None
        try:
            return {
                "delay": slots["default_delay"],
                "concurrency": slots["default_concurrency"],
                "total_concurrency": slots["total_concurrency"],
            }
        except (KeyError, TypeError):
            return None

    def annotate(self, client: WebServiceClient, rates: dict[str, Any]) -> dict[str, Any]:
        """``get_rates()``'s answer, each spider's rates with ``downloader`` added."""
        return {
            name: {**value, "downloader": self.facts(client, value)}
            for name, value in rates.items()
        }


def watch(
    clients: WebServiceClient | Sequence[WebServiceClient],
    interval: float,
    as_json: bool = False,
    stream: IO[str] | None = None,
    down: Sequence[str] = (),
) -> str:
    """Show the spiders' rates every ``interval`` seconds; returns why it stopped.

    It stops when the crawls end: every spider it saw has closed, or each
    service has gone away after answering at least once. A service that is
    not reachable at the start is an error for the caller. ``down`` names
    services known to be down (a fleet's, from Prometheus): they are shown
    as down, with those that go away while watching.
    """
    stream = stream or sys.stdout
    watched = [clients] if isinstance(clients, WebServiceClient) else list(clients)
    seen: set[int] = set()
    downloaders = Downloaders()
    #: What to show of services not watched: down at the start, or gone since.
    gone = [f"{name}: down" for name in down]

    def poll() -> list[Section]:
        sections = []
        for client in list(watched):
            try:
                rates = client.call("stats", "get_rates")
            except WebServiceError as exc:
                if id(client) in seen and exc.status is None:
                    watched.remove(client)  # the service stopped with its crawl
                    if len(watched) + len(gone) > 0:  # among others: shown, not hidden
                        gone.append(f"{client.name}: stopped answering")
                    continue
                raise
            seen.add(id(client))
            sections.append((client, downloaders.annotate(client, rates)))
        return sections

    def running(sections: list[Section]) -> bool:
        return any(rates for _, rates in sections)

    if as_json:
        while sections := poll():
            line: dict[str, Any] = {"time": time.time(), "spiders": annotated_rates(sections)}
            if gone:
                line["down"] = gone
            print(json.dumps(line), file=stream, flush=True)
            if not running(sections):
                break
            time.sleep(interval)
        return "finished"

    from rich.console import Console
    from rich.live import Live

    console = Console(file=stream)
    sections = poll()
    with Live(_view(sections, gone), console=console, auto_refresh=False) as live:
        while running(sections):
            time.sleep(interval)
            sections = poll()
            if not sections:
                break
            live.update(_view(sections, gone), refresh=True)
    console.print("Crawl finished: no spider is running.")
    return "finished"
