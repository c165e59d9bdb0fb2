"""``WEBSERVICE_STALL_THRESHOLD``: the watchdog names the crawl's code that blocked the reactor.

In this process with a real reactor (the test itself blocks it), and in real
``scrapy runspider`` crawls whose callback and pipeline call ``time.sleep``.
"""

from __future__ import annotations

import inspect
import itertools
import json
import re
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted
from twisted.internet import reactor, task, threads

from scrapy_webservice.cli.client import WebServiceClient
from scrapy_webservice.server.stalls import LagHistogram, where
from scrapy_webservice.testing import ServedService, WatchedProcess

from .processes import scrapy_ws

SPIDER = Path(__file__).parent / "data" / "spiders" / "stalling.py"


def marked_line(path: Path, mark: str) -> int:
    """The number of the line of ``path`` that ends in ``# blocks: MARK``."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.rstrip().endswith(f"# blocks: {mark}"):
            return number
    raise AssertionError(f"no line marked {mark!r} in {path}")


def watchdog_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "scrapy-webservice stall watchdog"]


async def sleep(seconds: float) -> None:
    await task.deferLater(reactor, seconds, lambda: None)


async def stalls_seen(served: ServedService, count: int, timeout: float = 10) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while (found := served.api.stalls())["count"] < count:
        assert time.monotonic() < deadline, f"{count} stall(s) not reported: {found}"
        await sleep(0.05)
    return found


# -- in this process -------------------------------------------------------------------------


@pytest_twisted.ensureDeferred
async def test_a_blocked_reactor_is_a_stall_that_names_the_line(serve):
    served = serve(WEBSERVICE_STALL_THRESHOLD=0.2)
    client = WebServiceClient(served.url, served.token)
    event = threads.deferToThread(lambda: next(client.events(names=["stall"], timeout=20)))
    while not served.service.events.subscribers:
        await sleep(0.02)
    await sleep(0.3)  # the heartbeat runs: the watchdog times from it
    line = inspect.currentframe().f_lineno + 1
    time.sleep(0.6)  # the reactor is blocked here
    found = await stalls_seen(served, 1)
    stall = found["recent"][-1]
    assert (
        stall["where"]
        == f"{__file__}:{line} in test_a_blocked_reactor_is_a_stall_that_names_the_line"
    )
    assert stall["code"] == "time.sleep(0.6)  # the reactor is blocked here"
    assert stall["stack"][-1].startswith(f"{__file__}:{line} in ")
    assert 0.3 < stall["seconds"] < 10
    assert found["threshold"] == 0.2
    assert found["max_seconds"] == stall["seconds"]

    published = await event
    assert published.name == "stall"
    assert published.data["where"] == stall["where"]
    assert published.data["seconds"] == stall["seconds"]
    # Read over HTTP as a user does: the same, without the lag histogram.
    answered = await served.call("stalls", "recent", limit=5)
    assert answered == {key: value for key, value in found.items() if key != "lag"}


@pytest_twisted.ensureDeferred
async def test_a_block_under_the_threshold_is_lag_not_a_stall(serve):
    served = serve(WEBSERVICE_STALL_THRESHOLD=1.5)
    await sleep(0.3)
    time.sleep(0.4)
    await sleep(0.3)  # heartbeats after the block
    found = served.api.stalls()
    assert found["count"] == 0
    assert found["recent"] == []
    lag = await served.call("stalls", "lag")
    below = {str(bound): count for bound, count in lag["buckets"]}
    # The heartbeat after the block ran about 0.4 s late: counted above 0.25 s.
    assert lag["count"] > below["0.25"]
    assert lag["sum"] >= 0.25


@pytest_twisted.ensureDeferred
async def test_with_the_watchdog_off_no_thread_runs_and_the_answer_says_so(serve):
    before = len(watchdog_threads())
    served = serve(WEBSERVICE_STALL_THRESHOLD=None)
    assert len(watchdog_threads()) == before
    time.sleep(0.3)
    assert await served.call("stalls", "recent") == {
        "threshold": None,
        "count": 0,
        "max_seconds": 0.0,
        "recent": [],
    }
    assert await served.call("stalls", "lag") is None


@pytest_twisted.ensureDeferred
async def test_the_watchdog_thread_ends_with_the_service(webservice):
    served = webservice(WEBSERVICE_STALL_THRESHOLD=0.5)
    thread = served.service.watchdog._thread
    assert thread is not None
    assert thread.is_alive()
    await served.service.stop()
    assert not thread.is_alive()
    assert served.service.watchdog._thread is None


def test_the_lag_histogram_is_cumulative_like_prometheus():
    histogram = LagHistogram((0.1, 1.0))
    for seconds in (0.05, 0.1, 0.5, 3.0):
        histogram.observe(seconds)
    assert histogram.snapshot() == {
        "buckets": [[0.1, 2], [1.0, 3], ["+Inf", 4]],
        "count": 4,
        "sum": 3.65,
    }


def test_where_skips_the_libraries_to_the_users_frame():
    import traceback

    import scrapy

    library = traceback.FrameSummary(scrapy.__file__, 1, "crawl", line="")
    stdlib = traceback.FrameSummary(threading.__file__, 2, "wait", line="")
    mine = traceback.FrameSummary("/srv/shop/shop/pipelines.py", 14, "process_item", line="")
    assert where([library, mine, stdlib]) is mine
    # Only libraries: the innermost frame, rather than nothing.
    assert where([library, stdlib]) is stdlib
    assert where([]) is None


# -- real crawls -------------------------------------------------------------------------------


def runspider(tmp_path: Path, settings: dict[str, Any], **arguments: str) -> WatchedProcess:
    args = [sys.executable, "-m", "scrapy", "runspider", str(SPIDER)]
    for name, value in arguments.items():
        args += ["-a", f"{name}={value}"]
    # The service lingers after the (short) crawl, so that it can be asked.
    settings = {"WEBSERVICE_LINGER": 30, **settings}
    for name, value in settings.items():
        args += ["-s", f"{name}={value}"]
    return WatchedProcess(args, cwd=tmp_path)


def finished_stats(crawl: WatchedProcess) -> dict[str, str]:
    crawl.wait_for(r"Spider closed \(finished\)")
    return dict(re.findall(r"'(webservice/stall[^']*)': ([0-9.]+)", crawl.output))


@pytest.mark.integration
def test_a_callback_and_a_pipeline_that_block_are_named(crawls, tmp_path):
    crawl = runspider(tmp_path, {}, block="callback,pipeline", seconds="0.8")
    crawls.append(crawl)
    crawl.wait_for(r"Web service lingering")
    client = WebServiceClient.discover()
    found = client.call("stalls", "recent")
    callback = f"{SPIDER}:{marked_line(SPIDER, 'callback')} in parse"
    pipeline = f"{SPIDER}:{marked_line(SPIDER, 'pipeline')} in process_item"
    assert [stall["where"] for stall in found["recent"]] == [callback, pipeline], crawl.output
    assert found["count"] == 2
    assert found["threshold"] == 0.5
    # The pipeline's stack goes on into threading.py: where is the pipeline's line.
    assert "threading.py" in found["recent"][1]["stack"][-1]
    assert all(0.6 < stall["seconds"] < 30 for stall in found["recent"])
    assert (
        found["recent"][1]["code"] == "threading.Event().wait(spider.seconds)  # blocks: pipeline"
    )
    # The kept events, replayed to a client that connects late.
    events = list(itertools.islice(client.events(names=["stall"], last_event_id=0), 2))
    assert [(e.data["where"], e.data["spider"]) for e in events] == [
        (callback, "stalling"),
        (pipeline, "stalling"),
    ]
    stats = finished_stats(crawl)
    assert stats["webservice/stalls"] == "2"
    assert float(stats["webservice/stall_seconds_max"]) == max(
        stall["seconds"] for stall in found["recent"]
    )
    assert "The reactor was blocked" in crawl.output
    assert callback in crawl.output


@pytest.mark.integration
def test_scrapy_ws_stalls_lists_them(crawls, tmp_path):
    crawl = runspider(tmp_path, {}, block="callback", seconds="0.8")
    crawls.append(crawl)
    crawl.wait_for(r"Web service lingering")
    callback = f"{SPIDER}:{marked_line(SPIDER, 'callback')} in parse"
    shown = scrapy_ws("stalls")
    assert (shown.returncode, shown.stderr) == (0, "")
    lines = shown.stdout.splitlines()
    longest = r"1 stall\(s\) of more than 0.5 s, the longest \d+\.\d\d s; the most recent:"
    assert re.fullmatch(longest, lines[0]), lines
    assert lines[1].endswith(f" s  {callback}")
    assert lines[2].strip() == "time.sleep(self.seconds)  # blocks: callback"
    assert len(lines) == 3
    with_stack = scrapy_ws("stalls", "--stack").stdout.splitlines()
    # The frames, innermost last, below the stall: the callback's line is the last.
    assert with_stack[:3] == lines
    assert all(re.fullmatch(r" {24}\S+:\d+ in \S+", frame) for frame in with_stack[3:])
    assert len(with_stack) > 4
    assert with_stack[-1].strip() == callback
    answer = json.loads(scrapy_ws("stalls", "--json").stdout)
    assert answer["count"] == 1
    assert answer["recent"][0]["where"] == callback
    wrong = scrapy_ws("stalls", "nope")
    assert wrong.returncode == 4
    assert "No running spider named 'nope'" in wrong.stderr


@pytest.mark.integration
def test_a_crawl_without_blocking_code_has_no_stall(crawls, tmp_path):
    crawl = runspider(tmp_path, {}, block="none", pages="300")
    crawls.append(crawl)
    crawl.wait_for(r"Web service lingering")
    found = WebServiceClient.discover().call("stalls", "recent")
    assert found["count"] == 0
    assert found["recent"] == []
    assert "'item_scraped_count': 300" in crawl.output
    assert finished_stats(crawl) == {}
    assert "The reactor was blocked" not in crawl.output


@pytest.mark.integration
def test_the_threshold_setting_is_honoured(crawls, tmp_path):
    crawl = runspider(tmp_path, {"WEBSERVICE_STALL_THRESHOLD": 2}, block="callback", seconds="0.8")
    crawls.append(crawl)
    crawl.wait_for(r"Web service lingering")
    client = WebServiceClient.discover()
    found = client.call("stalls", "recent")
    assert found["threshold"] == 2
    assert found["count"] == 0
    lag = client.call("stalls", "lag")
    below = {str(bound): count for bound, count in lag["buckets"]}
    assert lag["count"] > below["0.5"], "the 0.8 s block was seen as lag"
    assert finished_stats(crawl) == {}
