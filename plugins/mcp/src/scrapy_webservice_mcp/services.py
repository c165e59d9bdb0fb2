"""The web services the MCP server is attached to.

Either one service named on the command line (``--url``/``--token``), or
every live service in the user's discovery files, read again before each
MCP request so that crawls started or ended later come and go. A service
is described once (:func:`~.catalog.discover_catalog`) and its description
kept while it runs.

Synchronous, like the standard-library client it uses: the MCP server
calls it from a worker thread.
"""

from __future__ import annotations

import logging
import urllib.parse
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from scrapy_webservice.cli import WebServiceClient, default_discovery_dir, find_services

from .catalog import Catalog, DiscoveryError, discover_catalog

__all__ = ["AttachedService", "ServiceSet", "discovery_dirs"]

logger = logging.getLogger(__name__)


def discovery_dirs(explicit: Path | None = None) -> list[Path]:
    """Where to look for discovery files.

    The per-user runtime directory, and on Linux also ``/run/user/<uid>``'s
    when ``XDG_RUNTIME_DIR`` is unset: MCP clients start their servers with
    a trimmed environment, and the crawl (started from a login shell) wrote
    its file there.
    """
    if explicit is not None:
        return [explicit]
    # Without XDG_RUNTIME_DIR (MCP clients trim the environment), this is
    # still the login session's /run/user/<uid> directory when there is one.
    return [default_discovery_dir()]


@dataclass
class AttachedService:
    """One web service, its client and what it offers."""

    client: WebServiceClient
    pid: int | None = None
    started: float | None = None
    catalog: Catalog | None = None
    #: Why it could not be described (unreachable, token refused).
    error: str | None = None
    #: A control call was answered "forbidden" (-32003): the token is read-only.
    control_refused: bool = False
    identity: tuple[Any, ...] = field(default=())

    @property
    def url(self) -> str:
        return self.client.url

    @property
    def address(self) -> str:
        """``host:port`` (and path), the short name of the service."""
        parts = urllib.parse.urlsplit(self.client.url)
        return parts.netloc + parts.path.rstrip("/")

    @property
    def access(self) -> str:
        if self.control_refused:
            return "read-only"
        return self.catalog.access if self.catalog is not None else "unknown"

    def allows_control(self, read_only: bool) -> bool:
        return not read_only and self.access != "read-only"

    def matches(self, selector: Any) -> bool:
        """Whether ``selector`` (URL, ``host:port``, or process id) names this service."""
        text = str(selector).strip()
        if not text:
            return False
        if self.pid is not None and text == str(self.pid):
            return True
        return text.rstrip("/") in (self.url.rstrip("/"), self.address)

    def describe(self) -> None:
        try:
            self.catalog = discover_catalog(self.client)
            self.error = None
        except DiscoveryError as exc:
            self.catalog = None
            self.error = str(exc)
            logger.warning("web service at %s: %s", self.url, exc)

    def summary(self, read_only: bool) -> dict[str, Any]:
        info: dict[str, Any] = {"url": self.url, "service": self.address}
        if self.pid is not None:
            info["pid"] = self.pid
        if self.error is not None:
            info["error"] = self.error
            return info
        info["access"] = "read-only" if not self.allows_control(read_only) else self.access
        assert self.catalog is not None
        info["resources"] = self.catalog.resources
        return info


class ServiceSet:
    """The services to offer, refreshed with :meth:`refresh`."""

    def __init__(
        self,
        *,
        client: WebServiceClient | None = None,
        fleet: Callable[[], list[dict[str, Any]]] | None = None,
        directories: Sequence[Path] = (),
        pid: int | None = None,
        token: str | None = None,
        timeout: float = 10.0,
    ) -> None:
        self.fixed = client
        #: The fleet's services (Prometheus's targets), asked at each refresh.
        self.fleet = fleet
        self.directories = list(directories)
        self.pid = pid
        self.token = token
        self.timeout = timeout
        self.services: list[AttachedService] = []

    @property
    def discovering(self) -> bool:
        return self.fixed is None

    def _wanted(self) -> list[tuple[tuple[Any, ...], AttachedService]]:
        if self.fixed is not None:
            return [((self.fixed.url, self.fixed.token), AttachedService(self.fixed))]
        found: dict[Any, dict[str, Any]] = {}
        fleet = self.fleet() if self.fleet is not None else []
        for info in fleet:
            found.setdefault((None, info.get("url")), info)
        for directory in self.directories if self.fleet is None else ():
            for info in find_services(directory):
                key = info.get("pid"), info.get("url")
                found.setdefault(key, info)
        wanted = []
        for info in sorted(found.values(), key=lambda i: i.get("started", 0), reverse=True):
            pid = info.get("pid")
            if self.pid is not None and pid != self.pid:
                continue
            token = self.token or info.get("token")
            identity = (info["url"], token, pid, info.get("started"))
            # Checks through /health that the URL is still this pid's before the token goes out.
            client = WebServiceClient.from_discovery(info, timeout=self.timeout, token=self.token)
            wanted.append(
                (
                    identity,
                    AttachedService(
                        client,
                        pid=pid if isinstance(pid, int) else None,
                        started=info.get("started"),
                    ),
                )
            )
        return wanted

    def refresh(self) -> list[AttachedService]:
        """Read the discovery files again; describe services not described yet."""
        known = {service.identity: service for service in self.services}
        services = []
        for identity, fresh in self._wanted():
            service = known.get(identity)
            if service is None:
                service = fresh
                service.identity = identity
            if service.catalog is None:
                service.describe()
            services.append(service)
        self.services = services
        return services
