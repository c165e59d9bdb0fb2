"""The Twisted ``Site`` that guards every request before a resource runs.

Host, Origin, token, body size and content type are checked here, once,
so that no resource can forget a check: a resource only ever sees requests
that passed them, with ``request.webservice_access`` telling what the
caller may do. Not even a resource's child lookup runs before the token
is checked, unless the first path segment names a resource declared public.

The channel and the request below also make Twisted's HTTP/1.1 follow
RFC 9112 where it does not on its own: an answer that says
``Connection: close`` closes the connection, asterisk-form requests go
through the same checks, and malformed requests get a JSON 400.
"""

from __future__ import annotations

import functools
import inspect
import logging
import time
from collections.abc import Iterable, Sequence
from io import BytesIO
from typing import TYPE_CHECKING, Any, cast

from twisted.internet.protocol import connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.http import HTTPChannel, datetimeToString, unquote
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from ..adapter import internals as adapter
from ..public.resource import ErrorResource, JsonResource, error_body, write_error
from ..public.rpc_resource import JsonRpcResource
from ..rpc.markers import Access
from .budget import client_key
from .security import (
    TokenChecker,
    host_allowed,
    host_field_problem,
    host_is_address,
    origin_allowed,
)

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime, ITCPTransport

    from ..public.settings import WebServiceConfig
    from .budget import AddressLimits, ReactorBudget

__all__ = ["WebServiceChannel", "WebServiceRequest", "WebServiceSite"]

logger = logging.getLogger(__name__)
access_logger = logging.getLogger("scrapy_webservice.access")

_JSON_TYPES = (b"application/json", b"application/json-rpc")
#: ``WEBSERVICE_HOST`` values that bind every interface.
ALL_INTERFACES = ("", "0.0.0.0", "::")  # noqa: S104
_SAFE_METHODS = (b"GET", b"HEAD", b"OPTIONS")
_CORS_ALLOWED_HEADERS = b"Authorization, Content-Type"
#: What ``OPTIONS *`` answers: the methods the service as a whole speaks.
_SERVER_METHODS = b"GET, HEAD, POST, OPTIONS"
_BAD_REQUEST = "Bad request: not valid HTTP/1.1 (request line, header fields or body framing)"
#: How many ``Host`` values the site keeps its verdict on, and the longest it keeps.
_HOST_VERDICTS_KEPT = 256
_HOST_MAX_KEPT = 300
_UNKNOWN = object()
#: What Twisted's ``Request.process`` sets on every request, written by the channel here.
_SERVER_FIELD = b"Server: " + server.version + b"\r\n"


class WebServiceRequest(Request):
    """A request that stops storing its body once it passes the size limit.

    The rest of an oversized body is read and dropped, so that memory stays
    bounded whatever a client sends; the site then answers 413.

    Here and in the channel and site below, the methods that run for every
    request call their Twisted base by name: ``super()`` costs more than
    the rest of some of them.
    """

    too_large: bool = False
    #: Refused from its head alone (no valid token): its body, if any, is dropped.
    refused_early: bool = False
    #: Its early answer is written; and it was received whole (with its body, if any).
    refusal_sent: bool = False
    refusal_received: bool = False
    #: The token was checked from the head (``webservice_access`` holds the verdict).
    access_checked: bool = False
    #: The guarded header fields, read from the head once (see ``_guarded_fields``).
    guarded_fields: tuple[Any, Any, Any, Any] | None = None
    webservice_access: Access = Access.NONE
    _received: int = 0
    #: The site's limit, read once per request (the body may come in many chunks).
    _max_size: int | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        Request.__init__(self, *args, **kwargs)
        # Bodies are JSON, never forms: skip Twisted's form parsing, which
        # reads the Content-Type of every POST with the email package.
        self._parsePOSTFormSubmission = False

    def _limit(self) -> int:
        if self._max_size is None:
            site = getattr(self.channel, "site", None)
            self._max_size = getattr(site, "max_request_size", 1024 * 1024)
        return self._max_size

    def gotLength(self, length: int | None) -> None:
        if length and length > self._limit():
            self.too_large = True
            self.content = BytesIO()
            return
        Request.gotLength(self, length)

    def handleContentChunk(self, data: bytes) -> None:
        if self.too_large or self.refused_early:
            return
        self._received += len(data)
        limit = self._max_size
        if self._received > (self._limit() if limit is None else limit):
            self.too_large = True
            self.content = BytesIO()
            return
        Request.handleContentChunk(self, data)

    def requestReceived(self, command: bytes, path: bytes, version: bytes) -> None:
        if self.refused_early:
            # Answered from its head: nothing of Twisted's request parsing is needed.
            self.refusal_received = True
            if self.refusal_sent:
                cast("WebServiceChannel", self.channel).refusal_done(self)
            return
        Request.requestReceived(self, command, path, version)

    def process(self) -> None:
        """Twisted's ``Request.process``, less two header writes, and ``*`` guarded too.

        ``Server`` and ``Date`` are written by the channel with the rest of
        the head (``WebServiceChannel.writeHeaders``) instead of set here on
        every request's headers, which cost more than some whole answers.
        Twisted answers an asterisk-form request itself (200 or 405) before
        the site sees it; here it goes through the site's checks like any
        other, with no path to traverse.
        """
        # Site.buildProtocol sets channel.site; Twisted's HTTPChannel does not declare it.
        self.site = site = self.channel.site  # type: ignore[attr-defined]
        self.prepath = []
        path = self.path
        self.postpath = [] if path == b"*" else list(map(unquote, path[1:].split(b"/")))
        try:
            resource = site.getResourceFor(self)
            get_encoder = getattr(resource, "getEncoder", None)  # EncodingResourceWrapper (gzip)
            if get_encoder is not None:
                encoder = get_encoder(self)
                if encoder is not None:
                    self._encoder = encoder
            self.render(resource)
        except BaseException:
            self.processingFailed(Failure())


#: Older Twisted (23.10 among them) counts only complete lines as activity on an
#: HTTP connection: a client sending a header a byte at a time is cut off by the
#: idle timeout, silently, before the request deadline could say why. Newer
#: Twisted counts every chunk (its HTTPChannel has its own ``dataReceived``);
#: the channel below does the same on the older, so that both behave alike.
_IDLE_ONLY_ON_LINES = HTTPChannel.dataReceived is LineReceiver.dataReceived


class WebServiceChannel(HTTPChannel):
    """An HTTP/1.1 connection whose every request must arrive within the timeout.

    Twisted's idle timeout restarts with every byte received, so a client
    trickling a request a byte at a time ("slowloris") would hold its
    connection for ever. Here a request (line, headers, body) has
    ``WEBSERVICE_TIMEOUT`` seconds from its first byte; a client that is
    slower is cut off. Time spent reading an answer, such as ``/events``,
    is not counted.

    An answer that says ``Connection: close`` closes the connection once
    sent (RFC 9112 9.6), and a request that Twisted's parser refuses gets
    the service's JSON 400 instead of Twisted's bare status line.
    """

    #: When the request being received began (the reactor's clock); None between requests.
    _request_started: float | None = None
    #: One timer per connection, not per request: it checks the request in progress
    #: when it fires, and is armed again only while a request is being received.
    _request_deadline: Any = None
    _bad_request_answered = False
    # Connected (every use below is), over TCP, TLS or a Unix socket: all have
    # abortConnection, which Protocol's ``ITransport | None`` does not say.
    transport: ITCPTransport

    def dataReceived(self, data: bytes) -> None:
        if _IDLE_ONLY_ON_LINES:
            self.resetTimeout()
        if data and self._request_started is None and self.timeOut:
            # Stamp the time instead of arming and cancelling a timer for each
            # request: on a keep-alive connection that was most of this
            # channel's cost per request.
            self._request_started = self._seconds()
            if self._request_deadline is None:
                self._request_deadline = self.callLater(self.timeOut, self._check_deadline)
        HTTPChannel.dataReceived(self, data)

    def allContentReceived(self) -> None:
        self._request_started = None
        HTTPChannel.allContentReceived(self)

    # -- refusing from the head alone -----------------------------------------------

    def allHeadersReceived(self) -> None:
        """Refuse a request without a valid token here, before its body or any resource.

        A flood of unauthenticated requests must cost the crawl as little as
        possible: the verdict comes from the request line and the header
        fields, the answer is a fixed 401 written at once, and a body (which
        may never arrive) is not waited for: the connection closes after the
        answer instead. Anything unusual (an ``Origin``, a refused ``Host``,
        several ``Authorization`` fields, ``HEAD``) takes the full path, which
        answers it as before.
        """
        request = self.requests[-1]
        line = adapter.request_line(self)
        site = self.site  # type: ignore[attr-defined]
        if line is None or line[0] == b"HEAD" or not site.refuses_early(request, line[1]):
            HTTPChannel.allHeadersReceived(self)
            return
        command, path, version = line
        request.refused_early = True
        request.method, request.uri, request.clientproto = command, path, version
        body_follows = self.length != 0
        self.persistent = not body_follows and self.checkPersistence(request, version)
        delay = site.refused(client_key(self.transport.getPeer()))
        answer = site.refusal_bytes(self.persistent)
        if delay > 0:
            self.callLater(
                delay, functools.partial(self._send_refusal, request, answer, body_follows)
            )
        else:
            self._send_refusal(request, answer, body_follows)

    def _send_refusal(
        self, request: WebServiceRequest, answer: tuple[bytes, bytes], closing: bool
    ) -> None:
        if not self.connected:
            return
        self.transport.writeSequence((answer[0], _date_field(), answer[1]))
        request.refusal_sent = True
        request.code, request.sentLength = 401, len(answer[1])
        self.site.log(request)  # type: ignore[attr-defined]
        if closing or not self.persistent:
            self.loseConnection()
        elif request.refusal_received:
            self.refusal_done(request)

    def refusal_done(self, request: WebServiceRequest) -> None:
        """An early-answered request is over: the next one on the connection may come."""
        if request.finished or not self.requests or self.requests[0] is not request:
            return
        request.finished = 1
        if self.persistent:
            self.requestDone(request)
        else:
            self.loseConnection()

    def connectionLost(self, reason: Failure = connectionDone) -> None:
        self._request_started = None
        self._cancel_deadline()
        idle, self._idle_timer = self._idle_timer, None
        if idle is not None and idle.active():
            idle.cancel()
        super().connectionLost(reason)

    # -- the idle timeout: Twisted's TimeoutMixin, with one timer per connection --------

    #: The idle timer, once armed; it checks ``_idle_since`` when it fires.
    _idle_timer: Any = None
    #: The last activity (the reactor's clock) the idle timeout counts from.
    _idle_since: float = 0.0

    def setTimeout(self, period: int | None) -> int | None:
        """Twisted's idle timeout, without a timer cancelled and armed again per request.

        HTTPChannel sets the idle timeout aside while it answers a request
        and sets it again after: with TimeoutMixin that is a cancelled
        timer and a new one for every request, more than the whole guard
        of a request costs. Here the time is stamped instead, and the one
        timer looks at the stamp when it fires.
        """
        previous, self.timeOut = self.timeOut, period
        if period is not None:
            now = self._idle_since = self._seconds()
            timer = self._idle_timer
            if timer is None:
                self._idle_timer = self.callLater(period, self._idle_check)
            elif timer.getTime() > now + period:  # a shorter period than the timer's
                timer.reset(period)
        return previous

    def resetTimeout(self) -> None:
        if self.timeOut is not None and self._idle_timer is not None:
            self._idle_since = self._seconds()

    def _idle_check(self) -> None:
        self._idle_timer = None
        period = self.timeOut
        if period is None:
            return  # a request is being answered: setTimeout arms the timer after it
        left = self._idle_since + period - self._seconds()
        if left > 0:
            self._idle_timer = self.callLater(left, self._idle_check)
            return
        self.timeoutConnection()

    def writeHeaders(
        self, version: bytes, code: bytes, reason: bytes, headers: Headers | Iterable[Any]
    ) -> None:
        """Write an answer's head, with the fields every answer of the service carries.

        ``Server`` and ``Date`` (which Twisted sets on each request's headers
        and the request's ``process`` here leaves to this method), unless the
        resource set them; ``X-Content-Type-Options: nosniff`` always, and
        ``Cache-Control: no-store`` unless the resource chose a
        ``Cache-Control`` (answers are live state, some of it for the token's
        holder only). Written here,
        once, instead of set on each request's headers: no resource can
        forget them, and ``setHeader`` cost more than the rest of some
        answers. An answer that says ``Connection: close`` is noted here
        too: Twisted keeps the connection unless the client asked otherwise,
        and RFC 9112 says an answer that announced the close must be
        followed by it (``requestDone`` then closes).
        """
        if not isinstance(headers, Headers):
            # Twisted before 24 passes (name, value) pairs: sanitized as it does.
            pairs, headers = headers, Headers()
            for name, value in pairs:
                headers.addRawHeader(name, value)
        head = [version, b" ", code, b" ", reason, b"\r\n"]
        cache_control = server_field = date = False
        for name, values in headers.getAllRawHeaders():
            if name == b"Cache-Control":
                cache_control = True
            elif name == b"Connection" and _says_close(values):
                self.persistent = False
            elif name == b"Server":
                server_field = True
            elif name == b"Date":
                date = True
            for value in values:
                head.extend((name, b": ", value, b"\r\n"))
        if not server_field:
            head.append(_SERVER_FIELD)
        if not date:
            head.append(_date_field())
        if not cache_control:
            head.append(b"Cache-Control: no-store\r\n")
        head.append(b"X-Content-Type-Options: nosniff\r\n\r\n")
        self.transport.writeSequence(head)

    def _respondToBadRequestAndDisconnect(self, message: str | None = None) -> None:
        """Answer a request that is not valid HTTP with a JSON 400, then close.

        Twisted (23.10 to 26.x at least) calls this private method for a
        bad request line, a bad header line, too many or too large headers,
        a bad ``Content-Length`` or ``Transfer-Encoding`` and bad chunked
        framing; it writes the answer to the transport directly, since no
        request object can be trusted at that point. Should Twisted rename
        it, its own bare 400 comes back (the tests say so).
        """
        if self._bad_request_answered:
            return
        self._bad_request_answered = True
        body = error_body(400, message or _BAD_REQUEST)
        head = [
            b"HTTP/1.1 400 Bad Request",
            b"Date: " + datetimeToString(),
            b"Content-Type: application/json",
            b"Content-Length: %d" % len(body),
            b"Cache-Control: no-store",
            b"X-Content-Type-Options: nosniff",
            b"Connection: close",
        ]
        logger.debug("Web service: bad request from %s", self._peer())
        self.transport.write(b"\r\n".join(head) + b"\r\n\r\n" + body)
        self.loseConnection()

    def lineLengthExceeded(self, line: bytes) -> None:
        # A request line or header line over MAX_LENGTH: Twisted drops the
        # connection without a word; answer like any other malformed request.
        self._respondToBadRequestAndDisconnect(
            f"Bad request: a request line or header line over {self.MAX_LENGTH} bytes"
        )

    def _peer(self) -> str:
        return str(getattr(self.transport.getPeer(), "host", "?"))

    def _seconds(self) -> float:
        """Now, on the clock of the reactor that ``callLater`` schedules on (the site's)."""
        clock: IReactorTime | None = getattr(getattr(self, "factory", None), "reactor", None)
        if clock is None:
            from twisted.internet import reactor

            clock = cast("IReactorTime", reactor)
        # Found once per connection: the instance attribute hides this method.
        self._seconds = clock.seconds  # type: ignore[method-assign]
        return clock.seconds()

    def _cancel_deadline(self) -> None:
        deadline, self._request_deadline = self._request_deadline, None
        if deadline is not None and deadline.active():
            deadline.cancel()

    def _check_deadline(self) -> None:
        self._request_deadline = None
        started = self._request_started
        if started is None:
            return  # between requests: the next one arms the timer again
        left = started + (self.timeOut or 0) - self._seconds()
        if left > 0:  # a later request than the one the timer was armed for
            self._request_deadline = self.callLater(left, self._check_deadline)
            return
        self._too_slow()

    def _too_slow(self) -> None:
        self._request_deadline = None
        logger.info(
            "Web service: request from %s not complete within %g s (WEBSERVICE_TIMEOUT);"
            " connection closed",
            self._peer(),
            self.timeOut,
        )
        self.transport.abortConnection()


class WebServiceSite(Site):
    """A ``Site`` that applies the service's security rules to each request."""

    # HTTP/1.1 only (no HTTP/2 negotiation), with the request deadline.
    # Twisted types ``protocol`` as the factory of its HTTP/2-negotiating
    # wrapper; any HTTPChannel works, as Site.buildProtocol only sets attributes.
    protocol = WebServiceChannel  # type: ignore[assignment]
    requestFactory = WebServiceRequest
    displayTracebacks = False

    #: The service's share of the reactor (set when it listens); counts refusals too.
    budget: ReactorBudget | None = None

    def __init__(
        self,
        root: Resource,
        config: WebServiceConfig,
        tokens: TokenChecker,
        limits: AddressLimits | None = None,
    ) -> None:
        super().__init__(root, logPath=config.logfile, timeout=config.timeout)
        self.config = config
        self.tokens = tokens
        self.limits = limits
        self._refusals: dict[bool, tuple[bytes, bytes]] = {}
        self.max_request_size = config.max_request_size
        self.allowed_hosts = _allowed_hosts(config)
        #: Bound to every interface: the address a connection arrived on is a
        #: name of this service too.
        self.all_interfaces = not config.unix_socket and config.host in ALL_INTERFACES
        self._host_verdicts: dict[bytes, tuple[int, str] | None] = {}
        self.noisy = False

    def buildProtocol(self, addr: Any) -> Any:
        """A channel, or ``None`` (the port closes the socket) past the connection limits."""
        limits = self.limits
        if limits is not None:
            address = client_key(addr)
            if not limits.admits(address):
                self._count_refusal("connections")
                logger.debug("Web service: connection from %s refused (limits)", address)
                return None
        return Site.buildProtocol(self, addr)

    def _count_refusal(self, reason: str) -> None:
        if self.budget is not None:
            self.budget.counters.refuse(reason)

    def refuses_early(self, request: WebServiceRequest, path: bytes) -> bool:
        """Whether the head alone refuses ``request`` (no valid token, not a public path).

        What it checked is kept on the request, so that an accepted request
        does not pay for the checks twice.
        """
        fields = request.guarded_fields = _guarded_fields(request.requestHeaders)
        hosts, origins, authorization, _ = fields
        if origins is not None or (authorization is not None and len(authorization) > 1):
            return False
        if self._host_verdict(hosts) is not None:
            return False
        access = self.tokens.access(authorization[0] if authorization else None)
        request.webservice_access = access
        request.access_checked = True
        if access is not Access.NONE:
            return False
        segment = path.split(b"?", 1)[0][1:].split(b"/", 1)[0]
        return not self._public_segment(unquote(segment))

    def refused(self, address: str) -> float:
        """Count a request refused for its token; the seconds its answer waits (penalty)."""
        self._count_refusal("unauthorized")
        return self.limits.failed(address) if self.limits is not None else 0.0

    def refusal_bytes(self, keep_alive: bool) -> tuple[bytes, bytes]:
        """The fixed 401, as the head before its ``Date`` line and the rest."""
        known = self._refusals.get(keep_alive)
        if known is not None:
            return known
        body = error_body(401, _UNAUTHORIZED)
        head = (
            b"HTTP/1.1 401 Unauthorized\r\n"
            b"Content-Type: application/json\r\n"
            b"Content-Length: %d\r\n"
            b'WWW-Authenticate: Bearer realm="scrapy-webservice"\r\n' % len(body)
        )
        rest = _SERVER_FIELD + (b"" if keep_alive else b"Connection: close\r\n")
        rest += b"Cache-Control: no-store\r\nX-Content-Type-Options: nosniff\r\n\r\n" + body
        self._refusals[keep_alive] = known = (head, rest)
        return known

    def getResourceFor(self, request: Request) -> Resource:
        """The resource for ``request``, or the error that answers it.

        The checks run in this order, each before any resource code: the
        ``Host`` field's syntax (400), the ``Host`` name (403), the
        ``Origin`` (403, or a CORS preflight's 204), the body's size (413),
        a single ``Authorization`` field (400), the token (401). Only then
        is the path traversed (every ``getChild`` and ``child()``), unless
        its first segment is a static child of the root declared public.
        Then the read-only token's rights (403) and the content type of
        writes (415).
        """
        fields = getattr(request, "guarded_fields", None) or _guarded_fields(
            request.requestHeaders
        )
        hosts, origins, authorization, content_types = fields
        refused = self._host_verdict(hosts)
        if refused is not None and refused[0] == 403 and self._arrived_at(request, hosts):
            refused = None
        if refused is not None:
            status, message = refused
            if status == 400:
                request.setHeader(b"Connection", b"close")
            return ErrorResource(status, message)
        asterisk = request.path == b"*"
        if origins is not None:
            origin = origins[-1]
            scheme = "https" if self.config.tls_certificate else "http"
            host = hosts[-1] if hosts else None
            if not origin_allowed(origin, host, self.config.cors_origins, scheme):
                return ErrorResource(403, "Origin not allowed: add it to WEBSERVICE_CORS_ORIGINS")
            self._add_cors_headers(request, origin)
            if request.method == b"OPTIONS" and not asterisk:
                return _Preflight()
        if getattr(request, "too_large", False):
            request.setHeader(b"Connection", b"close")
            return ErrorResource(
                413,
                f"Request body over the limit of {self.max_request_size} bytes"
                " (WEBSERVICE_MAX_REQUEST_SIZE)",
            )
        if authorization is not None and len(authorization) > 1:
            # Which one would count is a guess; a proxy and a client may disagree.
            request.setHeader(b"Connection", b"close")
            return ErrorResource(400, "Send one Authorization header, not several")
        if getattr(request, "access_checked", False):
            access = request.webservice_access  # type: ignore[attr-defined]
        else:
            access = self.tokens.access(authorization[0] if authorization else None)
            request.webservice_access = access  # type: ignore[attr-defined]
        if access is Access.NONE and (asterisk or not self._public_path(request)):
            return _unauthorized()
        if asterisk:
            return _Asterisk()
        try:
            resource = Site.getResourceFor(self, request)
        except Exception:
            logger.exception(
                "Web service: looking up %s failed", request.uri.decode("utf-8", "replace")
            )
            return ErrorResource(500, "Internal error while looking up the resource")
        if access is Access.NONE and not _declared_public(resource):
            # Below a public resource, only what is declared public too: not
            # its data, nor a 404 that would tell what exists.
            return _unauthorized()
        if request.method not in _SAFE_METHODS and isinstance(resource, JsonResource):
            if access < Access.CONTROL and not isinstance(resource, JsonRpcResource):
                # JSON-RPC checks each method itself; any other state-changing
                # request needs the full token.
                method = request.method.decode("ascii", "replace")
                return ErrorResource(403, f"Forbidden: {method} needs the full token")
            content_type = content_types[-1] if content_types else None
            if content_type not in _JSON_TYPES and (
                content_type is None
                or content_type.split(b";")[0].strip().lower() not in _JSON_TYPES
            ):
                method = request.method.decode("ascii", "replace")
                return ErrorResource(415, f"{method} needs 'Content-Type: application/json'")
        return resource

    def _arrived_at(self, request: Request, hosts: Sequence[bytes] | None) -> bool:
        """Whether ``Host`` names the address this connection arrived on (all interfaces only)."""
        if not self.all_interfaces or not hosts:
            return False
        address = getattr(request.getHost(), "host", None)
        return isinstance(address, str) and host_is_address(hosts[-1], address)

    def _host_verdict(self, values: Sequence[bytes] | None) -> tuple[int, str] | None:
        """The status and message refusing these ``Host`` field lines, or ``None``.

        The verdict on a single value is kept (for a few hundred values, each
        short): a keep-alive client sends the same ``Host`` with every request,
        and parsing it twice each time was a tenth of this site's own cost.
        """
        single = values[0] if values is not None and len(values) == 1 else None
        if single is not None:
            known = self._host_verdicts.get(single, _UNKNOWN)
            if known is not _UNKNOWN:
                return known  # type: ignore[return-value]
        problem = host_field_problem(values)
        verdict: tuple[int, str] | None = None
        if problem is not None:
            verdict = (400, problem)
        elif not host_allowed(values[-1] if values else None, self.allowed_hosts):
            verdict = (403, "Host not allowed: add it to WEBSERVICE_ALLOWED_HOSTS")
        if single is not None and len(single) <= _HOST_MAX_KEPT:
            if len(self._host_verdicts) >= _HOST_VERDICTS_KEPT:
                self._host_verdicts.clear()
            self._host_verdicts[single] = verdict
        return verdict

    def _public_path(self, request: Request) -> bool:
        """Whether the first path segment names a static child of the root declared public.

        A dict lookup and a static attribute read: no resource code runs
        (not ``getChild``, not ``child()``, not even a property).
        """
        return self._public_segment(request.postpath[0] if request.postpath else b"")

    def _public_segment(self, segment: bytes) -> bool:
        """Whether ``segment`` (decoded) names a static child of the root declared public."""
        children = getattr(self.resource, "children", None)
        child = children.get(segment) if isinstance(children, dict) else None
        return child is not None and _declared_public(child)

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

    def render(self, request: Request) -> int:
        return _no_content(request)


class _Asterisk(Resource):
    """``OPTIONS *`` asks about the server as a whole (RFC 9110 9.3.7); only it has ``*``."""

    isLeaf = True

    def render(self, request: Request) -> bytes | int:
        if request.method == b"OPTIONS":
            request.setHeader(b"Allow", _SERVER_METHODS)
            return _no_content(request)
        method = request.method.decode("ascii", "replace")
        return write_error(
            request, 400, f"Bad request: {method} * (the asterisk form is only for OPTIONS)"
        )


_Fields = Sequence[bytes] | None


def _guarded_fields(headers: Headers) -> tuple[_Fields, _Fields, _Fields, _Fields]:
    """The ``Host``, ``Origin``, ``Authorization`` and ``Content-Type`` field lines.

    One pass over the request's fields (names come in canonical form)
    instead of a ``getRawHeaders`` for each: the lookups encoded each name
    again, on every request.
    """
    hosts = origins = authorization = content_types = None
    for name, values in headers.getAllRawHeaders():
        if name == b"Host":
            hosts = values
        elif name == b"Authorization":
            authorization = values
        elif name == b"Content-Type":
            content_types = values
        elif name == b"Origin":
            origins = values
    return hosts, origins, authorization, content_types


#: The ``Date`` field line and the second it was made in: HTTP dates have one-second
#: resolution, and formatting one cost as much as the rest of the head.
_date_line: tuple[int, bytes] = (-1, b"")


def _date_field() -> bytes:
    global _date_line
    now = int(time.time())
    second, line = _date_line
    if second != now:
        line = b"Date: " + datetimeToString(now) + b"\r\n"
        _date_line = (now, line)
    return line


def _no_content(request: Request) -> int:
    """A 204 finished here: Twisted would add ``Content-Length: 0`` (RFC 9110 8.6: must not)."""
    request.setResponseCode(204)
    request.finish()
    return server.NOT_DONE_YET


_UNAUTHORIZED = "Missing or wrong token: send 'Authorization: Bearer <token>'"


def _unauthorized() -> ErrorResource:
    return ErrorResource(
        401,
        _UNAUTHORIZED,
        headers={b"WWW-Authenticate": b'Bearer realm="scrapy-webservice"'},
    )


def _declared_public(resource: object) -> bool:
    """``public = True`` on the resource or its class, read without running a descriptor."""
    return inspect.getattr_static(resource, "public", False) is True


def _says_close(values: Sequence[bytes]) -> bool:
    """Whether these ``Connection`` field lines hold the ``close`` option."""
    return any(
        token.strip().lower() == b"close" for value in values for token in value.split(b",")
    )


def _allowed_hosts(config: WebServiceConfig) -> tuple[str, ...]:
    hosts = list(config.allowed_hosts)
    if config.host not in ALL_INTERFACES:
        hosts.append(config.host)
    return tuple(hosts)
