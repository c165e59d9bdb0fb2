"""``scrapy-ws --prometheus URL mcp``: an agent gets the fleet Prometheus discovers.

Two real crawls with the Prometheus plugin (the mcp plugin's CI installs it
for this test), one real Prometheus scraping both through file_sd, and the
MCP server started on Prometheus's URL with the fleet's token: it attaches
to both, and a tool reaches each by its service.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.request
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from conftest import call_ok

pytestmark = pytest.mark.anyio

TOKEN = "mcp-fleet-token-" + "t" * 24
TEST_TIMEOUT = 150


def prometheus_or_skip() -> str:
    path = shutil.which("prometheus")
    if path is None:
        message = "the real Prometheus server is needed: apt-get install prometheus"
        if os.environ.get("SCRAPY_WS_REQUIRE_PROMETHEUS"):
            pytest.fail(message)
        pytest.skip(message)
    try:
        import scrapy_webservice_prometheus  # noqa: F401
    except ImportError:
        pytest.skip("needs the Prometheus plugin: pip install -e plugins/prometheus")
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def targets_up(base: str, count: int) -> bool:
    try:
        with urllib.request.urlopen(f"{base}/api/v1/targets", timeout=5) as response:
            active = json.load(response)["data"]["activeTargets"]
    except OSError:
        return False
    return len(active) == count and all(t["health"] == "up" for t in active)


async def test_the_mcp_server_attaches_to_the_fleet(webservice_crawl, mcp_server, tmp_path: Path):
    binary = prometheus_or_skip()
    settings = {"WEBSERVICE_TOKEN": TOKEN}
    crawls = [
        webservice_crawl(plugins=["prometheus"], settings=settings, products=600, delay=0.3)
        for _ in range(2)
    ]
    with anyio.fail_after(TEST_TIMEOUT):
        clients = [await anyio.to_thread.run_sync(lambda c=c: c.client) for c in crawls]
        instances = [c.url.split("//", 1)[1].rstrip("/") for c in clients]
        config = {
            "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
            "scrape_configs": [
                {
                    "job_name": "crawls",
                    "authorization": {"type": "Bearer", "credentials": TOKEN},
                    "static_configs": [{"targets": instances}],
                }
            ],
        }
        config_file = tmp_path / "prometheus.yml"
        config_file.write_text(json.dumps(config))
        port = free_port()
        server = subprocess.Popen(
            [
                binary,
                f"--config.file={config_file}",
                f"--storage.tsdb.path={tmp_path / 'data'}",
                f"--web.listen-address=127.0.0.1:{port}",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while not await anyio.to_thread.run_sync(targets_up, base, 2):
                assert time.monotonic() < deadline, "Prometheus never scraped both crawls"
                await anyio.sleep(0.25)
            async with mcp_server(
                "--prometheus",
                base,
                f"--token={TOKEN}",
                "mcp",
                "--",
                "--discovery-dir",
                str(tmp_path / "nothing-here"),
            ) as session:
                services = (await call_ok(session, "list_services"))["services"]
                assert sorted(s["url"] for s in services) == sorted(c.url for c in clients)
                assert all(s["access"] == "control" for s in services)
                for client, instance in zip(clients, instances, strict=True):
                    spiders = await call_ok(
                        session, "get_crawler_engine_open_spiders", {"service": instance}
                    )
                    assert spiders == ["demo"], client.url
        finally:
            server.terminate()
            server.wait(timeout=10)
