"""Start-up time that plugin discovery adds to the web service.

For 0, 10, 50 and 200 installed plugin distributions (each a real
dist-info with an entry point in group ``scrapy_webservice`` and a module
with a ``register_resources`` hook), a fresh interpreter times what the
service does at start: find and load the plugins, and ask each for its
resources. The 0-plugin run is the baseline measured in the same run;
the script prints the milliseconds added (median of several runs) and
writes them to ``results/plugin_startup.json``.

Goal: under 100 ms added with 50 plugins.

    python benchmarks/plugin_startup.py [--runs 7]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

COUNTS = (0, 10, 50, 200)
GOAL_MS_AT_50 = 100.0
RESULTS = Path(__file__).parent / "results" / "plugin_startup.json"

MEASURE = """
import sys, time
sys.path.insert(0, {path!r})
from scrapy.settings import Settings
from scrapy_webservice.plugins import Plugins
from scrapy_webservice.settings import WebServiceConfig
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    medians = {count: measure(count, args.runs) for count in COUNTS}
    baseline = medians[0]
    rows = []
    print(f"{'plugins':>8} {'median ms':>10} {'added ms':>9} {'ratio':>7}")
    for count, ms in medians.items():
        added = ms - baseline
        rows.append({"plugins": count, "median_ms": ms, "added_ms": added, "ratio": ms / baseline})
        print(f"{count:>8} {ms:>10.2f} {added:>9.2f} {ms / baseline:>7.1f}")
    at_50 = medians[50] - baseline
    verdict = "met" if at_50 < GOAL_MS_AT_50 else "MISSED"
    print(f"goal: < {GOAL_MS_AT_50:.0f} ms added at 50 plugins: {at_50:.1f} ms, {verdict}")
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(
        json.dumps(
            {
                "benchmark": "plugin_startup",
                "machine": {
                    "python": platform.python_version(),
                    "platform": platform.platform(),
                    "processor": platform.machine(),
                },
                "runs": args.runs,
                "rows": rows,
                "goal_ms_at_50": GOAL_MS_AT_50,
                "added_ms_at_50": at_50,
            },
            indent=2,
        )
        + "\n"
    )


if __name__ == "__main__":
    main()
