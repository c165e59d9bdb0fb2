"""The alerting rules in a real Prometheus, delivered by a real Alertmanager.

Prometheus scrapes four real crawls through file-based discovery (a target
file written here from their discovery files), evaluates the
rules rendered with durations of seconds, and sends to Alertmanager, which
posts to a webhook served by this test:

* a crawl whose site stops answering, not paused: ``ScrapyCrawlStalled``;
* a paused crawl: nothing;
* a crawl that finishes while ``WEBSERVICE_LINGER`` keeps its service up,
  then exits: nothing (not down, not closed abnormally);
* a crawl killed with SIGKILL: ``ScrapyServiceDown``.

Needs ``prometheus`` and ``prometheus-alertmanager`` (Debian packages of
those names): skipped with the command that installs them, failed instead
under ``SCRAPY_WS_REQUIRE_PROMETHEUS=1`` (CI). Every server listens on
127.0.0.1 and every wait is bounded.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import socket
import subprocess
import threading
import time
import urllib.parse
import urllib.request
from collections.abc import Callable, Iterator
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from scrapy_webservice_prometheus.rules import duration_seconds, render
from scrapy_webservice_prometheus.targets import targets

TOKEN = "prometheus-reads-" + "y" * 24
INTERVAL = "500ms"  # scrape and rule evaluation
DURATIONS = {
    "stall": "4s",
    "stall_for": "1s",
    "error_window": "5s",
    "error_for": "1s",
    "down_for": "2s",
    "down_window": "10m",
}
PAGES_BEFORE_HANGING = 5


def required(names: list[str], install: str) -> str:
    for name in names:
        if path := shutil.which(name):
            return path
    message = f"{names[0]} is needed for the alerting test: {install}"
    if os.environ.get("SCRAPY_WS_REQUIRE_PROMETHEUS"):
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture
def binaries() -> dict[str, str]:
    return {
        "prometheus": required(["prometheus"], "apt-get install prometheus"),
        "alertmanager": required(
            ["prometheus-alertmanager", "alertmanager"],
            "apt-get install prometheus-alertmanager",
        ),
    }


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_for(what: str, condition: Callable[[], Any], timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if result := condition():
                return result
        except OSError as exc:  # a server still starting
            last_error = exc
        time.sleep(0.2)
    raise AssertionError(f"{what}: not seen within {timeout} s (last error: {last_error})")


# -- servers of the test: a webhook, a site that stops answering -------------------------


class Webhook(ThreadingHTTPServer):
    """Alertmanager's receiver: keeps every alert it is sent."""

    daemon_threads = True

    def __init__(self) -> None:
        self.alerts: list[dict[str, Any]] = []
        self.lock = threading.Lock()
        super().__init__(("127.0.0.1", 0), _WebhookHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}/alerts"

    def received(self, alertname: str, instance: str) -> list[dict[str, Any]]:
        with self.lock:
            return [
                alert
                for alert in self.alerts
                if alert["labels"].get("alertname") == alertname
                and alert["labels"].get("instance") == instance
                and alert["status"] == "firing"
            ]

    def about(self, instance: str) -> list[dict[str, Any]]:
        with self.lock:
            return [a for a in self.alerts if a["labels"].get("instance") == instance]


class _WebhookHandler(BaseHTTPRequestHandler):
    server: Webhook

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.alerts.extend(json.loads(body)["alerts"])
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, format: str, *args: Any) -> None:
        pass


class HangingSite(ThreadingHTTPServer):
    """A site that answers a few pages, each linking to the next, then never answers.

    The demo spider of ``webservice_crawl`` is given the demo shop's URL, so
    the crawl reaches this site as its HTTP proxy (``http_proxy``): every
    request of the crawl comes here, whatever its URL.
    """

    daemon_threads = True

    def __init__(self, pages: int) -> None:
        self.pages = pages
        self.served = 0
        self.lock = threading.Lock()
        self.released = threading.Event()
        super().__init__(("127.0.0.1", 0), _HangingHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class _HangingHandler(BaseHTTPRequestHandler):
    server: HangingSite

    def do_GET(self) -> None:
        with self.server.lock:
            self.server.served += 1
            page = self.server.served
        if page > self.server.pages:
            self.server.released.wait(120)  # the site stopped answering
            self.close_connection = True
            return
        body = f'<html><body><a class="next" href="/page/{page + 1}">next</a></body></html>'
        data = body.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


def serve(server: ThreadingHTTPServer) -> Iterator[Any]:
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server
    finally:
        if isinstance(server, HangingSite):
            server.released.set()
        server.shutdown()
        server.server_close()


@pytest.fixture
def webhook() -> Iterator[Webhook]:
    yield from serve(Webhook())


@pytest.fixture
def hanging_site() -> Iterator[HangingSite]:
    yield from serve(HangingSite(PAGES_BEFORE_HANGING))


# -- Prometheus and Alertmanager --------------------------------------------------------


class Server:
    def __init__(self, args: list[str], base: str, log: Path) -> None:
        self.base = base
        self.log = log
        with log.open("wb") as file:
            self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=file)

    def get(self, path: str, **query: str) -> Any:
        url = f"{self.base}{path}"
        if query:
            url += "?" + urllib.parse.urlencode(query)
        with urllib.request.urlopen(url, timeout=5) as response:
            return json.load(response)

    def ready(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"{self.proc.args[0]} exited:\n{self.output()}")
        with urllib.request.urlopen(f"{self.base}/-/ready", timeout=5) as response:
            return response.status == 200

    def output(self) -> str:
        return self.log.read_text(errors="replace")[-4000:]

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(15)


class Prometheus(Server):
    def query(self, promql: str) -> list[dict[str, Any]]:
        return self.get("/api/v1/query", query=promql)["data"]["result"]

    def value(self, promql: str) -> float | None:
        result = self.query(promql)
        return float(result[0]["value"][1]) if result else None

    def last_evaluation(self) -> float:
        """When the rules were last evaluated (Unix time; 0 before the first time)."""
        groups = self.get("/api/v1/rules")["data"]["groups"]
        if not groups:
            return 0.0
        # RFC 3339 with nanoseconds: microseconds are enough.
        text = re.sub(r"(\.\d{6})\d*", r"\1", groups[0]["lastEvaluation"])
        return datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()

    def evaluated_after(self, moment: float) -> bool:
        return self.last_evaluation() > moment


@pytest.fixture
def alerting(binaries, webhook, tmp_path: Path) -> Iterator[tuple[Prometheus, Path]]:
    """Alertmanager posting to the webhook, Prometheus sending to it; their target file."""
    am_port = free_port()
    am_config = {
        "route": {
            "receiver": "test",
            "group_by": ["alertname", "instance"],
            "group_wait": "500ms",
            "group_interval": "1s",
            "repeat_interval": "1h",
        },
        "receivers": [
            {"name": "test", "webhook_configs": [{"url": webhook.url, "send_resolved": True}]}
        ],
    }
    (tmp_path / "alertmanager.yml").write_text(json.dumps(am_config))  # JSON is YAML
    alertmanager = Server(
        [
            binaries["alertmanager"],
            f"--config.file={tmp_path / 'alertmanager.yml'}",
            f"--storage.path={tmp_path / 'alertmanager'}",
            f"--web.listen-address=127.0.0.1:{am_port}",
            "--cluster.listen-address=",
        ],
        f"http://127.0.0.1:{am_port}",
        tmp_path / "alertmanager.log",
    )
    servers = [alertmanager]
    try:
        (tmp_path / "scrapy.rules.yml").write_text(render(**DURATIONS))
        targets_file = tmp_path / "targets.json"
        targets_file.write_text("[]")
        config = {
            "global": {
                "scrape_interval": INTERVAL,
                "scrape_timeout": INTERVAL,
                "evaluation_interval": INTERVAL,
            },
            "rule_files": [str(tmp_path / "scrapy.rules.yml")],
            "alerting": {
                "alertmanagers": [{"static_configs": [{"targets": [f"127.0.0.1:{am_port}"]}]}]
            },
            "scrape_configs": [
                {
                    "job_name": "scrapy",
                    "authorization": {"type": "Bearer", "credentials": TOKEN},
                    "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "1s"}],
                }
            ],
        }
        (tmp_path / "prometheus.yml").write_text(json.dumps(config))
        port = free_port()
        prometheus = Prometheus(
            [
                binaries["prometheus"],
                f"--config.file={tmp_path / 'prometheus.yml'}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            f"http://127.0.0.1:{port}",
            tmp_path / "prometheus.log",
        )
        servers.append(prometheus)
        wait_for("Alertmanager ready", alertmanager.ready, timeout=30)
        wait_for("Prometheus ready", prometheus.ready, timeout=30)
        yield prometheus, targets_file
    except AssertionError:
        for server in servers:
            print(f"== {server.proc.args[0]}\n{server.output()}")
        raise
    finally:
        for server in reversed(servers):
            server.stop()


def write_targets(path: Path, discovery_dirs: list[Path]) -> None:
    """The running crawls' targets, at once (dead processes are left out)."""
    groups = [group for directory in discovery_dirs for group in targets(directory)]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(groups))
    os.replace(tmp, path)


def instance_of(crawl: Any) -> str:
    return urllib.parse.urlsplit(crawl.client.url).netloc


def test_alerts_reach_alertmanager_for_stalled_and_vanished_crawls_only(
    alerting, webhook, hanging_site, webservice_crawl, monkeypatch
):
    prometheus, targets_file = alerting
    settings = {"WEBSERVICE_READONLY_TOKEN": TOKEN}

    # The four crawls run side by side; the stalled one reaches the site that hangs.
    with monkeypatch.context() as env:
        env.setenv("http_proxy", hanging_site.url)
        for name in ("HTTP_PROXY", "no_proxy", "NO_PROXY"):
            env.delenv(name, raising=False)
        stalled = webservice_crawl(plugins=["prometheus"], settings=settings, products=40)
    paused = webservice_crawl(plugins=["prometheus"], settings=settings, products=400, delay=0.3)
    killed = webservice_crawl(plugins=["prometheus"], settings=settings, products=400, delay=0.3)
    finished = webservice_crawl(
        plugins=["prometheus"],
        settings={**settings, "WEBSERVICE_LINGER": 6},
        products=40,
        delay=0.2,
    )
    crawls = [stalled, paused, killed, finished]
    discovery = [crawl.discovery for crawl in crawls]
    instances = {}
    for crawl in crawls:
        instances[id(crawl)] = instance_of(crawl)
        write_targets(targets_file, discovery)
    paused.client.call("crawler/engine", "pause", "demo")

    def seen(promql: str) -> Callable[[], bool]:
        return lambda: bool(prometheus.query(promql))

    # (d) killed once Prometheus knows it; the target file then leaves it out
    # (a target kept, down, as scrapy-ws-prometheus-targets --grace does, is
    # the other way the rule sees it: rules/scrapy.rules_test.yml has both).
    killed_at = instances[id(killed)]
    wait_for("the crawl to kill scraped", seen(f'scrapy_crawl_info{{instance="{killed_at}"}}'))
    assert prometheus.value(f'scrapy_webservice_lingering{{instance="{killed_at}"}}') == 0
    killed.proc.kill()
    killed.proc.wait(10)
    write_targets(targets_file, discovery)

    # (a) the site answered a few pages and hangs: stalled, sent by Alertmanager.
    stalled_at = instances[id(stalled)]
    [alert] = wait_for(
        "ScrapyCrawlStalled at the webhook",
        lambda: webhook.received("ScrapyCrawlStalled", stalled_at)[:1],
    )
    assert alert["labels"]["spider"] == "demo"
    assert alert["labels"]["severity"] == "warning"
    assert alert["annotations"]["summary"] == (
        f"Scrapy crawl stalled: spider demo on {stalled_at}"
    )
    assert hanging_site.served > PAGES_BEFORE_HANGING
    assert prometheus.value(f'scrapy_response_received_total{{instance="{stalled_at}"}}') == (
        PAGES_BEFORE_HANGING
    )

    # (d) the SIGKILLed crawl is down.
    [alert] = wait_for(
        "ScrapyServiceDown at the webhook",
        lambda: webhook.received("ScrapyServiceDown", killed_at)[:1],
    )
    assert alert["labels"]["spider"] == "demo"
    assert alert["labels"]["severity"] == "critical"
    assert alert["annotations"]["summary"] == f"Scrapy service down: spider demo on {killed_at}"

    # (c) the crawl that finished lingered (Prometheus saw it), then exited.
    assert finished.wait(60) == 0
    exited = time.time()
    finished_at = instances[id(finished)]
    where = f'{{instance="{finished_at}"}}[10m]'
    assert prometheus.value(f"max_over_time(scrapy_webservice_lingering{where})") == 1
    [reason] = prometheus.query(f"last_over_time(scrapy_finish_reason_info{where})")
    assert reason["metric"]["reason"] == "finished"

    # (b) Prometheus sees the crawl paused.
    paused_at = instances[id(paused)]
    wait_for("the paused crawl", seen(f'scrapy_engine_paused{{instance="{paused_at}"}} == 1'))
    paused_seen = time.time()

    # Nothing for (b) and (c), not even pending, once the rules had all the
    # time they need to fire: paused for longer than stall and its 'for',
    # gone for longer than down_for.
    margin = 2.0
    quiet_until = max(
        paused_seen
        + duration_seconds(DURATIONS["stall"])
        + duration_seconds(DURATIONS["stall_for"])
        + margin,
        exited + duration_seconds(DURATIONS["down_for"]) + margin,
    )
    wait_for(
        "rules evaluated late enough",
        lambda: prometheus.evaluated_after(quiet_until),
        timeout=60,
    )
    for instance in (paused_at, finished_at):
        assert prometheus.query(f'count_over_time(ALERTS{{instance="{instance}"}}[10m])') == []
        assert webhook.about(instance) == []
    assert prometheus.value(f'scrapy_engine_paused{{instance="{paused_at}"}}') == 1
    # The finished crawl's target went down (it is still in the target file):
    # down, yet not ScrapyServiceDown, since it lingered after finishing.
    assert prometheus.value(f'up{{instance="{finished_at}"}}') in (0, None)
    hanging_site.released.set()
