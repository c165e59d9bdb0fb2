"""A healthy plugin: one resource, a JSON encoder for its own type, lifecycle hooks."""

import logging

from scrapy_webservice import JsonResource, hookimpl

logger = logging.getLogger(__name__)


class Fraction:
    def __init__(self, num, den):
        self.num, self.den = num, den


class GoodResource(JsonResource):
    ws_name = "good"

    def render_GET(self, txrequest):
        return {"plugin": "good", "ratio": Fraction(1, 3)}


@hookimpl
def register_resources(settings):
    return {"ws_testgood.GoodResource": settings.getint("GOOD_ORDER", 50)}


@hookimpl
def json_default(obj):
    if isinstance(obj, Fraction):
        return f"{obj.num}/{obj.den}"
    return None


@hookimpl
def service_started(service):
    logger.info("good plugin saw the service start at %s", service.url)


@hookimpl
def service_stopped(service):
    logger.info("good plugin saw the service stop")


def command(argv, options):
    """``scrapy-ws good-cmd``: a subcommand, given its arguments and the global options."""
    print(f"good-cmd argv={argv} url={options.url} json={options.json}")
    return 5
