"""Abuse of a real crawl's service: fuzzed HTTP, then load. Nothing may reach the crawl.

Each test runs ``scrapy crawl`` of a local shop, abuses the service while
the crawl runs, and checks that every answer was well formed and that the
crawl scraped exactly what an undisturbed crawl scrapes.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import random
import socket
import threading
import time
import urllib.parse
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrapy_webservice.cli.client import WebServiceClient
from scrapy_webservice.testing import start_shop

from .processes import Crawl, count_lines

pytestmark = pytest.mark.integration

READONLY = "fuzz-readonly-" + "r" * 24


@pytest.fixture
def shop(request) -> Any:
    products, delay = request.param
    process, url = start_shop(products, delay)
    yield products, url
    process.stop()


def start(
    crawls, shop_url: str, tmp_path: Path
) -> tuple[Crawl, WebServiceClient, tuple[str, int]]:
    """The crawl, a client of its service with the full token, and the service's address."""
    crawl = Crawl(
        shop_url, tmp_path / "items.jsonl", settings={"WEBSERVICE_READONLY_TOKEN": READONLY}
    )
    crawls.append(crawl)
    crawl.wait_for(r"Web service URL and token written to")
    client = WebServiceClient.discover()
    url = urllib.parse.urlsplit(client.url)
    return crawl, client, (url.hostname, url.port)


def wait_paused(client: WebServiceClient) -> None:
    client.call("crawler/engine", "pause", "demo")
    deadline = time.monotonic() + 30
    while client.call("crawler/engine", "state", "demo")["state"] != "paused":
        assert time.monotonic() < deadline
        time.sleep(0.05)


# -- fuzzed HTTP ---------------------------------------------------------------------------

SEGMENTS = [
    "",
    "crawler",
    "engine",
    "spiders",
    "open_spiders",
    "extensions",
    "stats",
    "enginestatus",
    "demo",
    "plugins",
    "health",
    "..",
    "%2e%2e",
    "%2F",
    "%2fetc%2fpasswd",
    "_engine",
    "_service",
    "__class__",
    "__dict__",
    "%5F%5Fclass%5F%5F",
    "close_spider",
    "%00",
    "%ff%fe",
    "a" * 300,
]
METHODS = ["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE", "BREW", "get"]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=10),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=6), children, max_size=4)
    ),
    max_leaves=20,
)
rpc_bodies = st.fixed_dictionaries(
    {"jsonrpc": st.just("2.0"), "id": st.integers()},
    optional={
        "method": st.sampled_from(
            ["get_stats", "get_rates", "close_spider", "pause", "list", "rpc.discover", "x"]
        ),
        "params": st.lists(json_values, max_size=3) | st.dictionaries(st.text(), json_values),
    },
).map(lambda r: json.dumps(r).encode())
bodies = (
    st.just(b"")
    | st.binary(max_size=200)
    | rpc_bodies
    | st.lists(rpc_bodies, max_size=150).map(lambda b: b"[" + b",".join(b) + b"]")
    | st.integers(min_value=1, max_value=20_000).map(lambda n: b"[" * n)
    | st.just(b"9" * 5000)
    | st.just(b"x" * (1024 * 1024 + 1))
)
requests = st.fixed_dictionaries(
    {
        "method": st.sampled_from(METHODS),
        "path": st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=4).map(
            lambda parts: "/" + "/".join(parts)
        ),
        "token": st.sampled_from([None, READONLY, "wrong", "Bearer", ""]),
        "content_type": st.sampled_from(
            [None, "application/json", "text/plain", "application/json; charset=latin-1", "x"]
        ),
        "host": st.sampled_from(["127.0.0.1", "localhost", "evil.example", "127.0.0.1:1", ""]),
        "origin": st.sampled_from([None, "http://evil.example", "null"]),
        "body": bodies,
        "query": st.sampled_from(["", "?a=1", "?%ff", "?" + "x" * 2000]),
    }
)


def send(address: tuple[str, int], spec: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    lines = [f"{spec['method']} {spec['path']}{spec['query']} HTTP/1.1"]
    if spec["host"]:
        lines.append(f"Host: {spec['host']}")
    if spec["token"] is not None:
        lines.append(f"Authorization: Bearer {spec['token']}")
    if spec["content_type"]:
        lines.append(f"Content-Type: {spec['content_type']}")
    if spec["origin"]:
        lines.append(f"Origin: {spec['origin']}")
    lines.append(f"Content-Length: {len(spec['body'])}")
    lines.append("Connection: close")
    raw = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + spec["body"]
    with socket.create_connection(address, timeout=20) as sock:
        # An answer (413) may come before the whole body was taken.
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            sock.sendall(raw)
        response = http.client.HTTPResponse(sock, method=spec["method"].upper())
        response.begin()
        headers = {k.lower(): v for k, v in response.getheaders()}
        body = b"" if spec["method"] == "HEAD" else response.read()
        return response.status, headers, body


@pytest.mark.parametrize("shop", [(120, 0.2)], indirect=True)
def test_fuzzed_requests_get_json_answers_and_the_crawl_loses_nothing(shop, crawls, tmp_path):
    products, shop_url = shop
    crawl, client, address = start(crawls, shop_url, tmp_path)
    wait_paused(client)  # so that the crawl outlives the fuzzing, whatever its length
    statuses: Counter[int] = Counter()

    @settings(
        max_examples=300,
        deadline=None,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )
    @given(spec=requests)
    def fuzz(spec: dict[str, Any]) -> None:
        status, headers, body = send(address, spec)
        statuses[status] += 1
        assert status < 500, (spec, status, body[:300])
        assert b"Traceback" not in body
        assert b"<html" not in body.lower(), "Twisted's HTML pages never reach a client"
        if status >= 400 and body:
            assert headers["content-type"] == "application/json", (spec, status)
            assert "error" in json.loads(body)

    fuzz()
    assert sum(statuses.values()) >= 300
    # The service still serves, the crawl was never touched: resume, and all is scraped.
    assert client.call("crawler/engine", "state", "demo")["state"] == "paused"
    client.call("crawler/engine", "unpause", "demo")
    assert crawl.wait(180) == 0
    assert "'finish_reason': 'finished'" in crawl.output
    assert count_lines(tmp_path / "items.jsonl") == products
    assert "Traceback" not in crawl.output
    print(f"fuzzed requests by status: {dict(sorted(statuses.items()))}")


# -- load ------------------------------------------------------------------------------------

CLIENTS = 200
SECONDS = 15


def rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1])
    raise AssertionError("no VmRSS")


class LoadClient(threading.Thread):
    """One client on a keep-alive connection, mixing GETs and JSON-RPC calls until told."""

    def __init__(self, address: tuple[str, int], token: str, stop: threading.Event, seed: int):
        super().__init__(daemon=True)
        self.address, self.token, self.stop = address, token, stop
        self.random = random.Random(seed)  # noqa: S311 (a request mix, not a secret)
        # From four loopback addresses: one address may hold at most
        # WEBSERVICE_MAX_CONNECTIONS_PER_ADDRESS (128) connections.
        self.source = (f"127.0.0.{2 + seed % 4}", 0)
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []
        self.start()

    def run(self) -> None:
        conn = http.client.HTTPConnection(*self.address, timeout=30, source_address=self.source)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        calls = [
            ("GET", "/stats", None),
            ("GET", "/enginestatus/demo", None),
            ("GET", "/crawler/engine/open_spiders", None),
            ("POST", "/stats", {"jsonrpc": "2.0", "method": "get_stats", "id": 1}),
            (
                "POST",
                "/stats",
                {"jsonrpc": "2.0", "method": "get_rates", "params": ["demo"], "id": 2},
            ),
        ]
        while not self.stop.is_set():
            method, path, payload = self.random.choice(calls)
            body = None if payload is None else json.dumps(payload).encode()
            try:
                conn.request(method, path, body=body, headers=headers)
                response = conn.getresponse()
                response.read()
                self.statuses[response.status] += 1
            except (OSError, http.client.HTTPException) as exc:
                self.errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(
                    *self.address, timeout=30, source_address=self.source
                )
        conn.close()


def stalled_event_reader(address: tuple[str, int], token: str) -> socket.socket:
    """An /events client that never reads: the service must drop it, not buffer for it."""
    sock = socket.create_connection(address)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    headers = f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
    sock.sendall(f"GET /events HTTP/1.1\r\n{headers}\r\n".encode())
    return sock


# Slow enough that the crawl outlives the load: with the service's share of the
# reactor bounded, the load no longer slows the crawl much.
@pytest.mark.parametrize("shop", [(400, 0.6)], indirect=True)
def test_load_answers_every_request_and_the_crawl_loses_nothing(shop, crawls, tmp_path):
    products, shop_url = shop
    crawl, _, address = start(crawls, shop_url, tmp_path)
    time.sleep(1)  # past start-up, for the memory baseline
    assert crawl.proc.poll() is None, crawl.output_tail(40)
    before = rss_kib(crawl.proc.pid)
    stalled = [stalled_event_reader(address, READONLY) for _ in range(5)]
    stop = threading.Event()
    clients = [LoadClient(address, READONLY, stop, seed) for seed in range(CLIENTS)]
    time.sleep(SECONDS)
    stop.set()
    for load_client in clients:
        load_client.join(60)
    for sock in stalled:
        sock.close()
    statuses = sum((c.statuses for c in clients), Counter())
    errors = [error for c in clients for error in c.errors]
    assert errors == [], (Counter(e.split("(")[0] for e in errors), crawl.output_tail(30))
    assert set(statuses) == {200}, statuses
    served = statuses[200]
    assert served > CLIENTS  # every client got answers
    time.sleep(2)
    after = rss_kib(crawl.proc.pid)
    assert crawl.proc.poll() is None, "the crawl outlived the load"
    assert after - before < 32 * 1024, f"RSS grew by {(after - before) // 1024} MiB"

    assert crawl.wait(300) == 0
    assert "'finish_reason': 'finished'" in crawl.output
    assert count_lines(tmp_path / "items.jsonl") == products
    print(
        f"load: {served} requests answered by {CLIENTS} clients in {SECONDS} s;"
        f" RSS {before // 1024} -> {after // 1024} MiB"
    )


@pytest.mark.parametrize("shop", [(200, 0.2)], indirect=True)
def test_the_crawl_closes_cleanly_with_requests_in_flight(shop, crawls, tmp_path):
    _, shop_url = shop
    crawl, client, address = start(crawls, shop_url, tmp_path)
    streams = [stalled_event_reader(address, client.token) for _ in range(3)]
    stop = threading.Event()
    clients = [LoadClient(address, client.token, stop, seed) for seed in range(20)]
    time.sleep(1)
    client.call("crawler/engine", "close_spider", "demo")
    assert crawl.wait(60) == 0
    stop.set()
    for load_client in clients:
        load_client.join(60)
    for sock in streams:
        sock.close()
    answered = sum(sum(c.statuses.values()) for c in clients)
    assert answered > 0
    # Clients see answers, then a closed port; the crawl logs no error about it.
    statuses = sum((c.statuses for c in clients), Counter())
    # 404: enginestatus/demo once demo has closed; never a 5xx.
    assert set(statuses) <= {200, 404}, statuses
    assert "'finish_reason': 'closed_by_webservice'" in crawl.output
    assert "Traceback" not in crawl.output
    assert "ERROR" not in crawl.output
    assert "Web service stopped" in crawl.output
