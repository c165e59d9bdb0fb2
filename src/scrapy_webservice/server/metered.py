"""Twisted ports and connections whose reactor time is charged to the service's budget.

The reactor calls a connection's ``doRead`` (receive, TLS, parse, check,
answer) and ``doWrite`` (send), and a listening port's ``doRead`` (accept,
and closing what the limits refuse): timing those three covers all that the
service does for a socket, refusals included. A held connection or port
stops reading (``stopReading``) until the budget releases it; a channel's
own flow control (Twisted pauses reading while it answers a request) goes
on underneath, and reading starts again only when neither wants it stopped.
"""

from __future__ import annotations

from collections.abc import Callable
from time import perf_counter
from typing import Any

from twisted.internet import error as twisted_error
from twisted.internet import tcp, unix

from .budget import AddressLimits, ReactorBudget, client_key
from .listening import port_candidates

__all__ = ["MeteredTCPPort", "listen_tcp", "listen_unix"]


def _charged(budget: ReactorBudget, work: Callable[[], Any]) -> Any:
    """Run the reactor's call ``work`` and charge its time to ``budget``, even if it raises."""
    start = perf_counter()
    try:
        return work()
    finally:
        budget.charge(perf_counter() - start)


class _Metered:
    """The part of a connection that the budget meters and holds."""

    #: Reading wanted by the connection itself (Twisted's own flow control).
    _reading = False
    _holds = 0
    budget: ReactorBudget
    limits: AddressLimits
    address: str

    def _metered_init(self) -> None:
        port: Any = self.server  # type: ignore[attr-defined]
        self.budget = port.budget
        self.limits = port.limits
        self.address = client_key(self.getPeer())  # type: ignore[attr-defined]
        self.limits.opened(self.address)
        self.budget.add(self)

    def doRead(self) -> Any:
        return _charged(self.budget, super().doRead)  # type: ignore[misc]

    def doWrite(self) -> Any:
        return _charged(self.budget, super().doWrite)  # type: ignore[misc]

    def startReading(self) -> None:
        self._reading = True
        if not self._holds:
            super().startReading()  # type: ignore[misc]

    def stopReading(self) -> None:
        self._reading = False
        super().stopReading()  # type: ignore[misc]

    def hold(self) -> None:
        self._holds += 1
        if self._holds == 1 and self._reading:
            super().stopReading()  # type: ignore[misc]

    def release(self) -> None:
        if self._holds == 0:
            return
        self._holds -= 1
        if (
            self._holds == 0
            and self._reading
            and self.connected  # type: ignore[attr-defined]
            and not self.disconnecting  # type: ignore[attr-defined]
        ):
            super().startReading()  # type: ignore[misc]

    def connectionLost(self, reason: Any) -> None:
        self.budget.discard(self)
        self.limits.closed(self.address)
        super().connectionLost(reason)  # type: ignore[misc]


class MeteredTCPServer(_Metered, tcp.Server):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        tcp.Server.__init__(self, *args, **kwargs)
        self._metered_init()


class _MeteredPort:
    """A listening port whose accepting is charged, and held with the connections."""

    budget: ReactorBudget
    limits: AddressLimits

    def doRead(self) -> Any:
        return _charged(self.budget, super().doRead)  # type: ignore[misc]

    def startListening(self) -> None:
        super().startListening()  # type: ignore[misc]
        self.budget.add(self)

    def hold(self) -> None:
        if self.connected:  # type: ignore[attr-defined]
            self.stopReading()  # type: ignore[attr-defined]

    def release(self) -> None:
        if self.connected:  # type: ignore[attr-defined]
            self.startReading()  # type: ignore[attr-defined]

    def connectionLost(self, reason: Any) -> None:
        self.budget.discard(self)
        super().connectionLost(reason)  # type: ignore[misc]


class MeteredTCPPort(_MeteredPort, tcp.Port):
    transport = MeteredTCPServer


class MeteredUNIXServer(_Metered, unix.Server):
    def __init__(self, *args: Any, **kwargs: Any) -> None:
        unix.Server.__init__(self, *args, **kwargs)
        self._metered_init()


class MeteredUNIXPort(_MeteredPort, unix.Port):
    transport = MeteredUNIXServer


def listen_tcp(
    portrange: list[int],
    host: str,
    factory: Any,
    budget: ReactorBudget,
    limits: AddressLimits,
) -> MeteredTCPPort:
    """Listen on the first free port of ``portrange`` (``[]``: any), as Scrapy's ``listen_tcp``.

    Raises the last port's ``CannotListenError`` when every port is taken.
    """
    from twisted.internet import reactor

    candidates = port_candidates(portrange)
    for number in candidates:
        port = MeteredTCPPort(number, factory, limits.max_connections, host, reactor)
        port.budget, port.limits = budget, limits
        try:
            port.startListening()
        except twisted_error.CannotListenError:
            if number == candidates[-1]:
                raise
            continue
        return port
    raise AssertionError("unreachable")  # pragma: no cover


def listen_unix(
    path: str, factory: Any, budget: ReactorBudget, limits: AddressLimits
) -> MeteredUNIXPort:
    """Listen on a Unix socket (mode 0600, with a PID lock), metered like TCP."""
    from twisted.internet import reactor

    # Twisted types the path as bytes; listenUNIX passes a str through as well.
    port = MeteredUNIXPort(
        path,  # type: ignore[arg-type]
        factory,
        limits.max_connections,
        0o600,
        reactor,
        True,
    )
    port.budget, port.limits = budget, limits
    port.startListening()
    return port
