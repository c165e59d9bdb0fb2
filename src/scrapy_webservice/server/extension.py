"""``WebService``: the Scrapy extension that ties a crawler to the service.

Scrapy builds one extension per crawler; they share the process's
:class:`~scrapy_webservice.server.service.Service`, which each extension joins on
``engine_started`` and leaves on ``engine_stopped``.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from scrapy import signals
from scrapy.exceptions import NotConfigured
from scrapy.utils.defer import maybe_deferred_to_future

from ..adapter import consoles
from ..public.settings import WebServiceConfig, warn_unknown_settings
from .service import Service, process_service

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    # typing.Self requires Python 3.11
    from typing_extensions import Self

__all__ = ["WebService"]

logger = logging.getLogger(__name__)


class WebService:
    """Serve this crawler (and every other crawler of the process) over HTTP.

    Enable it with ``EXTENSIONS = {"scrapy_webservice.WebService": 500}`` or
    the :class:`~scrapy_webservice.Addon`. It serves on Twisted Web when the
    crawl runs on a reactor, and on its asyncio front when Scrapy runs on
    asyncio alone (``TWISTED_REACTOR_ENABLED = False``).
    """

    def __init__(self, crawler: Crawler) -> None:
        settings = crawler.settings
        warn_unknown_settings(settings, crawler)
        try:
            config = WebServiceConfig.from_settings(settings)
        except ValueError as exc:
            # A wrong setting must not fail the crawl: say so, and crawl without us.
            logger.error("Web service disabled: %s", exc, extra={"crawler": crawler})
            consoles.log_still_off(settings, crawler)
            raise NotConfigured(str(exc)) from exc
        if not config.enabled:
            raise NotConfigured
        self.crawler = crawler
        self.config = config
        # Plugins load here, so that strict mode can fail the crawl at once.
        self.service: Service | None = process_service(config)
        # Before any resource is built: ``scrapy_webservice.api(crawler)`` works from here on.
        self.service.bind(crawler)
        crawler.signals.connect(self.engine_started, signal=signals.engine_started)
        crawler.signals.connect(self.engine_stopped, signal=signals.engine_stopped)

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        return cls(crawler)

    def engine_started(self) -> None:
        # The process's current service: the one made at __init__, or a new one
        # if the crawls that shared it have all stopped since.
        self.service = process_service(self.config)
        self.service.add_crawler(self.crawler)

    async def engine_stopped(self) -> None:
        service, self.service = self.service, None
        if service is None:
            return
        stopped = service.remove_crawler(self.crawler)
        if stopped is not None:
            # Wait for the port to close, so the next crawl can take it.
            await maybe_deferred_to_future(stopped)
