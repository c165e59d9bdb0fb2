"""``scrapy-ws-prometheus-targets``: Prometheus file-based discovery of local crawls.

Each running service writes a discovery file (URL and token); this turns
them into a ``file_sd_configs`` target file, so one Prometheus job scrapes
every crawl on the machine. Run it with ``--watch`` beside Prometheus, or
from cron. The token is not written: give every crawl the same read-only
token (``WEBSERVICE_READONLY_TOKEN``) and put it in the job's
``authorization`` section.

A crawl whose process died stays a target for a grace period (``--grace``,
ten minutes by default), so Prometheus scrapes it as down and an alert can
tell a vanished crawl from one that finished; the file remembers since when
in a label Prometheus drops (``__gone_since``).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
import urllib.parse
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from scrapy_webservice.cli import find_services

__all__ = ["main", "targets", "write_targets"]


def targets(directory: Path | None = None) -> list[dict[str, Any]]:
    """One file_sd target group per running service, with its pid as a label."""
    groups = []
    for info in find_services(directory):
        url = urllib.parse.urlsplit(info["url"])
        labels = {"pid": str(info.get("pid", ""))}
        if url.path.rstrip("/"):
            labels["__metrics_path__"] = url.path.rstrip("/") + "/metrics"
        groups.append({"targets": [url.netloc], "labels": labels})
    return sorted(groups, key=lambda group: group["targets"])


#: Seconds a vanished crawl stays a target, so Prometheus sees it down.
GRACE = 600.0
#: The label that says since when a target's process is gone (``__``: Prometheus drops it).
GONE_SINCE = "__gone_since"


def _previous(output: Path) -> list[dict[str, Any]]:
    try:
        groups = json.loads(output.read_text())
    except (OSError, ValueError):
        return []
    return [g for g in groups if isinstance(g, dict)] if isinstance(groups, list) else []


def with_gone(
    groups: list[dict[str, Any]],
    previous: list[dict[str, Any]],
    grace: float,
    now: float,
) -> list[dict[str, Any]]:
    """``groups``, and the previous ones that vanished less than ``grace`` seconds ago."""
    live = {tuple(group["targets"]) for group in groups}
    kept = []
    for group in previous:
        key = tuple(group.get("targets", ()))
        if not key or key in live:
            continue
        labels = dict(group.get("labels") or {})
        try:
            since = float(labels.get(GONE_SINCE, now))
        except (TypeError, ValueError):
            since = now
        if now - since < grace:
            labels[GONE_SINCE] = str(int(since))  # floored: never in the future
            kept.append({"targets": list(key), "labels": labels})
    return sorted(groups + kept, key=lambda group: group["targets"])


def write_targets(
    output: Path, directory: Path | None = None, grace: float = GRACE
) -> list[dict[str, Any]]:
    """Replace ``output`` at once (Prometheus never reads half a file).

    The targets of processes that died within ``grace`` seconds stay, marked.
    """
    groups = with_gone(targets(directory), _previous(output), grace, time.time())
    output.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=output.parent, prefix=".targets-", suffix=".json")
    with os.fdopen(fd, "w") as file:
        json.dump(groups, file, indent=2)
    os.replace(tmp, output)
    return groups


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="scrapy-ws-prometheus-targets",
        description="Write a Prometheus file_sd target file for the running crawls of this user.",
    )
    parser.add_argument("output", type=Path, help="the target file Prometheus reads")
    parser.add_argument("--dir", type=Path, help="discovery directory (default: the user's)")
    parser.add_argument("--watch", type=float, metavar="SECONDS", help="rewrite it every N s")
    parser.add_argument(
        "--grace",
        type=float,
        default=GRACE,
        metavar="SECONDS",
        help="keep the target of a crawl whose process died this long, so Prometheus sees it"
        f" down (default {GRACE:g})",
    )
    args = parser.parse_args(argv)
    while True:
        groups = write_targets(args.output, args.dir, args.grace)
        if args.watch is None:
            gone = sum(1 for group in groups if GONE_SINCE in group.get("labels", {}))
            print(f"{len(groups) - gone} crawl(s) written to {args.output}, {gone} gone")
            return 0
        try:
            time.sleep(args.watch)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
