"""How much a flood of HTTP requests against the web service slows the crawl it runs in.

Issue 27: the service shares the crawl's process, its reactor and its core,
so whatever a client makes it do, the crawl waits for. A CPU-bound crawl
(``scrapy crawl`` of a project written to a temporary directory: 10,000
``data:`` pages of a few hundred bytes, two CSS selectors and one item
each, ``CONCURRENT_REQUESTS=16``, nothing downloaded from a server) runs
pinned to core 0 (``taskset -c 0``) while a client pinned to core 1 floods
its service, in these configurations:

- **off**: the add-on with ``WEBSERVICE_ENABLED=False`` (and Scrapy's
  RemoteControl and telnet console off), the baseline;
- **on, idle**: the service listening, nobody asking;
- **8 conn** / **8 conn, 401**: ``wrk`` with 8 keep-alive connections,
  ``GET /stats/get_stats`` with the token, and with a wrong token;
- **64 conn** / **64 conn, 401**: 64 connections, ``GET /``;
- **slowloris**: 500 connections that send a request's head a line a
  second and never finish it (reconnecting when closed);
- **200 SSE**: 200 ``GET /events`` streams held open and read, from
  127.0.0.2 to 127.0.0.5 (``WEBSERVICE_EVENTS_MAX_CLIENTS=256`` so that they
  are all served);
- **RC** / **RC, 401**: the anchor, Scrapy 2.19's RemoteControl (aiohttp on
  the same event loop) with the web service off, flooded by 8 connections
  ``POST /execute`` printing the stats, and with a wrong token;
- **decoy**: a control: the service off, and core 1 as busy as in the
  64-connection row, wrk flooding a bare ``twisted.web`` server pinned to
  core 1 too (``http_throughput.py``'s *bare GET*). What the crawl loses
  here is the machine's (the cores share caches, memory and maybe a physical
  core), not the service's: the service's rows are read against it too.

Each crawl waits, before its first request, until the flood runs (a file
the benchmark creates), so the flood covers all of it; pages/s run from that
moment to the last item (the crawl's own clocks: start-up and shutdown are
left out), and CPU per page is the crawl process's CPU time over the same
span. During every flood a second client (core 1 too, from 127.0.0.10)
asks ``GET /stats/get_stats`` with the token every 100 ms, a new
connection each time, as a monitoring system would: its p50 and p99 are the
latency a legitimate client sees under the flood. The crawl's final stats
are dumped to JSON; any ``webservice/`` key in them (the service's own
counters) is reported. Rounds rotate the order of the configurations; a
row's ratio is the median of its rounds' ratios to *off* of the same round.
Goal: every row >= 0.90x off.

    python benchmarks/flood.py [--rounds 3] [--pages 10000] [--set WEBSERVICE_MAX_SHARE=None]
                               [--only get8 slowloris]

``--set NAME=VALUE`` (repeatable) goes to every service configuration as
``-s NAME=VALUE``. Needs ``wrk`` (``apt-get install -y wrk``), ``taskset``
and 2 cores; Linux only.
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import contextlib
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import textwrap
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from benchlib import machine_line, median, pyplot, save_plot, verdict, write_results
from http_throughput import EXECUTE_BODY, POST_LUA, parse_wrk

NAME = "flood"
GOAL_RATIO = 0.90
MIN_ROUNDS = 3
#: A crawl that takes longer than this, from its first request, is killed and reported.
CRAWL_TIMEOUT = 600.0
#: How long a crawl may take to start its service (or RemoteControl) and wait for the flood.
START_TIMEOUT = 60.0
WRONG_TOKEN = "wrong-token-0123456789abcdef"  # noqa: S105 - a token nobody has
#: The latency probe: one request this often, from an address no flood client uses.
PROBE_INTERVAL = 0.1
PROBE_TIMEOUT = 5.0
PROBE_ADDRESS = "127.0.0.10"
#: Where the events streams come from (the service will limit connections per address).
SSE_ADDRESSES = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5")
#: A slowloris connection sends one more header line this often.
SLOWLORIS_INTERVAL = 1.0
CRAWL_CORE = "0"
CLIENT_CORE = "1"


@dataclass(frozen=True)
class Config:
    """One row: what runs in the crawl (``off``, ``service``, ``remote``) and what floods it."""

    key: str
    label: str
    target: str
    flood: str | None = None  # "wrk", "slowloris", "sse"
    connections: int = 0
    path: str = ""
    wrong_token: bool = False
    settings: dict[str, str] = field(default_factory=dict)

    @property
    def flooded(self) -> bool:
        return self.flood is not None


CONFIGS: tuple[Config, ...] = (
    Config("off", "service off", "off"),
    Config("idle", "on, idle", "service"),
    Config("get8", "8 conn, GET /stats/get_stats", "service", "wrk", 8, "/stats/get_stats"),
    Config("get8-401", "8 conn, wrong token", "service", "wrk", 8, "/stats/get_stats", True),
    Config("root64", "64 conn, GET /", "service", "wrk", 64, "/"),
    Config("root64-401", "64 conn, GET /, wrong token", "service", "wrk", 64, "/", True),
    Config("slowloris", "500 slowloris conn", "service", "slowloris", 500, "/stats/get_stats"),
    Config(
        "sse200",
        "200 SSE clients on /events",
        "service",
        "sse",
        200,
        "/events",
        settings={"WEBSERVICE_EVENTS_MAX_CLIENTS": "256"},
    ),
    Config("rc8", "RemoteControl, 8 conn POST /execute", "remote", "wrk", 8, "/execute"),
    Config("rc8-401", "RemoteControl, wrong token", "remote", "wrk", 8, "/execute", True),
    # A control, not the service's: what a flood on the other core costs the crawl by itself.
    Config("decoy64", "service off, core 1 floods another server", "decoy", "wrk", 64, "/"),
)
BY_KEY = {c.key: c for c in CONFIGS}

# -- the crawl: a Scrapy project written to a temporary directory --------------------------

SCRAPY_CFG = "[settings]\ndefault = floodbench.settings\n"

PROJECT_SETTINGS = '''\
"""The flood benchmark's project: the same in every configuration but for -s settings."""

BOT_NAME = "floodbench"
SPIDER_MODULES = ["floodbench.spider"]
ADDONS = {"scrapy_webservice.Addon": 0}
EXTENSIONS = {"floodbench.spider.FloodMeasure": 0}
CONCURRENT_REQUESTS = 16
LOG_LEVEL = "INFO"
ROBOTSTXT_OBEY = False
TELNETCONSOLE_ENABLED = False
REMOTE_CONTROL_ENABLED = False
WEBSERVICE_PORT = 0
# The core service's cost: installed plugins stay out.
WEBSERVICE_PLUGINS_AUTOLOAD = False
'''

SPIDER = '''\
"""data: pages parsed with CSS selectors, and the crawl's own clocks, for flood.py."""

import asyncio
import atexit
import base64
import json
import os
import time
from pathlib import Path

import scrapy
from scrapy import signals

GATE_TIMEOUT = 60.0


def page(i):
    """A few hundred bytes of HTML, different for every page (no duplicate filtered)."""
    products = "".join(
        f'<li class="product" data-sku="{i}-{k}"><a href="/p/{i}/{k}">Product {i}.{k}</a>'
        f'<span class="price">{k + 1}.{i % 100:02d}</span></li>'
        for k in range(4)
    )
    return (
        f"<html><head><title>Page {i}</title></head><body><h1>Catalogue page {i}</h1>"
        f'<ul class="products">{products}</ul><p class="note">Prices in EUR.</p></body></html>'
    )


def url(i):
    return "data:text/html;base64," + base64.b64encode(page(i).encode()).decode()


class FloodSpider(scrapy.Spider):
    name = "flood"
    #: (monotonic, process CPU) when the flood ran and the first request was made.
    released = None

    async def start(self):
        go = Path(self.settings["FLOOD_GO_FILE"])
        deadline = time.monotonic() + GATE_TIMEOUT
        while not go.exists():
            if time.monotonic() > deadline:
                self.crawler.stats.set_value("flood/gate_timeout", True)
                break
            await asyncio.sleep(0.005)
        self.released = (time.monotonic(), time.process_time())
        for i in range(self.settings.getint("FLOOD_PAGES")):
            yield scrapy.Request(url(i))

    def parse(self, response):
        products = [
            {
                "sku": product.attrib["data-sku"],
                "name": product.css("a::text").get(),
                "url": response.urljoin(product.css("a::attr(href)").get()),
                "price": float(product.css("span.price::text").get()),
            }
            for product in response.css("ul.products > li.product")
        ]
        yield {
            "title": response.css("h1::text").get(),
            "products": products,
            "total": sum(p["price"] for p in products),
        }


class FloodMeasure:
    """Times the crawl from its release to its last item; writes the final stats as JSON.

    Written when the engine stops and again at exit, so that counters written
    late (by an extension that stops after this one) are in the file too.
    """

    def __init__(self, crawler):
        self.crawler = crawler
        self.path = Path(crawler.settings["FLOOD_RESULT_FILE"])
        self.items = 0
        self.last = None
        crawler.signals.connect(self.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(self.spider_closed, signal=signals.spider_closed)
        crawler.signals.connect(self.write, signal=signals.engine_stopped)
        atexit.register(self.write)

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def spider_closed(self):
        Path(self.crawler.settings["FLOOD_DONE_FILE"]).touch()  # the flood may stop

    def item_scraped(self):
        self.items += 1
        self.last = (time.monotonic(), time.process_time())

    def write(self):
        data = {
            "pid": os.getpid(),
            "stats": self.crawler.stats.get_stats(),
            "released": getattr(self.crawler.spider, "released", None),
            "last_item": self.last,
            "items": self.items,
        }
        part = self.path.with_suffix(".part")
        part.write_text(json.dumps(data, default=str))
        part.replace(self.path)
'''


def write_project(directory: Path) -> Path:
    """The crawl's project, written once: ``scrapy crawl flood`` runs in it."""
    package = directory / "floodbench"
    package.mkdir(parents=True)
    (directory / "scrapy.cfg").write_text(SCRAPY_CFG)
    (package / "__init__.py").write_text("")
    (package / "settings.py").write_text(PROJECT_SETTINGS)
    (package / "spider.py").write_text(SPIDER)
    return directory


def crawl_settings(config: Config, run: Path, pages: int, extra: list[str]) -> dict[str, str]:
    """The ``-s`` settings of one crawl; ``extra`` (``--set``) goes to the service's rows."""
    settings = {
        "FLOOD_PAGES": str(pages),
        "FLOOD_GO_FILE": str(run / "go"),
        "FLOOD_RESULT_FILE": str(run / "result.json"),
        "FLOOD_DONE_FILE": str(run / "done"),
        "WEBSERVICE_ENABLED": str(config.target == "service"),
        "WEBSERVICE_DISCOVERY_DIR": str(run / "discovery"),
        "REMOTE_CONTROL_ENABLED": str(config.target == "remote"),
        "REMOTE_CONTROL_JOBS_DIR": str(run / "jobs"),
    }
    if config.target == "service":
        settings.update(config.settings)
        for item in extra:
            name, _, value = item.partition("=")
            settings[name] = value
    return settings


# -- the flood clients: wrk, and small asyncio clients run as `flood.py --client KIND` -----


class Stop:
    """Set by SIGTERM or SIGINT, or when the client's time is up: every loop checks it."""

    def __init__(self, duration: float) -> None:
        self.event = asyncio.Event()
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.event.set)
        loop.call_later(duration, self.event.set)

    def __bool__(self) -> bool:
        return self.event.is_set()

    async def sleep(self, seconds: float) -> None:
        """Sleep, but wake at once when stopped."""
        with contextlib.suppress(asyncio.TimeoutError):
            await asyncio.wait_for(self.event.wait(), max(0.0, seconds))


def _head(method: str, path: str, port: int, token: str | None, *extra: str) -> bytes:
    lines = [f"{method} {path} HTTP/1.1", f"Host: 127.0.0.1:{port}"]
    if token is not None:
        lines.append(f"Authorization: Bearer {token}")
    return ("\r\n".join([*lines, *extra]) + "\r\n").encode()


def _status(line: bytes) -> str:
    parts = line.split(b" ", 2)
    return parts[1].decode("ascii", "replace") if len(parts) > 1 else "garbled"


async def _connect(
    port: int, source: str, stop: Stop, timeout: float = 5.0
) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
    try:
        return await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", port, local_addr=(source, 0)), timeout
        )
    except (OSError, asyncio.TimeoutError):
        return None


async def slowloris(args: argparse.Namespace, stop: Stop, state: dict[str, Any]) -> None:
    """Connections that begin a request and never end it: each costs a socket and a timer.

    One header line a second per connection (500 reads a second for the
    service); a connection the service closes is opened again at once, as an
    attacker would, after 0.1 s so that a refused one does not spin.
    """
    # (when, on the system-wide monotonic clock, what the service did): the summary
    # keeps what happened while the crawl ran, not the service's shutdown.
    answers: list[tuple[float, str]] = state.setdefault("events", [])

    async def one(index: int) -> None:
        await stop.sleep(index * 0.002)  # not 500 SYNs in the same instant
        while not stop:
            pair = await _connect(args.port, args.addresses[index % len(args.addresses)], stop)
            if pair is None:
                state["connect_failed"] += 1
                await stop.sleep(0.5)
                continue
            reader, writer = pair
            state["connects"] += 1
            state["open"] += 1
            state["max_open"] = max(state["max_open"], state["open"])
            answer = asyncio.ensure_future(reader.readline())
            try:
                writer.write(_head("GET", args.path, args.port, None))
                sent = 0
                while not stop and not answer.done():
                    # Spread over the interval, so the service gets a steady trickle.
                    await asyncio.wait({answer}, timeout=SLOWLORIS_INTERVAL)
                    if answer.done() or stop:
                        break
                    writer.write(f"X-Slow-{sent}: {'a' * 8}\r\n".encode())
                    sent += 1
                    state["lines_sent"] += 1
                    await writer.drain()
            except OSError:
                pass
            finally:
                state["open"] -= 1
                answered = answer.done() and not answer.cancelled() and not answer.exception()
                if answered:
                    line = answer.result()
                    answers.append((time.monotonic(), _status(line) if line else "closed"))
                else:
                    answer.cancel()
                writer.close()
            await stop.sleep(0.1)

    state.update(connects=0, open=0, max_open=0, connect_failed=0, lines_sent=0)
    tasks = [asyncio.ensure_future(one(i)) for i in range(args.connections)]
    await _ready_when(lambda: state["open"] >= args.connections, args.ready, stop, 15)
    await asyncio.gather(*tasks)


async def sse(args: argparse.Namespace, stop: Stop, state: dict[str, Any]) -> None:
    """Event streams held open and read; a refused client waits 1 s and asks again."""
    answers: list[tuple[float, str]] = state.setdefault("events", [])  # as slowloris's
    state.update(open=0, max_open=0, connect_failed=0, bytes=0, tried=0)
    tried: set[int] = set()

    async def one(index: int) -> None:
        await stop.sleep(index * 0.005)
        while not stop:
            pair = await _connect(args.port, args.addresses[index % len(args.addresses)], stop)
            tried.add(index)
            state["tried"] = len(tried)
            if pair is None:
                state["connect_failed"] += 1
                await stop.sleep(1.0)
                continue
            reader, writer = pair
            try:
                head = _head("GET", args.path, args.port, args.token, "Accept: text/event-stream")
                writer.write(head + b"\r\n")
                line = await asyncio.wait_for(reader.readline(), 10)
                status = _status(line) if line else "closed"
                answers.append((time.monotonic(), status))
                if status == "200":
                    state["open"] += 1
                    state["max_open"] = max(state["max_open"], state["open"])
                    try:
                        while not stop:
                            read = asyncio.ensure_future(reader.read(65536))
                            done, _ = await asyncio.wait(
                                {read, stop_wait}, timeout=60, return_when=asyncio.FIRST_COMPLETED
                            )
                            if read not in done:
                                read.cancel()
                                continue
                            chunk = read.result()
                            if not chunk:
                                answers.append((time.monotonic(), "stream ended"))
                                break
                            state["bytes"] += len(chunk)
                    finally:
                        state["open"] -= 1
            except (OSError, asyncio.TimeoutError):
                answers.append((time.monotonic(), "error"))
            finally:
                writer.close()
            await stop.sleep(1.0)

    stop_wait = asyncio.ensure_future(stop.event.wait())
    tasks = [asyncio.ensure_future(one(i)) for i in range(args.connections)]
    await _ready_when(
        lambda: state["tried"] >= args.connections and len(answers) >= args.connections,
        args.ready,
        stop,
        20,
    )
    await asyncio.gather(*tasks)
    stop_wait.cancel()


async def probe(args: argparse.Namespace, stop: Stop, state: dict[str, Any]) -> None:
    """An authorized request every 100 ms on a new connection: what a monitor waits.

    One at a time: when an answer takes longer than the interval, the next
    request goes right after it (the rate drops; the latency shows it).
    """
    # (start on the system-wide monotonic clock, the crawl's too; ms; status): the
    # summary keeps those made while the crawl ran, not its start-up and shutdown.
    samples: list[tuple[float, float, str]] = state.setdefault("samples", [])
    body = args.body.encode() if args.body else b""
    method = "POST" if body else "GET"
    extra = [f"Content-Length: {len(body)}", "Content-Type: application/json"] if body else []
    request = _head(method, args.path, args.port, args.token, "Connection: close", *extra)
    request += b"\r\n" + body
    await _ready_when(lambda: True, args.ready, stop, 0)
    loop = asyncio.get_running_loop()
    next_at = loop.time()
    while not stop:
        at = time.monotonic()
        started = time.perf_counter()
        writer = None
        try:
            reader, writer = await asyncio.wait_for(
                asyncio.open_connection("127.0.0.1", args.port, local_addr=(args.source, 0)),
                PROBE_TIMEOUT,
            )
            writer.write(request)
            left = PROBE_TIMEOUT - (time.perf_counter() - started)
            answer = await asyncio.wait_for(reader.read(), max(0.001, left))
            status = _status(answer.split(b"\r\n", 1)[0]) if answer else "closed"
        except asyncio.TimeoutError:
            status = "timeout"
        except OSError as exc:
            status = type(exc).__name__
        finally:
            if writer is not None:
                writer.close()
        samples.append((at, (time.perf_counter() - started) * 1e3, status))
        next_at = max(next_at + PROBE_INTERVAL, loop.time())
        await stop.sleep(next_at - loop.time())


async def _ready_when(test: Any, ready: Path, stop: Stop, timeout: float) -> None:
    """Create ``ready`` once ``test()`` holds, or after ``timeout`` s (then say how far)."""
    deadline = time.monotonic() + timeout
    while not test() and time.monotonic() < deadline and not stop:
        await asyncio.sleep(0.05)
    ready.write_text(json.dumps({"ready": bool(test())}))


CLIENTS = {"slowloris": slowloris, "sse": sse, "probe": probe}


def run_client(args: argparse.Namespace) -> None:
    """``flood.py --client KIND``: run until SIGTERM (or ``--duration``), then write ``--out``."""

    async def main() -> dict[str, Any]:
        stop = Stop(args.duration)
        state: dict[str, Any] = {}
        task = asyncio.ensure_future(CLIENTS[args.client](args, stop, state))
        await stop.event.wait()
        try:
            await asyncio.wait_for(task, 10)
        except asyncio.TimeoutError:
            state["unfinished"] = True
        return state

    state = asyncio.run(main())
    part = args.out.with_suffix(".part")
    part.write_text(json.dumps(state))
    part.replace(args.out)


class Client:
    """One flood or probe process pinned to the client core; stopped with a signal."""

    def __init__(self, kind: str, argv: list[str], run: Path, out: Path | None = None) -> None:
        self.kind = kind
        self.out = out
        self.log = run / f"{kind}.out"
        with self.log.open("w") as log:
            self.process = subprocess.Popen(
                ["taskset", "-c", CLIENT_CORE, *argv], stdout=log, stderr=subprocess.STDOUT
            )

    def interrupt(self) -> None:
        """Tell it to stop (wrk prints its summary on SIGINT, the others write theirs)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT if self.kind == "wrk" else signal.SIGTERM)

    def stop(self) -> str:
        """Stop it and wait; returns what it printed."""
        self.interrupt()
        if self.process.poll() is None:
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        return self.log.read_text()

    def result(self) -> dict[str, Any]:
        if self.out is None or not self.out.exists():
            return {"error": f"no result: {self.log.read_text()[-2000:]}"}
        return json.loads(self.out.read_text())


def python_client(kind: str, run: Path, port: int, token: str, **options: Any) -> Client:
    """``flood.py --client KIND`` on the client core, bound to ``CRAWL_TIMEOUT``."""
    out = run / f"{kind}.json"
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--client",
        kind,
        "--port",
        str(port),
        "--token",
        token,
        "--out",
        str(out),
        "--ready",
        str(run / f"{kind}.ready"),
        "--duration",
        str(START_TIMEOUT + CRAWL_TIMEOUT),
    ]
    for name, value in options.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    return Client(kind, argv, run, out)


def wait_ready(path: Path, client: Client, timeout: float) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while not path.exists():
        if client.process.poll() is not None:
            raise RuntimeError(f"the {client.kind} client exited: {client.log.read_text()}")
        if time.monotonic() > deadline:
            raise RuntimeError(f"the {client.kind} client was not ready within {timeout:g} s")
        time.sleep(0.02)
    return json.loads(path.read_text())


def start_flood(
    config: Config, run: Path, port: int, token: str, wrk: str
) -> tuple[Client | None, dict[str, Any]]:
    """The configuration's flood, once it runs (connections open for the Python clients)."""
    use = WRONG_TOKEN if config.wrong_token else token
    if config.flood == "wrk":
        argv = [wrk, "-t1", f"-c{config.connections}", f"-d{START_TIMEOUT + CRAWL_TIMEOUT:g}s"]
        argv += ["--latency", "-H", f"Authorization: Bearer {use}"]
        if config.target == "remote":
            script = run / "execute.lua"
            script.write_text(POST_LUA.format(body=EXECUTE_BODY))
            argv += ["-s", str(script)]
        client = Client("wrk", [*argv, f"http://127.0.0.1:{port}{config.path}"], run)
        time.sleep(0.5)  # wrk connects at once; give it that moment
        if client.process.poll() is not None:
            raise RuntimeError(f"wrk exited: {client.log.read_text()}")
        return client, {}
    if config.flood in ("slowloris", "sse"):
        addresses = ",".join(SSE_ADDRESSES) if config.flood == "sse" else "127.0.0.1"
        client = python_client(
            config.flood,
            run,
            port,
            use,
            connections=config.connections,
            path=config.path,
            addresses=addresses,
        )
        ready = wait_ready(run / f"{config.flood}.ready", client, 30)
        return client, ready
    return None, {}


def start_decoy(run: Path) -> tuple[subprocess.Popen[bytes], int, str]:
    """The control's server: ``http_throughput.py``'s bare GET, pinned to the client core."""
    from http_throughput import TOKEN

    ready = run / "decoy.ready.json"
    script = Path(__file__).with_name("http_throughput.py")
    argv = ["taskset", "-c", CLIENT_CORE, sys.executable, str(script), "--serve", "bare"]
    argv += ["--ready", str(ready), "--profile-to", str(run / "decoy.prof")]
    server = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + START_TIMEOUT
    while not ready.exists():
        if server.poll() is not None or time.monotonic() > deadline:
            server.kill()
            raise RuntimeError("the decoy server did not start")
        time.sleep(0.05)
    url = json.loads(ready.read_text())["bare GET"]
    return server, int(url.split(":")[2].split("/")[0]), TOKEN


def flood_result(config: Config, client: Client | None) -> dict[str, Any]:
    """What the flood did: wrk's requests and answers, or the Python client's counters."""
    if client is None:
        return {}
    if client.kind == "wrk":
        output = client.stop()
        try:
            result = parse_wrk(output)
        except RuntimeError:
            return {"error": output[-2000:]}
        requests = result["requests"] or 0
        result["ok"] = requests - result["non_2xx"]
        return result
    client.stop()
    return client.result()


def probe_summary(state: dict[str, Any], window: tuple[float, float] | None) -> dict[str, Any]:
    """p50 and p99 of the probe's answered requests made in ``window``; the rest counted."""
    samples = state.get("samples", [])
    if window is not None:
        samples = [s for s in samples if window[0] <= s[0] <= window[1]]
    latencies = sorted(ms for _, ms, status in samples if status.startswith("2"))
    failed = collections.Counter(status for _, _, status in samples if not status.startswith("2"))
    summary: dict[str, Any] = {"ok": len(latencies), "failed": sum(failed.values())}
    summary["failures"] = dict(failed)
    if latencies:
        summary["p50_ms"] = latencies[len(latencies) // 2]
        summary["p99_ms"] = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        summary["max_ms"] = latencies[-1]
    if "error" in state:
        summary["error"] = state["error"]
    return summary


# -- one crawl -----------------------------------------------------------------------------


def wait_listening(config: Config, run: Path, child: subprocess.Popen[bytes]) -> tuple[int, str]:
    """The port and token of the crawl's service, or of its RemoteControl, once it listens."""
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if child.poll() is not None:
            raise RuntimeError(f"the crawl exited ({child.returncode}) before it listened")
        if config.target == "service":
            path = run / "discovery" / f"{child.pid}.json"
            if path.exists():
                with contextlib.suppress(OSError, ValueError, KeyError):
                    info = json.loads(path.read_text())
                    return int(info["url"].rstrip("/").rsplit(":", 1)[1]), info["token"]
        else:
            for path in (run / "jobs").glob(f"{child.pid}-*.json"):
                with contextlib.suppress(OSError, ValueError, KeyError):
                    info = json.loads(path.read_text())
                    return int(info["port"]), info["token"]
        time.sleep(0.02)
    raise RuntimeError(f"the crawl's {config.target} did not listen within {START_TIMEOUT:g} s")


_LOG_LINE = re.compile(r"^\S+ \S+ \[([^\]]+)\] (WARNING|ERROR|CRITICAL): (.*)$")


def scan_log(path: Path) -> dict[str, Any]:
    """Warnings, errors and tracebacks in a crawl's log: what the flood made the service say."""
    counts: collections.Counter[str] = collections.Counter()
    messages: collections.Counter[str] = collections.Counter()
    tracebacks = 0
    for line in path.read_text(errors="replace").splitlines():
        if line.startswith("Traceback (most recent call last)"):
            tracebacks += 1
        match = _LOG_LINE.match(line)
        if match:
            counts[match.group(2)] += 1
            messages[f"[{match.group(1)}] {match.group(2)}: {match.group(3)[:200]}"] += 1
    return {
        "warnings": counts["WARNING"],
        "errors": counts["ERROR"] + counts["CRITICAL"],
        "tracebacks": tracebacks,
        "messages": [f"{n} x {m}" for m, n in messages.most_common(8)],
    }


def stop_clients(
    prober: Client | None, flood: Client | None, config: Config, result: dict[str, Any]
) -> None:
    """Stop the probe, then the flood (a second call does nothing); keep their results."""
    for client in (flood, prober):
        if client is not None:
            client.interrupt()  # both at once: the service stops listening soon
    if prober is not None and "probe_state" not in result:
        prober.stop()
        result["probe_state"] = prober.result()
    if "flood" not in result:
        result["flood"] = flood_result(config, flood)


def crawl(
    config: Config, project: Path, tmp: Path, index: int, args: argparse.Namespace, wrk: str
) -> dict[str, Any]:
    """One crawl under one configuration: its speed, the flood's, the probe's, the log's."""
    run = tmp / f"run{index:03d}-{config.key}"
    run.mkdir()
    argv = ["taskset", "-c", CRAWL_CORE, sys.executable, "-m", "scrapy", "crawl", "flood"]
    for name, value in crawl_settings(config, run, args.pages, args.set or []).items():
        argv += ["-s", f"{name}={value}"]
    log_path = run / "crawl.log"
    started = time.monotonic()
    flood: Client | None = None
    prober: Client | None = None
    decoy: subprocess.Popen[bytes] | None = None
    result: dict[str, Any] = {"config": config.key}
    with log_path.open("w") as log:
        child = subprocess.Popen(argv, cwd=project, stdout=log, stderr=subprocess.STDOUT)
    try:
        if config.target == "decoy":
            decoy, port, token = start_decoy(run)
            flood, result["flood_ready"] = start_flood(config, run, port, token, wrk)
        elif config.target != "off":
            port, token = wait_listening(config, run, child)
            flood, result["flood_ready"] = start_flood(config, run, port, token, wrk)
            if config.flooded:
                path, body = "/stats/get_stats", ""
                if config.target == "remote":
                    path, body = "/execute", EXECUTE_BODY
                prober = python_client(
                    "probe", run, port, token, path=path, body=body, source=PROBE_ADDRESS
                )
                wait_ready(run / "probe.ready", prober, 30)
        (run / "go").touch()
        # The flood stops when the spider closes, not when the process ends: what
        # the service does while the crawl shuts down is no part of the crawl's speed.
        done, deadline = run / "done", time.monotonic() + CRAWL_TIMEOUT
        while not done.exists() and child.poll() is None and time.monotonic() < deadline:
            time.sleep(0.02)
        if not done.exists() and child.poll() is None:
            result["failed"] = f"killed: still crawling after {CRAWL_TIMEOUT:g} s"
            child.kill()
        stop_clients(prober, flood, config, result)
        try:
            child.wait(START_TIMEOUT)
        except subprocess.TimeoutExpired:
            result["failed"] = f"killed: still running {START_TIMEOUT:g} s after it closed"
            child.kill()
            child.wait()
    except BaseException as exc:
        result["failed"] = f"{type(exc).__name__}: {exc}"
        if child.poll() is None:
            child.kill()
            child.wait()
        if isinstance(exc, KeyboardInterrupt):
            raise
    finally:
        stop_clients(prober, flood, config, result)
        if decoy is not None:
            decoy.terminate()
            decoy.wait(10)
    result["wall_seconds"] = time.monotonic() - started
    result["log"] = scan_log(log_path)
    result_file = run / "result.json"
    data = json.loads(result_file.read_text()) if result_file.exists() else None
    window = None
    if data and data["released"] and data["last_item"]:
        window = (data["released"][0], data["last_item"][0])
    if "probe_state" in result:
        result["probe"] = probe_summary(result.pop("probe_state"), window)
    if "events" in result["flood"]:
        events = result["flood"].pop("events")
        during = [e for e in events if window is None or window[0] <= e[0] <= window[1]]
        result["flood"]["answers"] = dict(collections.Counter(status for _, status in during))
        result["flood"]["answers_outside_crawl"] = len(events) - len(during)
    if child.returncode != 0 and "failed" not in result:
        result["failed"] = f"exit {child.returncode}"
    if not result_file.exists():
        result.setdefault("failed", "no result file")
    if "failed" in result:
        result["log_tail"] = log_path.read_text(errors="replace")[-3000:]
        return result
    assert data is not None
    stats = data["stats"]
    (start, start_cpu), (end, end_cpu) = data["released"], data["last_item"]
    items = data["items"]
    result.update(
        pages=stats.get("response_received_count", 0),
        items=items,
        pages_per_second=items / (end - start),
        cpu_ms_per_page=(end_cpu - start_cpu) / items * 1e3,
        elapsed_time_seconds=stats.get("elapsed_time_seconds"),
        gate_timeout=bool(stats.get("flood/gate_timeout")),
        webservice={k: v for k, v in stats.items() if k.startswith("webservice/")},
    )
    if items < args.pages:
        result["failed"] = f"{items} items of {args.pages}"
    return result


# -- summary, report, plot -----------------------------------------------------------------


def _ok(run: dict[str, Any] | None) -> bool:
    return run is not None and "failed" not in run


def summarize(
    rounds: list[dict[str, dict[str, Any]]], configs: list[Config], args: argparse.Namespace
) -> dict[str, Any]:
    rows: dict[str, Any] = {}
    for config in configs:
        runs = [r[config.key] for r in rounds if config.key in r]
        good = [r for r in runs if _ok(r)]
        ratios = [
            r[config.key]["pages_per_second"] / r["off"]["pages_per_second"]
            for r in rounds
            if _ok(r.get(config.key)) and _ok(r.get("off"))
        ]
        cpu_ratios = [
            r["off"]["cpu_ms_per_page"] / r[config.key]["cpu_ms_per_page"]
            for r in rounds
            if _ok(r.get(config.key)) and _ok(r.get("off"))
        ]
        row: dict[str, Any] = {
            "label": config.label,
            "rounds_ok": len(good),
            "rounds_failed": [r["failed"] for r in runs if not _ok(r)],
            "ratio": median(ratios) if ratios else None,
            "ratio_rounds": ratios,
            "cpu_ratio": median(cpu_ratios) if cpu_ratios else None,
            "pages_per_second": median(r["pages_per_second"] for r in good) if good else None,
            "cpu_ms_per_page": median(r["cpu_ms_per_page"] for r in good) if good else None,
            "log_warnings": sum(r["log"]["warnings"] for r in runs),
            "log_errors": sum(r["log"]["errors"] for r in runs),
            "log_tracebacks": sum(r["log"]["tracebacks"] for r in runs),
        }
        counters: dict[str, list[float]] = collections.defaultdict(list)
        for r in good:
            for key, value in r["webservice"].items():
                if isinstance(value, int | float):
                    counters[key].append(value)
        row["webservice"] = {k: median(v) for k, v in sorted(counters.items())}
        probes = [r["probe"] for r in good if r.get("probe", {}).get("ok")]
        if probes:
            row["probe"] = {
                "p50_ms": median(p["p50_ms"] for p in probes),
                "p99_ms": median(p["p99_ms"] for p in probes),
                "ok": sum(p["ok"] for p in probes),
                "failed": sum(r["probe"]["failed"] for r in good),
            }
        elif any("probe" in r for r in good):
            row["probe"] = {"ok": 0, "failed": sum(r["probe"]["failed"] for r in good)}
        floods = [r["flood"] for r in good if r.get("flood")]
        if floods and "rps" in floods[0]:
            row["flood"] = {
                "rps": median(f["rps"] for f in floods),
                "ok": sum(f["ok"] for f in floods),
                "non_2xx": sum(f["non_2xx"] for f in floods),
                "socket_errors": [f["socket_errors"] for f in floods if f["socket_errors"]],
            }
        elif floods:
            row["flood"] = {k: v for k, v in floods[-1].items() if not isinstance(v, list)}
        if config.key != "off":
            row["met"] = row["ratio"] is not None and row["ratio"] >= GOAL_RATIO
        rows[config.key] = row
    # The goal is the service's: RemoteControl's rows are the anchor, shown beside it.
    ours = {k: r for k, r in rows.items() if BY_KEY[k].target == "service"}
    worst = min((r["ratio"] for r in ours.values() if r["ratio"] is not None), default=None)
    return {
        "settings": {
            "rounds": args.rounds,
            "pages": args.pages,
            "concurrent_requests": 16,
            "crawl_core": CRAWL_CORE,
            "client_core": CLIENT_CORE,
            "probe_interval_seconds": PROBE_INTERVAL,
            "set": args.set or [],
            "configs": [c.key for c in configs],
        },
        "rows": rows,
        "worst_ratio": worst,
        "goal": {
            "min": GOAL_RATIO,
            "rows": list(ours),
            "met": all(r["met"] for r in ours.values()),
        },
        "rounds": rounds,
    }


def _flood_text(row: dict[str, Any]) -> str:
    flood = row.get("flood")
    if not flood:
        return "-"
    if "rps" in flood:
        return f"{flood['rps']:.0f} req/s, {flood['non_2xx']} non-2xx"
    if "max_open" in flood:
        return f"{flood['max_open']} open, {_answers(flood)}"
    return str(flood.get("error", "?"))[:40]


def _answers(flood: dict[str, Any]) -> str:
    """What the service answered (or closed) while the crawl ran: ``408:3,closed:12``."""
    answers = ",".join(f"{k}:{v}" for k, v in sorted(flood.get("answers", {}).items()))
    return answers or "none ended"


def _probe_text(row: dict[str, Any]) -> str:
    probe = row.get("probe")
    if not probe:
        return "-"
    if not probe["ok"]:
        return f"none answered ({probe['failed']} failed)"
    return (
        f"{probe['p50_ms']:.1f} / {probe['p99_ms']:.1f} ({probe['ok']} ok, {probe['failed']} bad)"
    )


def report(result: dict[str, Any]) -> None:
    """The table: one row per configuration, then each row's service counters and log."""
    header = (
        f"{'row':<37} {'vs off':>6} {'pages/s':>8} {'CPU':>6} {'flood':<32}"
        f" {'probe p50 / p99 ms':<30} goal"
    )
    print(header)
    print("-" * len(header))
    for key, row in result["rows"].items():
        ratio = "1.000" if key == "off" else _fmt(row["ratio"], "{:.3f}")
        pps = _fmt(row["pages_per_second"], "{:.0f}")
        cpu = "" if key == "off" else _fmt(row["cpu_ratio"], "{:.3f}")
        state = "" if key == "off" else verdict(row["met"])
        print(
            f"{row['label']:<37} {ratio:>6} {pps:>8} {cpu:>6} {_flood_text(row):<32}"
            f" {_probe_text(row):<30} {state}"
        )
    print(
        "(vs off: median ratio of pages/s; CPU: off's CPU per page over the row's;"
        " probe: an authorized GET every 100 ms on a new connection)"
    )
    for key, row in result["rows"].items():
        notes = []
        if row["webservice"]:
            notes.append(", ".join(f"{k}={v:g}" for k, v in row["webservice"].items()))
        if row["log_errors"] or row["log_tracebacks"] or row["log_warnings"]:
            notes.append(
                f"log: {row['log_warnings']} warnings, {row['log_errors']} errors,"
                f" {row['log_tracebacks']} tracebacks"
            )
        if row["rounds_failed"]:
            notes.append(f"failed rounds: {row['rounds_failed']}")
        if notes:
            print(f"  {key}: " + "; ".join(notes))
    if not any(row["webservice"] for row in result["rows"].values()):
        print("  (no webservice/ stats in any crawl's final stats)")
    worst = result["worst_ratio"]
    print(
        f"worst row of the service: {_fmt(worst, '{:.3f}')}x off"
        f" (goal: every row of the service >= {GOAL_RATIO}: {verdict(result['goal']['met'])};"
        " RemoteControl's rows are the anchor, not part of it)"
    )
    if result["settings"]["rounds"] < MIN_ROUNDS:
        print(f"(fewer than {MIN_ROUNDS} rounds: indicative only)")


def _fmt(value: float | None, pattern: str) -> str:
    return "n/a" if value is None else pattern.format(value)


def plot(result: dict[str, Any], machine_info: str) -> None:
    plt = pyplot()
    rows = [(k, r) for k, r in result["rows"].items() if k != "off"]
    fig, (left, right) = plt.subplots(1, 2, figsize=(13, 0.45 * len(rows) + 2))
    labels = [r["label"] for _, r in rows]
    ys = list(range(len(rows)))
    ratios = [r["ratio"] or 0.0 for _, r in rows]
    colors = [
        "#ff7f0e" if k.startswith("rc") else ("#1f77b4" if r.get("met") else "#d62728")
        for k, r in rows
    ]
    bars = left.barh(ys, ratios, color=colors)
    left.bar_label(bars, [f"{v:.3f}x" for v in ratios], label_type="center", color="white")
    for y, (_, row) in zip(ys, rows, strict=True):
        left.scatter(row["ratio_rounds"], [y] * len(row["ratio_rounds"]), c="k", s=8, zorder=3)
    left.axvline(GOAL_RATIO, ls="--", c="k", lw=1, label=f"goal: {GOAL_RATIO}x off")
    left.set_yticks(ys, labels)
    left.invert_yaxis()
    left.set_xlim(0, max(1.1, *ratios) * 1.05)
    left.set_xlabel("crawl pages/s vs service off (bars: median; dots: rounds)")
    left.set_title(
        f"Crawl of {result['settings']['pages']} data: URL pages on core 0, flood on core 1"
        " (orange: RemoteControl)"
    )
    left.legend(loc="lower right", fontsize=7)
    p50 = [r.get("probe", {}).get("p50_ms", 0) or 0 for _, r in rows]
    p99 = [r.get("probe", {}).get("p99_ms", 0) or 0 for _, r in rows]
    height = 0.38
    right.barh([y - height / 2 for y in ys], p50, height, label="p50")
    right.barh([y + height / 2 for y in ys], p99, height, label="p99")
    right.set_yticks(ys, ["" for _ in ys])
    right.invert_yaxis()
    if any(p99):
        right.set_xscale("log")
        right.set_xlim(left=1.0)
    right.set_xlabel("latency of an authorized request during the flood, ms (median of rounds)")
    right.set_title("The probe: a new connection every 100 ms")
    right.legend(loc="lower right", fontsize=7)
    fig.suptitle(f"The crawl under an HTTP flood of its service ({machine_info})", fontsize=8)
    save_plot(fig, NAME)


# -- main ----------------------------------------------------------------------------------


def check_tools(wrk_needed: bool = True) -> str:
    """wrk and taskset, and two cores to pin the crawl and the clients to; wrk's path.

    Without ``wrk_needed`` (a benchmark with no flood) wrk may be missing: ``""``.
    """
    wrk = shutil.which("wrk") or ""
    if not wrk and wrk_needed:
        sys.exit(
            "wrk is not installed: on Debian/Ubuntu `apt-get update && apt-get install -y wrk`"
            " (https://github.com/wg/wrk for other systems)"
        )
    if shutil.which("taskset") is None:
        sys.exit("taskset is not installed: `apt-get install -y util-linux`")
    try:
        cores = os.sched_getaffinity(0)
    except AttributeError:
        sys.exit("this benchmark pins processes to cores (taskset): Linux only")
    if not {int(CRAWL_CORE), int(CLIENT_CORE)} <= cores:
        sys.exit(f"cores {CRAWL_CORE} and {CLIENT_CORE} are needed; this process may use {cores}")
    return wrk


def selected(args: argparse.Namespace) -> list[Config]:
    """The rows to run: all, or ``--only`` ones, always with the baseline."""
    if not args.only:
        return list(CONFIGS)
    keys = {"off", *args.only}
    return [c for c in CONFIGS if c.key in keys]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=MIN_ROUNDS)
    parser.add_argument("--pages", type=int, default=10_000, help="pages each crawl scrapes")
    parser.add_argument(
        "--set",
        action="append",
        metavar="NAME=VALUE",
        help="a setting for every service configuration, as `-s NAME=VALUE` (repeatable)",
    )
    parser.add_argument(
        "--only", nargs="+", choices=[c.key for c in CONFIGS[1:]], help="run only these rows"
    )
    parser.add_argument("--client", choices=list(CLIENTS), help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--token", help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--ready", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--duration", type=float, help=argparse.SUPPRESS)
    parser.add_argument("--connections", type=int, default=1, help=argparse.SUPPRESS)
    parser.add_argument("--path", default="/", help=argparse.SUPPRESS)
    parser.add_argument("--body", default="", help=argparse.SUPPRESS)
    parser.add_argument("--source", default="127.0.0.1", help=argparse.SUPPRESS)
    parser.add_argument("--addresses", default="127.0.0.1", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        args.addresses = args.addresses.split(",")
        run_client(args)
        return
    for item in args.set or []:
        if "=" not in item or not item.split("=", 1)[0]:
            parser.error(f"--set wants NAME=VALUE, not {item!r}")
    wrk = check_tools()
    configs = selected(args)
    started = time.monotonic()
    rounds: list[dict[str, dict[str, Any]]] = []
    with tempfile.TemporaryDirectory(prefix="flood-") as name:
        tmp = Path(name)
        project = write_project(tmp / "project")
        index = 0
        # Warm-up (disk caches, a first check that service, wrk and probe work together).
        warm = crawl(BY_KEY["get8"], project, tmp, index, _pages(args, 500), wrk)
        if "failed" in warm or not warm["flood"].get("ok") or not warm["probe"].get("ok"):
            sys.exit(f"the warm-up crawl failed:\n{json.dumps(warm, indent=2, default=str)}")
        for i in range(args.rounds):
            order = configs[i % len(configs) :] + configs[: i % len(configs)]
            row: dict[str, dict[str, Any]] = {}
            for config in order:
                index += 1
                row[config.key] = run = crawl(config, project, tmp, index, args, wrk)
                print(f"round {i + 1}: {progress(config, run)}", flush=True)
            rounds.append(row)
    result = summarize(rounds, configs, args)
    result["seconds_taken"] = round(time.monotonic() - started, 1)
    report(result)
    written = write_results(NAME, result)
    plot(result, machine_line(written["machine"]))


def _pages(args: argparse.Namespace, most: int) -> argparse.Namespace:
    return argparse.Namespace(**{**vars(args), "pages": min(args.pages, most)})


def progress(config: Config, run: dict[str, Any]) -> str:
    """One line per crawl, as it ends."""
    if "failed" in run:
        tail = textwrap.indent(run.get("log_tail", "")[-1500:], "    ")
        return f"{config.key:<11} FAILED: {run['failed']}\n{tail}"
    line = (
        f"{config.key:<11} {run['items']} items {run['pages_per_second']:>7.1f} pages/s"
        f"  {run['cpu_ms_per_page']:.2f} ms CPU/page"
    )
    flood = run.get("flood") or {}
    if "rps" in flood:
        line += f"  flood {flood['rps']:.0f} req/s ({flood['non_2xx']} non-2xx)"
    elif "max_open" in flood:
        line += f"  flood {flood['max_open']} open, during the crawl: {_answers(flood)}"
    if run.get("probe"):
        line += f"  probe {_probe_text({'probe': run['probe']})}"
    log = run["log"]
    if log["warnings"] or log["errors"] or log["tracebacks"]:
        line += f"  log: {log['warnings']} W, {log['errors']} E, {log['tracebacks']} tracebacks"
    return line


if __name__ == "__main__":
    main()
