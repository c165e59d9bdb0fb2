"""One connection of the asyncio front: h11's events in, the resource's answer out.

Requests are answered one at a time, in order, with the Twisted front's
behaviour where this project made Twisted follow RFC 9112: the JSON 400 for
anything h11 (or the limits here) refuses, the request deadline from the
first byte, the idle timeout, the fixed 401 from the head alone, the
answer that says ``Connection: close`` followed by the close. What the
connection reports (time spent, refusals, the access log) goes to its
:class:`~.asyncio_front.AsyncioFront`.

About 550 lines, on purpose: one class whose parts (time, flow control,
requests in, answers out) share one connection's state; split, each part
would reach into the others'.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator
from io import BytesIO
from time import perf_counter
from typing import TYPE_CHECKING, Any, Protocol

import h11
from twisted.web.http import RESPONSES
from twisted.web.http_headers import Headers
from twisted.web.server import NOT_DONE_YET, UnsupportedMethod

from ..public.resource import error_body
from .answers import FIXED_FIELDS, bad_request, date_field, says_close
from .budget import client_key
from .exchange import Exchange, address
from .guard import unauthorized
from .security import host_field_problem

if TYPE_CHECKING:
    from twisted.web.resource import Resource

    from ..public.settings import WebServiceConfig
    from .budget import AddressLimits, ReactorBudget
    from .guard import RequestGuard

__all__ = ["MAX_FIELDS", "MAX_HEAD", "Front", "HTTPConnection"]

logger = logging.getLogger(__name__)

#: The longest request head (request line and header lines), as Twisted's line limit.
MAX_HEAD = 16384
#: The most header fields a request may have, as Twisted's ``HTTPChannel.maxHeaders``.
MAX_FIELDS = 500
SERVER_FIELD = b"scrapy-webservice (asyncio)"
_TOO_LONG = "head too long"
#: h11's refusals that the guard words better (the Twisted front's messages).
_H11_MESSAGES = {
    "Missing mandatory Host: header": host_field_problem(None),
    "Found multiple Host: headers": host_field_problem([b"a", b"b"]),
}


class Front(Protocol):
    """What a connection needs of the front that accepted it (``AsyncioFront``)."""

    config: WebServiceConfig
    guard: RequestGuard
    budget: ReactorBudget | None
    limits: AddressLimits | None
    connections: set[HTTPConnection]

    def charge(self, started: float) -> None:
        """The service's work since ``perf_counter()`` was ``started``, charged to its budget."""

    def count_refusal(self, reason: str) -> None: ...

    def log(self, exchange: Exchange) -> None:
        """The access log's line for an answered request."""


class HTTPConnection(asyncio.Protocol):
    """One client's connection: its requests answered one at a time, in order.

    While a request is answered, reading stops (pipelined requests wait in
    the kernel and in h11's buffer); the budget's holds stop it too.
    Timing follows the Twisted front: a request has ``WEBSERVICE_TIMEOUT``
    seconds from its first byte to its last, an idle connection is closed
    after as long, and the time spent answering (a long ``/events``) is
    not counted.
    """

    transport: asyncio.Transport

    def __init__(self, front: Front) -> None:
        self.front = front
        self.loop = asyncio.get_running_loop()
        self.http = h11.Connection(h11.SERVER, max_incomplete_event_size=MAX_HEAD)
        self.client: Any = None
        self.host: Any = None
        self.key = "local"
        self.admitted = False
        self.secure = False
        self.closed = False
        #: The request being received or answered, and its state.
        self.exchange: Exchange | None = None
        self.body = bytearray()
        self.refused = False
        self.answering = False
        self.head_sent = False
        self.continued = False
        self.pending: list[bytes] = []
        #: Body bytes sent of the current answer, for the access log.
        self.sent = 0
        self.flushing: asyncio.Handle | None = None
        #: When the request being received began (the loop's clock); None between requests.
        self.request_started: float | None = None
        self.idle_since = self.loop.time()
        self.timer: asyncio.TimerHandle | None = None
        self.holds = 0
        self.paused_here = False
        self.reading = True
        #: The service's work in progress: where its span began (``perf_counter``),
        #: and how deep its entries nest (a ``finish`` inside ``data_received``).
        self.span_started = 0.0
        self.span_depth = 0

    # -- the connection ----------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        with self._charged():  # accepting is the service's work too
            self._made(transport)

    def _made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport
        self.client = address(transport.get_extra_info("peername"))
        self.host = address(transport.get_extra_info("sockname"))
        self.key = client_key(self.client)
        self.secure = transport.get_extra_info("sslcontext") is not None
        limits = self.front.limits
        if limits is not None:
            if not limits.admits(self.key):
                self.front.count_refusal("connections")
                logger.debug("Web service: connection from %s refused (limits)", self.key)
                self.closed = True
                transport.abort()
                return
            limits.opened(self.key)
            self.admitted = True
        self.front.connections.add(self)
        if self.front.budget is not None:
            self.front.budget.add(self)
        self._arm(self.front.config.timeout)

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed = True
        for handle in (self.timer, self.flushing):
            if handle is not None:
                handle.cancel()
        self.timer = self.flushing = None
        if self.admitted and self.front.limits is not None:
            self.front.limits.closed(self.key)
            self.admitted = False
        self.front.connections.discard(self)
        if self.front.budget is not None:
            self.front.budget.discard(self)
        if self.exchange is not None and not self.exchange.finished:
            self.exchange.client_gone()

    def data_received(self, data: bytes) -> None:
        with self._charged():
            now = self.loop.time()
            self.idle_since = now
            self.http.receive_data(data)
            if self.answering:
                # Pipelined: kept until this answer is sent. Reading goes on until
                # then, so that a client that leaves is seen (and its work cancelled).
                self._pause()
                return
            if self.request_started is None:
                self.request_started = now
            self._next()

    def eof_received(self) -> bool:
        """The client closed its side: gone, as on Twisted (no half-closed connections)."""
        return False

    # The names Twisted's transport and channel have, for resources that end a
    # connection themselves (the event stream drops a client that reads too slowly).

    def abortConnection(self) -> None:
        if not self.closed:
            self.transport.abort()

    def loseConnection(self) -> None:
        if not self.closed:
            self.transport.close()

    # -- the budget: every entry from the loop is the service's work -------------------

    @contextlib.contextmanager
    def _charged(self) -> Iterator[None]:
        """Charge what runs inside to the budget, once however entries nest."""
        if self.span_depth == 0:
            self.span_started = perf_counter()
        self.span_depth += 1
        try:
            yield
        finally:
            self.span_depth -= 1
            if self.span_depth == 0:
                self.front.charge(self.span_started)

    def _charge_so_far(self) -> None:
        """Charge the span until now and go on with a new one (before a resource runs)."""
        if self.span_depth:
            self.front.charge(self.span_started)
            self.span_started = perf_counter()

    # -- flow control: ours, the budget's, and the client's ------------------------------

    def hold(self) -> None:
        self.holds += 1
        self._apply_reading()

    def release(self) -> None:
        if self.holds:
            self.holds -= 1
            self._apply_reading()

    def _pause(self) -> None:
        self.paused_here = True
        self._apply_reading()

    def _resume(self) -> None:
        self.paused_here = False
        self._apply_reading()

    def _apply_reading(self) -> None:
        wanted = not self.paused_here and not self.holds
        if wanted == self.reading or self.closed or self.transport.is_closing():
            return
        self.reading = wanted
        if wanted:
            self.transport.resume_reading()
        else:
            self.transport.pause_reading()

    def pause_writing(self) -> None:
        producer = getattr(self.exchange, "producer", None)
        if producer is not None:
            producer.pauseProducing()

    def resume_writing(self) -> None:
        producer = getattr(self.exchange, "producer", None)
        if producer is not None:
            producer.resumeProducing()

    # -- time ------------------------------------------------------------------------

    def _arm(self, delay: float | None) -> None:
        if delay is not None and self.timer is None and not self.closed:
            self.timer = self.loop.call_later(delay, self._check_time)

    def _check_time(self) -> None:
        """The one timer: the request deadline while receiving, the idle timeout between."""
        self.timer = None
        timeout = self.front.config.timeout
        now = self.loop.time()
        if self.request_started is not None:
            left = self.request_started + timeout - now
            if left <= 0:
                logger.info(
                    "Web service: request from %s not complete within %g s"
                    " (WEBSERVICE_TIMEOUT); connection closed",
                    self.key,
                    timeout,
                )
                self.transport.abort()
                return
        elif self.answering:
            left = timeout
        else:
            left = self.idle_since + timeout - now
            if left <= 0:
                self.transport.close()
                return
        self._arm(left)

    # -- requests in ----------------------------------------------------------------------

    def _next(self) -> None:
        """Take h11's events until it needs more bytes or a request is being answered."""
        while not self.answering and not self.closed:
            try:
                event = self.http.next_event()
            except h11.RemoteProtocolError as exc:
                self._bad_request(str(exc))
                return
            if event is h11.NEED_DATA:
                self._continue()
                return
            if event is h11.PAUSED:
                self._pause()
                return
            if isinstance(event, h11.Request):
                self._request(event)
            elif isinstance(event, h11.Data):
                self._data(event.data)
            elif isinstance(event, h11.EndOfMessage):
                self._complete()
            elif isinstance(event, h11.ConnectionClosed):
                self.transport.close()
                return

    def _request(self, event: h11.Request) -> None:
        if event.http_version not in (b"1.0", b"1.1"):
            version = event.http_version.decode("ascii", "replace")
            self._bad_request(f"HTTP/{version} is not HTTP/1.1 or HTTP/1.0")
            return
        fields = event.headers.raw_items()
        if len(fields) > MAX_FIELDS:
            self._bad_request(f"more than {MAX_FIELDS} header fields")
            return
        # h11 bounds only a head that comes in pieces; one that came whole is measured here.
        size = len(event.method) + len(event.target) + sum(len(n) + len(v) + 4 for n, v in fields)
        if size > MAX_HEAD:
            self._bad_request(_TOO_LONG)
            return
        headers = Headers()
        for name, value in fields:
            headers.addRawHeader(name, value)
        if headers.hasHeader(b"Transfer-Encoding") and headers.hasHeader(b"Content-Length"):
            # RFC 9112 6.3: a sign of request smuggling; Twisted refuses it too.
            self._bad_request("both Content-Length and Transfer-Encoding")
            return
        exchange = Exchange(
            event.method,
            event.target,
            headers,
            b"",
            self.client,
            self.host,
            on_write=self._write,
            on_finish=self._finish,
        )
        exchange.clientproto = b"HTTP/" + event.http_version
        exchange.transport = exchange.channel = self
        exchange.secure = self.secure
        self.exchange = exchange
        self.body.clear()
        self.sent = 0
        self.continued = False
        limit = self.front.config.max_request_size
        length = headers.getRawHeaders(b"Content-Length")
        if length and length[-1].isdigit() and int(length[-1]) > limit:
            exchange.too_large = True
        guard = self.front.guard
        if event.method != b"HEAD" and guard.refuses_early(exchange, event.target):
            self.refused = True
            if length not in (None, [b"0"]) or headers.hasHeader(b"Transfer-Encoding"):
                # A body follows, and may never come: answer now, and close.
                self._refuse(closing=True)

    def _continue(self) -> None:
        """``Expect: 100-continue``: tell the client to send the body it holds back."""
        if (
            self.http.they_are_waiting_for_100_continue
            and not self.continued
            and not self.refused
            and self.exchange is not None
            and not self.exchange.too_large
        ):
            self.continued = True
            self._send(h11.InformationalResponse(status_code=100, headers=[]))

    def _data(self, data: bytes) -> None:
        exchange = self.exchange
        if exchange is None or exchange.too_large or self.refused:
            return  # read and dropped: memory stays bounded whatever a client sends
        self.body += data
        if len(self.body) > self.front.config.max_request_size:
            exchange.too_large = True
            self.body.clear()

    def _complete(self) -> None:
        """The request is in: answer it (the refused one with the fixed 401)."""
        self.request_started = None
        exchange = self.exchange
        if exchange is None:
            return
        if self.refused:
            if not self.answering:
                self._refuse(closing=False)
            return
        exchange.content = BytesIO(bytes(self.body))
        self.body.clear()
        self.answering = True
        # What receiving cost is charged before the resource runs, so that a
        # resource reading the service's load (``/metrics``) counts it.
        self._charge_so_far()
        try:
            resource = self.front.guard.resource_for(exchange)
            result = resource.render(exchange)
        except UnsupportedMethod as exc:
            allowed = b", ".join(getattr(exc, "allowedMethods", ()) or ())
            exchange.setHeader(b"Allow", allowed)
            result = _error(exchange, 405, f"Method {exchange.method.decode()} not allowed here")
        except Exception:
            logger.exception(
                "Web service: answering %s failed", exchange.uri.decode("utf-8", "replace")
            )
            exchange.responseHeaders = Headers()
            result = _error(exchange, 500, "Internal error")
        if result is NOT_DONE_YET:
            return
        self._answer_with(exchange, result)

    def _answer_with(self, exchange: Exchange, body: object) -> None:
        """``render`` returned ``body``: sent whole, and ``notifyFinish`` fires, as on Twisted."""
        if exchange.finished:
            return
        if isinstance(body, bytes) and body:
            self.pending.append(body)
        exchange.finish()

    def _refuse(self, closing: bool) -> None:
        """The fixed 401 for a request the head refused, after the address's penalty."""
        exchange = self.exchange
        assert exchange is not None
        self.answering = True
        self.front.count_refusal("unauthorized")
        limits = self.front.limits
        delay = limits.failed(self.key) if limits is not None else 0.0
        if closing:
            exchange.setHeader(b"Connection", b"close")
        if delay > 0:
            self.loop.call_later(delay, self._send_refusal, exchange)
        else:
            self._send_refusal(exchange)

    def _send_refusal(self, exchange: Exchange) -> None:
        if self.closed or exchange is not self.exchange:
            return
        with self._charged():
            refusal: Resource = unauthorized()  # renders any request-shaped object
            self._answer_with(exchange, refusal.render(exchange))

    def _bad_request(self, problem: str) -> None:
        """A request h11 (or the limits here) cannot take: the JSON 400, then the close."""
        if self.closed:
            return
        if problem == _TOO_LONG or ("buffer" in problem.lower() and "long" in problem.lower()):
            message = f"Bad request: a request head (line and fields) over {MAX_HEAD} bytes"
        else:
            message = _H11_MESSAGES.get(problem) or f"Bad request: {problem}"
        logger.debug("Web service: bad request from %s: %s", self.key, problem)
        self.closed = True  # nothing more is read or written on it
        self.transport.write(bad_request(message))
        self.transport.close()

    # -- answers out ------------------------------------------------------------------

    def _write(self, exchange: Exchange, data: bytes) -> None:
        """A resource wrote: sent at the end of this turn, or with its ``finish``."""
        if exchange is not self.exchange or self.closed:
            return
        self.pending.append(data)
        if self.flushing is None:
            self.flushing = self.loop.call_soon(self._flush)

    def _flush(self) -> None:
        """Still open after the turn it was written in: a stream (chunked, or to the close)."""
        self.flushing = None
        exchange = self.exchange
        if exchange is None or exchange.finished or self.closed or not self.pending:
            return
        with self._charged():
            data, self.pending = b"".join(self.pending), []
            if not self.head_sent:
                self._send(self._head(exchange, None), h11.Data(data=data))
            else:
                self._send(h11.Data(data=data))

    def _finish(self, exchange: Exchange) -> None:
        if exchange is not self.exchange or self.closed:
            return
        with self._charged():
            if self.flushing is not None:
                self.flushing.cancel()
                self.flushing = None
            data, self.pending = b"".join(self.pending), []
            if not self.head_sent:
                self._send_whole(exchange, data)
            elif data:
                self._send(h11.Data(data=data), h11.EndOfMessage())
            else:
                self._send(h11.EndOfMessage())
            self._answered(exchange)

    def _send_whole(self, exchange: Exchange, body: bytes) -> None:
        """An answer whose body is all known: sent with its length."""
        code = exchange.code
        bodiless = code in (204, 304) or code < 200
        head = self._head(exchange, None if bodiless else len(body))
        if body and not bodiless and exchange.method != b"HEAD":
            self._send(head, h11.Data(data=body), h11.EndOfMessage())
        else:
            self._send(head, h11.EndOfMessage())

    def _head(self, exchange: Exchange, length: int | None) -> h11.Response:
        self.head_sent = True
        fields: list[tuple[bytes, bytes]] = []
        seen: set[bytes] = set()
        for name, values in exchange.responseHeaders.getAllRawHeaders():
            folded = name.lower()
            seen.add(folded)
            if folded == b"content-length" and length is not None:
                continue
            fields.extend((name, value) for value in values)
        if length is not None:
            fields.append((b"Content-Length", b"%d" % length))
        if b"server" not in seen:
            fields.append((b"Server", SERVER_FIELD))
        if b"date" not in seen:
            fields.append((b"Date", date_field()[6:-2]))
        for name, value in FIXED_FIELDS:
            if name.lower() not in seen or name == b"X-Content-Type-Options":
                fields.append((name, value))
        reason = RESPONSES.get(exchange.code, exchange.code_message)
        return h11.Response(status_code=exchange.code, headers=fields, reason=reason)

    def _send(self, *events: Any) -> None:
        """Turn ``events`` into bytes, sent in one write (one segment for a small answer)."""
        data = []
        try:
            for event in events:
                data.append(self.http.send(event))
                if isinstance(event, h11.Data):
                    self.sent += len(event.data)
        except h11.LocalProtocolError as exc:
            # A resource broke HTTP (a body on a 204, more than its Content-Length):
            # the client cannot make sense of the rest, so it goes.
            logger.error("Web service: answer to %s cut off: %s", self.key, exc)
            self.closed = True
            self.transport.abort()
            return
        if not self.closed:
            self.transport.write(b"".join(chunk for chunk in data if chunk))

    def _answered(self, exchange: Exchange) -> None:
        """The answer is sent: the next request on the connection may come, or the close."""
        exchange.sentLength = self.sent
        self.front.log(exchange)
        self.exchange = None
        self.answering = self.refused = self.head_sent = False
        self.pending = []
        if self.closed:
            return
        closing = exchange.responseHeaders.getRawHeaders(b"Connection")
        http = self.http
        if (
            (closing is not None and says_close(closing))
            or http.our_state is h11.MUST_CLOSE
            or http.their_state is not h11.DONE
        ):
            self.transport.close()
            return
        http.start_next_cycle()
        now = self.loop.time()
        self.idle_since = now
        if http.trailing_data[0]:
            self.request_started = now
        self._resume()
        self._arm(self.front.config.timeout)
        self._next()


def _error(exchange: Exchange, status: int, message: str) -> bytes:
    exchange.setResponseCode(status)
    exchange.setHeader(b"Content-Type", b"application/json")
    return error_body(status, message)
