"""Stat keys to Prometheus names: prefix, ``_total`` on counters, units, labels."""

from datetime import datetime, timezone

import pytest

from scrapy_webservice_prometheus.names import Metric, metric_for, metric_value, sanitize


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    [
        ("item_scraped_count", 3, Metric("scrapy_item_scraped", "counter")),
        ("response_received_count", 3, Metric("scrapy_response_received", "counter")),
        ("downloader/request_count", 3, Metric("scrapy_downloader_request", "counter")),
        ("downloader/request_bytes", 3, Metric("scrapy_downloader_request_bytes", "counter")),
        ("scheduler/enqueued", 3, Metric("scrapy_scheduler_enqueued", "counter")),
        ("retry/count", 3, Metric("scrapy_retry", "counter")),
        ("spider_exceptions/count", 1, Metric("scrapy_spider_exceptions", "counter")),
        ("memusage/max", 3, Metric("scrapy_memusage_max_bytes", "gauge")),
        ("elapsed_time_seconds", 1.5, Metric("scrapy_elapsed_time_seconds", "gauge")),
        ("request_depth_max", 2, Metric("scrapy_request_depth_max", "gauge")),
        (
            "downloader/response_status_count/404",
            1,
            Metric("scrapy_downloader_response_status", "counter", ("status", "404")),
        ),
        ("log_count/ERROR", 2, Metric("scrapy_log_records", "counter", ("level", "ERROR"))),
        (
            "spider_exceptions/ValueError",
            1,
            Metric("scrapy_spider_exception_type", "counter", ("type", "ValueError")),
        ),
        ("My Extension/Odd-Key!!", 1, Metric("scrapy_my_extension_odd_key", "gauge")),
    ],
)
def test_names_types_and_labels(key, value, expected):
    metric = metric_for(key, value)
    assert (metric.name, metric.type, metric.label) == (
        expected.name,
        expected.type,
        expected.label,
    )


def test_times_are_unix_seconds_and_text_is_skipped():
    when = datetime(2026, 1, 1, tzinfo=timezone.utc)
    metric = metric_for("start_time", when)
    assert (metric.name, metric.type) == ("scrapy_start_time_seconds", "gauge")
    assert metric_value(when) == when.timestamp()
    assert metric_for("finish_reason", "finished") is None
    assert metric_for("some/list", [1, 2]) is None
    assert metric_for("some/none", None) is None


def test_sanitize_never_gives_an_invalid_name():
    assert sanitize("a//b__c") == "a_b_c"
    assert sanitize("2xx") == "2xx"  # always behind the scrapy_ prefix
    assert sanitize("///") == "unnamed"
    assert sanitize("Ünïcode") == "n_code"
