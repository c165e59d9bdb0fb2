"""The real Prometheus server scrapes a real crawl through file-based discovery.

Needs the ``prometheus`` binary (Debian package ``prometheus``); without it
the test is skipped with the command that installs it, and CI, which sets
``SCRAPY_WS_REQUIRE_PROMETHEUS=1``, fails instead.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.parse
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scrapy_webservice_prometheus.targets import write_targets

TOKEN = "prometheus-reads-" + "x" * 24
INSTALL = "apt-get install prometheus (or run plugins/prometheus/install-prometheus.sh)"


@pytest.fixture
def prometheus_binary() -> str:
    path = shutil.which("prometheus")
    if path is None:
        message = f"the real Prometheus server is needed: {INSTALL}"
        if os.environ.get("SCRAPY_WS_REQUIRE_PROMETHEUS"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def api(base: str, path: str, **query: str) -> Any:
    url = f"{base}/api/v1/{path}"
    if query:
        url += "?" + urllib.parse.urlencode(query)
    with urllib.request.urlopen(url, timeout=5) as response:
        return json.load(response)["data"]


@contextlib.contextmanager
def running_prometheus(
    binary: str,
    directory: Path,
    scrape_configs: list[dict[str, Any]],
    web: dict[str, Any] | None = None,
) -> Iterator[str]:
    """A real Prometheus on 127.0.0.1 scraping every second; yields its base URL.

    ``web`` is its web configuration (TLS, basic auth): then the URL is https
    when it has a TLS section. Stopped on the way out, killed if it hangs.
    """
    config = {
        "global": {"scrape_interval": "1s", "scrape_timeout": "1s"},
        "scrape_configs": scrape_configs,
    }
    config_file = directory / "prometheus.yml"
    config_file.write_text(json.dumps(config))  # JSON is YAML
    args = [
        binary,
        f"--config.file={config_file}",
        f"--storage.tsdb.path={directory / 'data'}",
    ]
    if web is not None:
        (directory / "web.yml").write_text(json.dumps(web))
        args.append(f"--web.config.file={directory / 'web.yml'}")
    port = free_port()
    args.append(f"--web.listen-address=127.0.0.1:{port}")
    server = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    scheme = "https" if web is not None and "tls_server_config" in web else "http"
    try:
        yield f"{scheme}://127.0.0.1:{port}"
    finally:
        server.terminate()
        try:
            server.wait(15)
        except subprocess.TimeoutExpired:
            server.kill()


def wait_for(what: str, condition, timeout: float = 60) -> Any:
    deadline = time.monotonic() + timeout
    last_error: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if result := condition():
                return result
        except OSError as exc:  # Prometheus still starting
            last_error = exc
        time.sleep(0.25)
    raise AssertionError(f"{what}: not seen within {timeout} s (last error: {last_error})")


@pytest.mark.parametrize("reactorless", [False, True], ids=["reactor", "reactorless"])
def test_prometheus_scrapes_the_crawl_and_a_wrong_token_is_down(
    prometheus_binary, webservice_crawl, tmp_path: Path, reactorless: bool
):
    crawl = webservice_crawl(
        plugins=["prometheus"],
        settings={"WEBSERVICE_READONLY_TOKEN": TOKEN},
        products=400,
        delay=0.3,
        reactorless=reactorless,
    )
    client = crawl.client
    targets_file = tmp_path / "targets.json"
    [group] = write_targets(targets_file, crawl.discovery)
    service = urllib.parse.urlsplit(client.url).netloc
    assert group["targets"] == [service]

    scrape_configs = [
        {
            "job_name": "crawls",
            "authorization": {"type": "Bearer", "credentials": TOKEN},
            "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "1s"}],
        },
        {
            "job_name": "wrong-token",
            "authorization": {"type": "Bearer", "credentials": "wrong"},
            "static_configs": [{"targets": [service]}],
        },
    ]
    try:
        with running_prometheus(prometheus_binary, tmp_path, scrape_configs) as base:

            def scraped_targets() -> dict[str, dict[str, Any]] | None:
                active = api(base, "targets")["activeTargets"]
                health = {t["labels"]["job"]: t for t in active if t["health"] != "unknown"}
                return health if len(health) == 2 else None

            targets = wait_for("both targets scraped", scraped_targets)
            assert targets["crawls"]["health"] == "up", targets["crawls"]["lastError"]
            assert targets["crawls"]["labels"]["pid"] == str(group["labels"]["pid"])
            assert targets["wrong-token"]["health"] == "down"
            assert "401" in targets["wrong-token"]["lastError"]

            def responses() -> list[dict[str, Any]]:
                query = 'scrapy_response_received_total{job="crawls", spider="demo"}'
                return api(base, "query", query=query)["result"]

            [series] = wait_for("a scraped crawl counter", responses)
            assert float(series["value"][1]) > 0
            names = api(base, "label/__name__/values", **{"match[]": '{spider="demo"}'})
            assert {
                "scrapy_item_scraped_total",
                "scrapy_engine_in_flight_requests",
                "scrapy_engine_state",
                "scrapy_pages_per_minute",
            } <= set(names)
            assert all(name.startswith("scrapy_") for name in names)
    finally:
        client.call("crawler/engine", "close_spider", "demo")
    assert crawl.wait() == 0
