"""The asyncio front: the service over HTTP/1.1 when Scrapy runs without a reactor.

With ``TWISTED_REACTOR_ENABLED = False`` Scrapy refuses to import
``twisted.internet.reactor``, so Twisted Web cannot listen. This front
listens with aiohttp's low-level server (``aiohttp.web.Server``: HTTP/1.1
parsing, keep-alive, pipelining; no router, no application): aiohttp is a
dependency of Scrapy itself, already in every environment that has this
mode, and is what Scrapy's own RemoteControl serves with there. The
standard library's streams would leave the HTTP parsing to us, and h11
the connection handling.

Each request goes through the same :class:`~.guard.RequestGuard` as on the
Twisted front (Host, Origin, size, token, content type, before any resource
code), then down the same resource tree (``getChild``) to the same
``render``, given an :class:`~.exchange.Exchange` that has the shape of
Twisted's request. Only turning bytes into that exchange, and its answer
back into bytes, is this module's.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from typing import TYPE_CHECKING

from aiohttp import web, web_server
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.defer import Deferred
from twisted.web.http import RESPONSES
from twisted.web.http_headers import Headers
from twisted.web.server import NOT_DONE_YET

from .exchange import Exchange, address

if TYPE_CHECKING:
    from twisted.web.resource import Resource

    from ..public.settings import WebServiceConfig
    from .guard import RequestGuard

__all__ = ["AsyncioFront"]

logger = logging.getLogger(__name__)

#: Fields every answer carries, as on the Twisted front (its channel writes them).
FIXED_FIELDS = (("Cache-Control", "no-store"), ("X-Content-Type-Options", "nosniff"))


class AsyncioFront:
    """Serves ``root`` on the running asyncio loop: :meth:`listen`, then :meth:`stopListening`.

    It has the two methods of Twisted's listening port that the service uses
    (``getHost``, ``stopListening``), so the service holds either alike.
    """

    def __init__(
        self,
        root: Resource,
        guard: RequestGuard,
        config: WebServiceConfig,
    ) -> None:
        self.root = root
        self.guard = guard
        self.config = config
        self.server: web_server.Server | None = None
        self.listening: asyncio.Server | None = None
        self.serving: asyncio.Future[None] | None = None
        self.address: IPv4Address | IPv6Address | None = None

    def listen(self, host: str, portrange: list[int]) -> None:
        """Bind the first free port of ``portrange`` (``[]``: any) now, and serve it.

        The socket is bound and listening when this returns (the kernel
        queues connections), so the caller can write the discovery file;
        aiohttp starts accepting at the loop's next turn. Raises the last
        port's ``OSError`` when every port is taken.
        """
        candidates = [0] if not portrange else list(range(portrange[0], portrange[-1] + 1))
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        for number in candidates:
            try:
                sock = socket.create_server((host, number), family=family)
            except OSError:
                if number == candidates[-1]:
                    raise
                continue
            break
        sock.setblocking(False)
        self.address = address(sock.getsockname())
        self.server = web_server.Server(
            self.handle,
            handler_cancellation=True,  # a client that leaves cancels its answer
            access_log=None,
            keepalive_timeout=self.config.timeout,
        )
        self.serving = asyncio.ensure_future(self._serve(sock))

    async def _serve(self, sock: socket.socket) -> None:
        assert self.server is not None
        loop = asyncio.get_running_loop()
        self.listening = await loop.create_server(self.server, sock=sock)

    def getHost(self) -> IPv4Address | IPv6Address | None:
        """Where it listens (the name of Twisted's listening ports, which the service reads)."""
        return self.address

    def stopListening(self) -> Deferred[None]:
        """Stop listening and close every connection; fires when done."""
        return Deferred.fromFuture(asyncio.ensure_future(self.stop()))

    async def stop(self) -> None:
        if self.serving is not None:
            await self.serving
            self.serving = None
        if self.listening is not None:
            self.listening.close()
        if self.server is not None:
            await self.server.shutdown(1.0)
        if self.listening is not None:
            await self.listening.wait_closed()
            self.listening = None

    # -- one request -------------------------------------------------------------------

    async def handle(self, request: web.BaseRequest) -> web.StreamResponse:
        headers = Headers()
        for name, value in request.raw_headers:
            headers.addRawHeader(name, value)
        transport = request.transport
        client = address(transport.get_extra_info("peername") if transport else None)
        host = address(transport.get_extra_info("sockname") if transport else None)
        body, too_large = await self._body(request)
        chunks: asyncio.Queue[bytes | None] = asyncio.Queue()
        exchange = Exchange(
            request.method.encode("ascii"),
            request.raw_path.encode("utf-8", "surrogateescape"),
            headers,
            body,
            client,
            host,
            on_write=lambda _, data: chunks.put_nowait(data),
            on_finish=lambda _: chunks.put_nowait(None),
        )
        exchange.too_large = too_large
        try:
            resource = self.guard.resource_for(exchange)
            result = resource.render(exchange)
        except Exception:
            logger.exception("Web service: answering %s failed", request.raw_path)
            return self._plain(exchange, b"", status=500)
        if result is not NOT_DONE_YET:
            return self._plain(exchange, result if isinstance(result, bytes) else b"")
        try:
            return await self._later(request, exchange, chunks)
        except (asyncio.CancelledError, ConnectionResetError):
            exchange.client_gone()
            raise

    async def _body(self, request: web.BaseRequest) -> tuple[bytes, bool]:
        """The body, unless it is over ``WEBSERVICE_MAX_REQUEST_SIZE`` (then ``b""``, True)."""
        limit = self.config.max_request_size
        length = request.content_length
        if length is not None and length > limit:
            return b"", True
        if not request.body_exists:
            return b"", False
        body = await asyncio.wait_for(self._read(request, limit + 1), self.config.timeout)
        if len(body) > limit:
            return b"", True
        return body, False

    @staticmethod
    async def _read(request: web.BaseRequest, most: int) -> bytes:
        body = b""
        while len(body) < most and not request.content.at_eof():
            more = await request.content.read(most - len(body))
            if not more:
                break
            body += more
        return body

    async def _later(
        self, request: web.BaseRequest, exchange: Exchange, chunks: asyncio.Queue[bytes | None]
    ) -> web.StreamResponse:
        """An answer written after ``render`` returned: whole, or streamed (Server-Sent Events)."""
        first = await chunks.get()
        if first is None:
            return self._plain(exchange, b"")
        if exchange.finished:  # written and finished at once: one answer with its length
            rest = []
            while (chunk := chunks.get_nowait()) is not None:
                rest.append(chunk)
            return self._plain(exchange, first + b"".join(rest))
        response = web.StreamResponse(status=exchange.code, reason=_reason(exchange))
        self._copy_headers(exchange, response)
        await response.prepare(request)
        data: bytes | None = first
        while data is not None:
            await response.write(data)
            data = await chunks.get()
        await response.write_eof()
        return response

    def _plain(self, exchange: Exchange, body: bytes, status: int | None = None) -> web.Response:
        code = status or exchange.code
        response = web.Response(status=code, reason=_reason(exchange, code))
        self._copy_headers(exchange, response)
        if code in (204, 304) or exchange.method == b"HEAD":
            response.body = None
            if exchange.method == b"HEAD":
                response.content_length = len(body)
        else:
            response.body = body
        if exchange.responseHeaders.getRawHeaders(b"Connection") == [b"close"]:
            response.force_close()
        return response

    @staticmethod
    def _copy_headers(exchange: Exchange, response: web.StreamResponse) -> None:
        for name, value in FIXED_FIELDS:
            response.headers[name] = value
        for raw_name, values in exchange.responseHeaders.getAllRawHeaders():
            field = raw_name.decode("latin-1")
            if field.lower() in ("content-length", "connection"):
                continue
            for raw_value in values:
                response.headers.add(field, raw_value.decode("latin-1"))


def _reason(exchange: Exchange, code: int | None = None) -> str:
    code = code or exchange.code
    reason = RESPONSES.get(code, exchange.code_message)
    return reason.decode("latin-1") if isinstance(reason, bytes) else str(reason)
