"""Both HTTP fronts in this process: Twisted Web, and the asyncio front (Scrapy without a reactor).

The asyncio front runs here on Twisted's asyncio reactor (its loop is
asyncio's), so these run on every supported Scrapy, the ones without a
reactorless mode too; tests/test_reactorless.py runs real crawls in that mode.
"""

from __future__ import annotations

from typing import ClassVar

import pytest_twisted

from scrapy_webservice import JsonResource, RawBody


class Text(JsonResource):
    """A non-JSON answer, and dynamic children through ``child()``, as plugins write them."""

    ws_name = "text"

    def __init__(self, crawler, name: str | None = None) -> None:
        super().__init__(crawler)
        self.name = name

    def render_GET(self, txrequest):
        shown = txrequest.args.get(b"shout", [b""])[0]
        text = f"hello {self.name or 'world'}{'!' if shown else ''}\n"
        return RawBody(text.encode(), "text/plain; version=0.0.4")

    def child(self, name, txrequest):
        return Text(self.crawler, name) if self.name is None else None


@pytest_twisted.ensureDeferred
async def test_a_resource_written_for_twisted_runs_unchanged_on_both_fronts(webservice):
    """test_http's resources (written against the Twisted API), on each front in turn."""
    from .test_http import RESOURCES

    served = webservice(WEBSERVICE_RESOURCES=RESOURCES)
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


@pytest_twisted.ensureDeferred
async def test_the_checks_answer_alike_on_both_fronts(webservice):
    """Size, content type, Host, Origin and the read-only token: the guard's, on each front."""
    import json

    from .test_http import RESOURCES

    served = webservice(
        WEBSERVICE_RESOURCES=RESOURCES,
        WEBSERVICE_MAX_REQUEST_SIZE=1000,
        WEBSERVICE_READONLY_TOKEN="reader",
    )
    as_json = {"Content-Type": "application/json"}
    big = json.dumps({"jsonrpc": "2.0", "method": "get", "params": ["x" * 2000], "id": 1})
    reply = await served.request("counter", "POST", body=big, headers=as_json)
    assert reply.status == 413
    assert "1000" in reply.json["error"]["message"]
    call = json.dumps({"jsonrpc": "2.0", "method": "get", "id": 1})
    reply = await served.request("counter", "POST", body=call, headers={"Content-Type": "x/y"})
    assert reply.status == 415
    assert (await served.get("plain", headers={"Host": "evil.example"})).status == 403
    assert (await served.get("plain", headers={"Origin": "http://evil.example"})).status == 403
    reader = await served.rpc("counter", "add", [1], token="reader")
    assert reader.json["error"]["code"] == -32003
    assert (await served.rpc("counter", "get", token="reader")).json["result"] >= 0
    assert (await served.get("plain")).status == 200  # and it goes on serving


@pytest_twisted.ensureDeferred
async def test_raw_bodies_children_and_query_strings_on_both_fronts(webservice):
    served = webservice(WEBSERVICE_RESOURCES={Text: 1})
    reply = await served.get("text")
    assert (reply.status, reply.body) == (200, b"hello world\n")
    assert reply.headers["content-type"] == "text/plain; version=0.0.4"
    assert reply.headers["cache-control"] == "no-store"
    assert reply.headers["x-content-type-options"] == "nosniff"
    assert (await served.get("text/ada?shout=1")).body == b"hello ada!\n"
    assert (await served.get("text/ada/deeper")).status == 404


class Notified(JsonResource):
    """Asks to be told when its answer is sent, and answers at once (a returned body)."""

    ws_name = "notified"
    sent: ClassVar[list[str]] = []

    def render_GET(self, txrequest):
        txrequest.notifyFinish().addCallback(lambda _: Notified.sent.append("sent"))
        return {"answered": True}


@pytest_twisted.ensureDeferred
async def test_notify_finish_fires_for_an_answer_returned_at_once(webservice):
    Notified.sent.clear()
    served = webservice(WEBSERVICE_RESOURCES={Notified: 1})
    assert (await served.get("notified")).json == {"answered": True}
    assert Notified.sent == ["sent"]
    assert (await served.get("notified", token=None)).status == 401
    assert Notified.sent == ["sent"]  # refused before any resource code
