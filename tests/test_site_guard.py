"""The guarding site over raw sockets: the token before resource code, HTTP as RFC 9112 says.

Every test talks to a real service on 127.0.0.1 with bytes written by
hand, so that what reaches the server (several ``Host`` lines, a broken
request line, an asterisk-form target) is exactly what the test says.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import time
from dataclasses import dataclass, field
from typing import Any, ClassVar

import pytest
import pytest_twisted
from twisted.internet import threads

from scrapy_webservice import JsonResource
from scrapy_webservice.server.security import host_allowed, host_field_problem, parse_host

# -- a raw HTTP/1.1 exchange -------------------------------------------------------------


@dataclass
class Answer:
    status: int
    headers: dict[str, str]
    body: bytes
    #: Whether the server closed the connection after this answer (``None``: not watched).
    closed: bool | None
    extra: list[Answer] = field(default_factory=list)  # answers to later requests

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def closed_within(sock: socket.socket, limit: float) -> bool:
    """Whether the server closes ``sock`` within ``limit`` seconds (and sends nothing more)."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            return sock.recv(4096) == b""
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def read_answer(sock: socket.socket, method: str) -> tuple[int, dict[str, str], bytes]:
    response = http.client.HTTPResponse(sock, method=method)
    response.begin()
    headers = {k.lower(): v for k, v in response.getheaders()}
    return response.status, headers, response.read()


def exchange(port: int, *requests: bytes, method: str = "GET", close_limit: float = 0) -> Answer:
    """Send ``requests`` one after the other on one connection; the first answer and the rest.

    With ``close_limit``, watch that long for the server to close the
    connection after the last answer.
    """
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        answers = []
        for raw in requests:
            # A server may answer (and close) before it has read everything.
            with contextlib.suppress(BrokenPipeError, ConnectionResetError):
                sock.sendall(raw)
            answers.append(read_answer(sock, method))
        closed = closed_within(sock, close_limit) if close_limit else None
    first, *rest = (Answer(*a, closed=None) for a in answers)
    first.extra = rest
    if rest:
        rest[-1].closed = closed
    else:
        first.closed = closed
    return first


def request(
    method: str = "GET",
    target: str = "/",
    host: str | bytes | None = "127.0.0.1",
    token: str | None = None,
    headers: list[bytes] | tuple[bytes, ...] = (),
    body: bytes = b"",
) -> bytes:
    lines = [f"{method} {target} HTTP/1.1".encode()]
    if host is not None:
        lines.append(b"Host: " + (host.encode() if isinstance(host, str) else host))
    if token is not None:
        lines.append(f"Authorization: Bearer {token}".encode())
    lines.extend(headers)
    if body:
        lines.append(b"Content-Length: %d" % len(body))
    return b"\r\n".join(lines) + b"\r\n\r\n" + body


def port_of(served: Any) -> int:
    return served.service.port.getHost().port


async def send(served: Any, *requests: bytes, **kwargs: Any) -> Answer:
    return await threads.deferToThread(exchange, port_of(served), *requests, **kwargs)


def assert_json_error(answer: Answer, status: int) -> dict[str, Any]:
    assert answer.status == status, (answer.status, answer.body)
    assert answer.headers["content-type"] == "application/json"
    error = answer.json["error"]
    assert error["status"] == status
    return error


# -- A. the token before any resource code -------------------------------------------------


class Leaf(JsonResource):
    """Data: never served without a token."""

    def render_GET(self, txrequest):
        return {"leaf": True}


class Counted(JsonResource):
    """A resource whose every child lookup is counted."""

    ws_name = "counted"
    lookups: ClassVar[list[bytes]] = []

    def getChild(self, path, request):
        self.lookups.append(path)
        return super().getChild(path, request)

    def child(self, name, request):
        return Leaf(self.crawler)

    def render_GET(self, txrequest):
        return {"counted": True}


class Asset(JsonResource):
    public = True

    def render_GET(self, txrequest):
        return {"asset": True}


class Shell(JsonResource):
    """A public page whose child lookups are counted; one child is data."""

    ws_name = "shell"
    public = True
    lookups: ClassVar[list[str]] = []

    def child(self, name, request):
        self.lookups.append(name)
        if name == "asset":
            return Asset(self.crawler)
        if name == "data":
            return Leaf(self.crawler)
        return None

    def render_GET(self, txrequest):
        return {"shell": True}


class Sneaky(JsonResource):
    """Says it is public through code: code that must not run before the token."""

    ws_name = "sneaky"
    asked: ClassVar[list[str]] = []

    @property
    def public(self):  # type: ignore[override]
        self.asked.append("public")
        return True

    def render_GET(self, txrequest):
        return {"sneaky": True}


class BrokenLookup(JsonResource):
    ws_name = "broken"

    def getChild(self, path, request):
        raise RuntimeError("getChild failed")


GUARDED = {Counted: 1, Shell: 2, Sneaky: 3, BrokenLookup: 4}


def count_root_lookups(served: Any) -> list[bytes]:
    """Record every child lookup of the service's root (dynamic and static)."""
    root = served.service.root
    calls: list[bytes] = []
    get_child, with_default = root.getChild, root.getChildWithDefault

    def counting_get_child(path, request):
        calls.append(path)
        return get_child(path, request)

    def counting_with_default(path, request):
        calls.append(path)
        return with_default(path, request)

    root.getChild = counting_get_child
    root.getChildWithDefault = counting_with_default
    return calls


@pytest_twisted.ensureDeferred
async def test_no_child_lookup_runs_before_the_token(serve):
    Counted.lookups.clear()
    Sneaky.asked.clear()
    served = serve(WEBSERVICE_RESOURCES=GUARDED)
    root_lookups = count_root_lookups(served)
    paths = ["/", "/counted", "/counted/x", "/counted/x/y", "/%63ounted/x", "/nope", "/nope/x"]
    paths += ["/sneaky", "/broken/x", "//counted/x"]
    for token in (None, "wrong", served.token + "x"):
        for path in paths:
            answer = await send(served, request(target=path, token=token))
            assert_json_error(answer, 401)
            assert answer.headers["www-authenticate"].startswith("Bearer")
    assert Counted.lookups == []
    assert root_lookups == []
    assert Sneaky.asked == [], "a property named public ran before the token"

    answer = await send(served, request(target="/counted/x", token=served.token))
    assert (answer.status, answer.json) == (200, {"leaf": True})
    assert Counted.lookups == [b"x"]
    assert root_lookups == [b"counted"]


@pytest_twisted.ensureDeferred
async def test_public_resources_and_their_children_without_a_token(serve):
    Shell.lookups.clear()
    served = serve(WEBSERVICE_RESOURCES=GUARDED)
    assert (await send(served, request(target="/health"))).json == {
        "status": "ok",
        "pid": os.getpid(),
    }
    assert (await send(served, request(target="/shell"))).json == {"shell": True}
    # A public resource's children are looked up (it declared itself public) ...
    assert (await send(served, request(target="/shell/asset"))).json == {"asset": True}
    # ... but only those declared public too are served without the token: not
    # data, and not a 404 that would tell what exists.
    assert_json_error(await send(served, request(target="/shell/data")), 401)
    assert_json_error(await send(served, request(target="/shell/missing")), 401)
    assert Shell.lookups == ["asset", "data", "missing"]
    ok = await send(served, request(target="/shell/data", token=served.token))
    assert ok.json == {"leaf": True}
    assert_json_error(await send(served, request(target="/shell/missing", token="x")), 401)
    missing = await send(served, request(target="/shell/missing", token=served.token))
    assert_json_error(missing, 404)
    # No token is needed to write to a public resource, and none is enough either.
    post = request("POST", "/health", headers=[b"Content-Type: application/json"], body=b"{}")
    assert_json_error(await send(served, post), 403)


@pytest_twisted.ensureDeferred
async def test_a_child_lookup_that_raises_is_a_json_500(serve):
    served = serve(WEBSERVICE_RESOURCES=GUARDED)
    answer = await send(served, request(target="/broken/x", token=served.token))
    assert "looking up" in assert_json_error(answer, 500)["message"]
    assert b"getChild failed" not in answer.body


# -- B1. Connection: close closes the connection -----------------------------------------


class Closer(JsonResource):
    ws_name = "closer"

    def render_GET(self, txrequest):
        txrequest.setHeader(b"Connection", b"close")
        return {"bye": True}


@pytest_twisted.ensureDeferred
async def test_a_413_closes_the_connection_it_announces_closing(serve):
    served = serve(WEBSERVICE_MAX_REQUEST_SIZE=1000)
    big = request(
        "POST",
        "/stats",
        token=served.token,
        headers=[b"Content-Type: application/json"],
        body=b"[" + b" " * 2000 + b"]",
    )
    answer = await send(served, big, close_limit=5)
    assert_json_error(answer, 413)
    assert answer.headers["connection"] == "close"
    assert answer.closed


@pytest_twisted.ensureDeferred
async def test_any_answer_saying_connection_close_closes(serve):
    served = serve(WEBSERVICE_RESOURCES={Closer: 1})
    answer = await send(served, request(target="/closer", token=served.token), close_limit=5)
    assert (answer.status, answer.headers["connection"]) == (200, "close")
    assert answer.closed


@pytest_twisted.ensureDeferred
async def test_other_answers_keep_the_connection(serve):
    served = serve()
    answer = await send(
        served,
        request(target="/", token=served.token),
        request(target="/stats"),  # a 401 does not close either
        request(target="/health", headers=[b"Connection: close"]),
        close_limit=5,
    )
    assert answer.status == 200
    assert [a.status for a in answer.extra] == [401, 200]
    assert answer.extra[-1].closed  # the client asked for it


# -- B2. Host --------------------------------------------------------------------------------

MALFORMED_HOSTS = [
    b"",
    b"127.0.0.1:evil",
    b"localhost:80@evil.example",
    b"user@127.0.0.1",
    b"127.0.0.1:",
    b":6080",
    b"local host",
    b"127.0.0.1 :6080",
    b"127.0.0.1:60 80",
    b"127.0.0.1:99999",
    b"127.0.0.1:6080:6080",
    b"127.0.0.1/path",
    b"http://127.0.0.1",
    b"[::1",
    b"[::1]6080",
    b"[::1]:",
    b"[127.0.0.1]",
    b"[fe80::1%25eth0]",
    b"%zzlocalhost",
    b"l\xf6calhost",
    b"127.0.0.1\t:6080",
]


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (b"127.0.0.1:6080", ("127.0.0.1", 6080)),
        (b"localhost", ("localhost", None)),
        (b"LocalHost.:0", ("localhost", 0)),
        (b"[::1]:65535", ("::1", 65535)),
        (b"[0:0::1]", ("::1", None)),
        (b"[v1.fe:x]", ("v1.fe:x", None)),
        (b"a-b_c~d.example", ("a-b_c~d.example", None)),
    ],
)
def test_valid_host_values(value, expected):
    assert parse_host(value) == expected


@pytest.mark.parametrize("value", MALFORMED_HOSTS)
def test_malformed_host_values(value):
    with pytest.raises(ValueError, match=r"host|port|IPv6|\]"):
        parse_host(value)
    assert not host_allowed(value, ["*"])
    assert host_field_problem([value]) is not None


def test_host_field_lines():
    assert host_field_problem([b"127.0.0.1"]) is None
    assert "no Host" in host_field_problem(None)
    assert "no Host" in host_field_problem([])
    assert "more than one" in host_field_problem([b"127.0.0.1", b"127.0.0.1"])
    assert host_allowed(b"[0:0::1]:80", ["::1"])
    assert host_allowed(b"[::1]", ["0:0:0:0:0:0:0:1"])


@pytest_twisted.ensureDeferred
async def test_a_missing_repeated_or_malformed_host_is_a_400_before_any_other_check(serve):
    served = serve(WEBSERVICE_MAX_REQUEST_SIZE=100)
    port = port_of(served)
    # Each of these would fail other checks too (no token, a foreign Origin, a body
    # over the limit): the Host comes first.
    others = [b"Origin: http://evil.example", b"Content-Type: text/plain"]
    body = b"x" * 200
    cases: list[tuple[str, bytes]] = [
        (f"{value!r}", request("POST", "/stats", host=value, headers=others, body=body))
        for value in MALFORMED_HOSTS
    ]
    cases += [
        ("no Host", request(host=None)),
        ("no Host, HTTP/1.0", b"GET / HTTP/1.0\r\n\r\n"),
        ("two Hosts", request(headers=[b"Host: evil.example"])),
        ("two Hosts", request(host="evil.example", headers=[f"Host: 127.0.0.1:{port}".encode()])),
        ("the same Host twice", request(headers=[b"Host: 127.0.0.1"], token=served.token)),
        ("host, HOST", request(headers=[b"HOST: 127.0.0.1"], token=served.token)),
    ]
    for case, raw in cases:
        answer = await send(served, raw, close_limit=5)
        error = assert_json_error(answer, 400)
        assert "Host" in error["message"], case
        assert answer.closed, case


@pytest_twisted.ensureDeferred
async def test_valid_hosts_go_on_to_the_allow_list(serve):
    served = serve()
    port = port_of(served)
    for host in (f"127.0.0.1:{port}", "127.0.0.1", "LOCALHOST.", f"[::1]:{port}", "[0::1]"):
        answer = await send(served, request(host=host, token=served.token))
        assert answer.status == 200, host
    for host in ("evil.example", f"evil.example:{port}", "127.0.0.1.evil.example", "[::2]"):
        answer = await send(served, request(host=host, token=served.token))
        assert "Host not allowed" in assert_json_error(answer, 403)["message"], host


@pytest_twisted.ensureDeferred
async def test_the_verdict_on_a_host_is_the_same_each_time_and_few_are_kept(serve):
    # The site keeps its verdict on each Host value it saw (a keep-alive client
    # sends the same one every time), for a bounded number of values.
    served = serve()

    def statuses(answer: Answer) -> list[int]:
        return [answer.status] + [a.status for a in answer.extra]

    ours = request(token=served.token)
    theirs = request(host="evil.example", token=served.token)
    assert statuses(await send(served, ours, theirs, ours, theirs)) == [200, 403, 200, 403]
    many = [request(host=f"evil{i}.example", token=served.token) for i in range(300)]
    assert set(statuses(await send(served, *many))) == {403}
    assert len(served.service.guard._host_verdicts) <= 256
    assert statuses(await send(served, ours, theirs)) == [200, 403]


# -- B3. asterisk-form ---------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_options_asterisk_passes_the_checks_then_answers_204(serve):
    served = serve(WEBSERVICE_CORS_ORIGINS=["https://ui.example"])
    options = request("OPTIONS", "*", token=served.token)
    ok = await send(served, options, method="OPTIONS", close_limit=0.5)
    assert (ok.status, ok.body) == (204, b"")
    assert ok.headers["allow"] == "GET, HEAD, POST, OPTIONS"
    assert "content-length" not in ok.headers  # RFC 9110 8.6
    assert not ok.closed
    for token in (None, "wrong"):
        refused = await send(served, request("OPTIONS", "*", token=token))
        assert_json_error(refused, 401)
        assert refused.headers["www-authenticate"].startswith("Bearer")
    # Not a CORS preflight either: an allowed Origin does not stand for the token.
    preflight = request("OPTIONS", "*", headers=[b"Origin: https://ui.example"])
    assert_json_error(await send(served, preflight), 401)
    assert_json_error(await send(served, request("OPTIONS", "*", host="evil.example")), 403)
    assert_json_error(await send(served, request("OPTIONS", "*", host=None)), 400)
    assert_json_error(await send(served, request("OPTIONS", "*", host="a b")), 400)


@pytest_twisted.ensureDeferred
async def test_other_methods_with_asterisk_get_a_json_400(serve):
    served = serve()
    for method in ("GET", "POST", "DELETE", "BREW"):
        raw = request(method, "*", token=served.token, body=b"{}" if method == "POST" else b"")
        answer = await send(served, raw)
        assert "only for OPTIONS" in assert_json_error(answer, 400)["message"], method
        assert_json_error(await send(served, request(method, "*")), 401)


# -- B4. malformed requests get a JSON 400 -----------------------------------------------

HOST = b"Host: 127.0.0.1\r\n"
MALFORMED_REQUESTS = {
    "request line of two parts": b"GET /\r\n" + HOST + b"\r\n",
    "request line of four parts": b"GET / HTTP/1.1 x\r\n" + HOST + b"\r\n",
    "request line with two spaces": b"GET  / HTTP/1.1\r\n" + HOST + b"\r\n",
    "method not a token": b"G(T / HTTP/1.1\r\n" + HOST + b"\r\n",
    "unknown version": b"GET / HTTP/2.7\r\n" + HOST + b"\r\n",
    "not HTTP": b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03\r\n\r\n",
    "header line without a colon": b"GET / HTTP/1.1\r\n" + HOST + b"Broken\r\n\r\n",
    "header name with a space": b"GET / HTTP/1.1\r\n" + HOST + b"Bad Name: x\r\n\r\n",
    "too many headers": b"GET / HTTP/1.1\r\n"
    + HOST
    + b"".join(b"X-%d: 1\r\n" % i for i in range(600))
    + b"\r\n",
    "headers too large": b"GET / HTTP/1.1\r\n"
    + HOST
    + b"X-Big: %s\r\nX-Big2: %s\r\n\r\n" % (b"a" * 9000, b"b" * 9000),
    "Content-Length not a number": b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: abc\r\n\r\n",
    "negative Content-Length": b"POST / HTTP/1.1\r\n" + HOST + b"Content-Length: -1\r\n\r\n",
    "two Content-Lengths": b"POST / HTTP/1.1\r\n"
    + HOST
    + b"Content-Length: 2\r\nContent-Length: 3\r\n\r\n{}",
    "Content-Length and chunked": b"POST / HTTP/1.1\r\n"
    + HOST
    + b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n",
    "unknown Transfer-Encoding": b"POST / HTTP/1.1\r\n"
    + HOST
    + b"Transfer-Encoding: gzip\r\n\r\n",
    "bad chunk size": b"POST / HTTP/1.1\r\n"
    + HOST
    + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n",
    "chunk longer than announced": b"POST / HTTP/1.1\r\n"
    + HOST
    + b"Transfer-Encoding: chunked\r\n\r\n2\r\n{}xx\r\n0\r\n\r\n",
}


def twisted_rejects(raw: bytes) -> bool:
    """Whether Twisted's own HTTP/1.1 parser answers ``raw`` with its bare 400.

    Its strictness grew over versions (Twisted 23.10 takes any method and
    version, and header names with spaces): a request it takes is not this
    file's business.
    """
    from twisted.internet.testing import StringTransport
    from twisted.python.failure import Failure
    from twisted.web.http import HTTPChannel

    channel = HTTPChannel()
    channel.timeOut = None  # no timer left in the reactor
    transport = StringTransport()
    channel.makeConnection(transport)
    channel.dataReceived(raw)
    channel.connectionLost(Failure(ConnectionError("done")))
    return transport.value().startswith(b"HTTP/1.1 400 ")


@pytest.mark.parametrize("name", list(MALFORMED_REQUESTS))
@pytest_twisted.ensureDeferred
async def test_malformed_requests_get_a_json_400_and_the_connection_closes(
    serve, webservice_front, name
):
    # The asyncio front (h11, and its own checks) refuses every one, on any Twisted.
    if webservice_front == "twisted" and not twisted_rejects(MALFORMED_REQUESTS[name]):
        pytest.skip("this version of Twisted takes it as a request")
    served = serve()
    # With the token: a request without one is refused from its head (a 401 that
    # does not wait for the body), before a malformed body could be seen.
    raw = MALFORMED_REQUESTS[name].replace(
        HOST, HOST + b"Authorization: Bearer " + served.token.encode() + b"\r\n", 1
    )
    answer = await send(served, raw, close_limit=5)
    error = assert_json_error(answer, 400)
    assert error["message"].startswith("Bad request"), name
    assert answer.headers["connection"] == "close"
    assert int(answer.headers["content-length"]) == len(answer.body)
    assert answer.closed, name
    assert (await served.get("")).status == 200


@pytest.mark.parametrize("name", ["bad chunk size", "chunk longer than announced"])
@pytest_twisted.ensureDeferred
async def test_a_malformed_body_without_a_token_gets_the_401_and_the_connection_closes(
    serve, name
):
    served = serve()
    answer = await send(served, MALFORMED_REQUESTS[name], close_limit=5)
    assert_json_error(answer, 401)
    assert answer.headers["connection"] == "close"
    assert answer.closed, name
    assert (await served.get("")).status == 200


@pytest.mark.parametrize(
    "raw",
    [
        b"GET /" + b"a" * 20000 + b" HTTP/1.1\r\n" + HOST + b"\r\n",
        b"GET / HTTP/1.1\r\n" + HOST + b"X-Long: " + b"a" * 20000 + b"\r\n\r\n",
        b"GET / HTTP/1.1\r\n" + HOST + b"X-No-End: " + b"a" * 20000,
    ],
    ids=["request line", "header line", "unfinished line"],
)
@pytest_twisted.ensureDeferred
async def test_a_line_over_the_maximum_length_gets_a_json_400(serve, raw):
    # Twisted drops such a connection without a word.
    served = serve()
    answer = await send(served, raw, close_limit=5)
    assert "16384 bytes" in assert_json_error(answer, 400)["message"]
    assert answer.closed


@pytest_twisted.ensureDeferred
async def test_a_bad_request_after_a_good_one_on_the_same_connection(serve):
    served = serve()
    answer = await send(
        served,
        request(target="/", token=served.token),
        b"GET / HTTP/1.1\r\nBroken\r\n\r\n",
        close_limit=5,
    )
    assert answer.status == 200
    assert_json_error(answer.extra[0], 400)
    assert answer.extra[0].closed


@pytest_twisted.ensureDeferred
async def test_two_authorization_fields_are_a_400(serve):
    served = serve()
    for second in (served.token, "wrong"):
        raw = request(token=served.token, headers=[f"Authorization: Bearer {second}".encode()])
        answer = await send(served, raw, close_limit=5)
        assert "one Authorization" in assert_json_error(answer, 400)["message"]
        assert answer.closed
    assert (await send(served, request(token=served.token))).status == 200
