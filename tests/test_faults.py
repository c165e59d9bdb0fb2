"""Faults the service must survive with one clear log line and nothing else lost.

Resources that never answer, clients that trickle, stall or leave: each
test checks the fault is contained and that the service goes on serving.
"""

from __future__ import annotations

import logging
import socket
import time
from typing import ClassVar

import pytest_twisted
from twisted.internet import defer, reactor, threads

from scrapy_webservice import JsonResource, JsonRpcResource

CANCELLED: list[str] = []


def never(name: str) -> defer.Deferred:
    return defer.Deferred(lambda _: CANCELLED.append(name))


class Hang(JsonResource):
    ws_name = "hang"

    def render_GET(self, txrequest):
        return never("GET")


class HangingTarget:
    def wait(self):
        """Never answers."""
        return never("rpc")


class HangRpc(JsonRpcResource):
    ws_name = "hangrpc"

    def get_target(self):
        return HangingTarget()


class Slow(JsonResource):
    ws_name = "slow"
    answered: ClassVar[list[str]] = []

    def render_GET(self, txrequest):
        d = defer.Deferred(lambda _: self.answered.append("cancelled"))
        reactor.callLater(0.5, d.callback, {"late": True})
        return d


RESOURCES = {Hang: 1, HangRpc: 2, Slow: 3}


@pytest_twisted.ensureDeferred
async def test_a_resource_that_never_answers_gets_504_and_is_cancelled(serve, caplog):
    CANCELLED.clear()
    served = serve(WEBSERVICE_RESOURCES=RESOURCES, WEBSERVICE_RESPONSE_TIMEOUT=0.5)
    reply = await served.get("hang")
    assert reply.status == 504
    assert reply.json["error"]["message"] == "No answer within 0.5 s (WEBSERVICE_RESPONSE_TIMEOUT)"
    rpc = await served.rpc("hangrpc", "wait", [])
    assert rpc.status == 504
    assert sorted(CANCELLED) == ["GET", "rpc"]
    assert caplog.text.count("gave no answer") == 2
    assert (await served.get("")).status == 200


def read_until_closed(sock: socket.socket, limit: float) -> bool:
    """Whether the server closed ``sock`` within ``limit`` seconds."""
    sock.settimeout(0.2)
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            if sock.recv(4096) == b"":
                return True
        except TimeoutError:
            continue
        except OSError:
            return True
    return False


def trickle_on(sock: socket.socket, data: bytes, pause: float) -> bool:
    """Send ``data`` a byte at a time; whether the server cut us off before the end."""
    for byte in data:
        try:
            sock.sendall(bytes([byte]))
        except OSError:
            return True
        sock.settimeout(pause)
        try:
            if sock.recv(4096) == b"":
                return True
        except TimeoutError:
            pass
        except OSError:
            return True
    return False


def trickle(port: int, data: bytes, pause: float) -> bool:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        return trickle_on(sock, data, pause)


@pytest_twisted.ensureDeferred
async def test_a_client_trickling_its_request_is_cut_off(serve, caplog):
    caplog.set_level(logging.INFO, "scrapy_webservice")
    served = serve(WEBSERVICE_TIMEOUT=1)
    port = served.service.port.getHost().port
    # Each byte comes before the idle timeout, so only the request deadline
    # can end this: 40 bytes at 0.25 s would take 10 s.
    slowloris = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 40
    assert await threads.deferToThread(trickle, port, slowloris, 0.25)
    assert "not complete within 1 s (WEBSERVICE_TIMEOUT)" in caplog.text
    assert (await served.get("")).status == 200


def answered_then_trickle(port: int, first: bytes, slow: bytes, wait: float, pause: float) -> bool:
    """One request answered, ``wait`` seconds, then ``slow`` a byte at a time; whether cut off."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(first)
        sock.settimeout(5)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            assert chunk, "the first request got no answer"
            received += chunk
        time.sleep(wait)
        return trickle_on(sock, slow, pause)


@pytest_twisted.ensureDeferred
async def test_a_trickling_request_after_an_answered_one_is_cut_off_too(serve, caplog):
    # One deadline timer per connection: armed by the first request, it fires
    # while the second (begun later) is still arriving, and waits out the rest
    # of the second's own time before cutting it off.
    caplog.set_level(logging.INFO, "scrapy_webservice")
    served = serve(WEBSERVICE_TIMEOUT=1)
    port = served.service.port.getHost().port
    first = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    slowloris = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Padding: " + b"a" * 40
    assert await threads.deferToThread(answered_then_trickle, port, first, slowloris, 0.5, 0.25)
    assert "not complete within 1 s (WEBSERVICE_TIMEOUT)" in caplog.text
    assert (await served.get("")).status == 200


def answered_then_slow_headers(port: int, wait: float, pause: float) -> bytes:
    """One request answered; ``wait`` s; a request line at once, its headers slowly; the answer."""
    first = b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(first)
        sock.settimeout(10)
        received = b""
        while b"\r\n\r\n" not in received:
            received += sock.recv(4096)
        time.sleep(wait)
        sock.sendall(b"GET /health HTTP/1.1\r\n")
        for line in (b"Host: 127.0.0.1\r\n", b"X-One: 1\r\n", b"X-Two: 2\r\n", b"\r\n"):
            time.sleep(pause)
            try:
                sock.sendall(line)
            except OSError:
                return b""
        try:
            return sock.recv(4096)
        except OSError:
            return b""


@pytest_twisted.ensureDeferred
async def test_a_request_whose_headers_come_slowly_has_its_whole_time(serve, caplog):
    # The connection's deadline timer, armed by the first request, fires
    # while the second's headers arrive (Twisted has set the idle timeout
    # aside by then): the second still gets all of WEBSERVICE_TIMEOUT from
    # its own first byte, here 3 s for headers sent over about 2 s.
    caplog.set_level(logging.INFO, "scrapy_webservice")
    served = serve(WEBSERVICE_TIMEOUT=3)
    port = served.service.port.getHost().port
    answer = await threads.deferToThread(answered_then_slow_headers, port, 1.5, 0.5)
    assert answer.startswith(b"HTTP/1.1 200 "), answer
    assert "not complete within" not in caplog.text


def half_open(port: int, payload: bytes, limit: float) -> bool:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.sendall(payload)
        return read_until_closed(sock, limit)


@pytest_twisted.ensureDeferred
async def test_silent_and_half_sent_connections_time_out(serve):
    served = serve(WEBSERVICE_TIMEOUT=1)
    port = served.service.port.getHost().port
    silent = threads.deferToThread(half_open, port, b"", 10)
    body_missing = threads.deferToThread(
        half_open,
        port,
        b"POST /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\n{",
        10,
    )
    # Idle after an answer: the timeout Twisted sets aside while answering counts again.
    answered = threads.deferToThread(
        half_open, port, b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n", 10
    )
    assert await silent
    assert await body_missing
    assert await answered
    assert (await served.get("")).status == 200


def leave_early(port: int, token: str) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        headers = f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        sock.sendall(f"GET /slow HTTP/1.1\r\n{headers}\r\n".encode())


@pytest_twisted.ensureDeferred
async def test_a_client_leaving_mid_request_cancels_the_work_quietly(serve, caplog):
    Slow.answered.clear()
    served = serve(WEBSERVICE_RESOURCES=RESOURCES)
    port = served.service.port.getHost().port
    await threads.deferToThread(leave_early, port, served.token)
    deadline = time.monotonic() + 10
    while not Slow.answered and time.monotonic() < deadline:
        await threads.deferToThread(time.sleep, 0.05)
    assert Slow.answered == ["cancelled"]
    assert "ERROR" not in [record.levelname for record in caplog.records]
    assert (await served.get("slow")).json == {"late": True}


class OwnCancel(JsonResource):
    """Fails with a CancelledError of its own (an inner Deferred was cancelled)."""

    ws_name = "owncancel"

    def render_GET(self, txrequest):
        d = defer.Deferred()
        reactor.callLater(0.01, d.cancel)
        return d


class FallbackOnCancel(JsonResource):
    """On cancellation, answers a fallback value instead of failing."""

    ws_name = "fallback"

    def render_GET(self, txrequest):
        d = defer.Deferred(lambda d: d.callback({"fallback": True}))
        return d


@pytest_twisted.ensureDeferred
async def test_every_way_a_slow_resource_ends_gets_an_answer(serve):
    served = serve(
        WEBSERVICE_RESOURCES={OwnCancel: 1, FallbackOnCancel: 2},
        WEBSERVICE_RESPONSE_TIMEOUT=0.3,
    )
    own = await served.get("owncancel")
    assert own.status == 500  # its own failure, not ours: answered, never left hanging
    assert own.json["error"]["message"] == "Internal error: CancelledError"
    fallback = await served.get("fallback")
    assert fallback.status == 504  # it answered only because we cancelled it
