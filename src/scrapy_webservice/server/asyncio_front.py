"""The asyncio front: the service over HTTP/1.1 when Scrapy runs without a reactor.

With ``TWISTED_REACTOR_ENABLED = False`` Scrapy refuses to import
``twisted.internet.reactor``, so Twisted Web cannot listen. This front is
an ``asyncio.Protocol`` per connection with h11 turning bytes into HTTP
events and answers back into bytes. h11 is a parser and nothing else: it
takes any method token and the asterisk form, reports every framing error
as one exception, and leaves the connection to us, so the connection here
can do what the Twisted front does (the same JSON 400s, the request
deadline, the fixed 401 from the head alone, the budget's holds, the
connection limits, TLS and Unix sockets). aiohttp's server, the other
candidate, answers malformed requests and unknown methods itself, in
plain text, and times requests its own way.

Each request goes through the same :class:`~.guard.RequestGuard` as on the
Twisted front, then down the same resource tree (``getChild``) to the same
``render``, given an :class:`~.exchange.Exchange` that has the shape of
Twisted's request.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
import ssl
import stat
from pathlib import Path
from time import perf_counter
from typing import TYPE_CHECKING, Any

from twisted.internet.address import IPv4Address, IPv6Address, UNIXAddress
from twisted.internet.defer import Deferred
from twisted.web.http import combinedLogFormatter, datetimeToLogString

from .answers import log_access
from .asyncio_connection import HTTPConnection
from .exchange import Exchange, address
from .listening import ListenError, port_candidates

if TYPE_CHECKING:
    from twisted.web.resource import Resource

    from ..public.settings import WebServiceConfig
    from .budget import AddressLimits, ReactorBudget
    from .guard import RequestGuard

__all__ = ["AsyncioFront"]

logger = logging.getLogger(__name__)


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
        budget: ReactorBudget | None = None,
        limits: AddressLimits | None = None,
    ) -> None:
        self.root = root
        self.guard = guard
        self.config = config
        self.budget = budget
        self.limits = limits
        self.listening: asyncio.base_events.Server | None = None
        self.serving: asyncio.Future[None] | None = None
        self.address: IPv4Address | IPv6Address | UNIXAddress | None = None
        self.connections: set[HTTPConnection] = set()
        self.unix_path: Path | None = None
        self._log_file: Any = None

    # -- listening ----------------------------------------------------------------------

    def listen(self, host: str, portrange: list[int]) -> None:
        """Bind (the first free port of ``portrange``, or the Unix socket) now, and serve it.

        The socket is bound and listening when this returns (the kernel
        queues connections), so the caller can write the discovery file;
        accepting starts at the loop's next turn. Raises ``OSError`` when
        every port is taken, :class:`ListenError` for a bad certificate or
        a Unix socket another process serves.
        """
        context = self._tls_context()
        if self.config.unix_socket:
            sock = self._bind_unix(Path(self.config.unix_socket))
        else:
            sock = _bind_tcp(host, portrange)
            self.address = address(sock.getsockname())
        sock.setblocking(False)
        if self.config.logfile:
            self._log_file = open(self.config.logfile, "a", 1, newline="\n")  # noqa: SIM115
        self.serving = asyncio.ensure_future(self._serve(sock, context))

    def _tls_context(self) -> ssl.SSLContext | None:
        certificate, key = self.config.tls_certificate, self.config.tls_key
        if not certificate:
            return None
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        try:
            context.load_cert_chain(certificate, key)
        except (OSError, ssl.SSLError) as exc:
            raise ListenError(
                f"cannot load the TLS certificate {certificate!r} and key {key!r}: {exc!r}"
            ) from exc
        context.set_alpn_protocols(["http/1.1"])
        return context

    def _bind_unix(self, path: Path) -> socket.socket:
        """A Unix socket only this user may connect to; a stale one is replaced."""
        if path.exists() or path.is_symlink():
            if not stat.S_ISSOCK(path.lstat().st_mode):
                raise ListenError(
                    f"cannot listen on the Unix socket {path}: something that is not a"
                    " socket is there; set WEBSERVICE_UNIX_SOCKET to another path"
                )
            probe = socket.socket(socket.AF_UNIX)
            try:
                probe.connect(str(path))
            except OSError:
                path.unlink()  # left by a crawl that is gone
            else:
                raise ListenError(
                    f"cannot listen on the Unix socket {path}: another process serves it;"
                    " is another crawl using it?"
                )
            finally:
                probe.close()
        sock = socket.socket(socket.AF_UNIX)
        previous = os.umask(0o177)  # 0600 from the start: no moment open to others
        try:
            sock.bind(str(path))
        except OSError as exc:
            sock.close()
            raise ListenError(f"cannot listen on the Unix socket {path}: {exc}") from exc
        finally:
            os.umask(previous)
        sock.listen(128)
        self.unix_path = path
        self.address = UNIXAddress(str(path).encode())
        return sock

    async def _serve(self, sock: socket.socket, context: ssl.SSLContext | None) -> None:
        loop = asyncio.get_running_loop()
        if sock.family == socket.AF_UNIX:
            self.listening = await loop.create_unix_server(self._connection, sock=sock)
        else:
            self.listening = await loop.create_server(self._connection, sock=sock, ssl=context)

    def _connection(self) -> HTTPConnection:
        return HTTPConnection(self)

    @property
    def connected(self) -> bool:
        """Whether it listens (Twisted's ports have the same attribute)."""
        return self.listening is not None or self.serving is not None

    def getHost(self) -> IPv4Address | IPv6Address | UNIXAddress | None:
        """Where it listens (the name of Twisted's listening ports, which the service reads)."""
        return self.address

    def stopListening(self) -> Deferred[None]:
        """Stop listening and close every connection; fires when done."""
        return Deferred.fromFuture(asyncio.ensure_future(self.stop()))

    async def stop(self) -> None:
        if self.serving is not None:
            with contextlib.suppress(Exception):
                await self.serving
            self.serving = None
        listening, self.listening = self.listening, None
        if listening is not None:
            listening.close()
        for connection in list(self.connections):
            connection.loseConnection()
        if listening is not None:
            await listening.wait_closed()
        if self.unix_path is not None:
            with contextlib.suppress(OSError):
                self.unix_path.unlink()
            self.unix_path = None
        if self._log_file is not None:
            self._log_file.close()
            self._log_file = None

    # -- what every connection reports ---------------------------------------------------

    def charge(self, started: float) -> None:
        if self.budget is not None:
            self.budget.charge(perf_counter() - started)

    def count_refusal(self, reason: str) -> None:
        if self.budget is not None:
            self.budget.counters.refuse(reason)

    def log(self, exchange: Exchange) -> None:
        """One access-log line: to ``WEBSERVICE_LOGFILE`` as Twisted writes it, else DEBUG."""
        if self._log_file is not None:
            self._log_file.write(combinedLogFormatter(datetimeToLogString(), exchange) + "\n")
        else:
            log_access(exchange)


def _bind_tcp(host: str, portrange: list[int]) -> socket.socket:
    candidates = port_candidates(portrange)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    for number in candidates:
        try:
            return socket.create_server((host, number), family=family)
        except OSError:
            if number == candidates[-1]:
                raise
    raise AssertionError("unreachable")  # pragma: no cover
