"""Server CPU time per request of the service's stats, against the least a handler does.

Five server processes on 127.0.0.1, each with the asyncio reactor
(``AsyncioSelectorReactor``) and the same 44-key Scrapy stats dict:

- **crawl**: a real crawl (an idle spider kept open) with the web service
  and Scrapy's own RemoteControl extension (aiohttp, ``/execute``), both
  serving from the crawl's one event loop. The service's share of the
  reactor is unbounded here (``WEBSERVICE_MAX_SHARE = None``; its work is
  still timed and counted): wrk is a flood, which the default bound holds
  most of the time, and the goals are about what the request path costs:
  - ``service POST``: JSON-RPC ``get_stats`` on ``/stats``, the built-in way;
  - ``service GET``: ``GET /stats/get_stats``, a read-only method by ``GET``;
  - ``RemoteControl POST``: ``POST /execute`` with code that prints the
    same stats as JSON (its token and port from its job file);
- **rpc**: a minimal ``twisted.web`` JSON-RPC handler (``hmac.compare_digest``
  of the token, ``json.loads``, the call, ``json.dumps``; form parsing off,
  as the service's), the baseline of the ``POST``;
- **bare**: a bare ``twisted.web`` ``GET`` that checks the token the same
  way and dumps the stats, the baseline of the ``GET``;
- **bounded**: the same crawl with the default bound, for the rows
  ``service POST, bounded`` and ``service GET, bounded``: shown, not goals.
  Held, the service answers in bursts after pauses (caches cold, fewer
  requests per turn of the loop), so a request costs more there; the bound
  caps the total, which is what protects the crawl;
- **asyncio**: the same crawl with the service on the asyncio front (h11,
  the front of Scrapy without a reactor), unbounded as **crawl**, for the
  rows ``service POST, asyncio`` and ``service GET, asyncio`` and their
  ratios to the Twisted front's rows and to the baselines: shown, not goals.

``wrk`` (one thread, 10 keep-alive connections) drives one target at a
time, rounds rotating the order; the servers are pinned to core 0 and wrk
to core 1 (``taskset``, when there are two cores). The measure is the **server process's CPU
time per request**, read from the OS (``/proc/<pid>/stat``: utime + stime,
every thread) before and after each wrk run; requests per second are shown
beside it. Each goal is the median of the rounds' ratios of CPU per request:

1. service ``POST`` <= 1/0.9 of the minimal JSON-RPC handler;
2. service ``GET`` <= 1/0.9 of the bare ``GET``;
3. service ``GET`` <= RemoteControl's ``POST /execute``.

    python benchmarks/http_throughput.py [--rounds 5] [--seconds 3] [--profile 'service GET']

``--profile TARGET`` runs TARGET once more with its server under cProfile
(switched on and off by signals) and writes ``results/*_profile_*.txt``.
``wrk`` is Debian's package ``wrk`` (``apt-get install -y wrk``); Linux only
(``/proc``).
"""

from __future__ import annotations

import argparse
import contextlib
import hmac
import json
import os
import pstats
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Any

from benchlib import (
    REALISTIC_STATS,
    RESULTS,
    ROOT,
    add_profile_options,
    machine_line,
    median,
    pinned,
    profile_report,
    pyplot,
    save_plot,
    write_results,
)

NAME = "http_throughput"
#: Our cost over the baseline's, at most (goals 1 and 2: within 1/0.9).
GOAL_VS_MINIMAL = 1 / 0.9
#: Goal 3: the service's GET costs no more than RemoteControl's /execute.
GOAL_VS_REMOTE_CONTROL = 1.0
MIN_ROUNDS = 5
#: The servers on one core, wrk on the other (when taskset and two cores exist).
SERVER_CORE, CLIENT_CORE = 0, 1
TOKEN = "bench-token-0123456789abcdef"  # noqa: S105 - a local benchmark's token
RPC_BODY = '{"jsonrpc":"2.0","method":"get_stats","id":1}'
#: What RemoteControl runs for each request: the stats, printed as the same JSON.
EXECUTE_CODE = (
    "import json; print(json.dumps(crawler.stats.get_stats(),"
    " default=lambda v: v.isoformat(), separators=(',', ':')))"
)
EXECUTE_BODY = json.dumps({"code": EXECUTE_CODE})

#: target: (server process, what it is)
TARGETS: dict[str, tuple[str, str]] = {
    "minimal RPC POST": ("rpc", "JSON-RPC get_stats, a minimal twisted.web handler"),
    "service POST": ("crawl", "JSON-RPC get_stats on /stats"),
    "bare GET": ("bare", "GET, a bare twisted.web resource"),
    "service GET": ("crawl", "GET /stats/get_stats"),
    "RemoteControl POST": ("crawl", "Scrapy's RemoteControl POST /execute"),
    # Shown, not a goal: wrk is a flood, so the default bound (WEBSERVICE_MAX_SHARE)
    # holds the service most of the time, and what a request costs then is the
    # bound's business (bursts after pauses, with cold caches), not the path's.
    "service POST, bounded": ("bounded", "as service POST, the share bounded as by default"),
    "service GET, bounded": ("bounded", "as service GET, the share bounded as by default"),
    # The asyncio front (Scrapy without a reactor), unbounded as "crawl": shown, with its
    # ratio to the Twisted front's rows and to the same baselines.
    "service POST, asyncio": ("asyncio", "as service POST, on the asyncio front (h11)"),
    "service GET, asyncio": ("asyncio", "as service GET, on the asyncio front (h11)"),
}
#: shown, not goals: (target, baseline) of the asyncio front's rows
FRONT_RATIOS: dict[str, tuple[str, str]] = {
    "asyncio POST vs Twisted POST": ("service POST, asyncio", "service POST"),
    "asyncio GET vs Twisted GET": ("service GET, asyncio", "service GET"),
    "asyncio POST vs minimal JSON-RPC": ("service POST, asyncio", "minimal RPC POST"),
    "asyncio GET vs bare GET": ("service GET, asyncio", "bare GET"),
}
#: goal: (target, baseline, most our CPU per request may be, over the baseline's)
GOALS: dict[str, tuple[str, str, float]] = {
    "1. JSON-RPC POST vs minimal JSON-RPC": (
        "service POST",
        "minimal RPC POST",
        GOAL_VS_MINIMAL,
    ),
    "2. GET vs bare GET": ("service GET", "bare GET", GOAL_VS_MINIMAL),
    "3. GET vs RemoteControl /execute": (
        "service GET",
        "RemoteControl POST",
        GOAL_VS_REMOTE_CONTROL,
    ),
}
SERVERS = ("crawl", "bounded", "asyncio", "rpc", "bare")

POST_LUA = """\
wrk.method = "POST"
wrk.body = [==[{body}]==]
wrk.headers["Content-Type"] = "application/json"
"""

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3}
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


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


def cpu_seconds(pid: int) -> float:
    """utime + stime of process ``pid`` (all its threads), from ``/proc/<pid>/stat``."""
    text = Path(f"/proc/{pid}/stat").read_text()
    # The command name (field 2) may hold spaces: count fields after its ')'.
    fields = text[text.rindex(")") + 2 :].split()
    return (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


# -- the server processes ----------------------------------------------------------------


def _stats_copy() -> dict[str, Any]:
    return dict(REALISTIC_STATS)


def _stats_collector() -> Any:
    """Scrapy's stats collector holding the realistic stats, as a crawl's ``crawler.stats``.

    The baselines read it with the call the service makes, ``get_stats()``:
    what Scrapy spends in it (its collectors wrap every attribute read in a
    deprecation check since 2.13) is Scrapy's, not the request path's.
    """
    from scrapy.statscollectors import MemoryStatsCollector
    from scrapy.utils.test import get_crawler

    collector = MemoryStatsCollector(get_crawler())
    collector.set_stats(_stats_copy())
    return collector


def _iso(value: Any) -> Any:
    return value.isoformat()


def _authorized(request: Any, expected: bytes) -> bool:
    return hmac.compare_digest(request.getHeader(b"authorization") or b"", expected)


def bare_site() -> Any:
    """``GET``: the token checked, the stats dumped; nothing else."""
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    stats = _stats_collector()
    expected = f"Bearer {TOKEN}".encode()

    class BareStats(Resource):
        isLeaf = True

        def render_GET(self, request: Any) -> bytes:
            if not _authorized(request, expected):
                request.setResponseCode(401)
                return b""
            request.setHeader(b"Content-Type", b"application/json")
            body = json.dumps(stats.get_stats(), default=_iso, separators=(",", ":"))
            return body.encode()

    site = Site(BareStats(), parsePOSTFormSubmission=False)
    site.noisy = False
    site.log = lambda request: None  # access log off, as the service's (logged at DEBUG)
    return site


def rpc_site() -> Any:
    """JSON-RPC: the token, ``json.loads``, the call, ``json.dumps``; nothing else."""
    from twisted.web.resource import Resource
    from twisted.web.server import Site

    stats = _stats_collector()
    expected = f"Bearer {TOKEN}".encode()
    methods = {"get_stats": stats.get_stats}

    class MinimalRpc(Resource):
        isLeaf = True

        def render_POST(self, request: Any) -> bytes:
            if not _authorized(request, expected):
                request.setResponseCode(401)
                return b""
            call = json.loads(request.content.read())
            result = methods[call["method"]](*call.get("params", ()))
            request.setHeader(b"Content-Type", b"application/json")
            answer = {"jsonrpc": "2.0", "result": result, "id": call.get("id")}
            return json.dumps(answer, default=_iso, separators=(",", ":")).encode()

    # No form parsing, as the service's WebServiceRequest.
    site = Site(MinimalRpc(), parsePOSTFormSubmission=False)
    site.noisy = False
    site.log = lambda request: None
    return site


def _listen(site: Any) -> str:
    from twisted.internet import reactor

    port = reactor.listenTCP(0, site, interface="127.0.0.1")
    return f"http://127.0.0.1:{port.getHost().port}/"


# The baselines answer any path (a leaf at the root); each is asked with the path
# of the service target it is compared with, so that the request bytes, and all
# that Twisted does with them before a resource runs, are the same.


def serve_bare(tmp: Path) -> dict[str, Any]:
    return {"bare GET": _listen(bare_site()) + "stats/get_stats"}


def serve_rpc(tmp: Path) -> dict[str, Any]:
    return {"minimal RPC POST": _listen(rpc_site()) + "stats"}


async def serve_crawl(
    tmp: Path, bounded: bool = False, front: str | None = None
) -> dict[str, Any]:
    """A crawl with the web service and RemoteControl, its stats set to the realistic dict.

    ``bounded``: the service's share of the reactor bounded as by default
    (``WEBSERVICE_MAX_SHARE``); otherwise unbounded, its work still timed.
    ``front="asyncio"``: the service on the front Scrapy without a reactor
    gets, here on the asyncio reactor's loop (the same asyncio loop), so
    that both fronts run the same crawl in the same kind of process.
    """
    if front == "asyncio":
        from scrapy_webservice.server import service as service_module

        service_module.is_reactorless = lambda: True  # what picks the front
    import scrapy
    from scrapy import signals
    from scrapy.crawler import CrawlerRunner
    from scrapy.exceptions import DontCloseSpider
    from scrapy.utils.defer import deferred_from_coro
    from twisted.internet import reactor, task

    from scrapy_webservice.server.service import current_service

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

    jobs = tmp / "remote-control-jobs"
    settings = {
        "EXTENSIONS": {"scrapy_webservice.WebService": 500},
        "WEBSERVICE_PORT": 0,
        "WEBSERVICE_TOKEN": TOKEN,
        "WEBSERVICE_PLUGINS_AUTOLOAD": False,
        "WEBSERVICE_DISCOVERY_DIR": str(tmp / "discovery"),
        # Scrapy's own remote control, in the same process and event loop.
        # Our add-on may turn it off: turn it on here explicitly.
        "REMOTE_CONTROL_ENABLED": True,
        "REMOTE_CONTROL_JOBS_DIR": str(jobs),
        "TELNETCONSOLE_ENABLED": False,
        "LOG_LEVEL": "WARNING",
    }
    if not bounded:
        settings["WEBSERVICE_MAX_SHARE"] = None
    runner = CrawlerRunner(settings)
    crawler = runner.create_crawler(IdleSpider)
    runner.crawl(crawler)
    job: dict[str, Any] | None = None
    service = None
    for _ in range(200):
        service = current_service()
        files = sorted(jobs.glob("*.json")) if jobs.is_dir() else []
        if files:
            job = json.loads(files[0].read_text())
        if service is not None and service.url and service.api.crawls() and job is not None:
            break
        await task.deferLater(reactor, 0.05, lambda: None)
    else:
        raise RuntimeError("the web service or RemoteControl did not start")
    assert service is not None
    assert job is not None
    crawler.stats.set_stats(_stats_copy())

    def stop() -> Any:
        return deferred_from_coro(crawler.stop_async())

    reactor.addSystemEventTrigger("before", "shutdown", stop)
    return {
        "service POST": f"{service.url}stats",
        "service GET": f"{service.url}stats/get_stats",
        "RemoteControl POST": f"http://127.0.0.1:{job['port']}/execute",
        "remote_control_token": job["token"],
    }


def serve(kind: str, ready: Path, profile_to: Path) -> None:
    """Run one server until SIGTERM; ``ready`` gets its pid and URLs once it listens.

    SIGUSR1 starts cProfile, SIGUSR2 stops it and writes ``profile_to``.
    """
    import cProfile

    from scrapy.utils.reactor import install_reactor

    install_reactor("twisted.internet.asyncioreactor.AsyncioSelectorReactor")
    from twisted.internet import defer, reactor

    profilers: list[cProfile.Profile] = []

    def start_profile(signum: int, frame: Any) -> None:
        profilers.append(cProfile.Profile())  # a fresh one for each target
        profilers[-1].enable()

    def stop_profile(signum: int, frame: Any) -> None:
        profiler = profilers.pop()
        profiler.disable()
        tmp_file = profile_to.with_suffix(".tmp")
        profiler.dump_stats(tmp_file)
        tmp_file.replace(profile_to)

    signal.signal(signal.SIGUSR1, start_profile)
    signal.signal(signal.SIGUSR2, stop_profile)
    failed: list[Any] = []
    with tempfile.TemporaryDirectory() as tmp:

        async def start() -> None:
            if kind == "crawl":
                urls = await serve_crawl(Path(tmp))
            elif kind == "bounded":
                urls = await serve_crawl(Path(tmp), bounded=True)
                urls = {f"{k}, bounded": v for k, v in urls.items() if k.startswith("service")}
            elif kind == "asyncio":
                urls = await serve_crawl(Path(tmp), front="asyncio")
                urls = {f"{k}, asyncio": v for k, v in urls.items() if k.startswith("service")}
            else:
                urls = {"bare": serve_bare, "rpc": serve_rpc}[kind](Path(tmp))
            part = ready.with_suffix(".part")
            part.write_text(json.dumps({"pid": os.getpid(), **urls}))
            part.replace(ready)

        def go() -> None:
            d = defer.ensureDeferred(start())
            d.addErrback(lambda f: (failed.append(f), reactor.stop()))

        reactor.callWhenRunning(go)
        reactor.run()
    if failed:
        failed[0].printTraceback(file=sys.stderr)
        sys.exit(1)


class Server:
    """One server process of the benchmark."""

    def __init__(self, kind: str, tmp: Path) -> None:
        self.kind = kind
        self.ready = tmp / f"{kind}.ready.json"
        self.profile_file = tmp / f"{kind}.prof"
        self.process = subprocess.Popen(
            [
                *pinned(SERVER_CORE),
                sys.executable,
                str(Path(__file__).resolve()),
                "--serve",
                kind,
                "--ready",
                str(self.ready),
                "--profile-to",
                str(self.profile_file),
            ]
        )
        self.pid = self.process.pid
        self.info: dict[str, Any] = {}

    def wait_ready(self, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while not self.ready.exists():
            if self.process.poll() is not None:
                raise RuntimeError(f"the {self.kind} server exited ({self.process.returncode})")
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {self.kind} server did not start within {timeout} s")
            time.sleep(0.05)
        self.info = json.loads(self.ready.read_text())
        return self.info

    def cpu(self) -> float:
        return cpu_seconds(self.pid)

    def start_profile(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.profile_file.unlink()
        os.kill(self.pid, signal.SIGUSR1)

    def stop_profile(self) -> Path:
        os.kill(self.pid, signal.SIGUSR2)
        deadline = time.monotonic() + 30
        while not self.profile_file.exists():
            if time.monotonic() > deadline:
                raise RuntimeError(f"the {self.kind} server wrote no profile")
            time.sleep(0.05)
        return self.profile_file

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


# -- the client side ---------------------------------------------------------------------


def fetch(url: str, token: str, body: str | None = None) -> Any:
    """The JSON answer of one request (a ``POST`` when there is a body)."""
    request = urllib.request.Request(  # noqa: S310 - http://127.0.0.1 only
        url,
        data=None if body is None else body.encode(),
        headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310
        return json.loads(answer.read())


def check_same_stats(urls: dict[str, str], tokens: dict[str, str]) -> int:
    """Every target answers the same stats; returns the JSON body's size in bytes."""
    answers = {
        "bare GET": fetch(urls["bare GET"], TOKEN),
        "service GET": fetch(urls["service GET"], TOKEN),
        "service POST": fetch(urls["service POST"], TOKEN, RPC_BODY)["result"],
        "minimal RPC POST": fetch(urls["minimal RPC POST"], TOKEN, RPC_BODY)["result"],
    }
    executed = fetch(urls["RemoteControl POST"], tokens["RemoteControl POST"], EXECUTE_BODY)
    if executed.get("status") != "ok":
        raise RuntimeError(f"RemoteControl /execute failed: {executed}")
    answers["RemoteControl POST"] = json.loads(executed["output"])
    expected = answers["bare GET"]
    for target, answer in answers.items():
        if answer != expected:
            raise RuntimeError(f"{target} serves different stats from the bare GET")
    return len(json.dumps(expected, separators=(",", ":")))


def run_wrk(
    url: str, token: str, seconds: float, connections: int, script: Path | None
) -> dict[str, Any]:
    args = [
        *pinned(CLIENT_CORE),
        wrk_path(),
        "-t1",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "-H",
        f"Authorization: Bearer {token}",
    ]
    if script is not None:
        args += ["-s", str(script)]
    out = subprocess.run([*args, url], capture_output=True, text=True, check=True).stdout
    result = parse_wrk(out)
    if result["non_2xx"]:
        raise RuntimeError(f"{result['non_2xx']} error answers from {url}:\n{out}")
    return result


def measure(args: argparse.Namespace, tmp: Path) -> dict[str, Any]:
    servers = {kind: Server(kind, tmp) for kind in SERVERS}
    try:
        urls: dict[str, str] = {}
        for server in servers.values():
            urls.update({k: v for k, v in server.wait_ready().items() if k in TARGETS})
        rc_token = servers["crawl"].info["remote_control_token"]
        tokens = {target: TOKEN for target in TARGETS}
        tokens["RemoteControl POST"] = rc_token
        scripts: dict[str, Path | None] = {}
        for target in TARGETS:
            if "POST" in target:
                body = EXECUTE_BODY if target == "RemoteControl POST" else RPC_BODY
                script = tmp / f"{target.replace(' ', '_')}.lua"
                script.write_text(POST_LUA.format(body=body))
                scripts[target] = script
            else:
                scripts[target] = None
        body_bytes = check_same_stats(urls, tokens)

        # Each server's CPU while nobody asks (the idle crawl's own timers).
        idle_before = {kind: s.cpu() for kind, s in servers.items()}
        time.sleep(2)
        idle = {kind: (s.cpu() - idle_before[kind]) / 2 * 1e3 for kind, s in servers.items()}

        def one(target: str, seconds: float) -> dict[str, Any]:
            server = servers[TARGETS[target][0]]
            before = server.cpu()
            result = run_wrk(
                urls[target], tokens[target], seconds, args.connections, scripts[target]
            )
            spent = server.cpu() - before
            result["cpu_us_per_request"] = spent / result["requests"] * 1e6
            return result

        for target in TARGETS:  # warm-up: connections, caches, lazily built dispatchers
            one(target, 1)
        names = list(TARGETS)
        rounds: list[dict[str, Any]] = []
        for i in range(args.rounds):
            order = names[i % len(names) :] + names[: i % len(names)]
            row = {}
            for target in order:
                row[target] = one(target, args.seconds)
                print(
                    f"round {i + 1}: {target:<22} {row[target]['rps']:>8.0f} req/s"
                    f"  p50 {row[target]['latency_ms']['p50']:.2f} ms"
                    f"  p99 {row[target]['latency_ms']['p99']:.2f} ms"
                    f"  {row[target]['cpu_us_per_request']:.0f} us CPU/req",
                    flush=True,
                )
            rounds.append(row)

        wanted = list(args.profile or ())
        if args.profile_missed:
            for target, baseline, most in GOALS.values():
                if _cost_ratio(rounds, target, baseline) > most:
                    wanted += [baseline, target]
        profiles = {}
        for target in dict.fromkeys(wanted):
            server = servers[TARGETS[target][0]]
            server.start_profile()
            time.sleep(0.2)
            result = one(target, args.seconds)
            raw = server.stop_profile()
            profiles[target] = write_profile(target, raw, result)
        return {
            "rounds": rounds,
            "stats_keys": len(REALISTIC_STATS),
            "body_bytes": body_bytes,
            "idle_cpu_ms_per_s": idle,
            "profiles": profiles,
        }
    finally:
        for server in servers.values():
            server.stop()


def write_profile(target: str, raw: Path, result: dict[str, Any]) -> dict[str, Any]:
    """The top functions of a server profiled under wrk: ``results/*_profile_*.txt``."""
    slug = target.replace(", ", "_").replace(" ", "_")
    kept = Path(tempfile.gettempdir()) / f"{NAME}_{slug}.prof"
    shutil.copyfile(raw, kept)
    title = f"{target}: {result['rps']:.0f} req/s under cProfile ({TARGETS[target][1]})"
    report = profile_report(pstats.Stats(str(kept)), title, result["requests"], "request")
    out = RESULTS / f"{NAME}_profile_{slug}.txt"
    RESULTS.mkdir(parents=True, exist_ok=True)
    out.write_text(report)
    print(f"profile: {out.relative_to(ROOT)} (raw: {kept})")
    return {"rps_under_profile": result["rps"], "requests": result["requests"], "file": out.name}


def _cost_ratio(rounds: list[dict[str, Any]], target: str, baseline: str) -> float:
    """Median over the rounds of target's CPU per request over the baseline's."""
    return median(
        r[target]["cpu_us_per_request"] / r[baseline]["cpu_us_per_request"] for r in rounds
    )


def summarize(raw: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    rounds = raw["rounds"]
    targets = {}
    for target, (server, what) in TARGETS.items():
        targets[target] = {
            "server": server,
            "what": what,
            "cpu_us_per_request": median(r[target]["cpu_us_per_request"] for r in rounds),
            "rps": median(r[target]["rps"] for r in rounds),
            "p50_ms": median(r[target]["latency_ms"]["p50"] for r in rounds),
            "p99_ms": median(r[target]["latency_ms"]["p99"] for r in rounds),
            "cpu_us_rounds": [r[target]["cpu_us_per_request"] for r in rounds],
            "rps_rounds": [r[target]["rps"] for r in rounds],
        }
    goals = {}
    for goal, (target, baseline, most) in GOALS.items():
        ratio = _cost_ratio(rounds, target, baseline)
        goals[goal] = {
            "target": target,
            "baseline": baseline,
            "cpu_ratio": ratio,
            "max": most,
            "met": ratio <= most,
            "rps_ratio": median(r[target]["rps"] / r[baseline]["rps"] for r in rounds),
        }
    fronts = {
        name: {
            "target": target,
            "baseline": baseline,
            "cpu_ratio": _cost_ratio(rounds, target, baseline),
        }
        for name, (target, baseline) in FRONT_RATIOS.items()
    }
    return {
        "fronts": fronts,
        "settings": {
            "rounds": args.rounds,
            "seconds": args.seconds,
            "connections": args.connections,
            "wrk_threads": 1,
            "stats_keys": raw["stats_keys"],
            "body_bytes": raw["body_bytes"],
            "measure": "server process CPU (utime+stime from /proc) per request",
        },
        "targets": targets,
        "goals": goals,
        "idle_cpu_ms_per_s": raw["idle_cpu_ms_per_s"],
        "rounds": rounds,
    }


def plot(result: dict[str, Any], machine_info: str) -> None:
    plt = pyplot()
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 4.5))
    targets = result["targets"]
    names = list(TARGETS)
    colors = {
        "crawl": "#1f77b4",
        "bounded": "#9ecae1",
        "asyncio": "#2ca02c",
        "rpc": "#888888",
        "bare": "#aaaaaa",
    }
    shades = [colors[targets[n]["server"]] for n in names]
    shades[names.index("RemoteControl POST")] = "#ff7f0e"
    bars = left.bar(names, [targets[n]["cpu_us_per_request"] for n in names], color=shades)
    left.bar_label(
        bars,
        [f"{targets[n]['cpu_us_per_request']:.0f}" for n in names],
        label_type="center",
        color="white",
    )
    for x, name in enumerate(names):
        cpu = targets[name]["cpu_us_rounds"]
        left.scatter([x] * len(cpu), cpu, c="k", s=8, zorder=3)
    for goal, (target, baseline, most) in GOALS.items():
        x = names.index(target)
        limit = targets[baseline]["cpu_us_per_request"] * most
        left.hlines(limit, x - 0.4, x + 0.4, colors="r", linestyles="--", lw=1)
        left.annotate(
            f"goal {goal.split('.')[0]}", (x + 0.4, limit), fontsize=7, color="r", va="center"
        )
    left.set_ylabel("server CPU per request, us (bars: median; dots: rounds)")
    left.set_title("Server CPU per request (red dashes: the goals' limits)")
    left.tick_params(axis="x", labelrotation=15)
    bars = right.bar(names, [targets[n]["rps"] for n in names], color=shades)
    right.bar_label(
        bars, [f"{targets[n]['rps']:.0f}" for n in names], label_type="center", color="white"
    )
    right.set_ylabel("requests/s (median)")
    right.set_title("Throughput (wrk, 1 thread, 10 keep-alive connections)")
    right.tick_params(axis="x", labelrotation=15)
    fig.suptitle(
        "Live stats over HTTP: the service vs minimal twisted.web handlers and Scrapy's"
        f" RemoteControl ({machine_info})",
        fontsize=8,
    )
    save_plot(fig, NAME)


def report(result: dict[str, Any]) -> None:
    print(f"{'target':<22} {'CPU us/req':>10} {'req/s':>8} {'p50 ms':>7} {'p99 ms':>7}  server")
    for name, row in result["targets"].items():
        print(
            f"{name:<22} {row['cpu_us_per_request']:>10.0f} {row['rps']:>8.0f}"
            f" {row['p50_ms']:>7.2f} {row['p99_ms']:>7.2f}  {row['server']}"
        )
    idle = ", ".join(f"{k} {v:.1f}" for k, v in result["idle_cpu_ms_per_s"].items())
    print(f"idle CPU of each server, ms/s: {idle}")
    for goal, g in result["goals"].items():
        state = "PASS" if g["met"] else "MISS"
        print(
            f"{goal}: CPU/req {g['target']} / {g['baseline']} = {g['cpu_ratio']:.3f}"
            f" (goal <= {g['max']:.3f}): {state}   [req/s ratio {g['rps_ratio']:.2f}]"
        )
    for name, f in result["fronts"].items():
        print(f"{name}: CPU/req {f['cpu_ratio']:.3f} (shown, not a goal)")
    if result["settings"]["rounds"] < MIN_ROUNDS:
        print(f"(fewer than {MIN_ROUNDS} rounds: indicative only)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS)
    parser.add_argument("--seconds", type=float, default=3.0, help="per wrk run")
    parser.add_argument("--connections", type=int, default=10)
    add_profile_options(parser, TARGETS, "profile the targets of each goal the rounds missed")
    parser.add_argument("--serve", choices=SERVERS, help=argparse.SUPPRESS)
    parser.add_argument("--ready", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--profile-to", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.ready, args.profile_to)
        return
    wrk_path()
    if not Path("/proc/self/stat").exists():
        sys.exit("this benchmark reads each server's CPU time from /proc: Linux only")
    started = time.monotonic()
    with tempfile.TemporaryDirectory() as tmp:
        raw = measure(args, Path(tmp))
    result = summarize(raw, args)
    result["seconds_taken"] = round(time.monotonic() - started, 1)
    result["profiles"] = raw["profiles"]
    report(result)
    written = write_results(NAME, result)
    plot(result, machine_line(written["machine"]))


if __name__ == "__main__":
    main()
