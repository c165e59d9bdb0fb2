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
import pytest_twisted

from scrapy_webservice.cli import WebServiceClient, find_services

from .processes import PRODUCTS, Crawl, count_lines, scrapy_ws, wait_until

try:
    from scrapy.utils.reactorless import is_reactorless  # noqa: F401 (Scrapy 2.15+)
except ImportError:  # pragma: no cover - the oldest Scrapy of noxfile.py
    pytest.skip(
        "Scrapy before 2.15 has no reactorless mode (TWISTED_REACTOR_ENABLED)",
        allow_module_level=True,
    )

pytestmark = pytest.mark.integration

REACTORLESS = {"TWISTED_REACTOR_ENABLED": "False"}


def as_json(*args: str) -> dict:
    done = scrapy_ws("--json", *args)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


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


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("WEBSERVICE_UNIX_SOCKET", "ws.sock"),
        ("WEBSERVICE_TLS_CERTIFICATE", "cert.pem"),
    ],
)
def test_what_the_asyncio_front_lacks_is_refused_at_start(setting, value, tmp_path, caplog):
    """On the asyncio front (run here on Twisted's asyncio reactor), with one ERROR line."""
    from scrapy_webservice.testing import start_service

    settings = {setting: str(tmp_path / value)}
    if setting == "WEBSERVICE_TLS_CERTIFICATE":
        (tmp_path / "cert.pem").write_text("")
        (tmp_path / "key.pem").write_text("")
        settings["WEBSERVICE_TLS_KEY"] = str(tmp_path / "key.pem")
    with caplog.at_level("ERROR"):
        service = start_service(settings=settings, front="asyncio")
    assert service.failed
    assert service.port is None
    [record] = [r for r in caplog.records if r.levelname == "ERROR"]
    assert record.getMessage().startswith(f"Web service not started: {setting} needs Twisted's")


@pytest.mark.parametrize("front", ["twisted", "asyncio"])
@pytest_twisted.ensureDeferred
async def test_a_resource_written_for_twisted_runs_unchanged_on_both_fronts(webservice, front):
    """test_http's resources (written against the Twisted API), on each front in turn."""
    from .test_http import RESOURCES

    served = webservice(front=front, WEBSERVICE_RESOURCES=RESOURCES)
    root = await served.get()
    assert root.status == 200
    assert {"plain", "coro", "boom", "missing", "counter"} <= set(root.json["resources"])
    assert (await served.get("plain")).json == {"when": "2026-01-01", "tags": ["a", "b"]}
    assert (await served.get("coro")).json == {"coroutine": True}
    boom = await served.get("boom")
    assert boom.status == 500
    assert "secret" not in boom.body.decode()
    assert (await served.get("missing")).status == 404
    assert (await served.get("nothing-here")).status == 404
    added = await served.rpc("counter", "add", [2])
    assert added.status == 200
    value = added.json["result"]
    assert (await served.rpc("counter", "slow_get")).json["result"] == value
    assert (await served.rpc("counter", "deferred_get")).json["result"] == value
    assert (await served.get("counter/get")).json == value
    assert (await served.get("counter/label")).json == "counter"
    assert (await served.get("counter/_secret")).status == 404
    assert (await served.get("plain", token=None)).status == 401
