"""Which service a ``scrapy-ws`` command goes to, with several crawls on one machine.

Three kinds of commands:

- those that name a spider (``stop demo``) go to the one service running
  it (a spider name or a crawl id), whichever discovery file is newest;
- those that show everything (``status``, ``watch``, ``list-running``,
  ``services``) go to every local service;
- the others (``get``, ``call``, ``token``...) need exactly one service.

``--url`` (or ``--host``/``--port``) names the service outright, and
``--pid`` (or ``SCRAPY_WS_PID``) picks one of the discovered ones. Nothing
here ever picks the newest of several silently: it raises
:class:`~scrapy_webservice.cli.client.AmbiguousService` instead.

``--prometheus URL`` makes the services those of a fleet, Prometheus's
active targets (:mod:`scrapy_webservice.cli.fleet`), with one token for all;
the same rules then hold across machines, and a target that is down is
shown as down.
"""

from __future__ import annotations

import argparse
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any, TypeVar

from ..rpc import messages as jsonrpc
from ..rpc.errors import AMBIGUOUS
from .client import (
    DEFAULT_TIMEOUT,
    AmbiguousService,
    JsonRpcError,
    ServiceNotFound,
    WebServiceClient,
    WebServiceError,
    client_from_options,
    describe_service,
    find_services,
    no_service_found,
    read_token_option,
)
from .fleet import prometheus_from_options

__all__ = ["FAN_OUT", "SpiderNotFound", "Targets", "explicit", "fan_out", "fleet_from_options"]


#: Services asked at once by a command that asks several (``status``, finding a spider):
#: a fleet's answer takes about its slowest service, not the sum of them all.
FAN_OUT = 16

T = TypeVar("T")
R = TypeVar("R")


def fan_out(
    func: Callable[[T], R], items: Sequence[T], limit: int = FAN_OUT
) -> list[tuple[T, R | None, BaseException | None]]:
    """``func`` of each item, at most ``limit`` at a time; each result or error, in order."""
    if len(items) <= 1:
        results: list[tuple[T, R | None, BaseException | None]] = []
        for item in items:
            try:
                results.append((item, func(item), None))
            except Exception as exc:
                results.append((item, None, exc))
        return results
    with ThreadPoolExecutor(max_workers=min(limit, len(items))) as pool:
        futures = [pool.submit(func, item) for item in items]
    return [(item, *_outcome(future)) for item, future in zip(items, futures, strict=True)]


def _outcome(future: Future[R]) -> tuple[R | None, BaseException | None]:
    error = future.exception()
    return (None, error) if error is not None else (future.result(), None)


class SpiderNotFound(WebServiceError):
    """No discovered service runs the spider (a 404: exit code 4)."""

    def __init__(self, message: str) -> None:
        super().__init__(message, status=404)


def explicit(options: argparse.Namespace) -> bool:
    """Whether the options name the service outright (``--url``, ``--host``, ``--port``)."""
    return any(getattr(options, name, None) for name in ("url", "host", "port"))


class Targets:
    """The services of one ``scrapy-ws`` run; :attr:`asked` is the last one used."""

    def __init__(self, options: argparse.Namespace) -> None:
        self.options = options
        self.timeout = getattr(options, "timeout", None) or DEFAULT_TIMEOUT
        self.token = getattr(options, "token", None)
        token_file = getattr(options, "token_file", None)
        if token_file and not self.token:
            self.token = read_token_option("--token-file", token_file)
        self.pid = getattr(options, "pid", None)
        #: The fleet's Prometheus, when ``--prometheus`` names one.
        self.prometheus = None if explicit(options) else prometheus_from_options(options)
        self._fleet: list[dict[str, Any]] | None = None
        #: The service the command talks to now, for error messages.
        self.asked: WebServiceClient | None = None

    def _client(self, info: dict[str, Any]) -> WebServiceClient:
        return WebServiceClient.from_discovery(info, timeout=self.timeout, token=self.token)

    def fleet(self) -> list[dict[str, Any]]:
        """The fleet's services, down ones included, from Prometheus's active targets."""
        assert self.prometheus is not None
        if not self.token:
            raise WebServiceError(
                "a fleet needs the token its crawls accept: --token or --token-file"
                " (their WEBSERVICE_TOKEN_FILE, or the read-only one to only read)"
            )
        if self._fleet is not None:  # asked once per command
            return self._fleet
        services = self.prometheus.services(self.token)
        if not services:
            job = f" of job {self.prometheus.job!r}" if self.prometheus.job else ""
            raise ServiceNotFound(f"Prometheus at {self.prometheus.url} has no active target{job}")
        self._fleet = services
        return services

    def down(self) -> list[dict[str, Any]]:
        """The fleet's services that Prometheus sees down (none without a fleet)."""
        if self.prometheus is None:
            return []
        return [info for info in self.fleet() if info.get("health") == "down"]

    def discovered(self) -> list[dict[str, Any]]:
        """The live services (``--pid``'s only), newest first; at least one.

        With a fleet, its targets that are not down.
        """
        if self.prometheus is not None:
            services = [info for info in self.fleet() if info.get("health") != "down"]
            if not services:
                down = "; ".join(describe_service(info) for info in self.down())
                raise ServiceNotFound(f"every service of the fleet is down: {down}")
            return services
        services = find_services()
        if self.pid is not None:
            services = [info for info in services if info.get("pid") == self.pid]
        if not services:
            raise no_service_found(pid=self.pid)
        return services

    def one(self) -> WebServiceClient:
        """The single service a command without a spider goes to."""
        if self.prometheus is not None:
            services = self.discovered()
            if len(services) > 1:
                raise AmbiguousService(
                    f"the fleet has {len(services)} services", candidates=services
                )
            self.asked = self._client(services[0])
            return self.asked
        self.asked = client_from_options(self.options)
        return self.asked

    def every(self) -> list[WebServiceClient]:
        """Every service a command that shows everything goes to."""
        if explicit(self.options):
            return [self.one()]
        return [self._client(info) for info in self.discovered()]

    def for_spider(self, spider: str) -> WebServiceClient:
        """The one service running ``spider`` (a name or a crawl id)."""
        if explicit(self.options):
            return self.one()
        services = self.discovered()
        if len(services) == 1:
            self.asked = self._client(services[0])
            return self.asked
        found: list[tuple[dict[str, Any], WebServiceClient]] = []
        problems: list[str] = []
        clients = [(info, self._client(info)) for info in services]
        answers = fan_out(lambda pair: pair[1].call("crawler/engine", "state", spider), clients)
        for (info, client), _, error in answers:
            if isinstance(error, JsonRpcError):
                if error.code == AMBIGUOUS:  # several crawls of that service: it says which
                    found.append((info, client))
                elif error.code != jsonrpc.NOT_FOUND:
                    problems.append(f"{client.name}: error {error.code}: {error.message}")
            elif isinstance(error, WebServiceError):
                problems.append(f"{client.name}: {error.message}")
            elif error is not None:
                raise error
            else:
                found.append((info, client))
        if len(found) > 1:
            names = ", ".join(describe_service(info) for info, _ in found)
            raise AmbiguousService(
                f"{spider!r} runs in {len(found)} web services ({names})",
                [info for info, _ in found],
            )
        if not found:
            asked = "; ".join(describe_service(info) for info in services)
            where = "the fleet" if self.prometheus is not None else "any local web service"
            message = f"No running spider named {spider!r} in {where} (asked {asked})"
            down = [describe_service(info) for info in self.down()]
            if down:
                message += "; down: " + "; ".join(down)
            if problems:
                message += "; not answering: " + "; ".join(problems)
            raise SpiderNotFound(message)
        self.asked = found[0][1]
        return self.asked

    def spiders_of(self, info: dict[str, Any]) -> str:
        """The running spiders of a discovered service, for a listing (never raises)."""
        client = self._client(info)
        client.timeout = min(self.timeout, 3.0)
        try:
            return ", ".join(client.get("crawler/engine/open_spiders")) or "no spider running"
        except WebServiceError as exc:
            return f"not answering: {exc.message}"


def fleet_from_options(options: argparse.Namespace) -> list[dict[str, Any]] | None:
    """The fleet's services, when ``scrapy-ws``'s global options name a Prometheus.

    ``--prometheus URL`` (or ``SCRAPY_WS_PROMETHEUS``), with the fleet token
    of ``--token``/``--token-file``: one record per active target, like a
    discovery file's (``url``, ``token``) plus ``instance``, ``job``,
    ``health`` (``up``/``down``) and ``error``; down ones included. ``None``
    without a Prometheus (use :func:`find_services` then), or when the
    options name one service outright (``--url``).
    """
    targets = Targets(options)
    return None if targets.prometheus is None else targets.fleet()
