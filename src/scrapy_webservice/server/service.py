"""The one web service of a process: its crawlers, its front, its port.

A ``CrawlerProcess`` may run several crawlers; each gets its own
:class:`~scrapy_webservice.server.extension.WebService` extension, and they all
share one :class:`Service`, so a single port and token show every crawl of
the process. The service listens from the first ``engine_started`` to the
last ``engine_stopped``, on the front of the crawl's loop: Twisted Web
(:mod:`.twisted_front`) on a reactor, asyncio (:mod:`.asyncio_front`)
without one.
"""

from __future__ import annotations

import logging
import time
import urllib.parse
from pathlib import Path
from typing import TYPE_CHECKING, Any, cast

from ..adapter import consoles
from ..adapter import internals as adapter
from ..adapter.loop import crawl_clock, is_reactorless, on_shutdown
from ..public.api import WebServiceAPI, bind
from ..public.crawls import CrawlRegistry
from ..public.events import EventBus
from ..public.logcontrol import LogControl
from ..public.resource import RootResource
from ..rpc.discovery import default_discovery_dir, remove_discovery_file, write_discovery_file
from ..rpc.encoding import WebServiceJSONEncoder, dumps, strict_encoder
from ..rpc.secret import Secret
from . import twisted_front
from .budget import AddressLimits, ReactorBudget
from .guard import RequestGuard
from .listening import ListenError, Listening, cannot_listen
from .plugins import Plugins
from .registry import RegistryError, build_resources
from .security import TokenChecker, generate_token
from .site import WebServiceSite
from .stalls import Stall, StallWatchdog

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.internet.address import IPv4Address, IPv6Address
    from twisted.internet.defer import Deferred

    from ..public.settings import WebServiceConfig


__all__ = ["Service", "ServiceError", "current_service", "process_service"]

logger = logging.getLogger(__name__)


class ServiceError(Exception):
    """The service cannot start; the message says why and what to change."""


class Service:
    """Serves the resources of every running crawler of this process.

    It owns the lifecycle (listening, the discovery file, the log handler)
    and the parts the :class:`~scrapy_webservice.public.api.WebServiceAPI`
    shows to resources and plugins: the crawls, the event bus and the
    plugins.
    """

    def __init__(
        self, config: WebServiceConfig, plugins: Plugins | None = None, front: str | None = None
    ) -> None:
        self.config = config
        #: ``"twisted"``, ``"asyncio"``, or ``None``: the one for the crawl's loop
        #: (tests run the asyncio front on Twisted's asyncio reactor too).
        self.front = front
        #: The loaded plugins; pass an explicit ``Plugins`` to load nothing else (tests).
        self.plugins = plugins if plugins is not None else Plugins.from_config(config)
        token = (config.token or Secret(generate_token())) if config.auth_enabled else None
        #: The full-access token; never part of the API.
        self.token: Secret | None = token
        self.tokens = TokenChecker(
            token.reveal() if token else None,
            config.readonly_token.reveal() if config.readonly_token else None,
            enabled=config.auth_enabled,
        )
        self.port: Listening | None = None
        self.site: WebServiceSite | None = None
        #: The checks every request passes, on whichever front serves (once listening).
        self.guard: RequestGuard | None = None
        self.root: RootResource | None = None
        #: ``ws_name`` of the mounted resources, in mount order.
        self.mounted: list[str] = []
        self.discovery_path: Path | None = None
        #: The crawler that started the service: its settings configure it.
        self.settings_crawler: Crawler | None = None
        self.failed = False
        #: Unix time the service started listening, for uptime.
        self.started_at: float | None = None
        self._shutdown_trigger: Any = None
        #: While lingering: the call that stops the service, and what waits for it.
        self._linger: tuple[Any, Deferred[None]] | None = None
        #: What happened to the crawls, for ``/events`` and plugins.
        self.events = EventBus()
        #: The crawlers of the process, and a monitored crawl for each running one.
        self.crawls = CrawlRegistry(self.events, config.rates_interval)
        #: What resources and plugins see of this service.
        self.api = WebServiceAPI(self)
        #: The log's levels, and its records as ``log`` events.
        self.log = LogControl(self.events)
        self._encoder: WebServiceJSONEncoder | None = None
        #: The service's share of the reactor, and its connection limits.
        self.budget: ReactorBudget | None = None
        self.limits = AddressLimits(config.max_connections, config.max_connections_per_address)
        self.crawls.service_stats = self.service_stats
        #: Names the code that blocks the reactor (``WEBSERVICE_STALL_THRESHOLD``).
        self.watchdog: StallWatchdog | None = None
        #: When each ``where`` of a stall was last logged (one line a minute for each).
        self._stall_logged: dict[str | None, float] = {}

    # -- crawlers ----------------------------------------------------------

    def bind(self, crawler: Crawler) -> None:
        """Make ``scrapy_webservice.api(crawler)`` this service's API."""
        bind(crawler, self.api)

    def add_crawler(self, crawler: Crawler) -> None:
        self._end_linger()
        self.bind(crawler)
        self.crawls.join(crawler)
        if self.port is None and not self.failed:
            self.start(crawler)
        if self.port is not None:
            self.crawls.watch(crawler)

    def remove_crawler(self, crawler: Crawler) -> Deferred[None] | None:
        """The crawler's engine stopped: the service stops with the last one.

        With ``WEBSERVICE_LINGER``, it goes on answering that many seconds
        first (the caller waits, so the process stays up), and a crawler
        that joins meanwhile keeps it.
        """
        self.crawls.leave(crawler)
        if self.crawls.crawlers:
            return None
        if self.config.linger > 0 and self.port is not None and self._linger is None:
            return self._linger_then_stop()
        return self.stop()

    @property
    def lingering(self) -> bool:
        return self._linger is not None

    def _linger_then_stop(self) -> Deferred[None]:
        from twisted.internet.defer import Deferred

        done: Deferred[None] = Deferred()

        def stop() -> None:
            self._linger = None
            stopped = self.stop()
            if stopped is None:
                done.callback(None)
            else:
                stopped.chainDeferred(done)

        logger.info(
            "Web service lingering %g s after the last crawl (WEBSERVICE_LINGER)",
            self.config.linger,
        )
        self._linger = (crawl_clock().callLater(self.config.linger, stop), done)
        return done

    def _end_linger(self) -> None:
        """A crawler joined while lingering: serve it, and let the last one's stop return."""
        if self._linger is None:
            return
        call, done = self._linger
        self._linger = None
        if call.active():
            call.cancel()
        done.callback(None)

    # -- listening ------------------------------------------------------------

    @property
    def url(self) -> str | None:
        if self.port is None:
            return None
        if self.config.unix_socket:
            # requests-unixsocket's form, which scrapy-ws's client reads too.
            return f"http+unix://{urllib.parse.quote(self.config.unix_socket, safe='')}/"
        # A TCP port's (the Unix socket is above); IListeningPort says only IAddress.
        address = cast("IPv4Address | IPv6Address", self.port.getHost())
        host = address.host
        if host in ("0.0.0.0", ""):  # noqa: S104
            host = "127.0.0.1"
        elif host == "::":
            host = "::1"
        if ":" in host:
            host = f"[{host}]"
        return f"{self.config.scheme}://{host}:{address.port}/"

    def start(self, crawler: Crawler) -> None:
        """Mount the resources and listen; on failure log one ERROR and go on.

        The crawl must never fail because of its web service, so every error
        here is logged and swallowed, unless ``WEBSERVICE_PLUGINS_STRICT``
        asks for a broken plugin to fail loudly.
        """
        self.bind(crawler)
        self.settings_crawler = crawler
        try:
            self._check_safe()
            self.root = self.build_root(crawler)
            self.port = self._listen(self.root)
        except (ServiceError, RegistryError, ListenError) as exc:
            self.failed = True
            logger.error("Web service not started: %s", exc, extra={"crawler": crawler})
            consoles.log_still_off(crawler.settings, crawler)
            self.plugins.call("service_stopped", service=self.api)
            return
        except Exception:
            self.failed = True
            if self.config.plugins_strict:
                raise
            logger.exception("Web service not started", extra={"crawler": crawler})
            consoles.log_still_off(crawler.settings, crawler)
            self.plugins.call("service_stopped", service=self.api)
            return
        url = self.url
        assert url is not None  # listening
        logger.info("Web service listening on %s", url.rstrip("/"), extra={"crawler": crawler})
        self.started_at = time.time()
        self._start_watchdog()
        self.log.handler.install()
        self._write_discovery_file(crawler)
        self.plugins.call("service_started", service=self.api)

    def build_root(self, crawler: Crawler) -> RootResource:
        layers = self.plugins.resource_layers(crawler.settings)
        resources = build_resources(
            self.config, crawler, layers, on_error=self.plugins.resource_failed
        )
        root = RootResource(crawler, [r.ws_name for r in resources])
        for resource in resources:
            root.putChild(resource.ws_name.encode("utf-8"), resource)
        self.mounted = list(root.names)
        return root

    def _check_safe(self) -> None:
        if not self.config.auth_enabled and not self.config.listens_on_loopback:
            raise ServiceError(
                f"refusing to listen on {self.config.host or 'every interface'!r} with"
                " WEBSERVICE_AUTH_ENABLED = False; enable authentication or listen on 127.0.0.1"
            )

    def _new_budget(self) -> ReactorBudget:
        def shedding(snapshot: dict[str, Any]) -> None:
            logger.info(
                "Web service: its share of the reactor (WEBSERVICE_MAX_SHARE = %g) is spent;"
                " it reads no more requests until the budget refills",
                self.config.max_share,
            )
            self.events.publish("shedding", **snapshot)

        return ReactorBudget(self.config.max_share, crawl_clock().callLater, on_shedding=shedding)

    def _listen(self, root: RootResource) -> Listening:
        """Listen on the front of the crawl's loop: Twisted Web, or asyncio without a reactor."""
        self.budget = budget = self._new_budget()
        if self.front == "twisted" or (self.front is None and not is_reactorless()):
            self.site = WebServiceSite(root, self.config, self.tokens, self.limits)
            self.guard = self.site.guard
            return twisted_front.listen(self.site, self.config, budget, self.limits)
        # Here, not at the top: a crawl on a reactor never loads h11 for it.
        from .asyncio_front import AsyncioFront

        self.guard = RequestGuard(root, self.config, self.tokens)
        front = AsyncioFront(root, self.guard, self.config, budget=budget, limits=self.limits)
        try:
            front.listen(self.config.host, self.config.port_range)
        except OSError as exc:
            raise cannot_listen(self.config.host, self.config.port_range, exc) from exc
        return front

    def _write_discovery_file(self, crawler: Crawler) -> None:
        directory = (
            Path(self.config.discovery_dir)
            if self.config.discovery_dir
            else default_discovery_dir()
        )
        token = self.token.reveal() if self.token else None
        info: dict[str, Any] = {"url": self.url, "token": token}
        job = adapter.scrapyd_job(crawler)
        if job is not None:
            # scrapyd runs one crawl per process: the file names its job.
            info["job"] = job
        try:
            self.discovery_path = write_discovery_file(directory, info)
            # Also when the loop stops without engine_stopped (Ctrl-C twice).
            self._shutdown_trigger = on_shutdown(remove_discovery_file, self.discovery_path)
        except OSError as exc:
            logger.warning(
                "Web service discovery file not written in %s: %s; scrapy-ws will need"
                " --url and --token",
                directory,
                exc,
                extra={"crawler": crawler},
            )
            return
        logger.info(
            "Web service URL and token written to %s",
            self.discovery_path,
            extra={"crawler": crawler},
        )

    def stop(self) -> Deferred[None] | None:
        self._end_linger()
        if self.discovery_path is not None:
            remove_discovery_file(self.discovery_path)
            self.discovery_path = None
        if self._shutdown_trigger is not None:
            # One trigger per service would pile up in a process that runs crawls in turn.
            self._shutdown_trigger()
            self._shutdown_trigger = None
        port, self.port = self.port, None
        global _process_service
        if _process_service is self:
            _process_service = None
        if port is None:
            return None
        logging.getLogger().removeHandler(self.log.handler)
        self.crawls.stop()
        self.events.close()
        stopped = port.stopListening()
        if self.budget is not None:
            self.budget.stop()
        if self.watchdog is not None:
            self.watchdog.stop()
        logger.info("Web service stopped")
        self.plugins.call("service_stopped", service=self.api)
        return stopped

    # -- the crawl's stalls ----------------------------------------------------------

    def _start_watchdog(self) -> None:
        threshold = self.config.stall_threshold
        if threshold is None:
            return
        self.watchdog = StallWatchdog(threshold, crawl_clock().callLater, self._stalled)
        self.watchdog.start()

    def _stalled(self, stall: Stall) -> None:
        """A stall ended: in the running crawls' stats, in the log, on ``/events``."""
        running = self.crawls.running()
        for crawl in running:
            stats = crawl.crawler.stats
            if stats is not None:
                stats.inc_value("webservice/stalls")
                stats.max_value("webservice/stall_seconds_max", round(stall.seconds, 3))
        data = stall.as_dict()
        if len(running) == 1:
            data["spider"] = running[0].spider_name
        now = time.monotonic()
        last = self._stall_logged.get(stall.where)
        if last is None or now - last >= 60:
            if len(self._stall_logged) > 100:
                self._stall_logged.clear()
            self._stall_logged[stall.where] = now
            logger.warning(
                "The reactor was blocked %.2f s (WEBSERVICE_STALL_THRESHOLD = %g) at %s%s",
                stall.seconds,
                self.config.stall_threshold,
                stall.where or "an unknown place (no stack seen)",
                f": {stall.code}" if stall.code else "",
            )
        self.events.publish("stall", **data)

    def stalls(self, limit: int = 20) -> dict[str, Any]:
        """What the stall watchdog has seen; ``threshold`` ``None`` when it is off."""
        watchdog = self.watchdog
        if watchdog is None:
            return {"threshold": None, "count": 0, "max_seconds": 0.0, "recent": [], "lag": None}
        return watchdog.snapshot(limit)

    def load(self) -> dict[str, Any]:
        """What the service cost the reactor and refused, since it started listening."""
        budget = self.budget
        snapshot = budget.snapshot() if budget is not None else {}
        snapshot["connections"] = self.limits.open
        return snapshot

    def service_stats(self) -> dict[str, Any]:
        """The ``webservice/...`` stats a crawl carries when it closes."""
        load = self.load()
        if "busy_seconds" not in load:
            return {}
        stats: dict[str, Any] = {
            "webservice/busy_seconds": round(load["busy_seconds"], 3),
            "webservice/paused_seconds": round(load["paused_seconds"], 3),
            "webservice/pauses": load["pauses"],
        }
        for reason, count in sorted(load["refused"].items()):
            stats[f"webservice/refused/{reason}"] = count
        return stats

    def dumps(self, obj: Any) -> str:
        """JSON text of ``obj``, asking the plugins about values the encoder does not know."""
        encoder = self._encoder
        if encoder is None:
            # One encoder for every answer, not one per answer.
            encoder = self._encoder = strict_encoder(self.plugins.json_default)
        try:
            return encoder.encode(obj)  # every answer: no frame between it and the encoder
        except (RecursionError, ValueError):
            # Too deep, or NaN somewhere: encoding.dumps says which, or sends null.
            return dumps(obj, encoder=encoder)


_process_service: Service | None = None


def process_service(config: WebServiceConfig) -> Service:
    """The service of this process, created by the first crawler that asks.

    Later crawlers share it, whatever their own ``WEBSERVICE_*`` settings:
    the first crawler's settings configure the one port and token.
    """
    global _process_service
    if _process_service is None:
        _process_service = Service(config)
    return _process_service


def current_service() -> Service | None:
    """The service of this process if one has been created, else ``None``."""
    return _process_service
