"""The public API: the whole of what resources and plugins may use.

The service hands one :class:`WebServiceAPI` to every resource (as
``self.api``, bound to the crawler before the resource is built, so a
resource's own ``__init__`` or ``from_crawler`` can use it) and to every
hook that takes ``service``. Built-in resources and the first-party
plugins use nothing else, so a third-party plugin can do everything they
do. What is not here (the Twisted site, the port, the discovery file, the
tokens, Scrapy's private attributes) is not a plugin's business.

docs/plugins.md ("What plugins may use") documents this module; a test
keeps the two equal.
"""

from __future__ import annotations

import dataclasses
import os
import time
import weakref
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, Protocol, cast

from ..adapter import internals as adapter
from ..rpc.markers import Access
from .crawls import Crawl
from .logcontrol import level_number
from .redaction import Redactor

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.web.server import Request

    from ..rpc.secret import Secret
    from .crawls import CrawlRegistry
    from .events import Event, EventBus, Subscriber
    from .logcontrol import LogControl
    from .settings import WebServiceConfig

__all__ = ["Access", "Crawl", "ServiceState", "WebServiceAPI", "api"]


class PluginListing(Protocol):
    def listing(self) -> dict[str, list[dict[str, Any]]]: ...


class ServiceState(Protocol):
    """What the API reads of the service that made it (``server.service.Service``).

    The API is a layer below the server: it knows the service by this shape
    only (read-only), so nothing here imports the server, and a test can
    hand the API any object of this shape.
    """

    @property
    def config(self) -> WebServiceConfig: ...

    @property
    def token(self) -> Secret | None: ...

    @property
    def events(self) -> EventBus: ...

    @property
    def crawls(self) -> CrawlRegistry: ...

    @property
    def log(self) -> LogControl: ...

    @property
    def plugins(self) -> PluginListing: ...

    @property
    def mounted(self) -> list[str]: ...

    @property
    def settings_crawler(self) -> Crawler | None: ...

    @property
    def started_at(self) -> float | None: ...

    @property
    def lingering(self) -> bool: ...

    @property
    def url(self) -> str | None: ...

    def load(self) -> dict[str, Any]: ...

    def stalls(self, limit: int = 20) -> dict[str, Any]: ...

    def dumps(self, obj: Any) -> str: ...


class WebServiceAPI:
    """What a resource or a plugin may read and do, for one service of one process.

    Crawls are addressed by spider name or crawl id everywhere; a name no
    running crawl has raises :class:`~scrapy_webservice.NoSuchSpider`, a
    name two running crawls share raises
    :class:`~scrapy_webservice.AmbiguousSpider`. The service maps both to
    the right HTTP status and JSON-RPC code.
    """

    def __init__(self, service: ServiceState) -> None:
        self._service = service
        self._config: WebServiceConfig | None = None
        self._redactor: Redactor | None = None

    # -- the running crawls -----------------------------------------------------------

    def crawls(self) -> list[Crawl]:
        """The running crawls, in the order they started."""
        return self._service.crawls.running()

    def crawl(self, spider: str) -> Crawl:
        """The running crawl with this crawl id or spider name."""
        return self._service.crawls.find(spider)

    def crawls_by_label(self, finished: bool = False) -> dict[str, Crawl]:
        """Running crawls by spider name, or by crawl id where several share a name.

        The keys of ``enginestatus`` and ``get_rates``: a name when it is
        enough, an id when it is not. With ``finished``, also the crawls that
        ended while the service went on (a lingering service's, with their
        ``finish_reason``), so a scrape sees how a crawl ended.
        """
        return self._service.crawls.labels(finished)

    @property
    def lingering(self) -> bool:
        """True after the last crawl ended, while ``WEBSERVICE_LINGER`` keeps the service up."""
        return self._service.lingering

    def spider_names(self) -> list[str]:
        """Names of the running spiders (a name twice if two crawls run it)."""
        return [crawl.spider_name for crawl in self.crawls()]

    def project_spiders(self) -> list[str]:
        """Every spider the project knows (its spider loader), running or not."""
        crawler = self._service.settings_crawler
        return [] if crawler is None else adapter.project_spider_names(crawler)

    def crawler_for(self, spider: str) -> Crawler:
        """The Scrapy crawler running ``spider`` (name or crawl id)."""
        return self.crawl(spider).crawler

    def running_crawlers(self) -> list[Crawler]:
        """The Scrapy crawlers of the running crawls."""
        return [crawl.crawler for crawl in self.crawls()]

    # -- events ---------------------------------------------------------------------------

    def publish(self, name: str, **data: Any) -> Event | None:
        """Send an event to ``/events`` clients and subscribers (never raises, never blocks)."""
        return self._service.events.publish(name, **data)

    def subscribe(self, subscriber: Subscriber) -> None:
        """Receive every event: ``subscriber.send(event)``, and ``close()`` at the end."""
        self._service.events.subscribe(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        self._service.events.unsubscribe(subscriber)

    def events_since(self, last_id: int) -> list[Event]:
        """The recent events after ``last_id``, oldest first (for a client that reconnects)."""
        return self._service.events.since(last_id)

    @property
    def events_closed(self) -> bool:
        """True once the service is stopping: new subscriptions end at once."""
        return self._service.events.closed

    def follow_log(self, level: str) -> Callable[[], None]:
        """Publish ``log`` events from ``level`` up until the returned function is called.

        ERROR records are always published; lower ones only while followed,
        and never below what the log writes (``set_log_level`` changes that).
        """
        return cast("Callable[[], None]", self._service.log.handler.follow(level_number(level)))

    # -- the log --------------------------------------------------------------------------

    def log_level(self, logger: str | None = None) -> dict[str, Any]:
        """The level the log writes from, crawl-wide or for one existing logger."""
        return self._service.log.level(logger)

    def set_log_level(self, level: str, logger: str | None = None) -> dict[str, Any]:
        """Write records from ``level`` up, crawl-wide or for one logger, from now on."""
        return self._service.log.set_level(level, logger)

    # -- the service's facts --------------------------------------------------------------

    @property
    def url(self) -> str | None:
        """Where the service listens (``None`` before it does)."""
        return self._service.url

    @property
    def pid(self) -> int:
        return os.getpid()

    @property
    def started_at(self) -> float | None:
        """Unix time the service started listening."""
        return self._service.started_at

    @property
    def uptime(self) -> float | None:
        """Seconds since the service started listening."""
        started = self.started_at
        return None if started is None else max(0.0, time.time() - started)

    def load(self) -> dict[str, Any]:
        """What the service has cost the crawl's reactor, and what it refused.

        ``max_share`` (``WEBSERVICE_MAX_SHARE``), ``busy_seconds`` (its own
        work on the reactor), ``paused_seconds`` and ``pauses`` (time it
        stopped reading because its share was spent), ``paused`` (now),
        ``refused`` (by reason: ``unauthorized``, ``connections``) and
        ``connections`` (open now). Empty figures before it listens.
        """
        return self._service.load()

    def stalls(self, limit: int = 20) -> dict[str, Any]:
        """What the stall watchdog (``WEBSERVICE_STALL_THRESHOLD``) has seen.

        ``threshold`` (``None``: the watchdog is off), ``count`` and
        ``max_seconds`` of the stalls so far, the ``limit`` most ``recent``
        (oldest first; each ``seconds``, ``seen_at``, ``where``, ``code``,
        ``stack``) and ``lag``: how late the reactor ran its heartbeat, as
        cumulative histogram ``buckets`` (``[upper bound, count]``, ``+Inf``
        last), ``count`` and ``sum``.
        """
        return self._service.stalls(limit)

    @property
    def version(self) -> str:
        from .. import __version__

        return __version__

    @property
    def config(self) -> WebServiceConfig:
        """The service's ``WEBSERVICE_*`` settings as read at start, without the tokens.

        ``token`` and ``readonly_token`` are ``None`` here whatever was set:
        no plugin needs them (``auth_enabled`` says whether tokens are asked).
        """
        if self._config is None:
            self._config = dataclasses.replace(
                self._service.config, token=None, readonly_token=None
            )
        return self._config

    def access(self, request: Request) -> Access:
        """What the current request's token allows (checked by the service before any resource)."""
        return getattr(request, "webservice_access", Access.NONE)

    def redact(self, value: Any, name: str | None = None) -> Any:
        """``value`` as a client may see it: plain JSON types, secrets replaced.

        ``"<redacted>"`` whole when ``name`` looks secret (it contains TOKEN,
        PASSWORD, SECRET, KEY, AUTH or CREDENTIAL, or is listed in
        ``WEBSERVICE_SETTINGS_REDACT``); otherwise the service's tokens and
        the user info of URLs are replaced wherever they occur, nested keys
        that look secret are redacted, and other objects become text.
        """
        if self._redactor is None:
            config = self._service.config
            tokens = [
                t.reveal()
                for t in (self._service.token, config.token, config.readonly_token)
                if t is not None
            ]
            self._redactor = Redactor(config.settings_redact, tokens)
        return self._redactor.value(value, name)

    def dumps(self, obj: Any) -> str:
        """JSON text of ``obj``, as the service encodes answers (plugins' ``json_default``)."""
        return self._service.dumps(obj)

    # -- plugins and resources ----------------------------------------------------------------

    def plugins(self) -> dict[str, list[dict[str, Any]]]:
        """The plugins that loaded and those that failed, as ``/plugins`` lists them."""
        return self._service.plugins.listing()

    def resources(self) -> list[str]:
        """The ``ws_name`` of every mounted resource, in mount order."""
        return list(self._service.mounted)

    def resource_url(self, name: str) -> str | None:
        """The URL of a mounted resource; ``None`` if it is not mounted or not listening."""
        url = self.url
        if url is None or name not in self._service.mounted:
            return None
        return f"{url.rstrip('/')}/{name}"


_bound: weakref.WeakKeyDictionary[Crawler, WebServiceAPI] = weakref.WeakKeyDictionary()


def api(crawler: Crawler) -> WebServiceAPI:
    """The API of the service that serves ``crawler``.

    Bound when the web service extension is built for the crawler, so
    before any resource; raises ``LookupError`` for a crawler without the
    extension.
    """
    try:
        return _bound[crawler]
    except KeyError:
        raise LookupError(
            "no web service serves this crawler: enable scrapy_webservice.WebService"
            " (or its add-on), or build the service with scrapy_webservice.testing"
        ) from None


def bind(crawler: Crawler, service_api: WebServiceAPI) -> None:
    """Make ``api(crawler)`` answer ``service_api`` (the service does this)."""
    _bound[crawler] = service_api


def bound_api(crawler: Crawler) -> WebServiceAPI | None:
    """``api(crawler)``, or ``None`` when no service serves it."""
    return _bound.get(crawler)
