"""What the stall watchdog costs the crawl it watches (``WEBSERVICE_STALL_THRESHOLD``).

The watchdog puts a heartbeat timer on the reactor (every 0.1 s at the
default threshold of 0.5 s; a fifth of the threshold below that) and keeps a
thread that sleeps until a heartbeat is overdue. The crawl is flood.py's
CPU-bound one (10,000 ``data:`` pages, two CSS selectors and one item each,
``CONCURRENT_REQUESTS=16``, pinned to core 0 with ``taskset``), with the
web service on and idle, in three configurations:

- **watchdog off**: ``WEBSERVICE_STALL_THRESHOLD=None`` (the baseline);
- **watchdog on**: the default, 0.5 s;
- **watchdog at 0.05 s**: a heartbeat every 10 ms, ten times the default's
  rate (shown, not a goal).

Rounds rotate the order; a row's ratio is the median of its rounds' ratios
of pages/s to *watchdog off* of the same round (pages/s from the moment the
crawl is released to its last item, the crawl's own clocks), CPU the crawl
process's CPU per page over the same span. Reported too: the stalls the
watchdog saw in each crawl (none are expected: no callback blocks).
Goal: watchdog on >= 0.99x watchdog off.

    python benchmarks/stall_watchdog.py [--rounds 7] [--pages 10000]

Linux only (``taskset``), 2 cores.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import machine_line, median, pyplot, save_plot, verdict, write_results
from flood import Config, check_tools, crawl, write_project

NAME = "stall_watchdog"
GOAL_RATIO = 0.99
CONFIGS: tuple[Config, ...] = (
    Config("off", "watchdog off", "service", settings={"WEBSERVICE_STALL_THRESHOLD": "None"}),
    Config("on", "watchdog on (0.5 s)", "service"),
    Config(
        "fine", "watchdog at 0.05 s", "service", settings={"WEBSERVICE_STALL_THRESHOLD": "0.05"}
    ),
)


def summarize(rounds: list[dict[str, dict[str, Any]]], args: argparse.Namespace) -> dict[str, Any]:
    rows = {}
    for config in CONFIGS:
        good = [r for r in rounds if "failed" not in r[config.key] and "failed" not in r["off"]]
        ratios = [r[config.key]["pages_per_second"] / r["off"]["pages_per_second"] for r in good]
        cpu = [r["off"]["cpu_ms_per_page"] / r[config.key]["cpu_ms_per_page"] for r in good]
        rows[config.key] = {
            "label": config.label,
            "ratio": median(ratios) if ratios else None,
            "ratio_rounds": ratios,
            "cpu_ratio": median(cpu) if cpu else None,
            "pages_per_second": median(r[config.key]["pages_per_second"] for r in good)
            if good
            else None,
            "stalls": sum(r[config.key]["webservice"].get("webservice/stalls", 0) for r in good),
            "rounds_failed": [
                r[config.key]["failed"] for r in rounds if "failed" in r[config.key]
            ],
        }
    on = rows["on"]["ratio"]
    return {
        "settings": {"rounds": args.rounds, "pages": args.pages, "concurrent_requests": 16},
        "rows": rows,
        "goal": {"min": GOAL_RATIO, "met": on is not None and on >= GOAL_RATIO},
        "rounds": rounds,
    }


def report(result: dict[str, Any]) -> None:
    header = f"{'row':<22} {'vs off':>7} {'CPU':>7} {'pages/s':>8} {'stalls':>7}"
    print(header)
    print("-" * len(header))
    for row in result["rows"].values():
        ratio = "n/a" if row["ratio"] is None else f"{row['ratio']:.3f}"
        cpu = "n/a" if row["cpu_ratio"] is None else f"{row['cpu_ratio']:.3f}"
        pps = "n/a" if row["pages_per_second"] is None else f"{row['pages_per_second']:.0f}"
        print(f"{row['label']:<22} {ratio:>7} {cpu:>7} {pps:>8} {row['stalls']:>7}")
    print(
        f"goal: watchdog on >= {GOAL_RATIO}x watchdog off: {verdict(result['goal']['met'])}"
        " (vs off: median ratio of pages/s; CPU: off's CPU per page over the row's)"
    )


def plot(result: dict[str, Any], machine_info: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(7, 3))
    rows = list(result["rows"].values())
    ys = list(range(len(rows)))
    ax.barh(ys, [r["ratio"] or 0.0 for r in rows], color="#1f77b4")
    for y, row in zip(ys, rows, strict=True):
        ax.scatter(row["ratio_rounds"], [y] * len(row["ratio_rounds"]), c="k", s=8, zorder=3)
    ax.set_yticks(ys, [r["label"] for r in rows])
    ax.axvline(GOAL_RATIO, ls="--", c="k", lw=1, label=f"goal: {GOAL_RATIO}x")
    seen = [r for row in rows for r in row["ratio_rounds"]] or [1.0]
    ax.set_xlim(min(0.9, min(seen) - 0.02), max(1.05, max(seen) + 0.02))
    ax.set_xlabel("crawl pages/s vs watchdog off (bar: median; dots: rounds)")
    ax.legend(loc="lower right", fontsize=7)
    fig.suptitle(f"The stall watchdog's cost to a CPU-bound crawl\n{machine_info}", fontsize=8)
    fig.tight_layout()
    save_plot(fig, NAME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--pages", type=int, default=10_000, help="pages each crawl scrapes")
    args = parser.parse_args()
    args.set = []
    wrk = check_tools(wrk_needed=False)  # no flood here: the service stays idle
    started = time.monotonic()
    rounds: list[dict[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="stall-watchdog-") as name:
        tmp = Path(name)
        project = write_project(tmp / "project")
        warm = argparse.Namespace(**{**vars(args), "pages": min(args.pages, 500)})
        crawl(CONFIGS[0], project, tmp, 0, warm, wrk)  # disk caches, imports
        index = 0
        for i in range(args.rounds):
            order = CONFIGS[i % len(CONFIGS) :] + CONFIGS[: i % len(CONFIGS)]
            row = {}
            for config in order:
                index += 1
                row[config.key] = run = crawl(config, project, tmp, index, args, wrk)
                state = run.get("failed") or f"{run['pages_per_second']:.1f} pages/s"
                print(f"round {i + 1}: {config.key:<5} {state}", flush=True)
            rounds.append(row)
    result = summarize(rounds, args)
    result["seconds_taken"] = round(time.monotonic() - started, 1)
    report(result)
    written = write_results(NAME, result)
    plot(result, machine_line(written["machine"]))


if __name__ == "__main__":
    main()
