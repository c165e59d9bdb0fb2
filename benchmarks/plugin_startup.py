"""Start-up time that plugin discovery adds to the web service.

For 0, 10, 50 and 200 installed plugin distributions (each a real
dist-info with an entry point in group ``scrapy_webservice`` and a module
with a ``register_resources`` hook), a fresh interpreter times what the
service does at start: find and load the plugins, and ask each for its
resources. The 0-plugin run is the baseline measured in the same run;
the script prints the milliseconds added (median of several runs) and
writes them to ``results/plugin_startup.json`` (and a plot, ``.png``).

Goal: under 100 ms added with 50 plugins.

    python benchmarks/plugin_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import machine_line, pyplot, save_plot, verdict, write_results

NAME = "plugin_startup"
COUNTS = (0, 10, 50, 200)
GOAL_MS_AT_50 = 100.0

MEASURE = """
import sys, time
sys.path.insert(0, {path!r})
from scrapy.settings import Settings
from scrapy_webservice.server.plugins import Plugins
from scrapy_webservice.public.settings import WebServiceConfig
config = WebServiceConfig.from_settings(Settings())
settings = Settings()
start = time.perf_counter()
plugins = Plugins.from_config(config, environ={{}})
plugins.resource_layers(settings)
elapsed = time.perf_counter() - start
assert len(plugins.loaded) == {count}, (len(plugins.loaded), plugins.failures)
print(elapsed * 1000)
"""

MODULE = """
from scrapy_webservice import hookimpl


@hookimpl
def register_resources(settings):
    return {{"bench_plugin_{i}.Resource{i}": None}}
"""


def make_plugins(root: Path, count: int) -> None:
    for i in range(count):
        name = f"bench_plugin_{i}"
        (root / f"{name}.py").write_text(MODULE.format(i=i))
        dist = root / f"scrapy_webservice_bench_{i}-1.0.dist-info"
        dist.mkdir()
        (dist / "METADATA").write_text(
            f"Metadata-Version: 2.1\nName: scrapy-webservice-bench-{i}\nVersion: 1.0\n"
        )
        (dist / "entry_points.txt").write_text(f"[scrapy_webservice]\nbench{i} = {name}\n")


def measure(count: int, runs: int) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        make_plugins(Path(tmp), count)
        code = MEASURE.format(path=tmp, count=count)
        times = []
        for _ in range(runs):
            out = subprocess.run(
                [sys.executable, "-c", code], capture_output=True, text=True, check=True
            ).stdout
            times.append(float(out.strip().splitlines()[-1]))
    return statistics.median(times)


def plot(result: dict[str, Any], machine_info: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    rows = result["rows"]
    ax.plot(
        [r["plugins"] for r in rows],
        [r["added_ms"] for r in rows],
        marker="o",
        label=f"added start-up, median of {result['runs']} runs",
    )
    ax.axhline(
        GOAL_MS_AT_50, ls="--", c="k", lw=1, label=f"goal at 50 plugins: < {GOAL_MS_AT_50:.0f} ms"
    )
    ax.axvline(50, ls=":", c="k", lw=1)
    ax.set_xlabel("installed plugins (entry points)")
    ax.set_ylabel("ms added to the service's start-up")
    ax.set_title("Plugin discovery at start-up", fontsize=9)
    ax.legend(fontsize=7)
    fig.suptitle(machine_info, fontsize=7)
    save_plot(fig, NAME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    started = time.monotonic()
    medians = {count: measure(count, args.runs) for count in COUNTS}
    baseline = medians[0]
    rows = []
    print(f"{'plugins':>8} {'median ms':>10} {'added ms':>9} {'ratio':>7}")
    for count, ms in medians.items():
        added = ms - baseline
        rows.append({"plugins": count, "median_ms": ms, "added_ms": added, "ratio": ms / baseline})
        print(f"{count:>8} {ms:>10.2f} {added:>9.2f} {ms / baseline:>7.1f}")
    at_50 = medians[50] - baseline
    per_plugin = (medians[200] - medians[50]) / 150
    met = at_50 < GOAL_MS_AT_50
    print(f"goal: < {GOAL_MS_AT_50:.0f} ms added at 50 plugins: {at_50:.1f} ms, {verdict(met)}")
    print(f"{per_plugin:.2f} ms a plugin (50 -> 200)")
    result = {
        "runs": args.runs,
        "rows": rows,
        "goal_ms_at_50": GOAL_MS_AT_50,
        "added_ms_at_50": at_50,
        "ms_per_plugin_50_to_200": per_plugin,
        "goals": {"added_ms_at_50": {"max": GOAL_MS_AT_50, "met": met}},
        "seconds_taken": round(time.monotonic() - started, 1),
    }
    written = write_results(NAME, result)
    plot(result, machine_line(written["machine"]))


if __name__ == "__main__":
    main()
