"""The request a resource gets on the asyncio front: Twisted's request, in the part resources use.

On the Twisted front a resource gets ``twisted.web.server.Request`` itself.
On the asyncio front (Scrapy without a reactor) it gets an
:class:`Exchange`: the same names with the same types for everything
docs/writing-resources.md lets a resource use (``method``, ``uri``,
``path``, ``args``, ``prepath``/``postpath``, ``content``, ``getHeader``,
``requestHeaders``, ``getClientAddress``, ``getHost``, ``setHeader``,
``setResponseCode``, ``write``, ``finish``, ``notifyFinish``), so one
resource runs unchanged on both. It holds no socket: the front reads the
request into it and sends what the resource wrote.
"""

from __future__ import annotations

import urllib.parse
from collections.abc import Callable
from io import BytesIO
from typing import Any

from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web.http_headers import Headers

__all__ = ["ClientGone", "Exchange", "address"]


class ClientGone(Exception):
    """The client closed its connection before the answer was sent."""


def address(peer: Any) -> IPv4Address | IPv6Address | None:
    """A socket address (``peername``/``sockname``) as Twisted's address object."""
    if not isinstance(peer, tuple) or len(peer) < 2:
        return None
    host, port = peer[0], peer[1]
    if ":" in host:
        return IPv6Address("TCP", host, port)
    return IPv4Address("TCP", host, port)


class Exchange:
    """One request and the answer a resource makes to it (see the module's docstring)."""

    clientproto = b"HTTP/1.1"

    def __init__(
        self,
        method: bytes,
        uri: bytes,
        headers: Headers,
        body: bytes,
        client: IPv4Address | IPv6Address | None,
        host: IPv4Address | IPv6Address | None,
        on_write: Callable[[Exchange, bytes], None],
        on_finish: Callable[[Exchange], None],
    ) -> None:
        self.method = method
        self.uri = uri
        path, _, query = uri.partition(b"?")
        self.path = path
        self.args: dict[bytes, list[bytes]] = {}
        for name, value in urllib.parse.parse_qsl(query, keep_blank_values=True):
            self.args.setdefault(name, []).append(value)
        self.prepath: list[bytes] = []
        self.postpath: list[bytes] = [
            urllib.parse.unquote_to_bytes(segment) for segment in path[1:].split(b"/")
        ]
        self.requestHeaders = headers
        self.content = BytesIO(body)
        self.client = client
        self.host = host
        self.code = 200
        self.code_message = b"OK"
        self.responseHeaders = Headers()
        self.startedWriting = False
        self.finished = False
        self.gone = False
        #: What the service's checks found the token allows (an ``Access``).
        self.webservice_access: Any = None
        #: The body was over ``WEBSERVICE_MAX_REQUEST_SIZE`` (the checks answer 413).
        self.too_large = False
        #: Whether it came over TLS (the front sets it).
        self.secure = False
        #: Body bytes sent, for the access log (set by the front once answered).
        self.sentLength = 0
        #: What ends the connection (``abortConnection``, ``loseConnection``): the front's.
        self.transport: Any = None
        self.channel: Any = None
        #: A streaming resource's producer, paused while the client reads slowly.
        self.producer: Any = None
        self._on_write = on_write
        self._on_finish = on_finish
        self._finish_waiters: list[Deferred[None]] = []

    # -- the request ----------------------------------------------------------------

    def getHeader(self, key: bytes | str) -> bytes | None:
        values = self.requestHeaders.getRawHeaders(key)
        if values is None:
            return None
        last = values[-1]
        return last.encode("latin-1") if isinstance(last, str) else last

    def getAllHeaders(self) -> dict[bytes, bytes]:
        return {
            name.lower(): values[-1] for name, values in self.requestHeaders.getAllRawHeaders()
        }

    def getClientAddress(self) -> IPv4Address | IPv6Address | None:
        return self.client

    def getHost(self) -> IPv4Address | IPv6Address | None:
        return self.host

    def isSecure(self) -> bool:
        return self.secure

    # -- the answer -----------------------------------------------------------------

    def setResponseCode(self, code: int, message: bytes | None = None) -> None:
        self.code = code
        if message is not None:
            self.code_message = message

    def setHeader(self, name: bytes | str, value: bytes | str) -> None:
        self.responseHeaders.setRawHeaders(name, [value])

    def write(self, data: bytes) -> None:
        """Send ``data`` (the head first, at the first write); nothing after ``finish``."""
        if self.finished or self.gone:
            return
        self.startedWriting = True
        self._on_write(self, data)

    def finish(self) -> None:
        if self.finished:
            return
        self.finished = True
        self._on_finish(self)
        self._notify(None)

    def notifyFinish(self) -> Deferred[None]:
        """Fires when the answer is sent, errs back when the client leaves first."""
        waiter: Deferred[None] = Deferred()
        if self.finished:
            waiter.callback(None)
        elif self.gone:
            waiter.errback(Failure(ClientGone()))
        else:
            self._finish_waiters.append(waiter)
        return waiter

    def client_gone(self) -> None:
        """The front saw the connection close before ``finish``."""
        if self.finished or self.gone:
            return
        self.gone = True
        self._notify(Failure(ClientGone()))

    def _notify(self, failure: Failure | None) -> None:
        waiters, self._finish_waiters = self._finish_waiters, []
        for waiter in waiters:
            if failure is None:
                waiter.callback(None)
            else:
                waiter.errback(failure)

    # -- flow control (Server-Sent Events register a producer) ------------------------

    def registerProducer(self, producer: Any, streaming: bool) -> None:
        self.producer = producer

    def unregisterProducer(self) -> None:
        self.producer = None
