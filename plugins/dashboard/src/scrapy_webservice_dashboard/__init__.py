"""A live dashboard of running Scrapy crawls, served by scrapy-webservice at ``/dashboard``.

Installed, it is found through the ``scrapy_webservice`` entry point;
``WEBSERVICE_PLUGINS_DISABLED = ["dashboard"]`` turns it off. The page and
its script and style hold no data and are served without a token; the page
asks for the token and sends it with every data call.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy_webservice import hookimpl

from .resource import DashboardResource

if TYPE_CHECKING:
    from scrapy_webservice import WebServiceAPI

__all__ = ["RESOURCE", "dashboard_url", "register_resources", "service_started"]
__version__ = "0.1.0"

RESOURCE = "scrapy_webservice_dashboard.resource.DashboardResource"

logger = logging.getLogger(__name__)


@hookimpl
def register_resources(settings):
    """Mount ``/dashboard``."""
    return {RESOURCE: 800}


def dashboard_url(service: WebServiceAPI) -> str | None:
    """``http://HOST:PORT/dashboard`` when the dashboard is mounted on ``service``."""
    return service.resource_url(DashboardResource.ws_name)


@hookimpl
def service_started(service: WebServiceAPI) -> None:
    """Log where to open the dashboard (never the token)."""
    url = dashboard_url(service)
    if url is not None:
        logger.info(
            "Web service dashboard: %s (it asks for the token: `scrapy-ws token` prints it;"
            " or open %s#token=<token>)",
            url,
            url,
        )
