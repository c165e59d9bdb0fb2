"""What every benchmark here shares: machine facts, results files, medians, plots.

Each script records one JSON file (its numbers, with the machine it ran on)
and one PNG into ``results/``; ``run_all.py`` turns the JSON files into the
README's table. Numbers of one run are compared with each other only.
"""

from __future__ import annotations

import datetime
import json
import os
import platform
import re
import shutil
import statistics
import sys
from collections.abc import Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
RESULTS = HERE / "results"
_SHORT_PATH = re.compile(r"^.*/(site-packages|src|lib/python3\.\d+)/")

#: A Scrapy stats dict as a real crawl of a few thousand pages leaves it (values
#: made up, keys and types real): what the stats resources encode.
REALISTIC_STATS: dict[str, Any] = {
    "downloader/exception_count": 12,
    "downloader/exception_type_count/twisted.internet.error.TimeoutError": 9,
    "downloader/exception_type_count/twisted.web._newclient.ResponseNeverReceived": 3,
    "downloader/request_bytes": 1_457_120,
    "downloader/request_count": 4_216,
    "downloader/request_method_count/GET": 4_216,
    "downloader/response_bytes": 93_201_877,
    "downloader/response_count": 4_204,
    "downloader/response_status_count/200": 4_101,
    "downloader/response_status_count/301": 61,
    "downloader/response_status_count/404": 38,
    "downloader/response_status_count/503": 4,
    "dupefilter/filtered": 1_877,
    "elapsed_time_seconds": 512.318245,
    "httpcache/miss": 4_216,
    "httpcompression/response_bytes": 301_556_908,
    "httpcompression/response_count": 4_101,
    "httperror/response_ignored_count": 38,
    "httperror/response_ignored_status_count/404": 38,
    "item_dropped_count": 17,
    "item_dropped_reasons_count/DropItem": 17,
    "item_scraped_count": 3_702,
    "items_per_minute": 433.6,
    "log_count/DEBUG": 7_960,
    "log_count/ERROR": 5,
    "log_count/INFO": 21,
    "log_count/WARNING": 41,
    "memusage/max": 118_566_912,
    "memusage/startup": 71_237_632,
    "offsite/domains": 3,
    "offsite/filtered": 129,
    "request_depth_max": 7,
    "response_received_count": 4_204,
    "responses_per_minute": 492.3,
    "retry/count": 16,
    "retry/max_reached": 2,
    "retry/reason_count/503 Service Unavailable": 4,
    "retry/reason_count/twisted.internet.error.TimeoutError": 12,
    "scheduler/dequeued": 4_216,
    "scheduler/dequeued/memory": 4_216,
    "scheduler/enqueued": 4_230,
    "scheduler/enqueued/memory": 4_230,
    "spider_exceptions/KeyError": 2,
    "start_time": datetime.datetime(2025, 1, 1, 9, 0, 0, tzinfo=datetime.timezone.utc),
}


def machine() -> dict[str, Any]:
    """The facts that say whether two runs are comparable at all."""
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        usable = os.cpu_count()
    return {
        "cores": os.cpu_count(),
        "usable_cores": usable,
        "cpu": model or platform.processor(),
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "load_average": [round(x, 2) for x in os.getloadavg()]
        if hasattr(os, "getloadavg")
        else [],
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
    }


def machine_line(info: dict[str, Any]) -> str:
    return (
        f"{info['cores']} cores, {info['implementation']} {info['python']},"
        f" {info['platform']}; {info['date']}; load {'/'.join(map(str, info['load_average']))}"
    )


def write_results(name: str, data: dict[str, Any]) -> dict[str, Any]:
    """Write ``results/<name>.json``, with the machine it ran on; returns what was written."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.json"
    payload = {"benchmark": name, "machine": machine(), **data}
    path.write_text(json.dumps(payload, indent=2) + "\n")
    print(f"results: {path.relative_to(ROOT)}")
    return payload


def read_results(name: str) -> dict[str, Any] | None:
    path = RESULTS / f"{name}.json"
    if not path.exists():
        return None
    return json.loads(path.read_text())


def pinned(core: int) -> list[str]:
    """``taskset -c CORE``, to put before a command, when there are two cores to pin to.

    A server and its load generator on cores of their own do not take each
    other's time slices, which was most of the spread between rounds.
    Without ``taskset`` or a second core: nothing (the figures get noisier).
    """
    usable = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1
    if usable < 2 or shutil.which("taskset") is None:
        return []
    return ["taskset", "-c", str(core)]


def median(values: Iterable[float]) -> float:
    return statistics.median(list(values))


def pyplot() -> Any:
    """matplotlib's pyplot on a file-only backend; a clear message when it is missing."""
    try:
        import matplotlib
    except ImportError:
        sys.exit(
            "matplotlib is needed for the plots: .venv/bin/pip install -e '.[bench]'"
            " (or pip install 'matplotlib>=3.8,<4')"
        )
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    plt.rcParams.update({"figure.dpi": 100, "font.size": 9, "axes.grid": True, "grid.alpha": 0.3})
    return plt


def save_plot(fig: Any, name: str) -> Path:
    RESULTS.mkdir(parents=True, exist_ok=True)
    path = RESULTS / f"{name}.png"
    fig.tight_layout()
    fig.savefig(path)
    print(f"plot: {path.relative_to(ROOT)}")
    return path


def verdict(met: bool) -> str:
    return "met" if met else "MISSED"


def profile_report(stats: Any, title: str, count: int, unit: str, top: int = 30) -> str:
    """A cProfile's top functions, in microseconds per ``unit`` (request, page).

    ``stats`` is a ``pstats.Stats``; ``count`` is how many units it covers.
    Own time first (where the time goes), then cumulative (which call paths).
    """
    rows = []
    for (path, line, func), (_, calls, own, cumulative, _) in stats.stats.items():
        where = _SHORT_PATH.sub("", path)
        rows.append((own, cumulative, calls, f"{where}:{line}({func})"))
    total = sum(r[0] for r in rows)
    out = [
        title,
        f"{count} {unit}s, {total:.3f} s profiled: {total / count * 1e6:.1f} us per {unit}"
        " (cProfile inflates Python calls: compare rows with each other)",
        "",
        f"own time    us/{unit}  calls/{unit}  function",
    ]
    for own, _, calls, name in sorted(rows, reverse=True)[:top]:
        out.append(f"{own:9.3f} s {own / count * 1e6:9.2f} {calls / count:11.2f}  {name}")
    out += ["", f"cumulative  us/{unit}  calls/{unit}  function"]
    for _, cumulative, calls, name in sorted(rows, key=lambda r: -r[1])[:top]:
        out.append(
            f"{cumulative:9.3f} s {cumulative / count * 1e6:9.2f} {calls / count:11.2f}  {name}"
        )
    return "\n".join(out) + "\n"


def add_profile_options(parser: Any, choices: Iterable[str], missed_help: str) -> None:
    """``--profile CHOICE`` (repeatable) and ``--profile-missed``, shared by the scripts."""
    parser.add_argument(
        "--profile",
        action="append",
        choices=list(choices),
        help="after the rounds, run this once more under cProfile (repeatable)",
    )
    parser.add_argument("--profile-missed", action="store_true", help=missed_help)
