"""The text ``scrapy-ws``'s job commands print: aligned tables and one-line records.

Pure functions of what the service answered (``crawler/downloader.slots()``,
``memory``, ``stalls``, ``log`` events), so that :mod:`.jobs` holds only
the commands: their arguments, their calls, their errors.
"""

from __future__ import annotations

import contextlib
from datetime import datetime
from typing import Any

__all__ = [
    "SLOT_COLUMNS",
    "age_text",
    "aligned",
    "delay_text",
    "memory_lines",
    "record_line",
    "size_text",
    "slots_lines",
    "stall_lines",
]


def aligned(rows: list[list[str]], right: frozenset[int] = frozenset()) -> list[str]:
    """Rows as lines of aligned columns; the ``right`` ones (numbers) right-aligned."""
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return [
        "  ".join(
            cell.rjust(width) if i in right and n else cell.ljust(width)
            for i, (cell, width) in enumerate(zip(row, widths, strict=True))
        ).rstrip()
        for n, row in enumerate(rows)
    ]


def delay_text(value: float | None) -> str:
    """A delay as set (``0.25 s``); ``-`` for none."""
    return "-" if value is None else f"{value:g} s"


def age_text(value: float | None) -> str:
    """A measured duration, to a tenth of a second."""
    return "-" if value is None else f"{value:.1f} s"


def size_text(value: int | None) -> str:
    """Bytes for people: ``84.4 MiB``; ``-`` where the platform cannot tell."""
    if value is None:
        return "-"
    if value < 1024:
        return f"{value} B"
    size = value / 1024
    for unit in ("KiB", "MiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


SLOT_COLUMNS = [
    "KEY",
    "ACTIVE",
    "QUEUED",
    "TRANSFERRING",
    "CONCURRENCY",
    "DELAY",
    "JITTER",
    "IDLE",
]


def slots_lines(answer: dict[str, Any]) -> list[str]:
    """``crawler/downloader.slots()`` for people: a summary line, the slots, the notes."""
    summary = (
        f"{answer['spider']}: total concurrency {answer['total_concurrency']}"
        f" ({answer['active']} active); new slots: concurrency"
        f" {answer['default_concurrency']}, delay {delay_text(answer['default_delay'])}"
    )
    if answer.get("tuned"):
        summary += "; tuned (tune --reset puts the configured values back)"
    lines = [summary]
    slots = answer.get("slots") or []
    if slots:
        rows = [SLOT_COLUMNS] + [
            [
                str(slot["key"]),
                str(slot["active"]),
                str(slot["queued"]),
                str(slot["transferring"]),
                str(slot["concurrency"]),
                delay_text(slot["delay"]),
                f"{slot['jitter']:g}",
                age_text(slot.get("idle_seconds")),
            ]
            for slot in slots
        ]
        lines += aligned(rows, right=frozenset({1, 2, 3, 4}))
    else:
        lines.append("(no downloader slot yet)")
    if answer.get("autothrottle"):
        lines.append(f"note: {answer['autothrottle']}")
    return lines


def memory_lines(usage: dict[str, Any], refs: list[dict[str, Any]]) -> list[str]:
    """``memory.usage()`` and ``memory.live_refs()`` for people, as ``prefs()`` shows them."""
    gc = usage.get("gc") or {}
    lines = [
        f"RSS {size_text(usage.get('rss_bytes'))}, peak {size_text(usage.get('peak_rss_bytes'))}",
        "GC {}; counts {} (thresholds {})".format(
            "on" if gc.get("enabled") else "off",
            ", ".join(map(str, gc.get("counts", []))),
            ", ".join(map(str, gc.get("thresholds", []))),
        ),
    ]
    for crawl, stats in sorted((usage.get("memusage") or {}).items()):
        values = ", ".join(
            f"{key.removeprefix('memusage/')} {size_text(v) if isinstance(v, int) else v}"
            for key, v in sorted(stats.items())
        )
        lines.append(f"memusage of {crawl}: {values}")
    lines.append("")
    if refs:
        rows = [["CLASS", "COUNT", "OLDEST"]] + [
            [str(ref["class"]), str(ref["count"]), age_text(ref["oldest_seconds"])] for ref in refs
        ]
        lines += aligned(rows, right=frozenset({1}))
    else:
        lines.append("(no live object that Scrapy tracks)")
    return lines


def stall_lines(found: dict[str, Any], show_stack: bool = False) -> list[str]:
    """``stalls.recent()`` for people: one line per stall, newest last, with its code."""
    threshold = found.get("threshold")
    if threshold is None:
        return ["The stall watchdog is off (WEBSERVICE_STALL_THRESHOLD = None)."]
    count = found.get("count", 0)
    if not count:
        return [f"No stalls: the reactor never went {threshold:g} s without running."]
    lines = [
        f"{count} stall(s) of more than {threshold:g} s, the longest"
        f" {found.get('max_seconds', 0):.2f} s; the most recent:"
    ]
    for stall in found.get("recent", []):
        stamp = datetime.fromtimestamp(stall.get("seen_at") or 0).strftime("%H:%M:%S")
        lines.append(
            f"{stamp}  {stall.get('seconds', 0):6.2f} s  {stall.get('where') or '(no stack seen)'}"
        )
        if stall.get("code"):
            lines.append(f"{'':22}{stall['code']}")
        if show_stack:
            lines += [f"{'':24}{frame}" for frame in stall.get("stack", [])]
    return lines


def record_line(data: dict[str, Any]) -> str:
    """One log record, as the log writes it: local time, level, logger, [spider], message."""
    stamp = str(data.get("time", ""))
    with contextlib.suppress(ValueError):  # else shown as the service sent it
        stamp = datetime.fromisoformat(stamp).astimezone().strftime("%Y-%m-%d %H:%M:%S")
    line = (
        f"{stamp} {data.get('level', '?'):<8} {data.get('logger', '?')}"
        f" [{data.get('spider') or '-'}] {data.get('message', '')}"
    )
    if data.get("exception"):
        line += f" ({data['exception']})"
    return line
