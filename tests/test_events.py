"""``GET /events``: Server-Sent Events over real HTTP on 127.0.0.1, in this process."""

from __future__ import annotations

import itertools
import logging
import socket
import time
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor, task, threads

from scrapy_webservice.cli.client import WebServiceClient, WebServiceError, parse_event_stream
from scrapy_webservice.testing import ServedService


def read(served: ServedService, count: int, **options: Any):
    """A Deferred of the first ``count`` events one client receives (read in a thread)."""
    client = WebServiceClient(served.url, served.token)
    options.setdefault("timeout", 20)
    return threads.deferToThread(lambda: list(itertools.islice(client.events(**options), count)))


async def until(condition, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        await task.deferLater(reactor, 0.02, lambda: None)


def subscribers(served: ServedService) -> int:
    return len(served.service.events.subscribers)


def names(events) -> list[str]:
    return [event.name for event in events]


@pytest_twisted.ensureDeferred
async def test_events_need_the_token(serve):
    served = serve()
    reply = await served.get("events", token=None)
    assert reply.status == 401
    readonly = serve(WEBSERVICE_READONLY_TOKEN="r" * 32)
    client = WebServiceClient(readonly.url, "r" * 32)
    # The read-only token may watch.
    first = threads.deferToThread(lambda: next(client.events(timeout=10)))
    await until(lambda: subscribers(readonly) == 1)
    readonly.service.events.publish("spider_opened", spider="demo")
    assert (await first).name == "spider_opened"


@pytest_twisted.ensureDeferred
async def test_two_clients_get_the_same_events_in_order(serve):
    served = serve()
    first, second = read(served, 4), read(served, 4)
    await until(lambda: subscribers(served) == 2)
    bus = served.service.events
    bus.publish("spider_opened", spider="demo")
    bus.publish("rates", spider="demo", pages=3)
    logging.getLogger("scrapy.core.scraper").error("Spider error processing %s", "<GET x>")
    bus.publish("spider_closed", spider="demo", reason="finished")
    one, two = await first, await second
    assert one == two
    assert names(one) == ["spider_opened", "rates", "log", "spider_closed"]
    assert [e.id for e in one] == sorted(e.id for e in one)
    log = one[2].data
    assert log["level"] == "ERROR"
    assert log["logger"] == "scrapy.core.scraper"
    assert log["message"] == "Spider error processing <GET x>"
    assert one[1].data["pages"] == 3
    assert one[3].data["reason"] == "finished"
    assert all("time" in event.data for event in one)


@pytest_twisted.ensureDeferred
async def test_warnings_are_not_events(serve):
    served = serve()
    got = read(served, 1)
    await until(lambda: subscribers(served) == 1)
    logging.getLogger("scrapy").warning("only a warning")
    served.service.events.publish("spider_closed", spider="demo", reason="x")
    assert names(await got) == ["spider_closed"]


@pytest_twisted.ensureDeferred
async def test_last_event_id_replays_what_was_missed(serve):
    served = serve()
    bus = served.service.events
    kept = [bus.publish("rates", spider="demo", n=n) for n in range(3)]
    replay = await read(served, 2, last_event_id=kept[0].id)
    assert [e.data["n"] for e in replay] == [1, 2]
    everything = await read(served, 3, last_event_id=0)
    assert [e.data["n"] for e in everything] == [0, 1, 2]


@pytest_twisted.ensureDeferred
async def test_filters_by_spider_and_event_name(serve):
    served = serve()
    got = read(served, 2, spiders=["a"], names=["spider_closed", "log"])
    await until(lambda: subscribers(served) == 1)
    bus = served.service.events
    bus.publish("spider_closed", spider="b", reason="x")
    bus.publish("rates", spider="a")
    bus.publish("spider_closed", spider="a", reason="y")
    bus.publish("log", spider=None, message="process-wide")
    events = await got
    assert [(e.name, e.data.get("reason")) for e in events] == [
        ("spider_closed", "y"),
        ("log", None),
    ]


@pytest_twisted.ensureDeferred
async def test_a_gone_client_is_forgotten(serve):
    served = serve()
    sock = socket.create_connection(("127.0.0.1", served.service.port.getHost().port))
    request = f"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {served.token}"
    sock.sendall(request.encode() + b"\r\n\r\n")
    await until(lambda: subscribers(served) == 1)
    sock.close()
    await until(lambda: subscribers(served) == 0)
    events_resource = served.service.root.children[b"events"]
    assert events_resource.streams == []


@pytest_twisted.ensureDeferred
async def test_a_client_that_stops_reading_is_dropped_and_the_others_keep_up(serve, caplog):
    caplog.set_level(logging.INFO, "scrapy_webservice")
    limit = 64 * 1024
    served = serve(WEBSERVICE_EVENTS_MAX_BUFFER=limit)
    stalled = socket.socket()
    stalled.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    stalled.connect(("127.0.0.1", served.service.port.getHost().port))
    request = f"GET /events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {served.token}"
    stalled.sendall(request.encode() + b"\r\n\r\n")
    count = 400
    reader = read(served, count)
    await until(lambda: subscribers(served) == 2)
    streams = served.service.root.children[b"events"].streams
    stalled_stream = streams[0]
    padding = "x" * 10_000
    most_pending = 0
    for n in range(count):
        served.service.events.publish("rates", spider="demo", n=n, padding=padding)
        most_pending = max(most_pending, stalled_stream.pending_size)
        if n % 4 == 0:  # a burst the socket of a reading client takes at once
            await task.deferLater(reactor, 0.005, lambda: None)
    events = await reader
    assert [e.data["n"] for e in events] == list(range(count))
    assert stalled_stream.closed
    assert stalled_stream not in served.service.events.subscribers
    assert most_pending <= limit + len(padding) + 200
    assert "dropped: it reads too slowly" in caplog.text
    stalled.close()


@pytest_twisted.ensureDeferred
async def test_too_many_clients_get_503(serve):
    served = serve(WEBSERVICE_EVENTS_MAX_CLIENTS=1)
    first = read(served, 1)
    await until(lambda: subscribers(served) == 1)
    reply = await served.get("events")
    assert reply.status == 503
    assert "WEBSERVICE_EVENTS_MAX_CLIENTS" in reply.json["error"]["message"]
    served.service.events.publish("spider_closed", spider="demo", reason="x")
    assert names(await first) == ["spider_closed"]


@pytest_twisted.ensureDeferred
async def test_stopping_the_service_ends_the_streams(serve):
    served = serve()
    got = read(served, 100)
    await until(lambda: subscribers(served) == 1)
    served.service.events.publish("spider_closed", spider="demo", reason="finished")
    await served.service.stop()
    events = await got  # the stream ended: fewer events than asked for
    assert names(events) == ["spider_closed"]


@pytest_twisted.ensureDeferred
async def test_other_methods_are_refused_with_json(serve):
    served = serve()
    reply = await served.request(
        "events", "POST", body="{}", headers={"Content-Type": "application/json"}
    )
    assert reply.status == 405
    assert reply.headers["allow"] == "GET"


def test_parse_event_stream_follows_the_format():
    body = [
        b"retry: 2000\n",
        b": a comment\n",
        b"\n",
        b"id: 7\n",
        b"event: rates\n",
        b'data: {"a":\n',
        b"data: 1}\n",
        b"\n",
        b'data: {"b": 2}\r\n',
        b"\r\n",
    ]
    events = list(parse_event_stream(body))
    assert [(e.id, e.name, e.data) for e in events] == [
        (7, "rates", {"a": 1}),
        (None, "message", {"b": 2}),
    ]


def test_unreachable_service_raises_a_clear_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    client = WebServiceClient(f"http://127.0.0.1:{port}/", "t")
    with pytest.raises(WebServiceError, match="cannot reach the web service"):
        next(client.events(timeout=5))


@pytest_twisted.ensureDeferred
async def test_a_replay_bigger_than_the_slow_client_budget_is_sent_whole(serve):
    served = serve(WEBSERVICE_EVENTS_MAX_BUFFER=16 * 1024)
    for n in range(150):
        served.service.events.publish("log", spider="demo", message="x" * 2000, n=n)
    events = await read(served, 150, last_event_id=0)
    assert [e.data["n"] for e in events] == list(range(150))
    await until(lambda: subscribers(served) == 0)
    assert served.service.root.children[b"events"].streams == []


@pytest_twisted.ensureDeferred
async def test_an_event_that_is_not_json_is_left_out_for_everyone_else_too(serve, caplog):
    served = serve()
    got = read(served, 2)
    await until(lambda: subscribers(served) == 1)
    bus = served.service.events
    bus.publish("rates", spider="demo", n=1)
    bus.publish("custom", spider="demo", value=object())
    bus.publish("rates", spider="demo", n=2)
    assert [e.data["n"] for e in await got] == [1, 2]
    assert "left out: not JSON" in caplog.text


def stream_then_wait_for_close(port: int, token: str) -> bytes:
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        headers = f"Host: 127.0.0.1\r\nAuthorization: Bearer {token}\r\n"
        sock.sendall(f"GET /events HTTP/1.1\r\n{headers}\r\n".encode())
        received = b""
        while chunk := sock.recv(4096):
            received += chunk
        return received


@pytest_twisted.ensureDeferred
async def test_stopping_the_service_closes_stream_connections(serve):
    served = serve()
    port = served.service.port.getHost().port
    reader = threads.deferToThread(stream_then_wait_for_close, port, served.token)
    await until(lambda: subscribers(served) == 1)
    await served.service.stop()
    received = await reader  # the server closed the connection: recv() returned b""
    assert received.startswith(b"HTTP/1.1 200 OK")
    assert served.service.events.closed
