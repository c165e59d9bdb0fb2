"""A crawl started by scrapyd is known by its job id, everywhere a spider name is.

scrapyd runs ``scrapy crawl SPIDER -a _job=JOBID`` (and sets ``SCRAPYD_JOB``,
``SCRAPY_JOB`` before 1.5); these tests run the same command line. A real
scrapyd is in the fleet tests.
"""

from __future__ import annotations

import json
from types import SimpleNamespace

import pytest

from scrapy_webservice.adapter import internals as adapter
from scrapy_webservice.cli.client import WebServiceClient

from .processes import Crawl, scrapy_ws

JOB = "6487ec79947edab326d6db28a2d86511"


@pytest.mark.integration
def test_the_job_id_is_in_the_discovery_file_health_and_enginestatus(
    slow_shop, crawls, tmp_path, runtime_dir
):
    crawl = Crawl(slow_shop, tmp_path / "items.jsonl", arguments={"_job": JOB})
    crawls.append(crawl)
    crawl.wait_for(r"Web service URL and token written to (\S+)")
    (discovery,) = (runtime_dir / "scrapy-webservice").glob("*.json")
    assert json.loads(discovery.read_text())["job"] == JOB
    client = WebServiceClient.discover()
    assert client.get("health")["crawls"]["demo"]["job"] == JOB
    assert client.get("enginestatus/demo")["job"] == JOB
    # In the rates (so status --json) and the events of the crawl.
    assert client.call("stats", "get_rates", "demo")["job"] == JOB
    status = json.loads(scrapy_ws("status", "--json").stdout)
    assert status["demo"]["job"] == JOB
    # A job id goes wherever a spider name does.
    assert client.call("crawler/engine", "state", JOB)["spider"] == "demo"
    paused = scrapy_ws("pause", JOB, "--json")
    assert paused.returncode == 0, paused.stderr
    assert json.loads(paused.stdout)["state"] in ("pausing", "paused")
    stopped = scrapy_ws("stop", JOB)
    assert stopped.returncode == 0, stopped.stderr
    assert crawl.wait(timeout=60) == 0
    assert "closed_by_webservice" in crawl.output


def test_the_job_id_comes_from_the_spider_then_the_environment(monkeypatch):
    def crawler(**spider_attributes):
        spider = SimpleNamespace(name="demo", **spider_attributes)
        return SimpleNamespace(engine=SimpleNamespace(spider=spider), spider=spider)

    for name in adapter.JOB_ENVIRONMENT:
        monkeypatch.delenv(name, raising=False)
    assert adapter.scrapyd_job(crawler()) is None
    monkeypatch.setenv("SCRAPY_JOB", "old-scrapyd")
    assert adapter.scrapyd_job(crawler()) == "old-scrapyd"
    monkeypatch.setenv("SCRAPYD_JOB", "new-scrapyd")
    assert adapter.scrapyd_job(crawler()) == "new-scrapyd"
    assert adapter.scrapyd_job(crawler(_job="argument")) == "argument"
