"""The Twisted ``Site`` that guards every request before a resource runs.

Host, Origin, token, body size and content type are checked here, once,
so that no resource can forget a check: a resource only ever sees requests
that passed them, with ``request.webservice_access`` telling what the
caller may do.
"""

from __future__ import annotations

import logging
from io import BytesIO
from typing import TYPE_CHECKING, Any

from twisted.web.http import HTTPChannel
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from .resource import ErrorResource, JsonResource, JsonRpcResource
from .security import Access, TokenChecker, host_allowed, origin_allowed

if TYPE_CHECKING:
    from .settings import WebServiceConfig

__all__ = ["WebServiceChannel", "WebServiceRequest", "WebServiceSite"]

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("scrapy_webservice.access")

_JSON_TYPES = (b"application/json", b"application/json-rpc")
_SAFE_METHODS = (b"GET", b"HEAD", b"OPTIONS")
_CORS_ALLOWED_HEADERS = b"Authorization, Content-Type"


class WebServiceRequest(Request):
    """A request that stops storing its body once it passes the size limit.

    The rest of an oversized body is read and dropped, so that memory stays
    bounded whatever a client sends; the site then answers 413.
    """

    too_large: bool = False
    webservice_access: Access = Access.NONE
    _received: int = 0

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # Bodies are JSON, never forms: skip Twisted's form parsing, which
        # reads the Content-Type of every POST with the email package.
        self._parsePOSTFormSubmission = False

    def _limit(self) -> int:
        site = getattr(self.channel, "site", None)
        return getattr(site, "max_request_size", 1024 * 1024)

    def gotLength(self, length: int | None) -> None:
        if length is not None and length > self._limit():
            self.too_large = True
            self.content = BytesIO()
            return
        super().gotLength(length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.too_large:
            return
        self._received += len(data)
        if self._received > self._limit():
            self.too_large = True
            self.content = BytesIO()
            return
        super().handleContentChunk(data)


class WebServiceChannel(HTTPChannel):
    """An HTTP/1.1 connection whose every request must arrive within the timeout.

    Twisted's idle timeout restarts with every byte received, so a client
    trickling a request a byte at a time ("slowloris") would hold its
    connection for ever. Here a request (line, headers, body) has
    ``WEBSERVICE_TIMEOUT`` seconds from its first byte; a client that is
    slower is cut off. Time spent reading an answer, such as ``/events``,
    is not counted.
    """

    _request_deadline: Any = None

    def dataReceived(self, data: bytes) -> None:
        if data and self._request_deadline is None and self.timeOut:
            self._request_deadline = self.callLater(self.timeOut, self._too_slow)
        super().dataReceived(data)

    def allContentReceived(self) -> None:
        self._cancel_deadline()
        super().allContentReceived()

    def connectionLost(self, reason: Any) -> None:
        self._cancel_deadline()
        super().connectionLost(reason)

    def _cancel_deadline(self) -> None:
        deadline, self._request_deadline = self._request_deadline, None
        if deadline is not None and deadline.active():
            deadline.cancel()

    def _too_slow(self) -> None:
        self._request_deadline = None
        peer = getattr(self.transport.getPeer(), "host", "?")
        logger.info(
            "Web service: request from %s not complete within %g s (WEBSERVICE_TIMEOUT);"
            " connection closed",
            peer,
            self.timeOut,
        )
        self.transport.abortConnection()


class WebServiceSite(Site):
    """A ``Site`` that applies the service's security rules to each request."""

    # HTTP/1.1 only (no HTTP/2 negotiation), with the request deadline.
    protocol = WebServiceChannel
    requestFactory = WebServiceRequest
    displayTracebacks = False

    def __init__(self, root: Resource, config: WebServiceConfig, tokens: TokenChecker) -> None:
        super().__init__(root, logPath=config.logfile, timeout=config.timeout)
        self.config = config
        self.tokens = tokens
        self.max_request_size = config.max_request_size
        self.allowed_hosts = _allowed_hosts(config)
        self.noisy = False

    def getResourceFor(self, request: Request) -> Resource:
        request.setHeader(b"X-Content-Type-Options", b"nosniff")
        if not host_allowed(request.getHeader(b"host"), self.allowed_hosts):
            return ErrorResource(403, "Host not allowed: add it to WEBSERVICE_ALLOWED_HOSTS")
        origin = request.getHeader(b"origin")
        if origin is not None:
            scheme = "https" if self.config.tls_certificate else "http"
            host = request.getHeader(b"host")
            if not origin_allowed(origin, host, self.config.cors_origins, scheme):
                return ErrorResource(403, "Origin not allowed: add it to WEBSERVICE_CORS_ORIGINS")
            self._add_cors_headers(request, origin)
            if request.method == b"OPTIONS":
                return _Preflight()
        if getattr(request, "too_large", False):
            request.setHeader(b"Connection", b"close")
            return ErrorResource(
                413,
                f"Request body over the limit of {self.max_request_size} bytes"
                " (WEBSERVICE_MAX_REQUEST_SIZE)",
            )
        resource = super().getResourceFor(request)
        access = self.tokens.access(request.getHeader(b"authorization"))
        request.webservice_access = access  # type: ignore[attr-defined]
        if access is Access.NONE and not getattr(resource, "public", False):
            return ErrorResource(
                401,
                "Missing or wrong token: send 'Authorization: Bearer <token>'",
                headers={b"WWW-Authenticate": b'Bearer realm="scrapy-webservice"'},
            )
        if request.method not in _SAFE_METHODS and isinstance(resource, JsonResource):
            method = request.method.decode("ascii", "replace")
            if access < Access.CONTROL and not isinstance(resource, JsonRpcResource):
                # JSON-RPC checks each method itself; any other state-changing
                # request needs the full token.
                return ErrorResource(403, f"Forbidden: {method} needs the full token")
            content_type = (request.getHeader(b"content-type") or b"").split(b";")[0].strip()
            if content_type.lower() not in _JSON_TYPES:
                return ErrorResource(415, f"{method} needs 'Content-Type: application/json'")
        return resource

    def _add_cors_headers(self, request: Request, origin: bytes) -> None:
        if not self.config.cors_origins:
            return  # same-origin request: no CORS headers are needed
        request.setHeader(b"Access-Control-Allow-Origin", origin)
        request.setHeader(b"Vary", b"Origin")
        request.setHeader(b"Access-Control-Allow-Headers", _CORS_ALLOWED_HEADERS)
        request.setHeader(b"Access-Control-Allow-Methods", b"GET, POST, OPTIONS")

    def log(self, request: Any) -> None:
        if self.logPath:
            super().log(request)
            return
        if not access_logger.isEnabledFor(logging.DEBUG):
            return
        access_logger.debug(
            '%s "%s %s" %s',
            getattr(request.getClientAddress(), "host", "-"),
            request.method.decode("ascii", "replace"),
            request.uri.decode("utf-8", "replace"),
            request.code,
        )


class _Preflight(Resource):
    isLeaf = True

    def render(self, request: Request) -> bytes:
        request.setResponseCode(204)
        return b""


def _allowed_hosts(config: WebServiceConfig) -> tuple[str, ...]:
    hosts = list(config.allowed_hosts)
    if config.host not in ("", "0.0.0.0", "::"):  # noqa: S104
        hosts.append(config.host)
    return tuple(hosts)
