"""Real ``scrapy crawl`` subprocesses against a local shop, driven over HTTP.

These tests start processes; each bounds its own waits, and every crawl
ends by itself (the shop is finite) if a test fails half-way.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from scrapy_webservice.cli.client import WebServiceClient, find_services
from scrapy_webservice.testing import http, rpc

from .conftest import free_port_holder
from .processes import PRODUCTS, PROJECT, Crawl, Process, count_lines, scrapy_ws

pytestmark = pytest.mark.integration


def crawler(crawls, *args, **kwargs) -> Crawl:
    crawl = Crawl(*args, **kwargs)
    crawls.append(crawl)
    return crawl


def stats_from_log(crawl: Process) -> str:
    crawl.wait_for(r"Spider closed", timeout=120)
    return crawl.output


def hold_open(crawl: Crawl, spider: str = "demo") -> WebServiceClient:
    """Pause ``spider`` through the service, so that the crawl stays open for the test.

    A crawl of the slow shop ends by itself within seconds; the steps of a
    test (each a ``scrapy-ws`` process) may together take longer on a busy
    machine. A paused spider stays running (and open) until it is stopped.
    """
    crawl.wait_for(r"Web service URL and token written to")
    client = WebServiceClient.discover()
    client.call("crawler/engine", "pause", spider)
    return client


def test_seed_commands_through_scrapy_ws(slow_shop, crawls, tmp_path, runtime_dir):
    crawl = crawler(crawls, slow_shop, tmp_path / "items.jsonl")
    crawl.service_url()
    hold_open(crawl)

    running = scrapy_ws("list-running")
    assert (running.returncode, running.stdout.split()) == (0, ["demo"]), running.stderr
    available = scrapy_ws("list-available")
    assert available.stdout.split() == ["demo", "demo2"]
    resources = scrapy_ws("list-resources").stdout.split()
    assert resources == [
        "crawler",
        "stats",
        "enginestatus",
        "events",
        "plugins",
        "health",
        "memory",
        "log",
        "stalls",
    ]
    global_stats = scrapy_ws("get-global-stats").stdout
    assert "start_time" in global_stats
    spider_stats = json.loads(scrapy_ws("--json", "get-spider-stats", "demo").stdout)
    assert spider_stats["log_count/INFO"] >= 1
    missing = scrapy_ws("get-spider-stats", "nope")
    assert missing.returncode == 4
    assert "No running spider named 'nope'" in missing.stderr

    stop = scrapy_ws("stop", "demo")
    assert stop.returncode == 0, stop.stderr
    assert crawl.wait() == 0
    assert "'finish_reason': 'closed_by_webservice'" in crawl.output
    assert count_lines(tmp_path / "items.jsonl") < PRODUCTS
    # the discovery file is gone with the service
    assert find_services() == []
    gone = scrapy_ws("list-running")
    assert gone.returncode == 3
    assert "no running web service found" in gone.stderr


def test_seed_client_script_keeps_working(slow_shop, crawls, tmp_path):
    crawl = crawler(crawls, slow_shop, tmp_path / "items.jsonl")
    url = crawl.service_url()
    hold_open(crawl)
    [info] = find_services()
    port = url.rstrip("/").rsplit(":", 1)[1]

    def seed(*args: str) -> str:
        result = subprocess.run(
            [
                sys.executable,
                str(PROJECT / "seed_scrapy_ws.py"),
                "-H",
                "127.0.0.1",
                "-P",
                port,
                "--token",
                info["token"],
                *args,
            ],
            capture_output=True,
            text=True,
            timeout=30,
            check=True,
        )
        return result.stdout

    assert seed("list-running").split() == ["demo"]
    assert seed("list-available").split() == ["demo", "demo2"]
    assert "enginestatus" in seed("list-resources").split()
    assert "start_time" in seed("get-global-stats")
    assert "start_time" in seed("get-spider-stats", "demo")
    seed("stop", "demo")
    assert crawl.wait() == 0
    assert "'finish_reason': 'closed_by_webservice'" in crawl.output


def test_two_crawlers_share_one_service(slow_shop, crawls):
    process = Process([sys.executable, "run_two.py", slow_shop], cwd=PROJECT)
    crawls.append(process)
    process.wait_for(r"Web service URL and token written to")
    client = WebServiceClient.discover()
    deadline = time.monotonic() + 30
    while sorted(client.get("crawler/engine/open_spiders")) != ["demo", "demo2"]:
        assert time.monotonic() < deadline, process.output_tail()
        time.sleep(0.1)
    status = client.get("enginestatus")
    assert sorted(status) == ["demo", "demo2"]

    def received(spider: str) -> int:
        return client.call("stats", "get_value", "response_received_count", 0, spider)

    # Pausing one spider leaves the other running.
    client.call("crawler/engine", "pause", "demo2")
    deadline = time.monotonic() + 30
    while client.call("crawler/engine", "state", "demo2")["state"] != "paused":
        assert time.monotonic() < deadline, process.output_tail()
        time.sleep(0.05)
    paused_at, running_at = received("demo2"), received("demo")
    deadline = time.monotonic() + 30
    while received("demo") <= running_at:
        assert time.monotonic() < deadline, "the other spider stopped too"
        time.sleep(0.05)
    assert received("demo2") == paused_at
    assert client.call("crawler/engine", "state", "demo")["state"] == "running"
    rates = client.call("stats", "get_rates")
    assert (rates["demo"]["state"], rates["demo2"]["state"]) == ("running", "paused")
    extensions = client.get("crawler/extensions")
    assert "scrapy_webservice.server.extension.WebService" in extensions["demo2"]
    assert client.call("stats", "get_stats", "demo2")["start_time"]
    # Hold demo open while demo2 closes (it would finish by itself within seconds).
    client.call("crawler/engine", "pause", "demo")
    client.call("crawler/engine", "close_spider", "demo2")
    deadline = time.monotonic() + 30
    while client.get("crawler/engine/open_spiders") != ["demo"]:
        assert time.monotonic() < deadline, process.output_tail()
        time.sleep(0.1)
    client.call("crawler/engine", "unpause", "demo")
    assert process.output.count("Web service listening on") == 1
    assert process.wait() == 0
    assert "'finish_reason': 'closed_by_webservice'" in process.output
    assert "'finish_reason': 'finished'" in process.output
    assert "Web service stopped" in process.output


def test_port_range_taken_logs_one_error_and_the_crawl_finishes(fast_shop, crawls, tmp_path):
    holder = free_port_holder()
    port = holder.getsockname()[1]
    try:
        crawl = crawler(
            crawls,
            fast_shop,
            tmp_path / "items.jsonl",
            settings={"WEBSERVICE_PORT": f"{port},{port}"},
        )
        assert crawl.wait() == 0
    finally:
        holder.close()
    errors = [line for line in crawl.lines if "] ERROR:" in line]
    assert len(errors) == 1, errors
    assert f"Web service not started: cannot listen on 127.0.0.1 port {port}:" in errors[0]
    assert "Traceback" not in crawl.output
    assert count_lines(tmp_path / "items.jsonl") == PRODUCTS


def test_bad_requests_leave_the_crawl_untouched(slow_shop, crawls, tmp_path):
    crawl = crawler(crawls, slow_shop, tmp_path / "items.jsonl")
    url = crawl.service_url()
    crawl.wait_for(r"Web service URL and token written to")
    token = find_services()[0]["token"]

    assert http(url + "stats").status == 401
    assert http(url + "stats", token="wrong").status == 401
    assert http(url + "stats", token=token, headers={"Host": "attacker.example"}).status == 403
    for path in ("crawler/_facade", "crawler/engine/_service", "crawler/%5F%5Fclass%5F%5F"):
        assert http(url + path, token=token).status == 404, path
    private = rpc(url + "crawler/engine", "_service", token=token)
    assert private.json["error"]["code"] == -32601
    for body in (b"{nope", b"\xff\xfe", b"[" * 50000, b'{"jsonrpc": "2.0", "method": 5}'):
        reply = http(
            url + "crawler/engine",
            "POST",
            body,
            headers={"Content-Type": "application/json"},
            token=token,
        )
        assert reply.status == 200
        assert reply.json["error"]["code"] in (-32700, -32600)
    bad_params = rpc(url + "crawler/engine", "close_spider", [1, 2, 3], token=token)
    assert bad_params.json["error"]["code"] == -32602

    assert crawl.wait() == 0
    assert "'finish_reason': 'finished'" in crawl.output
    assert count_lines(tmp_path / "items.jsonl") == PRODUCTS
    assert "Traceback" not in crawl.output


def test_disabled_service_does_not_listen(fast_shop, crawls, tmp_path: Path):
    crawl = crawler(
        crawls, fast_shop, tmp_path / "items.jsonl", settings={"WEBSERVICE_ENABLED": "False"}
    )
    assert crawl.wait() == 0
    assert "Web service" not in crawl.output
    assert count_lines(tmp_path / "items.jsonl") == PRODUCTS


def test_discovery_file_is_removed_on_a_forced_shutdown(slow_shop, crawls, tmp_path, runtime_dir):
    crawl = crawler(crawls, slow_shop, tmp_path / "items.jsonl")
    crawl.wait_for(r"Web service URL and token written to")
    assert len(list(runtime_dir.rglob("*.json"))) == 1
    crawl.proc.send_signal(signal.SIGINT)
    crawl.wait_for(r"Received SIGINT")
    crawl.proc.send_signal(signal.SIGINT)  # the second one forces the shutdown
    crawl.wait(60)
    assert "forcing unclean shutdown" in crawl.output
    assert list(runtime_dir.rglob("*.json")) == []
