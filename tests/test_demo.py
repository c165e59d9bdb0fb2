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
        # The hints name the scrapy-ws that runs, so they work without an activated venv.
        scrapy_ws_path = str(BIN / "scrapy-ws")
        demo.wait_for(re.escape(f"  {scrapy_ws_path} stop demo"))
        assert f"$({scrapy_ws_path} token)" in demo.output
        assert "\n  scrapy-ws " not in demo.output
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
    # Run as `python -m`: the hints name the scrapy-ws installed beside that Python.
    assert f"  {BIN / 'scrapy-ws'} watch " in demo.output
    assert "Web service stopped" in demo.output


def test_the_hints_name_this_scrapy_ws(monkeypatch, tmp_path):
    from scrapy_webservice.demo import run

    script = tmp_path / "my env" / "bin" / "scrapy-ws"
    script.parent.mkdir(parents=True)
    script.write_text("#!/bin/sh\n")
    script.chmod(0o755)
    monkeypatch.setattr(sys, "argv", [str(script), "demo"])
    assert run.scrapy_ws_command() == f"'{script}'"
    # Neither the running script nor one beside Python nor on PATH: python -m.
    monkeypatch.setattr(sys, "argv", [str(tmp_path / "cli.py"), "demo"])
    monkeypatch.setattr(sys, "executable", str(tmp_path / "python"))
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    assert run.scrapy_ws_command() == f"{tmp_path / 'python'} -m scrapy_webservice.cli"
