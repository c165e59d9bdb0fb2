"""``scrapy-ws status`` across many services: what a person waits for, and what bounds it.

Starts idle crawls on this machine, each its own process with its own
service (a spider kept open, nothing to fetch), up to 10, 25 and 50 of
them, and at each count times:

- *status*: ``scrapy-ws status --json`` end to end, as a person runs it
  (interpreter start, discovery files, one ``get_rates`` per service, the
  output), median of several runs;
- *fan-out 16* and *fan-out 1*: the part that grows with the services,
  in this process: the services' rates asked 16 at a time (what
  ``scrapy-ws`` does) and one at a time (the baseline, what it did before).

The baseline is one service, measured in the same run: the script prints
each time and its ratio to that, and how much each added service costs.
Writes ``results/fleet_status.json`` and a plot.

    python benchmarks/fleet_status.py [--runs 5] [--counts 10 25 50]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import machine_line, pyplot, save_plot, write_results

NAME = "fleet_status"
TOKEN = "fleet-bench-" + "b" * 30
BIN = Path(sys.executable).parent

IDLE_CRAWL = """
import scrapy
from scrapy import signals
from scrapy.crawler import CrawlerProcess
from scrapy.exceptions import DontCloseSpider


class Idle(scrapy.Spider):
    name = "idle{number}"

    async def start(self):
        return
        yield

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        crawler.signals.connect(spider.idle, signal=signals.spider_idle)
        return spider

    def idle(self):
        raise DontCloseSpider


process = CrawlerProcess({{
    "ADDONS": {{"scrapy_webservice.Addon": 0}},
    "WEBSERVICE_PORT": 0,
    "WEBSERVICE_TOKEN": {token!r},
    "WEBSERVICE_PLUGINS_AUTOLOAD": False,
    "LOG_LEVEL": "WARNING",
    "TELNETCONSOLE_ENABLED": False,
}})
process.crawl(Idle)
process.start()
"""


def start_crawls(first: int, last: int, runtime: Path, env: dict[str, str]) -> list[Any]:
    """Idle crawls ``first``..``last``, started a few at a time (two cores)."""
    processes = []
    for number in range(first, last + 1):
        code = IDLE_CRAWL.format(number=number, token=TOKEN)
        processes.append(
            subprocess.Popen(
                [sys.executable, "-c", code],
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        if number % 5 == 0:
            wait_for_services(runtime, number)
    wait_for_services(runtime, last)
    return processes


def wait_for_services(runtime: Path, count: int, timeout: float = 300) -> None:
    directory = runtime / "scrapy-webservice"
    deadline = time.monotonic() + timeout
    while len(list(directory.glob("*.json"))) < count:
        if time.monotonic() > deadline:
            raise SystemExit(f"only {len(list(directory.glob('*.json')))} of {count} services")
        time.sleep(0.2)


def time_status(env: dict[str, str], count: int, runs: int) -> float:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        out = subprocess.run(
            [str(BIN / "scrapy-ws"), "status", "--json"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        times.append(time.perf_counter() - started)
        assert len(json.loads(out)) == count, "status did not list every service"
    return statistics.median(times)


def time_fan_out(count: int, limit: int, runs: int) -> float:
    """The services' rates, ``limit`` at a time, as ``scrapy-ws status`` asks them."""
    from scrapy_webservice.cli import WebServiceClient, find_services
    from scrapy_webservice.cli.targets import fan_out

    clients = [WebServiceClient.from_discovery(info) for info in find_services()]
    assert len(clients) == count
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        answers = fan_out(lambda c: c.call("stats", "get_rates"), clients, limit)
        times.append(time.perf_counter() - started)
        assert all(error is None for _, _, error in answers)
    return statistics.median(times)


def plot(result: dict[str, Any], machine_info: str) -> None:
    plt = pyplot()
    fig, ax = plt.subplots(figsize=(6, 4))
    rows = result["rows"]
    counts = [r["services"] for r in rows]
    for key, label in (
        ("status_s", "scrapy-ws status --json (end to end)"),
        ("fan_out_16_s", "rates of every service, 16 at a time"),
        ("fan_out_1_s", "rates of every service, one at a time"),
    ):
        ax.plot(counts, [r[key] for r in rows], marker="o", label=label)
    ax.set_xlabel("services (idle crawls, one process each)")
    ax.set_ylabel("seconds (median)")
    ax.set_title("scrapy-ws status across many services", fontsize=9)
    ax.legend(fontsize=7)
    fig.suptitle(machine_info, fontsize=7)
    save_plot(fig, NAME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--counts", type=int, nargs="+", default=[10, 25, 50])
    args = parser.parse_args()
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        runtime = Path(tmp)
        os.chmod(runtime, 0o700)
        env = {**os.environ, "XDG_RUNTIME_DIR": str(runtime), "SCRAPY_WS_TOKEN": TOKEN}
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)
        processes: list[Any] = []
        rows = []
        try:
            have = 0
            for count in [1, *args.counts]:
                processes += start_crawls(have + 1, count, runtime, env)
                have = count
                row = {
                    "services": count,
                    "status_s": time_status(env, count, args.runs),
                    "fan_out_16_s": time_fan_out(count, 16, args.runs),
                    "fan_out_1_s": time_fan_out(count, 1, args.runs),
                }
                rows.append(row)
                print(
                    f"{count:>3} services: status {row['status_s']:.3f} s,"
                    f" fan-out 16 {row['fan_out_16_s'] * 1000:.1f} ms,"
                    f" fan-out 1 {row['fan_out_1_s'] * 1000:.1f} ms",
                    flush=True,
                )
        finally:
            for process in processes:
                process.terminate()
            for process in processes:
                process.wait(timeout=60)
    base = rows[0]
    print(f"{'services':>8} {'status s':>9} {'x1':>6} {'fan16 ms':>9} {'fan1 ms':>8} {'1/16':>6}")
    for row in rows:
        row["status_ratio"] = row["status_s"] / base["status_s"]
        row["fan_out_speedup"] = row["fan_out_1_s"] / row["fan_out_16_s"]
        print(
            f"{row['services']:>8} {row['status_s']:>9.3f} {row['status_ratio']:>6.2f}"
            f" {row['fan_out_16_s'] * 1000:>9.1f} {row['fan_out_1_s'] * 1000:>8.1f}"
            f" {row['fan_out_speedup']:>6.1f}"
        )
    last = rows[-1]
    per_service = (last["status_s"] - base["status_s"]) / (last["services"] - 1)
    print(f"each added service: {per_service * 1000:.1f} ms of status (1 -> {last['services']})")
    result = {
        "runs": args.runs,
        "rows": rows,
        "ms_per_added_service": per_service * 1000,
        "fan_out": 16,
        "seconds_taken": round(time.monotonic() - started, 1),
    }
    written = write_results(NAME, result)
    plot(result, machine_line(written["machine"]))


if __name__ == "__main__":
    main()
