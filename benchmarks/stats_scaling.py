"""How ``/metrics`` and the events stream grow with the number of stats keys.

A crawl's stats usually hold 40 to 60 keys, but extensions and spiders add
their own (per domain, per status, per error type), and both costs below
run on the reactor thread, where they delay the crawl:

- **/metrics**: what the Prometheus plugin does for one scrape:
  ``prometheus_client.generate_latest`` of the ``MetricsResource``'s
  registry (``ScrapyCollector`` over the crawl's stats, engine and rates,
  plus the process metrics).
- **events tick**: one ``CrawlMonitor.tick()``, run every
  ``WEBSERVICE_RATES_INTERVAL`` (1 s): sample the stats, derive the rates,
  publish a ``rates`` event to one ``/events`` subscriber that encodes and
  writes its frame.

The baseline, measured alongside, is ``get_stats`` encoded as JSON (what
``/stats`` sends) for the same stats. The stats are a realistic Scrapy
dict padded with extra counters to 100, 1,000 and 10,000 keys; the crawler
is real (``get_crawler``) with a stub engine (no crawl runs). The script
says whether each cost grows linearly (the cost per added key from 1,000
to 10,000 against that from 100 to 1,000) and gives the ratio
10,000/1,000.

    python benchmarks/stats_scaling.py [--samples 7]
"""

from __future__ import annotations

import argparse
import sys
import time
import timeit
from types import SimpleNamespace
from typing import Any

from benchlib import (
    REALISTIC_STATS,
    ROOT,
    machine_line,
    median,
    pyplot,
    save_plot,
    write_results,
)

NAME = "stats_scaling"
KEYS = (100, 1_000, 10_000)
#: Marginal cost per key within this factor over both intervals: "linear".
LINEAR_TOLERANCE = 1.5
COSTS = ("metrics", "events_tick", "stats_json")
LABELS = {
    "metrics": "/metrics (generate_latest)",
    "events_tick": "events tick (sample, rates, 1 subscriber)",
    "stats_json": "baseline: stats as JSON",
}


def import_prometheus_plugin() -> Any:
    try:
        import scrapy_webservice_prometheus  # noqa: F401
    except ImportError:
        sys.path.insert(0, str(ROOT / "plugins" / "prometheus" / "src"))
    try:
        from prometheus_client import generate_latest
        from scrapy_webservice_prometheus.resource import MetricsResource
    except ImportError as exc:
        sys.exit(
            f"{exc}: install the plugin's dependency: .venv/bin/pip install -e plugins/prometheus"
            " (or pip install prometheus_client)"
        )
    return SimpleNamespace(generate_latest=generate_latest, MetricsResource=MetricsResource)


def make_stats(keys: int) -> dict[str, Any]:
    """The realistic stats, padded with counters and gauges to ``keys`` keys."""
    stats = dict(REALISTIC_STATS)
    i = 0
    while len(stats) < keys:
        if i % 10 == 9:
            stats[f"custom/gauge_{i:05d}"] = i * 0.5
        else:
            stats[f"custom/domain_{i:05d}/response_count"] = i * 7
        i += 1
    return stats


class FakeRequest:
    """What an ``EventStream`` writes to: counts the bytes of the frames."""

    def __init__(self) -> None:
        self.written = 0
        self.frames = 0

    def write(self, data: bytes) -> None:
        self.written += len(data)
        self.frames += 1

    def getClientAddress(self) -> Any:
        return SimpleNamespace(host="127.0.0.1")


def build(plugin: Any) -> SimpleNamespace:
    import scrapy
    from scrapy.settings import Settings
    from scrapy.utils.test import get_crawler
    from twisted.internet.task import Clock

    from scrapy_webservice.public.monitor import CrawlMonitor
    from scrapy_webservice.public.settings import WebServiceConfig
    from scrapy_webservice.resources.events import EventStream
    from scrapy_webservice.server.plugins import Plugins
    from scrapy_webservice.server.service import Service

    crawler = get_crawler(scrapy.Spider)
    crawler.spider = scrapy.Spider(name="bench")
    crawler.engine = SimpleNamespace(  # what the monitor and collector read of an engine
        spider=crawler.spider,
        paused=False,
        _slot=SimpleNamespace(inprogress=set(), closing=None, scheduler=[]),
        downloader=SimpleNamespace(active=set()),
    )
    service = Service(WebServiceConfig.from_settings(Settings()), plugins=Plugins())
    service.bind(crawler)  # api(crawler): what the plugin's collector reads
    service.crawls.join(crawler)
    service.crawls.watch(crawler)  # the running crawl the API lists
    service.started_at = time.time()
    # The monitor that the events tick times, on a clock of its own.
    clock = Clock()
    monitor = CrawlMonitor(crawler, 1.0, service.events.publish, clock=clock)
    monitor.start()
    request = FakeRequest()
    stream = EventStream(request, max_buffer=262_144, encode=service.dumps)
    service.events.subscribe(stream)
    metrics = plugin.MetricsResource(crawler)
    return SimpleNamespace(
        crawler=crawler,
        service=service,
        clock=clock,
        monitor=monitor,
        request=request,
        registry=metrics.registry,
    )


def time_call(func: Any, samples: int) -> float:
    """Seconds per call: the median of ``samples`` timings of enough calls for 0.1 s."""
    timer = timeit.Timer(func)
    number, _ = timer.autorange()
    number = max(1, number // 2)
    return median(t / number for t in timer.repeat(repeat=samples, number=number))


def measure(samples: int) -> dict[str, Any]:
    plugin = import_prometheus_plugin()
    setup = build(plugin)
    rows = []
    for keys in KEYS:
        setup.crawler.stats.set_stats(make_stats(keys))

        def tick() -> None:
            setup.clock.advance(1.0)
            setup.monitor.tick()

        frames = setup.request.frames
        times = {
            "metrics": time_call(lambda: plugin.generate_latest(setup.registry), samples),
            "events_tick": time_call(tick, samples),
            "stats_json": time_call(
                lambda: setup.service.dumps(setup.crawler.stats.get_stats()), samples
            ),
        }
        assert setup.request.frames > frames, "the subscriber got no rates event"
        size = {
            "metrics_bytes": len(plugin.generate_latest(setup.registry)),
            "stats_json_bytes": len(setup.service.dumps(setup.crawler.stats.get_stats())),
        }
        row = {"keys": keys, **{f"{k}_ms": v * 1000 for k, v in times.items()}, **size}
        row["metrics_vs_stats_json"] = times["metrics"] / times["stats_json"]
        row["events_tick_vs_stats_json"] = times["events_tick"] / times["stats_json"]
        rows.append(row)
        print(
            f"{keys:>6} keys: /metrics {row['metrics_ms']:8.3f} ms"
            f"  tick {row['events_tick_ms']:7.3f} ms"
            f"  stats JSON {row['stats_json_ms']:7.3f} ms",
            flush=True,
        )
    return {"rows": rows, "growth": growth(rows)}


def growth(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Per-key costs over both intervals, the 10,000/1,000 ratio, and a verdict."""
    by_keys = {row["keys"]: row for row in rows}
    out = {}
    for cost in COSTS:
        t = {k: by_keys[k][f"{cost}_ms"] for k in KEYS}
        low = (t[1_000] - t[100]) / 900 * 1000  # us per key, 100 -> 1,000
        high = (t[10_000] - t[1_000]) / 9_000 * 1000  # us per key, 1,000 -> 10,000
        steady = low > 0 and high > 0 and 1 / LINEAR_TOLERANCE <= high / low <= LINEAR_TOLERANCE
        out[cost] = {
            "us_per_key_100_to_1000": low,
            "us_per_key_1000_to_10000": high,
            "ratio_10000_vs_1000": t[10_000] / t[1_000],
            "ratio_1000_vs_100": t[1_000] / t[100],
            "linear": steady,
        }
    return out


def plot(result: dict[str, Any], machine_info: str) -> None:
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4))
    rows = result["rows"]
    keys = [r["keys"] for r in rows]
    markers = {"metrics": "o", "events_tick": "s", "stats_json": "^"}
    for cost in COSTS:
        per_key = result["growth"][cost]["us_per_key_1000_to_10000"]
        left.plot(
            keys,
            [r[f"{cost}_ms"] for r in rows],
            marker=markers[cost],
            label=f"{LABELS[cost]}: {per_key:.2f} us/key",
        )
    first = rows[0]["metrics_ms"]
    left.plot(keys, [first * k / keys[0] for k in keys], ls=":", c="k", lw=1, label="linear")
    left.set_xscale("log")
    left.set_yscale("log")
    left.set_xlabel("stats keys")
    left.set_ylabel("ms per call (median)")
    left.set_title("Cost on the reactor thread")
    left.legend(fontsize=7)
    for cost in ("metrics", "events_tick"):
        right.plot(
            keys,
            [r[f"{cost}_ms"] / r["keys"] * 1000 for r in rows],
            marker=markers[cost],
            label=LABELS[cost],
        )
    right.set_xscale("log")
    right.set_xlabel("stats keys")
    right.set_ylabel("us per key")
    right.set_ylim(bottom=0)
    right.set_title("Cost per key: total / keys (flattens where growth is linear)")
    right.legend(fontsize=7)
    fig.suptitle(f"/metrics and the events tick vs stats size ({machine_info})", fontsize=8)
    save_plot(fig, NAME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--samples", type=int, default=7)
    args = parser.parse_args()
    started = time.monotonic()
    result = measure(args.samples)
    result["settings"] = {"samples": args.samples, "keys": list(KEYS), "rates_interval_s": 1.0}
    result["seconds_taken"] = round(time.monotonic() - started, 1)
    for cost in ("metrics", "events_tick"):
        g = result["growth"][cost]
        shape = "linear" if g["linear"] else "NOT linear"
        print(
            f"{LABELS[cost]}: {shape}: {g['us_per_key_100_to_1000']:.2f} us/key (100->1,000),"
            f" {g['us_per_key_1000_to_10000']:.2f} us/key (1,000->10,000);"
            f" 10,000/1,000 = {g['ratio_10000_vs_1000']:.1f}x"
        )
    last = result["rows"][-1]
    print(
        f"at 10,000 keys: /metrics {last['metrics_vs_stats_json']:.1f}x the stats JSON,"
        f" a tick {last['events_tick_ms']:.2f} ms each second"
        f" ({last['events_tick_ms'] / 10:.2f}% of the reactor)"
    )
    written = write_results(NAME, result)
    plot(result, machine_line(written["machine"]))


if __name__ == "__main__":
    main()
