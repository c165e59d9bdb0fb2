"""``Addon``: turn the web service on with one line of ``ADDONS``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..adapter import consoles
from ..public.settings import WebServiceConfig
from .extension import WebService

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

    # typing.Self requires Python 3.11
    from typing_extensions import Self

__all__ = ["Addon"]


class Addon:
    """Scrapy add-on: ``ADDONS = {"scrapy_webservice.Addon": 0}``.

    It enables the :class:`~scrapy_webservice.WebService` extension
    (order 500, after Scrapy's own extensions); every ``WEBSERVICE_*``
    setting keeps its meaning and can still turn the service off.

    It also switches off Scrapy's telnet console (``TELNETCONSOLE_ENABLED``)
    and RemoteControl (``REMOTE_CONTROL_ENABLED``, Scrapy 2.19 and later),
    which run arbitrary Python, at add-on priority: a project that sets
    either itself keeps its choice. One INFO line says what was switched off.
    It switches them off only when the service will serve (enabled, its
    settings valid), with a reactor or without one.
    """

    extension_order = 500

    def __init__(self, crawler: Crawler | None = None) -> None:
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def update_settings(self, settings: BaseSettings) -> None:
        settings.set_in_component_priority_dict("EXTENSIONS", WebService, self.extension_order)
        if will_serve(settings):
            consoles.log_switched_off(consoles.switch_off(settings), self.crawler)


def will_serve(settings: BaseSettings) -> bool:
    """Whether the service will be on: enabled, and every ``WEBSERVICE_*`` setting valid.

    Otherwise the add-on leaves Scrapy's consoles as the project has them,
    so that a crawl is never left with no console at all (the extension
    logs why the service is off).
    """
    try:
        return WebServiceConfig.from_settings(settings).enabled
    except ValueError:
        return False
