"""Watching and steering a real crawl: rates, honest pause/resume, events, scrapy-ws.

Every test runs ``scrapy crawl`` in a subprocess against the local shop;
waits are bounded, and nothing here asserts how long anything took.
"""

from __future__ import annotations

import json
import os
import subprocess
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from scrapy_webservice.cli.client import ServerEvent, WebServiceClient

from .processes import BIN, PRODUCTS, Crawl, count_lines, scrapy_ws, wait_until

pytestmark = pytest.mark.integration

SLOW_HEARTBEAT = json.dumps({"wsproject.heartbeat.SlowHeartbeat": 0})


def start_crawl(crawls, shop_url: str, tmp_path: Path, **settings: Any) -> WebServiceClient:
    crawl = Crawl(shop_url, tmp_path / "items.jsonl", settings=settings)
    crawls.append(crawl)
    crawl.wait_for(r"Web service URL and token written to")
    return WebServiceClient.discover()


def stats(client: WebServiceClient) -> dict[str, Any]:
    return client.call("stats", "get_stats", "demo")


def test_rates_agree_with_the_stats_they_come_from(slow_shop, crawls, tmp_path):
    client = start_crawl(crawls, slow_shop, tmp_path, WEBSERVICE_RATES_INTERVAL=0.2)
    wait_until(lambda: client.call("stats", "get_rates", "demo")["pages"] >= 5, what="5 pages")
    rates = client.call("stats", "get_rates", "demo")
    after = stats(client)

    # The counts are the stats at the sample, which is older than `after`.
    assert 5 <= rates["pages"] <= after["response_received_count"]
    assert rates["items"] <= after.get("item_scraped_count", 0)
    assert sum(rates["status_counts"].values()) == rates["pages"]
    assert set(rates["status_counts"]) == {"200"}
    assert rates["errors"] == after.get("log_count/ERROR", 0) == 0
    assert rates["state"] == "running"
    assert 0 <= rates["in_flight"] <= 4
    # The crawl is younger than a minute: both windows start at the first sample.
    elapsed = rates["elapsed"]
    assert 0 < elapsed < 60
    since_start = rates["since_start"]
    assert since_start["seconds"] == elapsed
    assert since_start["pages_per_minute"] == pytest.approx(
        rates["pages"] * 60 / elapsed, rel=1e-3
    )
    assert since_start["items_per_minute"] == pytest.approx(
        rates["items"] * 60 / elapsed, rel=1e-3, abs=1e-3
    )
    assert rates["last_minute"] == since_start

    # The same rates, for every spider and inside the engine status.
    assert set(client.call("stats", "get_rates")) == {"demo"}
    status = client.get("enginestatus/demo")
    assert status["state"] == "running"
    assert status["rates"]["spider"] == "demo"
    assert status["rates"]["pages"] >= rates["pages"]


def test_pause_is_honest_and_resume_wakes_the_engine_at_once(slow_shop, crawls, tmp_path):
    # A one-minute engine heartbeat: only the service's own wake-up can make
    # the crawl fetch again within the wait below.
    client = start_crawl(crawls, slow_shop, tmp_path, EXTENSIONS=SLOW_HEARTBEAT)
    wait_until(lambda: stats(client).get("response_received_count", 0) >= 3, what="3 pages")

    answer = client.call("crawler/engine", "pause", "demo")
    at_pause = stats(client)
    assert answer["spider"] == "demo"
    assert answer["paused"] is True
    # Four requests at a time, each answered after 0.3 s: some are in flight.
    # Not at most four: in flight counts responses downloaded and still waiting
    # for the spider, which lag behind the downloader on a loaded machine.
    assert answer["state"] == "pausing", answer
    assert answer["in_flight"] > 0
    assert len(answer["in_flight_urls"]) == answer["in_flight"]
    assert all(url.startswith(slow_shop) for url in answer["in_flight_urls"])

    # Pausing -> paused once what was in flight is done; nothing new is sent.
    states = [answer["state"]]

    def paused() -> bool:
        states.append(client.call("crawler/engine", "state", "demo")["state"])
        return states[-1] == "paused"

    wait_until(paused, what="paused")
    assert set(states) <= {"pausing", "paused"}
    frozen = stats(client)
    assert frozen["downloader/request_count"] == at_pause["downloader/request_count"]
    answered = frozen["response_received_count"] - at_pause["response_received_count"]
    assert answered <= answer["in_flight"]
    assert client.call("crawler/engine", "state", "demo")["in_flight"] == 0
    time.sleep(1.0)
    assert stats(client)["downloader/request_count"] == frozen["downloader/request_count"]
    assert client.get("enginestatus/demo")["state"] == "paused"

    resumed = client.call("crawler/engine", "unpause", "demo")
    assert resumed["state"] == "running"
    wait_until(
        lambda: stats(client)["downloader/request_count"] > frozen["downloader/request_count"],
        timeout=20,
        what="a request after resume",
    )
    crawl = crawls[-1]
    assert crawl.wait() == 0
    assert "'finish_reason': 'finished'" in crawl.output
    assert count_lines(tmp_path / "items.jsonl") == PRODUCTS


class EventReader(threading.Thread):
    """Reads ``/events`` in a thread until the stream ends (or ``stop_after`` events)."""

    def __init__(self, client: WebServiceClient, stop_after: int | None = None, **options):
        super().__init__(daemon=True)
        self.client = client
        self.options = options
        self.stop_after = stop_after
        self.events: list[ServerEvent] = []
        self.error: BaseException | None = None
        self.start()

    def run(self) -> None:
        try:
            for event in self.client.events(timeout=60, **self.options):
                self.events.append(event)
                if self.stop_after is not None and len(self.events) >= self.stop_after:
                    return  # leaving the generator closes the connection
        except BaseException as exc:  # reported by the test
            self.error = exc

    def names(self) -> list[str]:
        return [e.name for e in self.events if e.name != "rates"]


def test_events_reach_two_clients_in_order_while_a_third_leaves(slow_shop, crawls, tmp_path):
    client = start_crawl(
        crawls, slow_shop, tmp_path, WEBSERVICE_RATES_INTERVAL=0.2, EXTENSIONS=SLOW_HEARTBEAT
    )
    first = EventReader(client, last_event_id=0)  # replays spider_opened
    second = EventReader(client)
    leaving = EventReader(client, stop_after=1)
    leaving.join(30)
    assert not leaving.is_alive()
    assert second.is_alive()

    wait_until(lambda: stats(client).get("response_received_count", 0) >= 3, what="3 pages")
    pause = client.call("crawler/engine", "pause", "demo")
    wait_until(lambda: client.call("crawler/engine", "state", "demo")["state"] == "paused")
    client.call("crawler/engine", "unpause", "demo")
    time.sleep(0.5)  # some rates while running again
    client.call("crawler/engine", "close_spider", "demo")
    for reader in (first, second):
        reader.join(60)
        assert not reader.is_alive(), "the stream did not end with the crawl"
        assert reader.error is None, reader.error

    expected = ["spider_paused", "spider_resumed", "spider_closed"]
    if pause["state"] == "pausing":
        expected.insert(0, "spider_pausing")
    assert first.names() == ["spider_opened", *expected]
    assert second.names() == expected
    ids = [e.id for e in first.events]
    assert ids == sorted(set(ids)), "ids count up, each once"
    # Both clients saw the same events from the moment both were connected.
    shared = {e.id for e in second.events}
    assert [e for e in first.events if e.id in shared] == second.events
    closed = first.events[-1]
    assert (closed.name, closed.data["reason"]) == ("spider_closed", "closed_by_webservice")
    rates = [e for e in first.events if e.name == "rates"]
    assert len(rates) >= 3
    pages = [e.data["pages"] for e in rates]
    assert pages == sorted(pages), "rates count up"
    assert {e.data["state"] for e in rates} >= {"running"}
    assert crawls[-1].wait() == 0


def test_scrapy_ws_for_people_and_scripts(slow_shop, crawls, tmp_path):
    start_crawl(crawls, slow_shop, tmp_path, EXTENSIONS=SLOW_HEARTBEAT)

    status = scrapy_ws("status")
    assert status.returncode == 0, status.stderr
    header, line = status.stdout.splitlines()
    assert header.split()[:3] == ["SPIDER", "STATE", "PAGES"]
    assert line.split()[:2] == ["demo", "running"]

    # Paused, the crawl waits for the rest of the test.
    paused = scrapy_ws("--json", "pause", "demo", "--wait")
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["state"] == "paused"
    assert scrapy_ws("status").stdout.splitlines()[1].split()[:2] == ["demo", "paused"]
    as_json = json.loads(scrapy_ws("--json", "status").stdout)
    assert as_json["demo"]["state"] == "paused"
    assert json.loads(scrapy_ws("--json", "status", "demo").stdout)["demo"]["spider"] == "demo"

    got = scrapy_ws("get", "enginestatus/demo")
    assert json.loads(got.stdout)["state"] == "paused"
    value = scrapy_ws("call", "stats", "get_value", "nope", "7", "demo")
    assert json.loads(value.stdout) == 7
    named = scrapy_ws("call", "stats", "get_value", "-k", "key=nope", "-k", "default=[1]")
    assert json.loads(named.stdout) == [1]

    missing = scrapy_ws("pause", "nope")
    assert missing.returncode == 4
    assert "No running spider named 'nope'" in missing.stderr
    assert scrapy_ws("get", "no/such/thing").returncode == 4
    assert scrapy_ws("call", "stats", "no_such_method").returncode == 4
    both = scrapy_ws("call", "stats", "get_value", "x", "-k", "default=1")
    assert both.returncode == 2
    assert "not both" in both.stderr

    resumed = scrapy_ws("resume", "demo")
    assert (resumed.returncode, resumed.stdout.strip()) == (0, "demo: running")
    stop = scrapy_ws("--json", "stop", "demo")
    assert json.loads(stop.stdout)["closing"] is True, stop.stderr
    assert crawls[-1].wait() == 0
    assert "'finish_reason': 'closed_by_webservice'" in crawls[-1].output
    assert scrapy_ws("status").returncode == 3


def test_watch_shows_the_spiders_live_and_exits_when_the_crawl_ends(slow_shop, crawls, tmp_path):
    pexpect = pytest.importorskip("pexpect", reason="pip install -e '.[test]' installs pexpect")
    client = start_crawl(crawls, slow_shop, tmp_path, EXTENSIONS=SLOW_HEARTBEAT)
    env = {**os.environ, "TERM": "xterm-256color", "COLUMNS": "140", "LINES": "30"}
    watch = pexpect.spawn(
        str(BIN / "scrapy-ws"),
        ["watch", "--interval", "0.3"],
        env=env,
        encoding="utf-8",
        dimensions=(30, 140),
        timeout=30,
    )
    try:
        watch.expect("demo")
        watch.expect("running")
        client.call("crawler/engine", "pause", "demo")
        watch.expect("paused")
        client.call("crawler/engine", "unpause", "demo")
        watch.expect("running")
        client.call("crawler/engine", "close_spider", "demo")
        watch.expect("Crawl finished")
        watch.expect(pexpect.EOF)
    finally:
        watch.close(force=True)
    assert watch.exitstatus == 0
    assert crawls[-1].wait() == 0


def test_watch_stops_cleanly_on_ctrl_c(slow_shop, crawls, tmp_path):
    pexpect = pytest.importorskip("pexpect", reason="pip install -e '.[test]' installs pexpect")
    start_crawl(crawls, slow_shop, tmp_path)
    watch = pexpect.spawn(
        str(BIN / "scrapy-ws"), ["watch"], encoding="utf-8", dimensions=(30, 140), timeout=30
    )
    try:
        watch.expect("demo")
        watch.sendintr()
        watch.expect("Stopped watching")
        watch.expect(pexpect.EOF)
    finally:
        watch.close(force=True)
    assert watch.exitstatus == 0
    assert "Traceback" not in (watch.before or "")


def test_watch_json_prints_one_parsable_line_a_poll(slow_shop, crawls, tmp_path):
    client = start_crawl(crawls, slow_shop, tmp_path)
    lines: list[dict[str, Any]] = []
    proc = subprocess.Popen(
        [str(BIN / "scrapy-ws"), "--json", "watch", "--interval", "0.2"],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            lines.append(json.loads(raw))
            if len(lines) == 3:
                client.call("crawler/engine", "close_spider", "demo")
        assert proc.wait(30) == 0
    finally:
        proc.kill()
    assert len(lines) >= 3
    assert lines[0]["spiders"]["demo"]["spider"] == "demo"
    assert all(set(line) == {"time", "spiders"} for line in lines)
