"""Scrapy without a reactor (``TWISTED_REACTOR_ENABLED = False``): the asyncio front serves.

Real ``scrapy crawl`` processes of the demo shop in that mode, steered by
the real ``scrapy-ws`` through the discovery file, as with a reactor. In
that mode Scrapy installs an import hook that refuses
``twisted.internet.reactor``: any import of it by the service would be an
``ImportError`` in the crawl's log, which these tests read whole.
"""

from __future__ import annotations

import http.client
import json
import urllib.parse

import pytest

from scrapy_webservice.cli import WebServiceClient, find_services

from .processes import PRODUCTS, Crawl, as_json, count_lines, scrapy_ws, wait_until

try:
    from scrapy.utils.reactorless import is_reactorless  # noqa: F401 (Scrapy 2.15+)
except ImportError:  # pragma: no cover - the oldest Scrapy of noxfile.py
    pytest.skip(
        "Scrapy before 2.15 has no reactorless mode (TWISTED_REACTOR_ENABLED)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.integration

REACTORLESS = {"TWISTED_REACTOR_ENABLED": "False"}


def clean_log(crawl: Crawl) -> None:
    """Nothing went wrong in the crawl: no error, no traceback, no reactor imported."""
    output = crawl.output
    assert "Traceback" not in output, crawl.output_tail()
    assert " ERROR: " not in output, crawl.output_tail()
    assert "twisted.internet.reactor is forbidden" not in output


def raw_get(url: str, path: str, headers: dict[str, str] | None = None) -> tuple[int, bytes]:
    parts = urllib.parse.urlsplit(url)
    connection = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        connection.request("GET", path, headers=headers or {})
        answer = connection.getresponse()
        return answer.status, answer.read()
    finally:
        connection.close()


def test_a_reactorless_crawl_is_served_and_steered_by_scrapy_ws(slow_shop, crawls, tmp_path):
    items = tmp_path / "items.jsonl"
    crawl = Crawl(slow_shop, items, settings=REACTORLESS)
    crawls.append(crawl)
    url = crawl.service_url()
    assert "Spider opened" in crawl.output  # the crawl itself runs without a reactor

    # The seed's commands and the live view, through the discovery file.
    assert scrapy_ws("list-running").stdout.split() == ["demo"]
    assert "stats" in scrapy_ws("list-resources").stdout.split()
    status = as_json("status")
    assert list(status) == ["demo"]
    assert status["demo"]["state"] == "running"

    # Pause, enqueue while paused, resume.
    assert as_json("pause", "demo", "--wait")["state"] == "paused"
    extra = f"{slow_shop.rstrip('/')}/product/3?ref=reactorless"
    queued = as_json("enqueue", "demo", extra, "--callback", "parse_product")
    assert (queued["scheduled"], queued["paused"]) == (1, True)
    assert as_json("resume", "demo")["state"] == "running"

    # JSON-RPC, GET of a read-only method, the token, /events.
    client = WebServiceClient.discover()
    wait_until(lambda: client.call("stats", "get_value", "item_scraped_count"), what="an item")
    assert client.get("stats/get_value?key=item_scraped_count") >= 1
    status, body = raw_get(url, "/stats/get_stats")
    assert status == 401
    assert json.loads(body)["error"]["status"] == 401
    event = next(client.events(names=["rates"], timeout=20))
    assert event.name == "rates"
    assert event.data["spider"] == "demo"

    # Stop: the crawl ends as asked, with every item it had, the discovery file gone.
    assert scrapy_ws("stop", "demo").returncode == 0
    assert crawl.wait(60) == 0, crawl.output_tail()
    assert "(closed_by_webservice)" in crawl.output
    assert count_lines(items) >= 1
    assert find_services() == []
    clean_log(crawl)


def test_a_reactorless_crawl_runs_to_its_end_with_the_service_checks(fast_shop, crawls, tmp_path):
    items = tmp_path / "items.jsonl"
    crawl = Crawl(fast_shop, items, settings={**REACTORLESS, "WEBSERVICE_LINGER": "30"})
    crawls.append(crawl)
    url = crawl.service_url()
    crawl.wait_for(r"Web service lingering")
    assert count_lines(items) == PRODUCTS
    client = WebServiceClient.discover()
    # The checks every request passes, before any resource: Host, Origin, size.
    token = {"Authorization": f"Bearer {client.token}"}
    assert raw_get(url, "/", {**token, "Host": "evil.example"})[0] == 403
    assert raw_get(url, "/", {**token, "Origin": "http://evil.example"})[0] == 403
    assert raw_get(url, "/nothing-here", token)[0] == 404
    assert raw_get(url, "/health")[0] == 200  # public, without a token
    status, body = raw_get(url, "/", token)
    assert status == 200
    assert "stats" in json.loads(body)["resources"]
    clean_log(crawl)
