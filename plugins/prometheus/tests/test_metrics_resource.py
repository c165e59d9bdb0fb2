"""``/metrics`` over real HTTP in this process: token, formats, process metrics."""

from __future__ import annotations

import time

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


@pytest_twisted.ensureDeferred
async def test_a_blocked_reactor_is_seen_in_the_lag_histogram(webservice):
    from twisted.internet import reactor, task

    served = webservice(scrapy_webservice_prometheus, WEBSERVICE_STALL_THRESHOLD=0.2)
    await task.deferLater(reactor, 0.3, lambda: None)
    time.sleep(0.4)  # the reactor is blocked: the next heartbeat runs late
    await task.deferLater(reactor, 0.3, lambda: None)
    reply = await served.get("metrics")
    families = {f.name: f for f in text_string_to_metric_families(reply.body.decode())}
    lag = {
        s.labels["le"]: s.value
        for s in families["scrapy_webservice_reactor_lag_seconds"].samples
        if s.name.endswith("_bucket")
    }
    assert lag["+Inf"] > lag["0.25"], "one heartbeat ran more than 0.25 s late"
    [threshold] = families["scrapy_webservice_stall_threshold_seconds"].samples
    assert threshold.value == 0.2
    assert families["scrapy_webservice_reactor_busy_seconds"].samples[0].value > 0
    assert served.api.stalls()["count"] == 1
