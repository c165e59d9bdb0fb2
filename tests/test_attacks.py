"""Attacks on a real crawl's service: no token, wrong token, read-only token, other origins.

The browser test opens a page of another origin in headless Chromium; that
page tries every way a browser has to reach the service (``fetch`` with and
without CORS, a ``text/plain`` form that smuggles JSON). It runs against a
service with authentication *off* (allowed on loopback), so that what
stops it is the Origin, CORS and content-type rules, not the token.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from scrapy_webservice.cli.client import WebServiceClient
from scrapy_webservice.testing import http, rpc

from .processes import PRODUCTS, Crawl, count_lines

pytestmark = pytest.mark.integration

READONLY = "attack-readonly-" + "r" * 24


def start(crawls, shop_url: str, tmp_path: Path, **settings) -> Crawl:
    crawl = Crawl(shop_url, tmp_path / "items.jsonl", settings=settings)
    crawls.append(crawl)
    crawl.wait_for(r"Web service URL and token written to")
    return crawl


def json_rpc_endpoints(client: WebServiceClient) -> dict[str, list[dict]]:
    """Every JSON-RPC resource of the service and its methods, from ``rpc.discover``."""
    endpoints: dict[str, list[dict]] = {}
    pending = [name for name in client.get("")["resources"] if name != "events"]  # a stream
    while pending:
        path = pending.pop()
        listing = client.get(path)
        if not isinstance(listing, dict) or "methods" not in listing:
            continue
        endpoints[path] = client.call(path, "rpc.discover")["methods"]
        pending += [f"{path}/{name}" for name in listing["attributes"]]
    return endpoints


def test_no_method_of_any_resource_answers_without_the_right_token(
    slow_shop, crawls, tmp_path, caplog
):
    crawl = start(crawls, slow_shop, tmp_path, WEBSERVICE_READONLY_TOKEN=READONLY)
    client = WebServiceClient.discover()
    base = client.url
    endpoints = json_rpc_endpoints(client)
    assert {"crawler", "crawler/engine", "crawler/spiders", "stats"} <= set(endpoints)
    client.call("crawler/engine", "pause", "demo")  # so that the crawl outlives the attack

    tried = 0
    for path in ["", *client.get("")["resources"], "crawler/engine/open_spiders", "nope"]:
        if path == "health":
            continue
        for token in (None, "", "wrong", client.token + "x", client.token[:-1], READONLY + "x"):
            reply = http(base + path, token=token)
            assert reply.status == 401, (path, token)
            tried += 1
    control = []
    for path, methods in endpoints.items():
        for method in methods:
            params = ["demo"] if method["params"] else None
            for token in (None, "wrong"):
                assert rpc(base + path, method["name"], params, token=token).status == 401
                tried += 1
            if not method["x-readonly"]:
                control.append((path, method["name"]))
                refused = rpc(base + path, method["name"], params, token=READONLY)
                assert refused.json["error"]["code"] == -32003, (path, method)
                tried += 1
    assert ("crawler/engine", "close_spider") in control
    assert ("crawler/engine", "unpause") in control

    # Nothing reached the crawl: still paused, and resumed it scrapes everything.
    assert client.call("crawler/engine", "state", "demo")["state"] in ("pausing", "paused")
    client.call("crawler/engine", "unpause", "demo")
    assert crawl.wait() == 0
    assert "'finish_reason': 'finished'" in crawl.output
    assert count_lines(tmp_path / "items.jsonl") == PRODUCTS
    # The full token's two control calls are in the log, with the peer address.
    audit = re.findall(r"Control call (\S+) (\w+)\((.*)\) from (\S+)", crawl.output)
    assert [(path, name, peer) for path, name, _, peer in audit] == [
        ("/crawler/engine", "pause", "127.0.0.1"),
        ("/crawler/engine", "unpause", "127.0.0.1"),
    ]
    print(f"{tried} requests without the right token refused")


# -- another origin, in a real browser ----------------------------------------------------------

ATTACK_PAGE = """<!doctype html>
<html><head><title>attack</title></head><body>
<pre id="log"></pre>
<iframe name="sink" style="display:none"></iframe>
<form id="csrf" method="POST" action="{service}crawler/engine" enctype="text/plain" target="sink">
  <input name='{{"jsonrpc": "2.0", "method": "close_spider", "params": ["demo"], "id": 1, "x": "'
         value='"}}'>
</form>
<script>
const service = "{service}";
const body = JSON.stringify({{jsonrpc: "2.0", method: "close_spider", params: ["demo"], id: 1}});
const log = (text) => document.getElementById("log").textContent += text + "\\n";
async function attempt(name, url, options) {{
  try {{
    const response = await fetch(url, options);
    const text = await response.text();
    log(name + " READ " + response.status + " " + text.slice(0, 80));
  }} catch (error) {{
    log(name + " BLOCKED");
  }}
}}
(async () => {{
  await attempt("cors-json", service + "crawler/engine",
    {{method: "POST", headers: {{"Content-Type": "application/json"}}, body}});
  await attempt("no-cors-text", service + "crawler/engine",
    {{method: "POST", mode: "no-cors", headers: {{"Content-Type": "text/plain"}}, body}});
  await attempt("read-stats", service + "stats", {{}});
  document.getElementById("csrf").submit();
  log("DONE");
}})();
</script></body></html>
"""


@pytest.fixture
def chromium() -> str:
    path = shutil.which("chromium") or shutil.which("chromium-browser")
    if path is None:
        message = (
            "headless Chromium is needed: apt-get install chromium"
            " (or run plugins/dashboard/install-chromium.sh)"
        )
        if os.environ.get("SCRAPY_WS_REQUIRE_BROWSER"):
            pytest.fail(message)
        pytest.skip(message)
    return path


def serve_page(html: str) -> tuple[ThreadingHTTPServer, str]:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = html.encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server, f"http://127.0.0.1:{server.server_address[1]}/"


def test_a_page_of_another_origin_cannot_steer_the_crawl(slow_shop, crawls, tmp_path, chromium):
    access_log = tmp_path / "access.log"
    crawl = start(
        crawls,
        slow_shop,
        tmp_path,
        WEBSERVICE_AUTH_ENABLED="False",
        WEBSERVICE_LOGFILE=str(access_log),
    )
    client = WebServiceClient.discover()
    client.call("crawler/engine", "pause", "demo")  # the crawl outlives the page
    server, page_url = serve_page(ATTACK_PAGE.format(service=client.url))
    try:
        browser = subprocess.run(
            [
                chromium,
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--no-first-run",
                f"--user-data-dir={tmp_path / 'profile'}",
                "--virtual-time-budget=8000",
                "--dump-dom",
                page_url,
            ],
            capture_output=True,
            text=True,
            timeout=90,
            check=False,
        )
    finally:
        server.shutdown()
    dom = browser.stdout
    assert "DONE" in dom, browser.stderr[-2000:]
    assert "cors-json BLOCKED" in dom
    assert "read-stats BLOCKED" in dom
    # no-cors requests are sent but their answer is opaque to the page
    assert "no-cors-text READ 0" in dom

    # The requests did reach the service, and were refused there.
    def from_browser() -> list[str]:
        return [line for line in access_log.read_text().splitlines() if "HeadlessChrome" in line]

    deadline = time.monotonic() + 10
    while sum('"POST /crawler/engine' in line for line in from_browser()) < 2:
        assert time.monotonic() < deadline, access_log.read_text()
        time.sleep(0.1)
    tries = [line for line in from_browser() if "/crawler/engine" in line]
    assert tries
    assert all(re.search(r'" (403|415) ', line) for line in tries), tries
    assert "Control call" not in crawl.output.split("pause([")[-1]
    assert client.call("crawler/engine", "state", "demo")["state"] in ("pausing", "paused")
    client.call("crawler/engine", "unpause", "demo")
    assert crawl.wait() == 0
    assert "'finish_reason': 'finished'" in crawl.output
    assert count_lines(tmp_path / "items.jsonl") == PRODUCTS
    assert urllib.parse.urlsplit(page_url).port != urllib.parse.urlsplit(client.url).port
