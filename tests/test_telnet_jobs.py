"""The telnet console's jobs on real ``scrapy crawl`` processes: tune, feed, permissions.

Each test crawls the local shop in a subprocess and steers it over HTTP
with the client library, as a person or a script would. Speeds are
compared with each other in the same run, never with a duration.
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest

from scrapy_webservice.cli.client import JsonRpcError, WebServiceClient
from scrapy_webservice.testing import start_shop

from .processes import Crawl, wait_until

pytestmark = pytest.mark.integration

READER = "reader-token-for-tests"
SLOT = "127.0.0.1"


def start(
    crawls, shop_url: str, tmp_path: Path, **settings: Any
) -> tuple[Crawl, WebServiceClient]:
    crawl = Crawl(shop_url, tmp_path / "items.jsonl", settings=settings)
    crawls.append(crawl)
    crawl.wait_for(r"Web service URL and token written to")
    return crawl, WebServiceClient.discover()


def pages(client: WebServiceClient) -> int:
    return client.call("stats", "get_value", "response_received_count", 0, "demo")


def pages_per_second(client: WebServiceClient, seconds: float) -> float:
    """Pages the crawl received over about ``seconds``, per second."""
    first, started = pages(client), time.monotonic()
    time.sleep(seconds)
    return (pages(client) - first) / (time.monotonic() - started)


def error(client: WebServiceClient, path: str, method: str, *args: Any, **kwargs: Any):
    with pytest.raises(JsonRpcError) as caught:
        client.call(path, method, *args, **kwargs)
    return caught.value


@pytest.fixture
def big_shop():
    """Enough products that a crawl without delays is still running seconds later."""
    shop, url = start_shop(2000, delay=0.02)
    yield url
    shop.stop()


def test_a_delay_set_to_zero_speeds_the_crawl_up(big_shop, crawls, tmp_path):
    _, client = start(crawls, big_shop, tmp_path, DOWNLOAD_DELAY=1, RANDOMIZE_DOWNLOAD_DELAY=False)
    wait_until(lambda: pages(client) >= 2, what="2 pages")
    slow = pages_per_second(client, 4.0)
    answer = client.call("crawler/downloader", "set_delay", "demo", 0)
    assert answer["default_delay"] == 0
    assert [s["delay"] for s in answer["slots"]] == [0]
    fast = pages_per_second(client, 2.0)
    assert fast >= 3 * slow, (slow, fast)
    assert "autothrottle" not in answer  # AutoThrottle is off here


def test_a_slot_set_to_concurrency_one_transfers_one_at_a_time(crawls, tmp_path):
    shop, url = start_shop(400, delay=0.3)
    crawls.append(shop)
    _, client = start(crawls, url, tmp_path, CONCURRENT_REQUESTS=8)
    wait_until(
        lambda: any(
            s["transferring"] > 1
            for s in client.call("crawler/downloader", "slots", "demo")["slots"]
        ),
        what="several transfers at once",
    )
    client.call("crawler/downloader", "set_concurrency", "demo", 1, SLOT)
    seen: list[int] = []
    settled = False
    for _ in range(60):
        answer = client.call("crawler/downloader", "slots", "demo")
        (slot,) = answer["slots"]
        assert slot["concurrency"] == 1
        settled = settled or slot["transferring"] <= 1
        if settled:
            seen.append(slot["transferring"])
        time.sleep(0.1)
    assert seen, "the transfers already running never finished"
    assert max(seen) <= 1, seen
    assert 1 in seen  # it went on fetching, one at a time


def test_enqueued_urls_are_crawled_by_the_named_callback(slow_shop, crawls, tmp_path):
    crawl, client = start(crawls, slow_shop, tmp_path)
    wait_until(lambda: pages(client) >= 1, what="a page")
    client.call("crawler/engine", "pause", "demo")
    urls = [f"{slow_shop}product/{n}?via=webservice" for n in range(1, 11)]

    answer = client.call(
        "crawler/scheduler", "enqueue", spider="demo", urls=urls, callback="parse_product"
    )
    assert (answer["scheduled"], answer["duplicates"], answer["paused"]) == (10, 0, True)
    # A param named "method", as the client's own second argument is.
    again = client.call(
        "crawler/scheduler",
        "enqueue",
        spider="demo",
        urls=urls,
        callback="parse_product",
        method="GET",
    )
    assert (again["scheduled"], again["duplicates"]) == (0, 10)
    size = client.call("crawler/scheduler", "size", "demo")
    assert size["waiting"] >= 10
    assert size["queues"]["memory"] == size["waiting"]

    bad = error(
        client,
        "crawler/scheduler",
        "enqueue",
        spider="demo",
        urls=urls,
        callback="no_such_callback",
    )
    assert bad.code == -32602
    assert bad.data["callbacks"] == ["parse", "parse_product"]
    assert "parse_product" in bad.message
    for hidden in ("start", "closed", "log", "_private"):
        refused = error(
            client, "crawler/scheduler", "enqueue", spider="demo", urls=urls, callback=hidden
        )
        assert refused.code == -32602, hidden
    local = error(client, "crawler/scheduler", "enqueue", "demo", ["file:///etc/passwd"])
    assert local.code == -32602
    assert "file" in local.message
    assert "WEBSERVICE_ENQUEUE_SCHEMES" in local.message

    client.call("crawler/engine", "unpause", "demo")
    assert crawl.wait(timeout=120) == 0
    items = [json.loads(line) for line in (tmp_path / "items.jsonl").read_text().splitlines()]
    fed = sorted(item["url"] for item in items if item["url"].endswith("?via=webservice"))
    assert fed == sorted(urls)


#: Every control method of the new resources, with params that would work.
CONTROL_CALLS = [
    ("crawler/downloader", "set_delay", {"spider": "demo", "delay": 0.5}),
    ("crawler/downloader", "set_concurrency", {"spider": "demo", "concurrency": 2}),
    ("crawler/downloader", "set_total_concurrency", {"spider": "demo", "concurrency": 2}),
    ("crawler/downloader", "reset", {"spider": "demo"}),
    ("crawler/downloader", "set_autothrottle", {"spider": "demo", "enabled": False}),
    ("crawler/scheduler", "enqueue", {"spider": "demo", "urls": ["http://127.0.0.1:1/"]}),
    ("memory", "collect", {}),
    ("log", "set_level", {"level": "DEBUG"}),
]
READ_CALLS = [
    ("crawler/downloader", "slots", {"spider": "demo"}),
    ("crawler/downloader", "autothrottle", {"spider": "demo"}),
    ("crawler/scheduler", "size", {"spider": "demo"}),
    ("memory", "usage", {}),
    ("memory", "live_refs", {}),
    ("log", "get_level", {}),
    ("crawler/settings", "get", {"name": "BOT_NAME"}),
    ("crawler/settings", "names", {"prefix": "WEBSERVICE_"}),
]


def test_the_read_only_token_reads_but_never_controls(slow_shop, crawls, tmp_path):
    _, client = start(
        crawls, slow_shop, tmp_path, WEBSERVICE_READONLY_TOKEN=READER, AUTOTHROTTLE_ENABLED=True
    )
    reader = WebServiceClient(client.url, READER)
    wait_until(lambda: pages(client) >= 1, what="a page")
    for path, method, params in CONTROL_CALLS:
        refused = error(reader, path, method, **params)
        assert refused.code == -32003, (path, method)
    assert client.call("crawler/downloader", "slots", "demo")["total_concurrency"] == 4
    assert client.call("log", "get_level")["level"] == "INFO"
    for path, method, params in READ_CALLS:
        reader.call(path, method, **params)
    throttle = reader.call("crawler/downloader", "autothrottle", "demo")
    assert (throttle["loaded"], throttle["enabled"]) == (True, True)
    tuned = client.call("crawler/downloader", "set_delay", "demo", 0.1)
    assert "AutoThrottle is on" in tuned["autothrottle"]
    off = client.call(
        "crawler/downloader",
        "set_autothrottle",
        spider="demo",
        enabled=False,
        target_concurrency=2.0,
    )
    assert (off["enabled"], off["target_concurrency"]) == (False, 2.0)
    assert "autothrottle" not in client.call("crawler/downloader", "slots", "demo")
