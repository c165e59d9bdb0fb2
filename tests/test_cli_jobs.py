"""``scrapy-ws`` slots, tune, enqueue, mem, log and settings on real crawls; watch's columns.

Each crawl test runs ``scrapy crawl`` in a subprocess against the local
shop and drives it with the installed ``scrapy-ws``, as a person or a
script would; waits are bounded, and nothing asserts how long anything took.
"""

from __future__ import annotations

import http.server
import io
import json
import queue
import re
import signal
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from scrapy_webservice.cli import program
from scrapy_webservice.cli.client import WebServiceClient
from scrapy_webservice.cli.tables import SLOT_COLUMNS
from scrapy_webservice.cli.watch import WATCH_COLUMNS, status_lines, watch
from scrapy_webservice.testing import start_shop

from .processes import BIN, Crawl, as_json, ok, scrapy_ws, wait_until

SLOT = "127.0.0.1"
#: Where the service's error messages name the service they come from.
NAMED = re.compile(r"\[service http://127\.0\.0\.1:\d+/ \(pid \d+\)\]")


@pytest.fixture
def long_shop() -> Iterator[str]:
    """A shop large and slow enough that its crawls outlast the test (stopped after it)."""
    shop, url = start_shop(2000, delay=0.3)
    yield url
    shop.stop()


def start(crawls: list[Any], shop_url: str, tmp_path: Path, **settings: Any) -> Crawl:
    crawl = Crawl(shop_url, tmp_path / "items.jsonl", settings=settings)
    crawls.append(crawl)
    crawl.wait_for(r"Web service URL and token written to")
    return crawl


def failed(code: int, *args: str) -> str:
    """The one-line error of ``scrapy-ws ARGS``, which must have exited with ``code``."""
    result = scrapy_ws(*args)
    assert result.returncode == code, (args, result.returncode, result.stdout, result.stderr)
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    return result.stderr


def stop(crawl: Crawl) -> None:
    ok("stop", "demo")
    assert crawl.wait() == 0


# -- slots and tune ------------------------------------------------------------------------


@pytest.mark.integration
def test_slots_and_tune_read_and_change_the_downloader(long_shop, crawls, tmp_path):
    crawl = start(crawls, long_shop, tmp_path, DOWNLOAD_DELAY=1)
    wait_until(lambda: as_json("slots", "demo")["slots"], what="a downloader slot")

    summary, header, row, *rest = ok("slots", "demo").splitlines()
    assert summary.startswith("demo: total concurrency 4 (")
    assert "new slots: concurrency 8, delay 1 s" in summary
    assert header.split() == SLOT_COLUMNS
    assert row.split()[0] == SLOT
    assert rest == []  # no AutoThrottle note: it is off
    slots = as_json("slots", "demo")
    assert (slots["spider"], slots["tuned"], slots["default_delay"]) == ("demo", False, 1.0)
    assert [(s["key"], s["delay"]) for s in slots["slots"]] == [(SLOT, 1.0)]

    # The table of the tuned downloader, then the same numbers as JSON.
    tuned = ok("tune", "demo", "--delay", "0")
    assert "delay 0 s; tuned" in tuned.splitlines()[0]
    assert tuned.splitlines()[2].split()[:1] == [SLOT]
    slots = as_json("slots", "demo")
    assert [s["delay"] for s in slots["slots"]] == [0.0]
    assert (slots["default_delay"], slots["tuned"]) == (0.0, True)

    one = as_json("tune", "demo", "--concurrency", "2", "--slot", SLOT)
    assert [s["concurrency"] for s in one["slots"]] == [2]
    assert one["default_concurrency"] == 8  # one slot only
    assert as_json("tune", "demo", "--total-concurrency", "3")["total_concurrency"] == 3

    usage = failed(2, "tune", "demo")
    assert "usage: scrapy-ws tune" in usage
    assert "tune needs at least one of --delay" in usage
    assert "--slot says which slot" in failed(2, "tune", "demo", "--slot", SLOT)
    missing = failed(4, "tune", "demo", "--delay", "1", "--slot", "nope")
    assert "no downloader slot 'nope'" in missing
    assert NAMED.search(missing)
    assert "delay must be a finite number >= 0" in failed(1, "tune", "demo", "--delay", "-1")
    assert "AutoThrottle was not loaded" in failed(1, "tune", "demo", "--autothrottle", "off")
    assert "No running spider named 'nope'" in failed(4, "slots", "nope")

    reset = as_json("tune", "demo", "--reset")
    assert (reset["tuned"], reset["total_concurrency"], reset["default_delay"]) == (False, 4, 1.0)
    assert [(s["delay"], s["concurrency"]) for s in reset["slots"]] == [(1.0, 8)]
    stop(crawl)


@pytest.mark.integration
def test_tune_switches_autothrottle_off(long_shop, crawls, tmp_path):
    crawl = start(crawls, long_shop, tmp_path, AUTOTHROTTLE_ENABLED=True)
    wait_until(lambda: as_json("slots", "demo")["slots"], what="a downloader slot")
    assert ok("slots", "demo").splitlines()[-1].startswith("note: AutoThrottle is on")

    tuned = ok("tune", "demo", "--autothrottle", "off", "--target-concurrency", "2")
    assert tuned.splitlines()[0] == "AutoThrottle: off, target concurrency 2"
    assert "note:" not in tuned
    state = as_json("tune", "demo", "--autothrottle", "on")["autothrottle_state"]
    assert (state["loaded"], state["enabled"], state["target_concurrency"]) == (True, True, 2.0)
    stop(crawl)


# -- enqueue -------------------------------------------------------------------------------


@pytest.mark.integration
def test_enqueue_feeds_a_running_spider(long_shop, crawls, tmp_path):
    crawl = start(crawls, long_shop, tmp_path)
    assert as_json("pause", "demo", "--wait")["state"] == "paused"
    url = f"{long_shop.rstrip('/')}/product/7?ref=cli"

    assert ok("enqueue", "demo", url, "--callback", "parse_product").strip() == (
        "1 scheduled, 0 duplicates; paused: kept until resumed"
    )
    again = as_json("enqueue", "demo", url, "--callback", "parse_product")
    assert (again["scheduled"], again["duplicates"], again["paused"]) == (0, 1, True)
    assert again["callback"] == "parse_product"
    once = ok("enqueue", "demo", url, "--callback", "parse_product")
    assert once.startswith("0 scheduled, 1 duplicate;"), once
    forced = as_json(
        "enqueue",
        "demo",
        url,
        "--callback=parse_product",
        "--dont-filter",
        "--priority",
        "1000",
        "--meta",
        '{"source": "cli"}',
        "--cb-kwargs",
        "{}",
        "--header",
        "X-Source: cli",
        "--method",
        "GET",
    )
    assert (forced["scheduled"], forced["duplicates"]) == (1, 0)

    # Refused by the service: exit 1, as every JSON-RPC error; the callbacks listed.
    bad = failed(1, "enqueue", "demo", url, "--callback", "nope")
    assert "error -32602: 'nope' is not a callback of spider 'demo'" in bad
    assert "parse, parse_product" in bad
    assert NAMED.search(bad)
    local = failed(1, "enqueue", "demo", "file:///etc/passwd")
    assert "scheme 'file' is not enqueued" in local
    # Refused before asking: bad usage, exit 2.
    assert "must be a JSON object" in failed(2, "enqueue", "demo", url, "--meta", "[1]")
    assert "'Name: value'" in failed(2, "enqueue", "demo", url, "--header", "X-Source")
    assert "No running spider named 'nope'" in failed(4, "enqueue", "nope", url)

    # Resumed, the spider fetches the request with its high priority and scrapes it.
    ok("log", "--set", "DEBUG")
    ok("resume", "demo")
    crawl.wait_for(r"Scraped from <200 \S+/product/7\?ref=cli>", timeout=60)
    stop(crawl)


# -- mem and settings ------------------------------------------------------------------------


@pytest.mark.integration
def test_mem_and_settings(long_shop, crawls, tmp_path):
    crawl = start(crawls, long_shop, tmp_path, DB_PASSWORD="x")
    wait_until(lambda: as_json("slots", "demo")["slots"], what="a request sent")

    text = ok("mem").splitlines()
    assert re.fullmatch(r"RSS [\d.]+ [KMG]iB, peak [\d.]+ [KMG]iB", text[0]), text
    assert text[1].startswith("GC on; counts ")
    table = text[text.index("") + 1 :]
    assert table[0].split() == ["CLASS", "COUNT", "OLDEST"]
    assert {line.split()[0] for line in table[1:]} >= {"DemoSpider", "Request"}
    memory = as_json("mem", "demo")
    assert set(memory) == {"usage", "live_refs"}
    assert {"rss_bytes", "peak_rss_bytes", "gc", "memusage"} <= set(memory["usage"])
    assert {"counts", "thresholds", "enabled"} <= set(memory["usage"]["gc"])
    assert all(
        set(ref) == {"class", "module", "count", "oldest_seconds"} for ref in memory["live_refs"]
    )
    oldest = ok("mem", "demo", "--oldest", "DemoSpider").splitlines()
    assert oldest[0].startswith("DemoSpider, ")
    assert oldest[1].split() == ["name", "demo"]
    assert as_json("mem", "--oldest", "Request")["class"] == "Request"
    assert "No live object of class 'Nope'" in failed(4, "mem", "--oldest", "Nope")
    assert "No running spider named 'nope'" in failed(4, "mem", "nope")

    # The secret given on the command line never comes back.
    for args in (
        ["settings", "get", "DB_PASSWORD"],
        ["settings", "get", "DB_PASSWORD", "--spider", "demo"],
    ):
        assert ok(*args).strip() == "DB_PASSWORD = <redacted>  (cmdline)"
        assert as_json(*args) == {
            "name": "DB_PASSWORD",
            "set": True,
            "value": "<redacted>",
            "priority": "cmdline",
        }
    assert ok("settings", "get", "CONCURRENT_REQUESTS", "--spider", "demo").strip() == (
        "CONCURRENT_REQUESTS = 4  (project)"
    )
    assert ok("settings", "get", "NOPE").strip() == "NOPE: not set"
    names = ok("settings", "list", "DOWNLOAD_DELAY", "--spider", "demo").split()
    assert "DOWNLOAD_DELAY" in names
    assert all(name.startswith("DOWNLOAD_DELAY") for name in names)
    every = as_json("settings", "list")
    assert {"DB_PASSWORD", "CONCURRENT_REQUESTS"} <= set(every)
    assert every == sorted(every)
    assert "settings get needs the name" in failed(2, "settings", "get")
    assert "No running spider named 'nope'" in failed(4, "settings", "list", "--spider", "nope")
    stop(crawl)


# -- log -----------------------------------------------------------------------------------


class Follower:
    """``scrapy-ws log --follow`` in a subprocess; its lines read by a thread."""

    def __init__(self, *args: str) -> None:
        self.proc = subprocess.Popen(
            [str(BIN / "scrapy-ws"), "log", "--follow", *args],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        self.lines: queue.Queue[str] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.put(line.rstrip("\n"))

    def received(self, pattern: str) -> str | None:
        """The first line read so far that matches ``pattern``."""
        while True:
            try:
                line = self.lines.get_nowait()
            except queue.Empty:
                return None
            if re.search(pattern, line):
                return line

    def interrupt(self) -> tuple[int, str]:
        """Ctrl-C: the exit code and standard error."""
        self.proc.send_signal(signal.SIGINT)
        _, err = self.proc.communicate(timeout=30)
        return self.proc.returncode, err


@pytest.mark.integration
def test_log_level_read_set_and_followed(long_shop, crawls, tmp_path):
    crawl = start(crawls, long_shop, tmp_path)
    client = WebServiceClient.discover()
    assert ok("log").strip() == "log level is INFO"
    assert as_json("log", "demo") == {"logger": None, "level": "INFO"}
    assert ok("log", "--set", "DEBUG").strip() == "log level set to DEBUG"
    assert ok("log", "demo").strip() == "log level is DEBUG"
    assert ok("log", "--logger", "scrapy.core.scraper", "--set", "warning").strip() == (
        "log level of scrapy.core.scraper set to WARNING"
    )
    named = as_json("log", "--logger", "scrapy.core.scraper")
    assert named == {"logger": "scrapy.core.scraper", "level": "WARNING"}
    assert as_json("log", "--set", "INFO") == {"logger": None, "level": "INFO"}
    assert "--level is the lowest level --follow" in failed(2, "log", "--level", "INFO")
    assert "invalid choice" in failed(2, "log", "--set", "LOUD")
    assert "No running spider named 'nope'" in failed(4, "log", "nope")

    text = Follower("--level", "INFO", "demo")
    as_lines = Follower("--level", "INFO", "--json")
    try:
        # Each control call writes an INFO record (the audit log); repeat until both
        # followers, which may not be connected yet, have received one.
        seen: dict[str, str] = {}
        deadline = time.monotonic() + 30
        while len(seen) < 2:
            assert time.monotonic() < deadline, f"no log record followed: {seen}"
            client.call("log", "set_level", "INFO")
            time.sleep(0.3)
            for name, follower in (("text", text), ("json", as_lines)):
                if name not in seen and (line := follower.received("Control call")):
                    seen[name] = line
        assert re.fullmatch(
            r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d INFO +scrapy_webservice\.audit \[-\]"
            r" Control call /log set_level\(\[\"INFO\"\]\) from 127\.0\.0\.1",
            seen["text"],
        ), seen["text"]
        record = json.loads(seen["json"])
        assert {"time", "level", "logger", "message", "spider"} <= set(record)
        assert (record["level"], record["logger"]) == ("INFO", "scrapy_webservice.audit")
    finally:
        codes = [follower.interrupt() for follower in (text, as_lines)]
    for code, err in codes:
        assert code == 0, err
        assert "Stopped following the log." in err
        assert "Traceback" not in err
    stop(crawl)


# -- watch ---------------------------------------------------------------------------------


@pytest.mark.integration
def test_watch_shows_the_downloaders_delay_and_concurrency(long_shop, crawls, tmp_path):
    crawl = start(crawls, long_shop, tmp_path, DOWNLOAD_DELAY=1)
    proc = subprocess.Popen(
        [str(BIN / "scrapy-ws"), "watch", "--interval", "0.2", "--json"],
        stdout=subprocess.PIPE,
        text=True,
    )
    downloaders = []
    stopping = ""
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            downloaders.append(json.loads(raw)["spiders"]["demo"]["downloader"])
            if len(downloaders) == 2:
                ok("tune", "demo", "--delay", "0.5", "--total-concurrency", "2")
            elif downloaders[-1] and downloaders[-1]["delay"] == 0.5 and not stopping:
                stopping = ok("stop", "demo")
        assert proc.wait(30) == 0
    finally:
        proc.kill()
    assert downloaders[0] == {"delay": 1.0, "concurrency": 8, "total_concurrency": 4}
    assert {"delay": 0.5, "concurrency": 8, "total_concurrency": 2} in downloaders
    assert crawl.wait() == 0


class OlderService(http.server.BaseHTTPRequestHandler):
    """A service from before ``crawler/downloader``: rates for two polls, then no spider."""

    polls = 0
    downloader_calls = 0
    missing = "404"  # or "-32601": how it says that it lacks the resource

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        call = json.loads(self.rfile.read(length))
        cls = type(self)
        if self.path == "/stats":
            cls.polls += 1
            rates = {"demo": RATES} if cls.polls <= 2 else {}
            self.answer(200, {"jsonrpc": "2.0", "result": rates, "id": call["id"]})
        elif cls.missing == "404":
            cls.downloader_calls += 1
            self.answer(404, {"error": {"status": 404, "message": "No such resource: 'x'"}})
        else:
            cls.downloader_calls += 1
            error = {"code": -32601, "message": "Method not found"}
            self.answer(200, {"jsonrpc": "2.0", "error": error, "id": call["id"]})

    def answer(self, status: int, body: Any) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: Any) -> None:
        pass


RATES: dict[str, Any] = {
    "spider": "demo",
    "crawl_id": "demo~1",
    "state": "running",
    "in_flight": 1,
    "elapsed": 3.0,
    "pages": 2,
    "items": 1,
    "errors": 0,
    "retries": 0,
    "last_minute": {"pages_per_minute": 40.0, "items_per_minute": 20.0},
}


@pytest.mark.parametrize("missing", ["404", "-32601"])
def test_watch_leaves_the_columns_empty_for_an_older_service(missing, monkeypatch):
    monkeypatch.setattr(OlderService, "missing", missing)
    monkeypatch.setattr(OlderService, "polls", 0)
    monkeypatch.setattr(OlderService, "downloader_calls", 0)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), OlderService)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        client = WebServiceClient(f"http://127.0.0.1:{server.server_address[1]}/", "t")
        stream = io.StringIO()
        assert watch(client, 0.1, as_json=True, stream=stream) == "finished"
    finally:
        server.shutdown()
        server.server_close()
    lines = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert [line["spiders"] for line in lines[2:]] == [{}]
    assert [line["spiders"]["demo"]["downloader"] for line in lines[:2]] == [None, None]
    assert OlderService.downloader_calls == 1  # not asked again
    header, row = status_lines(lines[0]["spiders"], WATCH_COLUMNS)
    assert header.split()[-2:] == ["DELAY", "CONCURRENCY"]
    assert row.split()[-1] == "0:00:03"  # the last cells are empty


def test_watch_columns_of_a_tuned_downloader():
    rates = {**RATES, "downloader": {"delay": 0.25, "concurrency": 2, "total_concurrency": 4}}
    header, row = status_lines({"demo": rates}, WATCH_COLUMNS)
    assert header.split()[-3:] == ["ELAPSED", "DELAY", "CONCURRENCY"]
    assert row.endswith("0:00:03  0.25s  2 (total 4)")
    assert (
        status_lines({"demo": rates})[0] == status_lines({"demo": RATES})[0]
    )  # status: as before


# -- the command line ------------------------------------------------------------------------


def test_new_commands_parse_with_global_options_anywhere():
    parse = program.build_parser().parse_args
    args = parse(["slots", "demo", "--json", "--pid", "4"])
    assert (args.command, args.spider, args.json, args.pid) == ("slots", "demo", True, 4)
    args = parse(["--json", "tune", "demo", "--delay", "0.5", "--slot", "a.example"])
    assert (args.delay, args.slot, args.json, args.concurrency) == (0.5, "a.example", True, None)
    args = parse(["enqueue", "demo", "http://a/", "http://b/", "--header", "A: 1", "-H", "h"])
    assert (args.urls, args.header, args.host) == (["http://a/", "http://b/"], ["A: 1"], "h")
    args = parse(["log", "--set", "debug", "--timeout", "3"])
    assert (args.set, args.spider, args.timeout) == ("DEBUG", None, 3.0)
    args = parse(["settings", "list", "DOWNLOAD_", "--spider", "demo", "--url", "http://h:1"])
    assert (args.action, args.name, args.spider, args.url) == (
        "list",
        "DOWNLOAD_",
        "demo",
        "http://h:1",
    )
    args = parse(["mem", "--oldest", "Request"])
    assert (args.spider, args.oldest) == (None, "Request")


def test_help_and_completion_know_the_new_commands():
    commands = ("slots", "tune", "enqueue", "mem", "log", "settings")
    listed = ok("--help")
    helped = ok("help")
    for name in commands:
        assert re.search(rf"^    {name} ", listed, re.MULTILINE), name
        assert re.search(rf"^   {name} ", helped, re.MULTILINE), name
    script = ok("completion", "bash")

    def complete(*words: str) -> list[str]:
        line = " ".join(f"'{w}'" for w in words)
        completed = subprocess.run(
            [
                "bash",
                "-c",
                f"source /dev/stdin; COMP_WORDS=(scrapy-ws {line});"
                f" COMP_CWORD={len(words)}; _shtab_scrapy_ws; " + 'echo "${COMPREPLY[@]}"',
            ],
            input=script,
            capture_output=True,
            text=True,
            check=True,
        )
        return completed.stdout.split()

    assert complete("sl") == ["slots"]
    assert complete("settings", "") == ["get", "list"]
    assert complete("log", "--set", "") == ["DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"]


def test_no_service_exits_3():
    assert "no running web service found" in failed(3, "slots", "demo")
    assert "no running web service found" in failed(3, "mem")
