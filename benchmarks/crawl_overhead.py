"""What the web service costs a crawl: pages per second and memory.

The demo shop (``scrapy_webservice.demo.site``, no delay) serves a few
thousand pages on 127.0.0.1, and ``scrapy crawl demo`` of the test project
(``tests/project``, ``CONCURRENT_REQUESTS=16``, ``LOG_LEVEL=WARNING``)
crawls all of it in three configurations:

- **off**: ``WEBSERVICE_ENABLED=False`` (the baseline);
- **on, idle**: the service listening, its monitor sampling the stats,
  nobody asking;
- **on, polled**: and a client asking 10 times a second for
  ``GET /enginestatus`` and JSON-RPC ``stats.get_rates`` (a dashboard or
  ``scrapy-ws watch`` at ten times its default rate).

Rounds rotate the order of the configurations; each crawl's pages/s is
measured from its first to its last response (start-up and shutdown are
not throughput). Reported: medians, their ratio to *off*, the RSS of the
crawl process once it runs (at its first response: what the service's
imports and objects add) and at its peak (``ru_maxrss``), and the CPU time
per page.
Goals: on and polled >= 0.98x off; RSS added < 5 MiB.

    python benchmarks/crawl_overhead.py [--rounds 7] [--products 2000] [--reactorless]

``--reactorless`` runs every crawl without a Twisted reactor
(``TWISTED_REACTOR_ENABLED=False``, Scrapy 2.15 and later), so that the
service serves on its asyncio front: the same goals, in that mode.

Plugins installed in the environment are not loaded
(``WEBSERVICE_PLUGINS_AUTOLOAD=False``): this is the core service's cost;
``plugin_startup.py`` measures discovery.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import pstats
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from benchlib import (
    HERE,
    RESULTS,
    ROOT,
    add_profile_options,
    machine_line,
    median,
    profile_report,
    pyplot,
    save_plot,
    verdict,
    write_results,
)

NAME = "crawl_overhead"
GOAL_RATIO = 0.98
GOAL_RSS_MIB = 5.0
POLL_INTERVAL = 0.1
TOKEN = "bench-token-0123456789abcdef"  # noqa: S105 - a local benchmark's token
PROJECT = ROOT / "tests" / "project"
CONFIGS = ("off", "on, idle", "on, polled")
#: Settings every crawl of this run gets (``--reactorless`` adds Scrapy's mode).
MODE_SETTINGS: dict[str, Any] = {}
RATES_CALL = json.dumps({"jsonrpc": "2.0", "method": "get_rates", "id": 1})


class Poller(threading.Thread):
    """Asks the crawl's service for engine status and rates every 0.1 s, until stopped."""

    def __init__(self, discovery: Path, poll: bool = True) -> None:
        super().__init__(daemon=True)
        self.discovery = discovery
        self.poll = poll
        self.found = False
        self.stopped = threading.Event()
        self.ok = 0
        self.failed = 0
        self.started_at: float | None = None
        self.ended_at: float | None = None

    def _service(self) -> tuple[str, int] | None:
        for path in self.discovery.glob("*.json"):
            try:
                url = json.loads(path.read_text())["url"]
            except (OSError, ValueError, KeyError):
                continue
            host, port = url.split("//", 1)[1].rstrip("/").rsplit(":", 1)
            return host, int(port)
        return None

    def run(self) -> None:
        address = None
        while address is None and not self.stopped.wait(0.02):
            address = self._service()
        if address is None:
            return
        self.found = True
        if not self.poll:
            return  # "on, idle": only check that the service listens
        conn = http.client.HTTPConnection(*address, timeout=5)
        headers = {"Authorization": f"Bearer {TOKEN}"}
        post_headers = {**headers, "Content-Type": "application/json"}
        self.started_at = next_at = time.monotonic()
        while not self.stopped.is_set():
            try:
                for method, path, body, hdrs in (
                    ("GET", "/enginestatus", None, headers),
                    ("POST", "/stats", RATES_CALL, post_headers),
                ):
                    conn.request(method, path, body=body, headers=hdrs)
                    response = conn.getresponse()
                    response.read()
                    if response.status == 200:
                        self.ok += 1
                    else:
                        self.failed += 1
            except (OSError, http.client.HTTPException):
                # The service stops listening as the crawl ends.
                conn.close()
                conn = http.client.HTTPConnection(*address, timeout=5)
                self.failed += 1
            next_at += POLL_INTERVAL
            self.stopped.wait(max(0.0, next_at - time.monotonic()))
        self.ended_at = time.monotonic()
        conn.close()


def start_shop(products: int) -> tuple[subprocess.Popen[str], str]:
    shop = subprocess.Popen(
        [sys.executable, "-m", "scrapy_webservice.demo.site", "--products", str(products)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert shop.stdout is not None
    url = shop.stdout.readline().strip()
    if not url.startswith("http://127.0.0.1:"):
        shop.kill()
        raise RuntimeError(f"the demo shop did not start: {url!r}")
    return shop, url


def crawl(
    config: str, shop_url: str, tmp: Path, index: int, profile: Path | None = None
) -> dict[str, Any]:
    stats_file = tmp / f"stats{index}.json"
    discovery = tmp / f"discovery{index}"
    settings = {
        "CONCURRENT_REQUESTS": 16,
        "LOG_LEVEL": "WARNING",
        "STATS_CLASS": "benchstats.BenchStatsCollector",
        "BENCH_STATS_FILE": str(stats_file),
        "WEBSERVICE_ENABLED": config != "off",
        "WEBSERVICE_TOKEN": TOKEN,
        "WEBSERVICE_DISCOVERY_DIR": str(discovery),
        "WEBSERVICE_PLUGINS_AUTOLOAD": False,
        **MODE_SETTINGS,
    }
    python = [sys.executable]
    if profile is not None:
        python += ["-m", "cProfile", "-o", str(profile)]
    args = [*python, "-m", "scrapy", "crawl", "demo", "-a", f"url={shop_url}"]
    for name, value in settings.items():
        args += ["-s", f"{name}={value}"]
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(HERE), os.environ.get("PYTHONPATH", "")]),
    }
    poller = None if config == "off" else Poller(discovery, poll=config == "on, polled")
    started = time.monotonic()
    child = subprocess.Popen(args, cwd=PROJECT, env=env, stderr=subprocess.PIPE, text=True)
    if poller is not None:
        poller.start()
    _, errors = child.communicate(timeout=600)
    wall = time.monotonic() - started
    if poller is not None:
        poller.stopped.set()
        poller.join(10)
    if child.returncode != 0 or not stats_file.exists():
        raise RuntimeError(f"crawl ({config}) failed, exit {child.returncode}:\n{errors}")
    data = json.loads(stats_file.read_text())
    stats = data["stats"]
    pages = stats["response_received_count"]
    window = data["last_response"] - data["first_response"]
    result = {
        "config": config,
        "pages": pages,
        "items": stats.get("item_scraped_count", 0),
        "pages_per_second": (pages - 1) / window,
        "overall_pages_per_second": pages / wall,
        "wall_seconds": wall,
        "rss_mib": data["ru_maxrss_kib"] / 1024,
        # Once the crawl runs (first response), with everything imported and started.
        "rss_start_mib": data["rss_samples"][0] / 2**20 if data["rss_samples"] else None,
        "cpu_ms_per_page": data["cpu_seconds"] / pages * 1000,
        "errors": stats.get("log_count/ERROR", 0),
    }
    if poller is not None and not poller.found:
        raise RuntimeError(f"crawl ({config}): the web service never listened")
    if poller is not None and poller.poll:
        seconds = (poller.ended_at or time.monotonic()) - (poller.started_at or started)
        result["polls_ok"] = poller.ok
        result["polls_failed"] = poller.failed
        result["requests_per_second"] = poller.ok / seconds if seconds > 0 else 0.0
        if poller.ok == 0:
            raise RuntimeError("the poller never reached the service")
    return result


#: Where the reactor enters the service, not nested in each other: a request's
#: parsing and synchronous answer, a JSON-RPC call's coroutine and its write-out,
#: the monitor's sample.
SERVICE_ENTRIES = (
    ("scrapy_webservice/site.py", "dataReceived"),
    ("scrapy_webservice/resource.py", "answer"),
    ("scrapy_webservice/resource.py", "done"),
    ("scrapy_webservice/monitor.py", "tick"),
)


def service_share(stats: Any, requests: int) -> str:
    """The part of a profiled crawl spent in the web service, per service request."""
    total = sum(own for _, _, own, _, _ in stats.stats.values())
    lines = []
    spent = 0.0
    for (path, _, func), (_, calls, _, cumulative, _) in stats.stats.items():
        for suffix, name in SERVICE_ENTRIES:
            if path.endswith(suffix) and func == name:
                spent += cumulative
                lines.append(f"  {suffix}:{func}: {calls} calls, {cumulative:.3f} s")
    per = f", {spent / requests * 1e3:.2f} ms per service request" if requests else ""
    return (
        f"web service: {spent:.3f} s of {total:.3f} s profiled"
        f" ({spent / total:.2%} of the crawl process){per}\n" + "\n".join(sorted(lines)) + "\n\n"
    )


def profile_crawl(config: str, shop_url: str, tmp: Path) -> dict[str, Any]:
    """One more crawl under cProfile: ``results/*_profile_*.txt``, per page."""
    slug = config.replace(", ", "_")
    raw = Path(tempfile.gettempdir()) / f"{NAME}_{slug}.prof"
    run = crawl(config, shop_url, tmp, 999, profile=raw)
    title = f"{config}: {run['pages_per_second']:.0f} pages/s under cProfile"
    if "polls_ok" in run:
        title += f", {run['polls_ok']} service requests"
    stats = pstats.Stats(str(raw))
    report = service_share(stats, run.get("polls_ok", 0))
    report += profile_report(stats, title, run["pages"], "page", top=40)
    out = RESULTS / f"{NAME}_profile_{slug}.txt"
    out.write_text(report)
    print(f"profile: {out.relative_to(ROOT)} (raw: {raw})")
    return {"pages_per_second_under_profile": run["pages_per_second"], "file": out.name}


def summarize(rounds: list[dict[str, Any]], args: argparse.Namespace) -> dict[str, Any]:
    configs = {}
    for config in CONFIGS:
        runs = [r[config] for r in rounds]
        configs[config] = {
            "pages_per_second": median(r["pages_per_second"] for r in runs),
            "overall_pages_per_second": median(r["overall_pages_per_second"] for r in runs),
            "rss_mib": median(r["rss_mib"] for r in runs),
            "rss_start_mib": median(r["rss_start_mib"] for r in runs),
            "cpu_ms_per_page": median(r["cpu_ms_per_page"] for r in runs),
            "pages_per_second_rounds": [r["pages_per_second"] for r in runs],
        }
        if config == "on, polled":
            configs[config]["service_requests_per_second"] = median(
                r["requests_per_second"] for r in runs
            )

    def ratio(config: str, key: str = "pages_per_second") -> float:
        return median(r[config][key] / r["off"][key] for r in rounds)

    ratios = {
        "idle_vs_off": ratio("on, idle"),
        "polled_vs_off": ratio("on, polled"),
    }
    cpu_ratios = {  # pages one core can crawl, from CPU time per page
        "idle_vs_off": median(
            r["off"]["cpu_ms_per_page"] / r["on, idle"]["cpu_ms_per_page"] for r in rounds
        ),
        "polled_vs_off": median(
            r["off"]["cpu_ms_per_page"] / r["on, polled"]["cpu_ms_per_page"] for r in rounds
        ),
    }
    rss_added = {
        f"{name}_{when}": configs[config][key] - configs["off"][key]
        for name, config in (("idle", "on, idle"), ("polled", "on, polled"))
        for when, key in (("start", "rss_start_mib"), ("peak", "rss_mib"))
    }
    worst_rss = max(rss_added.values())
    return {
        "settings": {
            "rounds": args.rounds,
            "products": args.products,
            "pages": rounds[0]["off"]["pages"],
            "concurrent_requests": 16,
            "poll_interval_seconds": POLL_INTERVAL,
            "reactorless": bool(MODE_SETTINGS),
        },
        "configs": configs,
        "ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "rss_added_mib": rss_added,
        "goals": {
            "polled_vs_off": {"min": GOAL_RATIO, "met": ratios["polled_vs_off"] >= GOAL_RATIO},
            "rss_added_mib": {"max": GOAL_RSS_MIB, "met": worst_rss < GOAL_RSS_MIB},
        },
        "rounds": rounds,
    }


def plot(result: dict[str, Any], machine_info: str) -> None:
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    configs = result["configs"]
    names = list(CONFIGS)
    colors = ["#888888", "#1f77b4", "#ff7f0e"]
    bars = left.bar(names, [configs[n]["pages_per_second"] for n in names], color=colors)
    ratios = [1.0, result["ratios"]["idle_vs_off"], result["ratios"]["polled_vs_off"]]
    left.bar_label(bars, [f"{r:.3f}x" for r in ratios], label_type="center", color="white")
    for x, name in enumerate(names):
        values = configs[name]["pages_per_second_rounds"]
        left.scatter([x] * len(values), values, c="k", s=8, zorder=3)
    left.axhline(
        configs["off"]["pages_per_second"] * GOAL_RATIO,
        ls="--",
        c="k",
        lw=1,
        label=f"goal: {GOAL_RATIO}x off",
    )
    left.set_ylabel("pages/s, first to last response (bars: median; dots: rounds)")
    left.set_title(f"Crawl of {result['settings']['pages']} pages, 16 concurrent requests")
    left.legend(loc="lower right", fontsize=7)
    width = 0.38
    xs = list(range(len(names)))
    start = [configs[n]["rss_start_mib"] for n in names]
    peak = [configs[n]["rss_mib"] for n in names]
    right.bar([x - width / 2 for x in xs], start, width, label="at the first response")
    right.bar([x + width / 2 for x in xs], peak, width, label="peak (ru_maxrss)")
    right.set_xticks(xs, names)
    right.axhline(peak[0] + GOAL_RSS_MIB, ls="--", c="k", lw=1, label="goal: off's peak + 5 MiB")
    right.set_ylim(min(start) * 0.9, (peak[0] + GOAL_RSS_MIB) * 1.03)
    right.set_ylabel("RSS of the crawl process, MiB (median)")
    right.set_title("Memory")
    right.legend(loc="lower right", fontsize=7)
    fig.suptitle(f"Crawl with the web service off, on, polled 10/s ({machine_info})", fontsize=8)
    save_plot(fig, NAME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=7)
    parser.add_argument("--products", type=int, default=2000)
    add_profile_options(
        parser, CONFIGS, "profile the idle and polled crawls if the throughput goal was missed"
    )
    parser.add_argument(
        "--reactorless",
        action="store_true",
        help="crawl without a Twisted reactor (TWISTED_REACTOR_ENABLED=False, Scrapy 2.15+):"
        " the service on its asyncio front; results in crawl_overhead_reactorless.json",
    )
    args = parser.parse_args()
    if args.reactorless:
        global NAME
        NAME = "crawl_overhead_reactorless"
        MODE_SETTINGS["TWISTED_REACTOR_ENABLED"] = False
    started = time.monotonic()
    shop, shop_url = start_shop(args.products)
    rounds: list[dict[str, Any]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            crawl("off", shop_url, Path(tmp), 0)  # warm-up: disk caches, the shop
            for i in range(args.rounds):
                order = CONFIGS[i % 3 :] + CONFIGS[: i % 3]
                row = {}
                for config in order:
                    row[config] = run = crawl(config, shop_url, Path(tmp), len(rounds) * 3 + 1)
                    polls = (
                        f", {run['requests_per_second']:.1f} service req/s"
                        if "polls_ok" in run
                        else ""
                    )
                    print(
                        f"round {i + 1}: {config:<11} {run['pages']} pages"
                        f" {run['pages_per_second']:>7.1f} pages/s"
                        f"  RSS {run['rss_start_mib']:.1f}/{run['rss_mib']:.1f} MiB"
                        f"  {run['cpu_ms_per_page']:.2f} ms CPU/page{polls}",
                        flush=True,
                    )
                rounds.append(row)
            wanted = list(args.profile or ())
            polled = (
                median(
                    r["on, polled"]["pages_per_second"] / r["off"]["pages_per_second"]
                    for r in rounds
                )
                if rounds
                else 1.0
            )
            if args.profile_missed and polled < GOAL_RATIO:
                wanted += ["on, idle", "on, polled"]
            profiles = {c: profile_crawl(c, shop_url, Path(tmp)) for c in dict.fromkeys(wanted)}
    finally:
        shop.terminate()
        shop.wait(10)
    result = summarize(rounds, args)
    result["profiles"] = profiles
    result["seconds_taken"] = round(time.monotonic() - started, 1)
    print(
        f"{'config':<11} {'pages/s':>8} {'ratio':>6} {'RSS start':>9} {'RSS peak':>8}"
        f" {'CPU ms/page':>11}"
    )
    for name, row in result["configs"].items():
        ratio = (
            1.0
            if name == "off"
            else result["ratios"]["idle_vs_off" if name == "on, idle" else "polled_vs_off"]
        )
        print(
            f"{name:<11} {row['pages_per_second']:>8.1f} {ratio:>6.3f}"
            f" {row['rss_start_mib']:>9.1f} {row['rss_mib']:>8.1f} {row['cpu_ms_per_page']:>11.3f}"
        )
    goals = result["goals"]
    print(
        f"on and polled / off: {result['ratios']['polled_vs_off']:.3f}"
        f" (goal >= {GOAL_RATIO}: {verdict(goals['polled_vs_off']['met'])})"
    )
    added = result["rss_added_mib"]
    print(
        f"RSS added at the first response: idle {added['idle_start']:+.2f} MiB,"
        f" polled {added['polled_start']:+.2f} MiB; at the peak: idle {added['idle_peak']:+.2f},"
        f" polled {added['polled_peak']:+.2f} MiB"
        f" (goal < {GOAL_RSS_MIB:.0f} MiB: {verdict(goals['rss_added_mib']['met'])})"
    )
    written = write_results(NAME, result)
    plot(result, machine_line(written["machine"]))


if __name__ == "__main__":
    main()
