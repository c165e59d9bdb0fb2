"""Prometheus metrics of running Scrapy crawls, served by scrapy-webservice at ``/metrics``.

Installed, it is found through the ``scrapy_webservice`` entry point;
``WEBSERVICE_PLUGINS_DISABLED = ["prometheus"]`` turns it off.
"""

from scrapy_webservice import hookimpl

__version__ = "0.1.0"

RESOURCE = "scrapy_webservice_prometheus.resource.MetricsResource"


@hookimpl
def register_resources(settings):
    """Mount ``/metrics``."""
    return {RESOURCE: 900}
