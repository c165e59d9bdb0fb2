"""Requests per second of the service's stats, against a bare ``twisted.web`` resource.

One process, one asyncio reactor, serving two sites on 127.0.0.1:

- **bare**: a ``twisted.web`` ``Site`` (access log off) whose one resource
  encodes the live stats with ``json.dumps``: the least a hand-written
  endpoint does. The baseline.
- **service**: the real web service of a running crawler (an idle spider
  whose stats collector holds a realistic Scrapy stats dict), with its
  token, Host and size checks and its JSON encoder:
  - ``GET /livestats``: a small ``JsonResource`` returning the same stats,
    mounted with ``WEBSERVICE_RESOURCES`` by this script (``GET /stats`` on
    the service answers the JSON-RPC method listing, not the stats);
  - ``POST /stats`` JSON-RPC ``get_stats``: the built-in way to read them.

``wrk`` (one thread, 10 connections, keep-alive) drives each target in turn,
rounds rotating the order; the ratios of each round are taken, and their
median reported. The CPU time the server process spends per request is
recorded too: the same comparison with the machine's other load taken out.
Goals: service GET >= 0.9x bare GET; JSON-RPC POST >= 0.7x service GET.

    python benchmarks/http_throughput.py [--rounds 5] [--seconds 3] [--profile 'service POST']

``wrk`` is Debian's package ``wrk`` (``apt-get install -y wrk``).
"""

from __future__ import annotations

import argparse
import cProfile
import json
import pstats
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchlib import (
    REALISTIC_STATS,
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

NAME = "http_throughput"
GOAL_GET = 0.9  # service GET / bare GET
GOAL_POST = 0.7  # service JSON-RPC POST / service GET
TOKEN = "bench-token-0123456789abcdef"  # noqa: S105 - a local benchmark's token
RPC_BODY = '{"jsonrpc":"2.0","method":"get_stats","id":1}'
TARGETS = ("bare GET", "service GET", "service POST")

POST_LUA = """\
wrk.method = "POST"
wrk.body = '{body}'
wrk.headers["Content-Type"] = "application/json"
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}


def wrk_path() -> str:
    path = shutil.which("wrk")
    if path is None:
        sys.exit(
            "wrk is not installed: on Debian/Ubuntu `apt-get install -y wrk`"
            " (https://github.com/wg/wrk for other systems)"
        )
    return path


def _ms(text: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text)
    if match is None:
        raise ValueError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


def parse_wrk(output: str) -> dict[str, Any]:
    """Requests/s, latency percentiles (ms) and errors from wrk's ``--latency`` report."""
    rps = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if rps is None:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    latency = {
        f"p{pct}": _ms(value)
        for pct, value in re.findall(r"^\s+(50|75|90|99)%\s+(\S+)", output, re.MULTILINE)
    }
    requests = re.search(r"(\d+) requests in", output)
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket_errors = re.search(r"Socket errors: (.*)", output)
    return {
        "rps": float(rps.group(1)),
        "requests": int(requests.group(1)) if requests else None,
        "latency_ms": latency,
        "non_2xx": int(non_2xx.group(1)) if non_2xx else 0,
        "socket_errors": socket_errors.group(1).strip() if socket_errors else "",
    }


def run_wrk(url: str, seconds: float, connections: int, script: Path | None) -> dict[str, Any]:
    args = [
        wrk_path(),
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "-H",
        f"Authorization: Bearer {TOKEN}",
    ]
    if script is not None:
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    result = parse_wrk(out)
    if result["non_2xx"]:
        raise RuntimeError(f"{result['non_2xx']} error answers from {url}:\n{out}")
    return result


# -- the process under test ------------------------------------------------------------


def build_classes() -> dict[str, Any]:
    """Spider and resources, defined after the reactor is installed."""
    import scrapy
    from scrapy import signals
    from scrapy.exceptions import DontCloseSpider
    from twisted.web.resource import Resource

    from scrapy_webservice import JsonResource

    class IdleSpider(scrapy.Spider):
        """Opens, requests nothing, and stays open until stopped."""

        name = "bench"

        @classmethod
        def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> IdleSpider:
            spider = super().from_crawler(crawler, *args, **kwargs)
            crawler.signals.connect(spider.stay_open, signal=signals.spider_idle)
            return spider

        async def start(self) -> Any:
            return
            yield

        def stay_open(self) -> None:
            raise DontCloseSpider

    class LiveStats(JsonResource):
        """``GET /livestats``: the crawl's stats as JSON, through the service."""

        ws_name = "livestats"

        def render_GET(self, txrequest: Any) -> Any:
            return self.crawler.stats.get_stats()

    class BareStats(Resource):
        """The same JSON with nothing but ``twisted.web`` and ``json``."""

        isLeaf = True

        def __init__(self, stats: Any) -> None:
            super().__init__()
            self.stats = stats

        def render_GET(self, request: Any) -> bytes:
            request.setHeader(b"Content-Type", b"application/json")
            body = json.dumps(self.stats.get_stats(), default=_iso, separators=(",", ":"))
            return body.encode()

    return {"IdleSpider": IdleSpider, "LiveStats": LiveStats, "BareStats": BareStats}


def _iso(value: Any) -> Any:
    return value.isoformat()


async def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    from scrapy.crawler import CrawlerRunner
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet import reactor, task, threads
    from twisted.web.server import Site

    from scrapy_webservice.service import current_service
    from scrapy_webservice.testing import http, rpc

    classes = build_classes()
    settings = {
        "EXTENSIONS": {"scrapy_webservice.WebService": 500},
        "WEBSERVICE_PORT": 0,
        "WEBSERVICE_TOKEN": TOKEN,
        "WEBSERVICE_PLUGINS_AUTOLOAD": False,
        "WEBSERVICE_DISCOVERY_DIR": str(tmp / "discovery"),
        "WEBSERVICE_RESOURCES": {classes["LiveStats"]: 900},
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
    }
    runner = CrawlerRunner(settings)
    crawler = runner.create_crawler(classes["IdleSpider"])
    runner.crawl(crawler)
    for _ in range(200):
        service = current_service()
        if service is not None and service.url and service.monitors:
            break
        await task.deferLater(reactor, 0.05, lambda: None)
    else:
        raise RuntimeError("the web service did not start")
    for key, value in REALISTIC_STATS.items():
        crawler.stats.set_value(key, value)

    site = Site(classes["BareStats"](crawler.stats))
    site.noisy = False
    site.log = lambda request: None  # access log off: the leanest baseline
    bare = reactor.listenTCP(0, site, interface="127.0.0.1")
    bare_url = f"http://127.0.0.1:{bare.getHost().port}/"
    urls = {
        "bare GET": bare_url,
        "service GET": f"{service.url}livestats",
        "service POST": f"{service.url}stats",
    }
    script = tmp / "post.lua"
    script.write_text(POST_LUA.format(body=RPC_BODY))
    scripts = {"bare GET": None, "service GET": None, "service POST": script}

    # The three answers carry the same stats.
    bare_body = (await threads.deferToThread(http, urls["bare GET"])).json
    get_body = (await threads.deferToThread(http, urls["service GET"], token=TOKEN)).json
    post = await threads.deferToThread(rpc, urls["service POST"], "get_stats", token=TOKEN)
    assert bare_body == get_body == post.json["result"], "the targets serve different stats"
    body_bytes = len(json.dumps(bare_body, separators=(",", ":")))

    async def one(target: str, seconds: float) -> dict[str, Any]:
        # CPU time of this process (the reactor; the thread waiting for wrk costs
        # nothing) per request: steadier than req/s on a shared machine.
        cpu = time.process_time()
        result = await threads.deferToThread(
            run_wrk, urls[target], seconds, args.connections, scripts[target]
        )
        result["cpu_us_per_request"] = (time.process_time() - cpu) / result["requests"] * 1e6
        return result

    for target in TARGETS:  # warm-up: connections, caches, the JIT-less interpreter's dicts
        await one(target, 1)
    rounds: list[dict[str, Any]] = []
    for i in range(args.rounds):
        order = TARGETS[i % 3 :] + TARGETS[: i % 3]
        row = {}
        for target in order:
            row[target] = await one(target, args.seconds)
            print(
                f"round {i + 1}: {target:<13} {row[target]['rps']:>8.0f} req/s"
                f"  p50 {row[target]['latency_ms']['p50']:.2f} ms"
                f"  p99 {row[target]['latency_ms']['p99']:.2f} ms"
                f"  {row[target]['cpu_us_per_request']:.0f} us CPU/req",
                flush=True,
            )
        rounds.append(row)

    wanted = list(args.profile or ())
    if args.profile_missed:
        if median(r["service GET"]["rps"] / r["bare GET"]["rps"] for r in rounds) < GOAL_GET:
            wanted += ["bare GET", "service GET"]
        if median(r["service POST"]["rps"] / r["service GET"]["rps"] for r in rounds) < GOAL_POST:
            wanted += ["service GET", "service POST"]
    profiles = {}
    for target in dict.fromkeys(wanted):
        profiles[target] = await profile(one, target, args.seconds)

    await bare.stopListening()
    await deferred_from_coro(crawler.stop_async())
    return {
        "rounds": rounds,
        "stats_keys": len(bare_body),
        "body_bytes": body_bytes,
        "profiles": profiles,
    }


async def profile(one: Any, target: str, seconds: float) -> dict[str, Any]:
    """cProfile of this process while wrk drives ``target``: ``results/*_profile_*.txt``."""
    profiler = cProfile.Profile()
    profiler.enable()
    result = await one(target, seconds)
    profiler.disable()
    slug = target.replace(" ", "_")
    raw = Path(tempfile.gettempdir()) / f"{NAME}_{slug}.prof"
    profiler.dump_stats(raw)
    title = f"{target}: {result['rps']:.0f} req/s under cProfile"
    report = profile_report(pstats.Stats(profiler), title, result["requests"], "request")
    out = RESULTS / f"{NAME}_profile_{slug}.txt"
    out.write_text(report)
    print(f"profile: {out.relative_to(ROOT)} (raw: {raw})")
    return {"rps_under_profile": result["rps"], "requests": result["requests"], "file": out.name}


def summarize(raw: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    rounds = raw["rounds"]
    targets = {}
    for target in TARGETS:
        targets[target] = {
            "rps": median(r[target]["rps"] for r in rounds),
            "p50_ms": median(r[target]["latency_ms"]["p50"] for r in rounds),
            "p99_ms": median(r[target]["latency_ms"]["p99"] for r in rounds),
            "cpu_us_per_request": median(r[target]["cpu_us_per_request"] for r in rounds),
            "rps_rounds": [r[target]["rps"] for r in rounds],
        }

    def ratio(num: str, den: str, key: str = "rps") -> float:
        # Per round (the pair measured seconds apart), then the median.
        return median(r[num][key] / r[den][key] for r in rounds)

    get_ratio = ratio("service GET", "bare GET")
    post_ratio = ratio("service POST", "service GET")
    return {
        "settings": {
            "rounds": args.rounds,
            "seconds": args.seconds,
            "connections": args.connections,
            "wrk_threads": 1,
            "stats_keys": raw["stats_keys"],
            "body_bytes": raw["body_bytes"],
        },
        "targets": targets,
        "ratios": {
            "service_get_vs_bare_get": get_ratio,
            "service_post_vs_service_get": post_ratio,
            "service_post_vs_bare_get": ratio("service POST", "bare GET"),
        },
        # Requests one core can serve, from CPU time per request: the same
        # ratios with the machine's other load taken out.
        "cpu_ratios": {
            "service_get_vs_bare_get": ratio("bare GET", "service GET", "cpu_us_per_request"),
            "service_post_vs_service_get": ratio(
                "service GET", "service POST", "cpu_us_per_request"
            ),
        },
        "goals": {
            "service_get_vs_bare_get": {"min": GOAL_GET, "met": get_ratio >= GOAL_GET},
            "service_post_vs_service_get": {"min": GOAL_POST, "met": post_ratio >= GOAL_POST},
        },
        "rounds": rounds,
    }


def plot(result: dict[str, Any], machine_info: str) -> None:
    plt = pyplot()
    fig, (left, middle, right) = plt.subplots(1, 3, figsize=(13, 4))
    targets = result["targets"]
    names = list(TARGETS)
    colors = ["#888888", "#1f77b4", "#ff7f0e"]
    bars = left.bar(names, [targets[n]["rps"] for n in names], color=colors)
    ratios = result["ratios"]
    labels = [
        "1.00x",
        f"{ratios['service_get_vs_bare_get']:.2f}x bare",
        f"{ratios['service_post_vs_service_get']:.2f}x service GET",
    ]
    left.bar_label(bars, labels, label_type="center", color="white", fontsize=8)
    for x, name in enumerate(names):
        rps = targets[name]["rps_rounds"]
        left.scatter([x] * len(rps), rps, c="k", s=8, zorder=3)
    left.axhline(
        targets["bare GET"]["rps"] * GOAL_GET,
        ls="--",
        c="#1f77b4",
        lw=1,
        label=f"GET goal: {GOAL_GET}x bare",
    )
    left.axhline(
        targets["service GET"]["rps"] * GOAL_POST,
        ls=":",
        c="#ff7f0e",
        lw=1,
        label=f"POST goal: {GOAL_POST}x service GET",
    )
    left.set_ylabel("requests/s (bars: median; dots: rounds)")
    left.set_title("Throughput (wrk, 1 thread, keep-alive)")
    left.legend(loc="upper right", fontsize=7)
    middle.bar(names, [targets[n]["cpu_us_per_request"] for n in names], color=colors)
    middle.set_ylabel("server CPU time per request, us")
    middle.set_title("Server CPU per request (median)")
    width = 0.38
    xs = list(range(len(names)))
    right.bar(
        [x - width / 2 for x in xs], [targets[n]["p50_ms"] for n in names], width, label="p50"
    )
    right.bar(
        [x + width / 2 for x in xs], [targets[n]["p99_ms"] for n in names], width, label="p99"
    )
    right.set_xticks(xs, names)
    right.set_ylabel("latency, ms")
    right.set_title(f"Latency, {result['settings']['connections']} connections (median)")
    right.legend()
    fig.suptitle(f"Live stats over HTTP: service vs bare twisted.web ({machine_info})", fontsize=8)
    save_plot(fig, NAME)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--seconds", type=float, default=3.0, help="per wrk run")
    parser.add_argument("--connections", type=int, default=10)
    add_profile_options(parser, TARGETS, "profile the targets of each goal the rounds missed")
    args = parser.parse_args()
    wrk_path()

    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import defer, reactor

    outcome: dict[str, Any] = {}
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:

        def go() -> None:
            d = defer.ensureDeferred(measure(args, Path(tmp)))
            d.addCallbacks(lambda raw: outcome.update(raw=raw), lambda f: outcome.update(error=f))
            d.addBoth(lambda _: reactor.stop())

        reactor.callWhenRunning(go)
        reactor.run()
    if "error" in outcome:
        outcome["error"].printTraceback()
        sys.exit(1)
    result = summarize(outcome["raw"], args)
    result["seconds_taken"] = round(time.monotonic() - started, 1)
    result["profiles"] = outcome["raw"]["profiles"]
    ratios, goals = result["ratios"], result["goals"]
    print(f"{'target':<14} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7} {'CPU us/req':>10}")
    for name, row in result["targets"].items():
        print(
            f"{name:<14} {row['rps']:>8.0f} {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f}"
            f" {row['cpu_us_per_request']:>10.0f}"
        )
    get_goal = goals["service_get_vs_bare_get"]
    post_goal = goals["service_post_vs_service_get"]
    print(
        f"service GET / bare GET: {ratios['service_get_vs_bare_get']:.2f}"
        f" (goal >= {GOAL_GET}: {verdict(get_goal['met'])})"
    )
    print(
        f"service POST / service GET: {ratios['service_post_vs_service_get']:.2f}"
        f" (goal >= {GOAL_POST}: {verdict(post_goal['met'])})"
    )
    cpu = result["cpu_ratios"]
    print(
        f"from CPU per request: service GET / bare GET {cpu['service_get_vs_bare_get']:.2f},"
        f" service POST / service GET {cpu['service_post_vs_service_get']:.2f}"
    )
    written = write_results(NAME, result)
    plot(result, machine_line(written["machine"]))


if __name__ == "__main__":
    main()
