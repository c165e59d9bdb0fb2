"""``scrapy-ws-prometheus-targets``: Prometheus file-based discovery of local crawls.

Each running service writes a discovery file (URL and token); this turns
them into a ``file_sd_configs`` target file, so one Prometheus job scrapes
every crawl on the machine. Run it with ``--watch`` beside Prometheus, or
from cron. The token is not written: give every crawl the same read-only
token (``WEBSERVICE_READONLY_TOKEN``) and put it in the job's
``authorization`` section.
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

from scrapy_webservice.client import find_services

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


def write_targets(output: Path, directory: Path | None = None) -> list[dict[str, Any]]:
    """Replace ``output`` at once (Prometheus never reads half a file)."""
    groups = targets(directory)
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
    args = parser.parse_args(argv)
    while True:
        groups = write_targets(args.output, args.dir)
        if args.watch is None:
            print(f"{len(groups)} crawl(s) written to {args.output}")
            return 0
        try:
            time.sleep(args.watch)
        except KeyboardInterrupt:
            return 0


if __name__ == "__main__":
    sys.exit(main())
