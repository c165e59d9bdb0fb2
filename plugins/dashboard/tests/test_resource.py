"""``/dashboard`` over real HTTP in this process: public shell and files, strict headers,
a fixed list of files, and data that still needs the token."""

from __future__ import annotations

import inspect
import logging
import re
import time

import pytest
import pytest_twisted
from twisted.internet import reactor, task

import scrapy_webservice_dashboard
from scrapy_webservice_dashboard.resource import ASSETS, PAGE, asset_bytes

DIRECTIVES = {
    "default-src": "'none'",
    "script-src": "'self'",
    "style-src": "'self'",
    "img-src": "'self'",
    "connect-src": "'self'",
    "frame-ancestors": "'none'",
    "form-action": "'none'",
    "base-uri": "'none'",
}


def csp(header: str) -> dict[str, str]:
    policy = {}
    for part in header.split(";"):
        name, _, value = part.strip().partition(" ")
        policy[name] = value.strip()
    return policy


def assert_locked_down(reply) -> None:
    assert csp(reply.headers["content-security-policy"]) == DIRECTIVES
    assert reply.headers["x-frame-options"] == "DENY"
    assert reply.headers["referrer-policy"] == "no-referrer"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert reply.headers["cache-control"] == "no-store"
    assert "set-cookie" not in reply.headers


@pytest_twisted.ensureDeferred
async def test_page_is_public_static_and_locked_down(webservice):
    served = webservice(scrapy_webservice_dashboard)
    assert "dashboard" in (await served.get("")).json["resources"]
    reply = await served.get("dashboard/", token=None)
    assert reply.status == 200
    assert reply.headers["content-type"] == "text/html; charset=utf-8"
    assert_locked_down(reply)
    # No data: the packaged file as it is, whoever asks and whatever runs.
    assert reply.body == asset_bytes(PAGE)
    assert (await served.get("dashboard/")).body == reply.body
    assert served.token.encode() not in reply.body
    html = reply.body.decode()
    # Nothing inline for the policy to allow, and nothing from elsewhere.
    assert "<script>" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)
    assert "<style" not in html
    assert " style=" not in html
    assert not re.search(r"\bon[a-z]+=", html)
    links = re.findall(r'\b(?:src|href)="([^"]*)"', html)
    assert links
    assert set(links) <= set(ASSETS)


@pytest_twisted.ensureDeferred
async def test_dashboard_without_slash_redirects_to_the_page(webservice):
    served = webservice(scrapy_webservice_dashboard)
    reply = await served.get("dashboard", token=None)
    assert reply.status == 302
    assert reply.headers["location"] == "dashboard/"
    assert reply.body == b""
    reply = await served.get("dashboard?x=1", token=None)
    assert reply.headers["location"] == "dashboard/?x=1"


@pytest.mark.parametrize("name", sorted(ASSETS))
@pytest_twisted.ensureDeferred
async def test_files_are_public_with_their_types(webservice, name):
    served = webservice(scrapy_webservice_dashboard)
    reply = await served.get(f"dashboard/{name}", token=None)
    assert reply.status == 200
    assert reply.headers["content-type"] == ASSETS[name]
    assert_locked_down(reply)
    assert reply.body == asset_bytes(name)
    assert served.token.encode() not in reply.body


@pytest.mark.parametrize(
    "path",
    [
        "dashboard/nothing.js",
        "dashboard/index.html",
        "dashboard/static/dashboard.js",
        "dashboard/dashboard.js/",
        "dashboard/dashboard.js/x",
        "dashboard/..%2f..%2fresource.py",
        "dashboard/%2e%2e/__init__.py",
        "dashboard/DASHBOARD.JS",
        "dashboard/%ff",
    ],
)
@pytest_twisted.ensureDeferred
async def test_only_the_listed_files_are_served(webservice, path):
    served = webservice(scrapy_webservice_dashboard)
    reply = await served.get(path)
    assert reply.status == 404, (path, reply.status, reply.body[:200])
    assert reply.headers["content-type"] == "application/json"
    assert reply.json["error"]["status"] == 404
    # Without the token a path that is not a listed file is not public either:
    # it says nothing about what exists.
    reply = await served.get(path, token=None)
    assert reply.status == 401
    assert reply.headers["content-type"] == "application/json"


@pytest_twisted.ensureDeferred
async def test_data_calls_still_need_the_token(webservice):
    served = webservice(scrapy_webservice_dashboard, WEBSERVICE_READONLY_TOKEN="r" * 32)
    assert (await served.get("enginestatus", token=None)).status == 401
    assert (await served.rpc("stats", "get_rates", [], token=None)).status == 401
    assert (await served.get("dashboard/", token="wrong")).status == 200  # the shell only
    assert (await served.get("enginestatus", token="wrong")).status == 401
    # What the page calls, as the page calls it.
    assert (await served.get("enginestatus")).json == {}
    assert (await served.call("stats", "get_rates")) == {}
    reply = await served.rpc("crawler/engine", "pause", ["demo"], token="r" * 32)
    assert reply.json["error"]["code"] == -32003  # read-only token: no control


async def sleep(seconds: float) -> None:
    await task.deferLater(reactor, seconds, lambda: None)


@pytest_twisted.ensureDeferred
async def test_the_stalls_panel_calls_answer_the_read_only_token(webservice):
    # The stalls panel's calls, as the page makes them, with the read-only token:
    # stalls.recent (named params) and stalls.lag, and the stall this test makes.
    readonly = "r" * 32
    served = webservice(
        scrapy_webservice_dashboard,
        WEBSERVICE_READONLY_TOKEN=readonly,
        WEBSERVICE_STALL_THRESHOLD=0.2,
    )
    assert (await served.rpc("stalls", "recent", {"limit": 5}, token=None)).status == 401
    await sleep(0.3)  # the watchdog's heartbeat runs: it times from there
    line = inspect.currentframe().f_lineno + 1
    time.sleep(0.6)  # the reactor is blocked here
    found = {"count": 0}
    deadline = time.monotonic() + 10
    while not found["count"]:
        assert time.monotonic() < deadline, found
        await sleep(0.05)
        reply = await served.rpc("stalls", "recent", {"limit": 5}, token=readonly)
        found = reply.json["result"]
    assert found["threshold"] == 0.2
    where = f"{__file__}:{line} in test_the_stalls_panel_calls_answer_the_read_only_token"
    [stall] = [stall for stall in found["recent"] if stall["where"] == where]
    assert stall["code"] == "time.sleep(0.6)  # the reactor is blocked here"
    assert stall["stack"][-1] == stall["where"]
    assert isinstance(stall["seconds"], float)
    assert isinstance(stall["seen_at"], float)
    assert found["max_seconds"] == stall["seconds"]
    lag = (await served.rpc("stalls", "lag", [], token=readonly)).json["result"]
    assert lag["buckets"][-1] == ["+Inf", lag["count"]]
    assert lag["count"] >= 1


@pytest_twisted.ensureDeferred
async def test_the_stalls_panel_calls_with_the_watchdog_off(webservice):
    served = webservice(scrapy_webservice_dashboard, WEBSERVICE_STALL_THRESHOLD=None)
    found = await served.call("stalls", "recent", limit=5)
    assert found["threshold"] is None
    assert found["recent"] == []
    assert (await served.call("stalls", "lag")) is None


@pytest_twisted.ensureDeferred
async def test_the_page_takes_no_posts(webservice):
    served = webservice(scrapy_webservice_dashboard)
    headers = {"Content-Type": "application/json"}
    for path in ("dashboard/", "dashboard/dashboard.js"):
        reply = await served.request(path, "POST", body="{}", headers=headers, token=None)
        assert reply.status in (403, 405)
        assert reply.json["error"]
        reply = await served.request(path, "POST", body="{}", headers=headers)
        assert reply.status == 405
        assert reply.headers["allow"] == "GET, HEAD"


@pytest_twisted.ensureDeferred
async def test_start_logs_the_dashboard_url_without_the_token(webservice, caplog):
    with caplog.at_level(logging.INFO, logger="scrapy_webservice_dashboard"):
        served = webservice(scrapy_webservice_dashboard)
    [record] = [r for r in caplog.records if r.name == "scrapy_webservice_dashboard"]
    message = record.getMessage()
    assert record.levelno == logging.INFO
    assert f"{served.url}dashboard " in message
    assert "#token=<token>" in message
    assert served.token not in message


@pytest_twisted.ensureDeferred
async def test_dropped_by_the_resources_setting(webservice, caplog):
    with caplog.at_level(logging.INFO, logger="scrapy_webservice_dashboard"):
        served = webservice(
            scrapy_webservice_dashboard,
            WEBSERVICE_RESOURCES={scrapy_webservice_dashboard.RESOURCE: None},
        )
    assert "dashboard" not in (await served.get("")).json["resources"]
    assert (await served.get("dashboard/", token=None)).status == 401
    assert (await served.get("dashboard/")).status == 404
    assert not [r for r in caplog.records if r.name == "scrapy_webservice_dashboard"]
