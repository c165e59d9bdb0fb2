"""The main job: ``scrapy-ws demo`` runs a crawl that a person can query and stop."""

from __future__ import annotations

import re
import sys

import pytest

from .processes import BIN, Process, scrapy_ws

pytestmark = pytest.mark.integration


def test_demo_prints_how_to_query_it_and_can_be_stopped():
    demo = Process([str(BIN / "scrapy-ws"), "demo", "--slow", "--products", "60"])
    try:
        demo.wait_for(r"Demo shop \(60 products\) served at http://127\.0\.0\.1:\d+/")
        url = demo.wait_for(r"Web service of the demo crawl: (http://127\.0\.0\.1:\d+/)").group(1)
        demo.wait_for(r"scrapy-ws stop demo")
        assert re.search(r"Its URL and token are in .+\.json", demo.output)
        running = scrapy_ws("list-running")
        assert running.stdout.split() == ["demo"], running.stderr
        stats = scrapy_ws("get-spider-stats", "demo")
        assert "downloader/request_count" in stats.stdout
        assert scrapy_ws("stop", "demo").returncode == 0
        assert demo.wait(60) == 0
        assert "Demo crawl finished (closed_by_webservice)" in demo.output
        assert f"Web service listening on {url.rstrip('/')}" in demo.output
    finally:
        demo.stop()


def test_demo_runs_to_the_end_on_its_own():
    demo = Process([sys.executable, "-m", "scrapy_webservice.cli", "demo", "--products", "25"])
    try:
        assert demo.wait(120) == 0
    finally:
        demo.stop()
    assert "Demo crawl finished (finished): 25 items scraped." in demo.output
    assert "Web service stopped" in demo.output
