"""The service's share of the crawl's reactor (issue 27): bounded, cheap to refuse, seen.

The budget itself on a fake clock; then real sites on 127.0.0.1 (refusal
from the head, connection limits, a spent share answering everything
later); then a real crawl flooded with and without a token.
"""

from __future__ import annotations

import http.client
import json
import re
import socket
import threading
import time
from collections import Counter
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import threads
from twisted.internet.task import Clock

from scrapy_webservice.server.budget import AddressLimits, ReactorBudget
from scrapy_webservice.testing import start_shop

from .processes import Crawl, count_lines, wait_until
from .test_site_guard import assert_json_error, closed_within, port_of, request, send

# -- the budget, on a fake clock --------------------------------------------------------


class Recorder:
    def __init__(self) -> None:
        self.holds = 0

    def hold(self) -> None:
        self.holds += 1

    def release(self) -> None:
        self.holds -= 1


def test_a_spent_budget_holds_everything_until_it_refills():
    clock = Clock()
    events: list[dict[str, Any]] = []
    budget = ReactorBudget(0.1, clock.callLater, now=clock.seconds, on_shedding=events.append)
    port, connection = Recorder(), Recorder()
    budget.add(port)
    budget.add(connection)
    budget.charge(0.01)  # within the burst
    assert not budget.paused
    budget.charge(0.03)  # 20 ms over; 0.3 s to refill to half a burst (10 ms) at 0.1
    assert budget.paused
    assert (port.holds, connection.holds) == (0, 0)  # what is ready this turn still runs
    clock.advance(0)
    assert (port.holds, connection.holds) == (1, 1)
    late = Recorder()
    budget.add(late)  # a connection made while paused is held too
    assert late.holds == 1
    clock.advance(0.25)
    assert budget.paused
    clock.advance(0.06)
    assert not budget.paused
    assert (port.holds, connection.holds, late.holds) == (0, 0, 0)
    assert budget.counters.paused_seconds == pytest.approx(0.31)
    assert budget.counters.busy_seconds == pytest.approx(0.04)
    assert [e["pauses"] for e in events] == [1]

    budget.charge(0.05)  # bites again within the minute: no second event
    clock.advance(0)
    assert budget.paused
    assert port.holds == 1
    clock.advance(60)
    assert not budget.paused
    budget.charge(0.05)
    assert [e["pauses"] for e in events] == [1, 3]
    budget.stop()
    assert not clock.getDelayedCalls()


def test_a_steady_flood_gets_its_share_in_few_pauses():
    # One request after another, 1 ms each, for 20 s: the service works its share
    # of the time, and pauses once per half burst, not once per request.
    clock = Clock()
    budget = ReactorBudget(0.1, clock.callLater, now=clock.seconds)
    connection = Recorder()
    budget.add(connection)
    served = 0
    while clock.seconds() < 20:
        if connection.holds == 0:
            clock.advance(0.001)  # the request's work, then the loop's next turn
            budget.charge(0.001)
            served += 1
        clock.advance(0.001)
    work = served * 0.001
    assert 0.09 < work / clock.seconds() < 0.12
    # Half a burst of 20 ms is 10 requests; resuming at an empty bucket, it was one.
    assert budget.counters.pauses < served / 5
    assert budget.counters.pauses > 10  # and it did bite


def test_without_a_bound_the_work_is_counted_but_nothing_held():
    clock = Clock()
    budget = ReactorBudget(None, clock.callLater, now=clock.seconds)
    connection = Recorder()
    budget.add(connection)
    budget.charge(5.0)
    assert not budget.paused
    assert connection.holds == 0
    assert budget.snapshot()["busy_seconds"] == 5.0


def test_address_limits_and_the_penalty_of_failed_tokens():
    now = [0.0]
    limits = AddressLimits(max_connections=3, per_address=2, now=lambda: now[0])
    assert limits.admits("10.0.0.1")
    limits.opened("10.0.0.1")
    limits.opened("10.0.0.1")
    assert not limits.admits("10.0.0.1")
    assert limits.admits("10.0.0.2")
    limits.opened("10.0.0.2")
    assert not limits.admits("10.0.0.3")  # the total
    limits.closed("10.0.0.1")
    assert limits.admits("10.0.0.1")
    assert limits.admits("10.0.0.3")
    assert limits.by_address == {"10.0.0.1": 1, "10.0.0.2": 1}

    delays = [limits.failed("10.0.0.9") for _ in range(AddressLimits.FREE_FAILURES + 100)]
    assert delays[: AddressLimits.FREE_FAILURES] == [0.0] * AddressLimits.FREE_FAILURES
    assert delays[AddressLimits.FREE_FAILURES] > 0
    assert delays == sorted(delays)
    assert delays[-1] == AddressLimits.MAX_PENALTY
    assert limits.failed("10.0.0.8") == 0.0  # another address is not slowed
    now[0] += AddressLimits.WINDOW + 1
    assert limits.failed("10.0.0.9") == 0.0  # and the penalty fades


# -- a real site -----------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_request_whose_body_never_arrives_gets_its_401_at_once(webservice):
    served = webservice()
    head = (
        b"POST /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
        b"Content-Length: 100000\r\n\r\n"
    )
    answer = await send(served, head, close_limit=5)
    assert_json_error(answer, 401)
    assert answer.headers["connection"] == "close"
    assert answer.headers["www-authenticate"].startswith("Bearer")
    assert answer.closed
    # Keep-alive without a body: the connection goes on to the next request.
    answer = await send(served, request(target="/stats"), request(target="/stats"))
    assert_json_error(answer, 401)
    assert_json_error(answer.extra[0], 401)
    assert served.api.load()["refused"]["unauthorized"] == 3
    assert (await served.get("")).status == 200


def hold_connections(port: int, count: int, source: str = "127.0.0.1") -> list[socket.socket]:
    return [
        socket.create_connection(("127.0.0.1", port), timeout=10, source_address=(source, 0))
        for _ in range(count)
    ]


def get_on(sock: socket.socket, token: str) -> int:
    sock.sendall(request(target="/health", token=token))
    response = http.client.HTTPResponse(sock, method="GET")
    response.begin()
    response.read()
    return response.status


@pytest_twisted.ensureDeferred
async def test_connections_past_the_limits_are_closed_at_once(webservice):
    served = webservice(WEBSERVICE_MAX_CONNECTIONS=3, WEBSERVICE_MAX_CONNECTIONS_PER_ADDRESS=2)
    port = port_of(served)

    def scenario() -> None:
        mine = hold_connections(port, 2)
        assert closed_within(hold_connections(port, 1)[0], 5), "a 3rd from one address"
        other = hold_connections(port, 1, source="127.0.0.2")
        assert get_on(other[0], served.token) == 200
        assert closed_within(hold_connections(port, 1, source="127.0.0.3")[0], 5), "a 4th"
        assert [get_on(sock, served.token) for sock in mine] == [200, 200]
        mine[0].close()
        wait_until(lambda: served.service.limits.open == 2, what="a closed connection counted")
        again = hold_connections(port, 1)
        assert get_on(again[0], served.token) == 200
        for sock in [*mine, *other, *again]:
            sock.close()

    await threads.deferToThread(scenario)
    assert served.api.load()["refused"]["connections"] == 2


@pytest_twisted.ensureDeferred
async def test_a_spent_share_holds_reading_and_every_request_is_answered_in_order(webservice):
    # A share so small that a few requests spend it: the service pauses again and again.
    served = webservice(WEBSERVICE_MAX_SHARE=0.005)
    port = port_of(served)

    def client(number: int) -> list[Any]:
        ids = []
        with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
            for i in range(25):
                call = {"jsonrpc": "2.0", "method": "get_stats", "id": f"{number}-{i}"}
                body = json.dumps(call).encode()
                sock.sendall(
                    request(
                        "POST",
                        "/stats",
                        token=served.token,
                        headers=[b"Content-Type: application/json"],
                        body=body,
                    )
                )
                response = http.client.HTTPResponse(sock, method="POST")
                response.begin()
                ids.append(json.loads(response.read())["id"])
        return ids

    def flood() -> list[list[Any]]:
        results: dict[int, list[Any]] = {}
        workers = [
            threading.Thread(target=lambda n=n: results.__setitem__(n, client(n)))
            for n in range(4)
        ]
        for worker in workers:
            worker.start()
        for worker in workers:
            worker.join(120)
        return [results.get(n, []) for n in range(4)]

    answered = await threads.deferToThread(flood)
    assert answered == [[f"{n}-{i}" for i in range(25)] for n in range(4)]
    load = served.api.load()
    assert load["pauses"] >= 1
    assert load["paused_seconds"] > 0
    assert load["busy_seconds"] > 0
    health = await served.get("health")
    assert health.json["load"]["pauses"] >= load["pauses"]


# -- a real crawl, flooded ------------------------------------------------------------------


class Flooder(threading.Thread):
    """One keep-alive client sending requests as fast as answers come, until told to stop."""

    def __init__(self, address: tuple[str, int], token: str, stop: threading.Event) -> None:
        super().__init__(daemon=True)
        self.address, self.token, self.stop = address, token, stop
        self.statuses: Counter[int] = Counter()
        self.errors: list[str] = []
        self.out_of_order = 0
        self.start()

    def run(self) -> None:
        conn = http.client.HTTPConnection(*self.address, timeout=30)
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        number = 0
        deadline = time.monotonic() + 90  # bounded, whatever happens
        while not self.stop.is_set() and time.monotonic() < deadline:
            number += 1
            body = json.dumps({"jsonrpc": "2.0", "method": "get_stats", "id": number})
            try:
                conn.request("POST", "/stats", body=body, headers=headers)
                response = conn.getresponse()
                payload = response.read()
            except (OSError, http.client.HTTPException) as exc:
                if not self.stop.is_set():
                    self.errors.append(repr(exc))
                conn.close()
                conn = http.client.HTTPConnection(*self.address, timeout=30)
                continue
            self.statuses[response.status] += 1
            if response.status == 200 and json.loads(payload)["id"] != number:
                self.out_of_order += 1
        conn.close()


@pytest.mark.integration
def test_a_flooded_crawl_finishes_with_every_item_and_the_shedding_is_counted(crawls, tmp_path):
    shop, shop_url = start_shop(150, 0.3)
    try:
        crawl = Crawl(
            shop_url,
            tmp_path / "items.jsonl",
            # Lingering, the service answers the flood a while after the crawl ended.
            settings={
                "WEBSERVICE_MAX_SHARE": 0.02,
                "WEBSERVICE_DISCOVERY_DIR": tmp_path,
                "WEBSERVICE_LINGER": 10,
            },
        )
        crawls.append(crawl)
        url = crawl.service_url()
        crawl.wait_for(r"Web service URL and token written to")
        info = json.loads(next(tmp_path.glob("*.json")).read_text())
        address = (url.split("//")[1].split(":")[0], int(url.rstrip("/").rsplit(":", 1)[1]))
        stop = threading.Event()
        good = [Flooder(address, info["token"], stop) for _ in range(4)]
        bad = [Flooder(address, "wrong-token", stop) for _ in range(4)]
        time.sleep(3)
        health = http.client.HTTPConnection(*address, timeout=30)
        try:
            health.request("GET", "/health", headers={"Authorization": f"Bearer {info['token']}"})
            answer = json.loads(health.getresponse().read())
        except OSError as exc:
            raise AssertionError(crawl.output_tail(40)) from exc
        health.close()
        assert answer["status"] == "ok"
        crawl.wait_for(r"Spider closed \(finished\)", timeout=300)
        stop.set()
        for flooder in good + bad:
            flooder.join(60)
        # Still lingering: every 401 a client read was counted before it was written.
        # (The crawl's stats are a snapshot at close, and the flood went on after it.)
        lingering = http.client.HTTPConnection(*address, timeout=30)
        lingering.request("GET", "/health", headers={"Authorization": f"Bearer {info['token']}"})
        refused_live = json.loads(lingering.getresponse().read())["load"]["refused"]
        lingering.close()
        assert crawl.wait(300) == 0
    finally:
        shop.stop()
    assert "'finish_reason': 'finished'" in crawl.output
    assert count_lines(tmp_path / "items.jsonl") == 150
    assert all(f.errors == [] for f in good + bad), [f.errors[:3] for f in good + bad]
    assert all(set(f.statuses) == {200} and f.out_of_order == 0 for f in good)
    assert all(set(f.statuses) == {401} for f in bad)
    assert sum(f.statuses[200] for f in good) > 4
    stats = dict(re.findall(r"'(webservice/[^']+)': ([0-9.]+)", crawl.output))
    assert float(stats["webservice/busy_seconds"]) > 0
    assert int(stats["webservice/pauses"]) >= 1
    assert float(stats["webservice/paused_seconds"]) > 0
    assert int(stats["webservice/refused/unauthorized"]) > 0
    assert refused_live["unauthorized"] >= sum(f.statuses[401] for f in bad)
    assert refused_live["unauthorized"] >= int(stats["webservice/refused/unauthorized"])


@pytest_twisted.ensureDeferred
async def test_an_address_that_keeps_failing_is_slowed_and_still_answered(webservice):
    served = webservice()
    failures = AddressLimits.FREE_FAILURES + 3
    wrong = [request(target="/stats", token="wrong") for _ in range(failures)]
    answer = await send(served, *wrong)
    answers = [answer, *answer.extra]
    assert [a.status for a in answers] == [401] * failures  # the slowed ones too, in order
    assert served.service.limits.failed("127.0.0.1") > 0  # and this address is being slowed
    assert (await served.get("health")).status == 200  # while a valid token is not
