"""Resources and the guarding site over real HTTP on 127.0.0.1, in this process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
from typing import Any, ClassVar

import pytest_twisted
from twisted.internet import defer, reactor

from scrapy_webservice import JsonResource, JsonRpcResource, readonly
from scrapy_webservice.public.resource import HttpError, RawBody


class Plain(JsonResource):
    ws_name = "plain"

    def render_GET(self, txrequest):
        return {"when": __import__("datetime").date(2026, 1, 1), "tags": {"b", "a"}}


class Later(JsonResource):
    ws_name = "later"

    def render_GET(self, txrequest):
        d = defer.Deferred()
        reactor.callLater(0.01, d.callback, {"deferred": True})
        return d


class Coro(JsonResource):
    ws_name = "coro"

    async def render_GET(self, txrequest):
        await asyncio.sleep(0.01)
        return {"coroutine": True}


class Boom(JsonResource):
    ws_name = "boom"

    def render_GET(self, txrequest):
        raise ValueError("secret internals")


class Missing(JsonResource):
    ws_name = "missing"

    def render_GET(self, txrequest):
        raise HttpError(404, "nothing here")


class Counter:
    def __init__(self) -> None:
        self.value = 0
        self.label = "counter"
        self._secret = "hidden"

    @readonly
    def get(self) -> int:
        """The current value."""
        return self.value

    def add(self, n: int = 1) -> int:
        """Add ``n``: a control method."""
        self.value += n
        return self.value

    async def slow_get(self) -> int:
        await asyncio.sleep(0.01)
        return self.value

    def deferred_get(self) -> defer.Deferred:
        return defer.succeed(self.value)


COUNTER = Counter()


class CounterResource(JsonRpcResource):
    ws_name = "counter"
    # ``label`` is answered as data; ``value``, public but undeclared, is not reachable.
    data_attributes = frozenset({"label"})

    def get_target(self):
        return COUNTER


RESOURCES = {Plain: 1, Later: 2, Coro: 3, Boom: 4, Missing: 5, CounterResource: 6}


def start(serve, **settings: Any):
    settings.setdefault("WEBSERVICE_RESOURCES", RESOURCES)
    return serve(**settings)


@pytest_twisted.ensureDeferred
async def test_root_lists_resources_in_order(serve):
    served = start(serve)
    reply = await served.get("")
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    names = reply.json["resources"]
    builtins = [
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
    assert names[: len(builtins)] == builtins
    assert names[len(builtins) :] == ["plain", "later", "coro", "boom", "missing", "counter"]


@pytest_twisted.ensureDeferred
async def test_json_resources_sync_deferred_and_coroutine(serve):
    served = start(serve)
    assert (await served.get("plain")).json == {"when": "2026-01-01", "tags": ["a", "b"]}
    assert (await served.get("later")).json == {"deferred": True}
    assert (await served.get("coro")).json == {"coroutine": True}
    assert (await served.get("plain/")).status == 200


@pytest_twisted.ensureDeferred
async def test_errors_are_json_without_tracebacks(serve, caplog):
    served = start(serve)
    with caplog.at_level(logging.ERROR):
        reply = await served.get("boom")
    assert reply.status == 500
    assert reply.json == {"error": {"status": 500, "message": "Internal error: ValueError"}}
    assert "secret internals" in caplog.text
    missing = await served.get("missing")
    assert (missing.status, missing.json["error"]["message"]) == (404, "nothing here")
    unknown = await served.get("no/such/thing")
    assert unknown.status == 404
    assert unknown.json["error"]["message"] == "No such resource: 'no'"


@pytest_twisted.ensureDeferred
async def test_debug_puts_the_traceback_in_the_error(serve):
    served = start(serve, WEBSERVICE_DEBUG=True)
    reply = await served.get("boom")
    assert "Traceback" in reply.json["error"]["data"]


@pytest_twisted.ensureDeferred
async def test_unsupported_methods_get_405_json(serve):
    served = start(serve)
    for method in ("POST", "PUT", "DELETE", "FOO"):
        headers = {"Content-Type": "application/json"}
        reply = await served.request("plain", method, body=b"{}", headers=headers)
        assert reply.status == 405, method
        assert reply.json["error"]["status"] == 405
        assert "GET" in reply.headers["allow"]


@pytest_twisted.ensureDeferred
async def test_jsonrpc_calls_sync_async_and_deferred_methods(serve):
    COUNTER.value = 0
    served = start(serve)
    assert (await served.rpc("counter", "add", [5])).json["result"] == 5
    assert (await served.rpc("counter", "get")).json["result"] == 5
    assert (await served.rpc("counter", "slow_get")).json["result"] == 5
    assert (await served.rpc("counter", "deferred_get")).json["result"] == 5
    bad = await served.rpc("counter", "add", ["x"])
    assert bad.json["error"]["code"] == -32602


@pytest_twisted.ensureDeferred
async def test_jsonrpc_get_returns_attribute_values_and_listing(serve):
    served = start(serve)
    assert (await served.get("counter/label")).json == "counter"
    listing = (await served.get("counter")).json
    names = {m["name"]: m["readonly"] for m in listing["methods"]}
    assert names["get"] is True
    assert names["add"] is False
    assert listing["attributes"] == ["label"]
    assert not any(n.startswith("_") for n in names)
    assert (await served.get("counter/nope")).status == 404
    # Declared, never probed: a public attribute nobody declared is not reachable.
    assert (await served.get("counter/value")).status == 404


@pytest_twisted.ensureDeferred
async def test_private_names_are_never_reachable(serve):
    served = start(serve)
    for path in (
        "counter/_secret",
        "counter/%5Fsecret",
        "counter/__class__",
        "counter/%5F%5Fclass%5F%5F",
        "counter/get/__globals__",
        "counter/..%2F_secret",
    ):
        reply = await served.get(path)
        assert reply.status == 404, path
        assert b"hidden" not in reply.body
    for method in ("_secret", "__init__", "__class__", "__dict__"):
        reply = await served.rpc("counter", method)
        assert reply.json["error"]["code"] == -32601, method


@pytest_twisted.ensureDeferred
async def test_every_resource_but_health_needs_the_token(serve):
    served = start(serve)
    assert (await served.get("health", token=None)).json == {"status": "ok", "pid": os.getpid()}
    for path in ("", "plain", "counter", "stats", "crawler/engine/open_spiders", "nope"):
        for token in (None, "wrong", served.token + "x"):
            reply = await served.get(path, token=token)
            assert reply.status == 401, (path, token)
            assert reply.headers["www-authenticate"].startswith("Bearer")
            assert reply.json["error"]["status"] == 401
    rpc_reply = await served.rpc("counter", "add", [1], token=None)
    assert rpc_reply.status == 401


@pytest_twisted.ensureDeferred
async def test_readonly_token_reads_but_cannot_control(serve):
    COUNTER.value = 0
    served = start(serve, WEBSERVICE_READONLY_TOKEN="reader")
    assert (await served.get("plain", token="reader")).status == 200
    assert (await served.rpc("counter", "get", token="reader")).json["result"] == 0
    refused = await served.rpc("counter", "add", [1], token="reader")
    assert refused.json["error"]["code"] == -32003
    assert COUNTER.value == 0


@pytest_twisted.ensureDeferred
async def test_control_calls_are_audited(serve, caplog):
    served = start(serve)
    with caplog.at_level(logging.INFO, logger="scrapy_webservice.audit"):
        await served.rpc("counter", "add", [2])
    assert "Control call /counter add([2]) from 127.0.0.1" in caplog.text


@pytest_twisted.ensureDeferred
async def test_foreign_host_and_origin_are_refused(serve):
    served = start(serve)
    reply = await served.get("plain", headers={"Host": "evil.example"})
    assert reply.status == 403
    assert "Host" in reply.json["error"]["message"]
    reply = await served.get("plain", headers={"Origin": "http://evil.example"})
    assert reply.status == 403
    same = await served.get("plain", headers={"Origin": served.url.rstrip("/")})
    assert same.status == 200
    assert "access-control-allow-origin" not in same.headers


@pytest_twisted.ensureDeferred
async def test_configured_cors_origin_gets_headers(serve):
    served = start(serve, WEBSERVICE_CORS_ORIGINS=["https://ui.example"])
    reply = await served.request(
        "counter", "OPTIONS", token=None, headers={"Origin": "https://ui.example"}
    )
    assert reply.status == 204
    assert reply.headers["access-control-allow-origin"] == "https://ui.example"
    assert "Authorization" in reply.headers["access-control-allow-headers"]


@pytest_twisted.ensureDeferred
async def test_post_needs_json_content_type(serve):
    served = start(serve)
    body = json.dumps({"jsonrpc": "2.0", "method": "get", "id": 1})
    for content_type in (None, "text/plain", "application/x-www-form-urlencoded"):
        headers = {"Content-Type": content_type} if content_type else {}
        reply = await served.request("counter", "POST", body=body, headers=headers)
        assert reply.status == 415, content_type
    ok = await served.request(
        "counter",
        "POST",
        body=body,
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert ok.json["result"] == COUNTER.value


@pytest_twisted.ensureDeferred
async def test_oversized_bodies_get_413(serve):
    served = start(serve, WEBSERVICE_MAX_REQUEST_SIZE=1000)
    big = json.dumps({"jsonrpc": "2.0", "method": "get", "params": ["x" * 2000], "id": 1})
    reply = await served.request(
        "counter", "POST", body=big, headers={"Content-Type": "application/json"}
    )
    assert reply.status == 413
    assert "1000" in reply.json["error"]["message"]
    # and the service goes on serving
    assert (await served.get("plain")).status == 200


@pytest_twisted.ensureDeferred
async def test_malformed_json_and_notifications(serve):
    served = start(serve)
    headers = {"Content-Type": "application/json"}
    bad = await served.request("counter", "POST", body=b"{not json", headers=headers)
    assert bad.status == 200
    assert bad.json["error"]["code"] == -32700
    note = json.dumps({"jsonrpc": "2.0", "method": "get"})
    quiet = await served.request("counter", "POST", body=note, headers=headers)
    assert (quiet.status, quiet.body) == (204, b"")


@pytest_twisted.ensureDeferred
async def test_access_log_goes_to_the_logfile(serve, tmp_path):
    logfile = tmp_path / "access.log"
    served = start(serve, WEBSERVICE_LOGFILE=str(logfile))
    await served.get("plain")
    await served.get("plain", token=None)
    await served.service.stop()
    lines = logfile.read_text().splitlines()
    assert len(lines) == 2
    assert '"GET /plain HTTP/1.1" 200' in lines[0]
    assert '"GET /plain HTTP/1.1" 401' in lines[1]
    assert served.token not in logfile.read_text()


class Writer(JsonResource):
    ws_name = "writer"
    writes: ClassVar[list[str]] = []

    def render_POST(self, txrequest):
        self.writes.append("post")
        return {"written": True}

    def render_DELETE(self, txrequest):
        self.writes.append("delete")
        return {"deleted": True}


class Exploder(JsonResource):
    ws_name = "exploder"

    def child(self, name, request):
        raise LookupError("child lookup failed")


@pytest_twisted.ensureDeferred
async def test_read_only_token_cannot_change_state_on_plain_resources(serve):
    Writer.writes.clear()
    served = serve(WEBSERVICE_RESOURCES={Writer: 1}, WEBSERVICE_READONLY_TOKEN="reader")
    json_type = {"Content-Type": "application/json"}
    for method in ("POST", "DELETE"):
        refused = await served.request(
            "writer", method, body=b"{}", headers=json_type, token="reader"
        )
        assert refused.status == 403, method
    assert Writer.writes == []
    no_type = await served.request("writer", "DELETE", body=b"{}")
    assert no_type.status == 415
    ok = await served.request("writer", "DELETE", body=b"{}", headers=json_type)
    assert ok.json == {"deleted": True}
    assert Writer.writes == ["delete"]


@pytest_twisted.ensureDeferred
async def test_a_failing_child_lookup_is_a_json_error_and_still_needs_the_token(serve):
    served = serve(WEBSERVICE_RESOURCES={Exploder: 1})
    assert (await served.get("exploder/x", token=None)).status == 401
    reply = await served.get("exploder/x")
    assert reply.status == 500
    assert reply.json["error"]["message"] == "Internal error: LookupError"


class Text(JsonResource):
    ws_name = "text"

    def render_GET(self, txrequest):
        return RawBody(b"# not json\nvalue 1\n", "text/plain; version=0.0.4; charset=utf-8")


@pytest_twisted.ensureDeferred
async def test_raw_bodies_are_sent_as_they_are_behind_the_token(serve):
    served = serve(WEBSERVICE_RESOURCES={Text: 1})
    reply = await served.get("text")
    assert reply.status == 200
    assert reply.body == b"# not json\nvalue 1\n"
    assert reply.headers["content-type"] == "text/plain; version=0.0.4; charset=utf-8"
    assert reply.headers["cache-control"] == "no-store"
    assert (await served.get("text", token=None)).status == 401


@pytest_twisted.ensureDeferred
async def test_methods_of_builtin_values_are_not_callable(serve):
    served = start(serve)
    # GET crawler/engine/open_spiders is data (a list): nothing below it is callable.
    for method, params in (("append", ["x"]), ("clear", []), ("copy", [])):
        reply = await served.rpc("crawler/engine/open_spiders", method, params)
        assert reply.status == 405, method
        assert reply.json["error"]["status"] == 405
        assert (await served.get(f"crawler/engine/open_spiders/{method}")).status == 404
    extensions = await served.rpc("crawler/extensions", "clear", [])
    assert extensions.status == 405
