"""The Twisted front: the ``Site`` that guards every request before a resource runs.

Host, Origin, token, body size and content type are checked by the
:class:`~.guard.RequestGuard` (shared with the asyncio front) before any
resource code; the site adds what is Twisted's: the fixed 401 sent from
the head alone, the connection limits, the reactor's share.

The channel and the request below also make Twisted's HTTP/1.1 follow
RFC 9112 where it does not on its own: an answer that says
``Connection: close`` closes the connection, asterisk-form requests go
through the same checks, and malformed requests get a JSON 400.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Iterable
from io import BytesIO
from typing import TYPE_CHECKING, Any, cast

from twisted.internet.protocol import connectionDone
from twisted.protocols.basic import LineReceiver
from twisted.python.failure import Failure
from twisted.web import server
from twisted.web.http import HTTPChannel, unquote
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource
from twisted.web.server import Request, Site

from ..adapter import internals as adapter
from ..public.resource import error_body
from ..rpc.markers import Access
from .answers import bad_request, date_field, log_access, says_close
from .budget import client_key
from .guard import UNAUTHORIZED, RequestGuard
from .security import (
    TokenChecker,
)

if TYPE_CHECKING:
    from twisted.internet.interfaces import IReactorTime, ITCPTransport

    from ..public.settings import WebServiceConfig
    from .budget import AddressLimits, ReactorBudget

__all__ = ["WebServiceChannel", "WebServiceRequest", "WebServiceSite"]

logger = logging.getLogger(__name__)

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
        self.transport.writeSequence((answer[0], date_field(), answer[1]))
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
            elif name == b"Connection" and says_close(values):
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
            head.append(date_field())
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
        logger.debug("Web service: bad request from %s", self._peer())
        self.transport.write(bad_request(message))
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
        #: The checks every request passes (shared with the asyncio front).
        self.guard = RequestGuard(
            root, config, tokens, functools.partial(Site.getResourceFor, self)
        )
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
        """Whether the head alone refuses ``request`` (see :meth:`.RequestGuard.refuses_early`)."""
        return self.guard.refuses_early(request, path)

    def getResourceFor(self, request: Request) -> Resource:
        """The resource for ``request``, or the error that answers it (:class:`.RequestGuard`)."""
        return self.guard.resource_for(request)

    def refused(self, address: str) -> float:
        """Count a request refused for its token; the seconds its answer waits (penalty)."""
        self._count_refusal("unauthorized")
        return self.limits.failed(address) if self.limits is not None else 0.0

    def refusal_bytes(self, keep_alive: bool) -> tuple[bytes, bytes]:
        """The fixed 401, as the head before its ``Date`` line and the rest."""
        known = self._refusals.get(keep_alive)
        if known is not None:
            return known
        body = error_body(401, UNAUTHORIZED)
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

    def log(self, request: Any) -> None:
        if self.logPath:
            super().log(request)
        else:
            log_access(request)
