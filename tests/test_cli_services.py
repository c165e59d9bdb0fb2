"""``scrapy-ws`` on a machine with several crawls: real ``scrapy crawl`` processes.

Which service a command goes to (by spider, never the newest silently),
stale discovery files, and a port that another program took over after a
crash: that program must never see the token.
"""

from __future__ import annotations

import http.server
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scrapy_webservice.cli.client import WebServiceClient, find_services
from scrapy_webservice.testing import start_shop

from .processes import Crawl, scrapy_ws

pytestmark = pytest.mark.integration


@pytest.fixture
def long_shop() -> Iterator[str]:
    """A shop large and slow enough that its crawls outlast the test (stopped after it)."""
    shop, url = start_shop(2000, delay=0.5)
    yield url
    shop.stop()


def start(crawls: list[Any], shop: str, tmp_path: Path, spider: str, index: int) -> Crawl:
    crawl = Crawl(shop, tmp_path / f"items{index}.jsonl", spider=spider)
    crawls.append(crawl)
    crawl.wait_for(r"Web service URL and token written to")
    return crawl


def audited(crawl: Crawl, call: str) -> bool:
    """Whether the crawl's audit log has the control call ``call``."""
    return any("Control call" in line and call in line for line in crawl.lines)


def test_commands_go_to_the_service_running_the_spider(long_shop, crawls, tmp_path):
    older = start(crawls, long_shop, tmp_path, "demo", 1)
    time.sleep(0.05)  # distinct "started" times
    newer = start(crawls, long_shop, tmp_path, "demo2", 2)
    assert [info["pid"] for info in find_services()] == [newer.proc.pid, older.proc.pid]

    # Addressed by spider: the older service for demo, the newer for demo2.
    paused = scrapy_ws("pause", "demo", "--json")
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["spider"] == "demo"
    paused2 = scrapy_ws("pause", "demo2")
    assert paused2.returncode == 0, paused2.stderr
    assert paused2.stdout.startswith("demo2: paus")
    for crawl, mine, other in ((older, "demo", "demo2"), (newer, "demo2", "demo")):
        deadline = time.monotonic() + 10
        while not audited(crawl, f'pause(["{mine}"])'):
            assert time.monotonic() < deadline, crawl.output_tail()
            time.sleep(0.05)
        assert not audited(crawl, f'pause(["{other}"])')
    resumed = scrapy_ws("resume", "demo", "--pid", str(older.proc.pid))  # option after
    assert (resumed.returncode, resumed.stdout.strip()) == (0, "demo: running"), resumed.stderr
    stats = scrapy_ws("get-spider-stats", "demo2", "--json")
    assert json.loads(stats.stdout)["log_count/INFO"] >= 1

    # Every service shows up where everything is shown.
    services = json.loads(scrapy_ws("services", "--json").stdout)
    assert [(s["pid"], s["spiders"]) for s in services] == [
        (newer.proc.pid, ["demo2"]),
        (older.proc.pid, ["demo"]),
    ]
    status = json.loads(scrapy_ws("status", "--json").stdout)
    assert {name: rates["pid"] for name, rates in status.items()} == {
        "demo": older.proc.pid,
        "demo2": newer.proc.pid,
    }
    assert (status["demo"]["state"], status["demo2"]["state"]) == ("running", "paused")
    text = scrapy_ws("status")
    assert f"(pid {older.proc.pid}):" in text.stdout
    assert f"(pid {newer.proc.pid}):" in text.stdout
    running = scrapy_ws("list-running", "--json")
    assert sorted(json.loads(running.stdout)) == ["demo", "demo2"]

    # Without a spider and without --pid: which one? Both listed, nothing sent.
    token = scrapy_ws("token")
    assert (token.returncode, token.stdout) == (5, "")
    for crawl in (older, newer):
        assert f"--pid {crawl.proc.pid}" in token.stderr
    assert "SCRAPY_WS_PID" in token.stderr
    picked = scrapy_ws("token", "--json", "--pid", str(newer.proc.pid))
    assert json.loads(picked.stdout)["token"] == find_services()[0]["token"]

    # A spider that no service runs: the error names every service asked.
    missing = scrapy_ws("stop", "nope")
    assert missing.returncode == 4
    assert str(older.proc.pid) in missing.stderr
    assert str(newer.proc.pid) in missing.stderr

    # The same spider in two services: ambiguous, both listed, neither stopped.
    third = start(crawls, long_shop, tmp_path, "demo", 3)
    twice = scrapy_ws("stop", "demo")
    assert twice.returncode == 5, twice.stderr
    assert f"--pid {older.proc.pid}" in twice.stderr
    assert f"--pid {third.proc.pid}" in twice.stderr
    assert not audited(older, "close_spider")
    assert not audited(third, "close_spider")
    stopped = scrapy_ws("stop", "demo", "--pid", str(third.proc.pid))
    assert stopped.returncode == 0, stopped.stderr
    assert third.wait(60) == 0
    assert "'finish_reason': 'closed_by_webservice'" in third.output
    assert older.proc.poll() is None


class Recorder(http.server.BaseHTTPRequestHandler):
    """Another program on the port: answers everything, records what it was sent."""

    seen: list[tuple[str, str | None]]
    health: bytes

    def do_GET(self) -> None:
        self.seen.append((self.path, self.headers.get("Authorization")))
        body = self.health if self.path == "/health" else b"hello\n"
        kind = "application/json" if body.startswith(b"{") else "text/plain"
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_POST = do_GET

    def log_message(self, *args: Any) -> None:
        pass


def serve_recorder(port: int, health: bytes) -> tuple[http.server.HTTPServer, list[Any]]:
    seen: list[Any] = []
    handler = type("Handler", (Recorder,), {"seen": seen, "health": health})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, seen


def test_a_killed_crawl_leaves_no_file_and_its_port_never_gets_the_token(
    long_shop, crawls, tmp_path, runtime_dir
):
    crawl = start(crawls, long_shop, tmp_path, "demo", 1)
    [info] = find_services()
    assert WebServiceClient.from_discovery(info).get("health")["pid"] == crawl.proc.pid
    files = list(runtime_dir.rglob("*.json"))
    crawl.proc.send_signal(signal.SIGKILL)
    crawl.proc.wait(30)
    assert list(runtime_dir.rglob("*.json")) == files  # SIGKILL: no clean-up

    gone = scrapy_ws("list-running")
    assert gone.returncode == 3
    assert "no running web service found" in gone.stderr
    assert list(runtime_dir.rglob("*.json")) == []  # removed by that run

    # Another program takes the port; a discovery file (a stale one whose pid
    # was reused, say) still points there with a live process id.
    port = int(info["url"].rstrip("/").rsplit(":", 1)[1])
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for health in (b'{"status": "ok", "pid": 1}', b"not json", b"{}"):
            server, seen = serve_recorder(port, health)
            try:
                fake = dict(info, pid=sleeper.pid, started=time.time())
                path = Path(files[0])
                path.write_text(json.dumps(fake))
                os.chmod(path, 0o600)
                for args in (["token"], ["list-running"], ["stop", "demo"], ["get", "stats"]):
                    result = scrapy_ws(*args)
                    assert result.returncode == 3, (args, result.stderr)
                    assert f"the web service of process {sleeper.pid} is gone" in result.stderr
                    assert "token was not sent" in result.stderr
                    assert info["token"] not in result.stdout + result.stderr
                assert seen
                assert all(p == "/health" and a is None for p, a in seen), seen
                # Named outright, it is just a server that does not speak JSON: exit 1.
                url = f"http://127.0.0.1:{port}/"
                not_json = scrapy_ws("list-resources", "--url", url, "--token", "t")
                assert not_json.returncode == 1, not_json.stderr
                assert "is not JSON" in not_json.stderr
                text = scrapy_ws("get", "anything.csv", "--url", url, "--token", "t")
                assert (text.returncode, text.stdout) == (0, "hello\n")
            finally:
                server.shutdown()
                server.server_close()
    finally:
        sleeper.kill()
        sleeper.wait()
