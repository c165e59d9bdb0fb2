"""``/metrics`` over real HTTP in this process: token, formats, process metrics."""

from __future__ import annotations

import pytest_twisted
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families

import scrapy_webservice_prometheus


@pytest_twisted.ensureDeferred
async def test_metrics_need_the_token_and_parse(webservice):
    served = webservice(scrapy_webservice_prometheus, WEBSERVICE_READONLY_TOKEN="r" * 32)
    assert "metrics" in (await served.get("")).json["resources"]
    assert (await served.get("metrics", token=None)).status == 401
    reply = await served.get("metrics", token="r" * 32)  # Prometheus needs no more
    assert reply.status == 200
    assert reply.headers["content-type"].startswith("text/plain; version=0.0.4")
    names = {f.name for f in text_string_to_metric_families(reply.body.decode())}
    assert {"scrapy_webservice_info", "scrapy_webservice_uptime_seconds"} <= names
    assert "process_cpu_seconds" in names


@pytest_twisted.ensureDeferred
async def test_openmetrics_when_the_scraper_asks(webservice):
    served = webservice(scrapy_webservice_prometheus)
    reply = await served.get(
        "metrics", headers={"Accept": "application/openmetrics-text; version=1.0.0"}
    )
    assert reply.headers["content-type"].startswith("application/openmetrics-text")
    body = reply.body.decode()
    assert body.endswith("# EOF\n")
    assert "scrapy_webservice" in {f.name for f in openmetrics_families(body)}


@pytest_twisted.ensureDeferred
async def test_disabled_by_resources_setting(webservice):
    served = webservice(
        scrapy_webservice_prometheus,
        WEBSERVICE_RESOURCES={scrapy_webservice_prometheus.RESOURCE: None},
    )
    assert "metrics" not in (await served.get("")).json["resources"]
    assert (await served.get("metrics")).status == 404
