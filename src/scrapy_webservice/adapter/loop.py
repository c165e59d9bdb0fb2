"""The crawl's event loop, whichever it is: Twisted's reactor, or asyncio alone.

Scrapy runs on a Twisted reactor, or (since 2.15, ``TWISTED_REACTOR_ENABLED
= False``) on asyncio alone, where importing ``twisted.internet.reactor``
is refused. Everything above this module that needs time (a timer, the
clock, a call handed over from another thread) asks :func:`crawl_clock`,
and never imports the reactor itself.

The clock has the shape of Twisted's ``IReactorTime`` that the code uses
(``seconds``, ``callLater`` returning a call with ``active`` and
``cancel``), plus ``callFromThread``; ``scrapy_webservice.Repeating`` runs
a function every so often on any such clock (Twisted's ``LoopingCall``
imports the reactor when it is made, so it cannot be used without one).
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any, Protocol

__all__ = [
    "AsyncioClock",
    "Clock",
    "DelayedCall",
    "crawl_clock",
    "in_loop_thread",
    "is_reactorless",
    "on_shutdown",
]


class DelayedCall(Protocol):
    def active(self) -> bool: ...

    def cancel(self) -> None: ...


class Clock(Protocol):
    """What the service uses of a loop's time (Twisted's reactor has this shape)."""

    def seconds(self) -> float: ...

    def callLater(  # Twisted's names: the reactor is a Clock
        self, delay: float, callable: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> DelayedCall: ...

    def callFromThread(self, callable: Callable[..., Any], *args: Any, **kwargs: Any) -> None: ...


def is_reactorless() -> bool:
    """True when Scrapy runs on asyncio alone (``TWISTED_REACTOR_ENABLED = False``)."""
    try:
        from scrapy.utils.reactorless import is_reactorless as scrapy_is_reactorless
    except ImportError:  # Scrapy before 2.15: there is always a reactor
        return False
    return bool(scrapy_is_reactorless())


class _AsyncioCall:
    """An asyncio timer with the ``active``/``cancel`` of Twisted's ``DelayedCall``."""

    __slots__ = ("done", "handle")

    def __init__(self) -> None:
        self.done = False
        self.handle: asyncio.TimerHandle | None = None

    def active(self) -> bool:
        return not self.done and self.handle is not None and not self.handle.cancelled()

    def cancel(self) -> None:
        if self.handle is not None:
            self.handle.cancel()
        self.done = True


class AsyncioClock:
    """:class:`Clock` over an asyncio event loop, made on the loop's thread."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self.loop = loop
        self.thread = threading.get_ident()

    def seconds(self) -> float:
        return self.loop.time()

    def callLater(
        self, delay: float, callable: Callable[..., Any], *args: Any, **kwargs: Any
    ) -> _AsyncioCall:
        call = _AsyncioCall()

        def run() -> None:
            call.done = True
            callable(*args, **kwargs)

        call.handle = self.loop.call_later(max(0.0, delay), run)
        return call

    def callFromThread(self, callable: Callable[..., Any], *args: Any, **kwargs: Any) -> None:
        self.loop.call_soon_threadsafe(lambda: callable(*args, **kwargs))

    def in_loop_thread(self) -> bool:
        return threading.get_ident() == self.thread


_clocks: dict[int, AsyncioClock] = {}


def crawl_clock() -> Clock:
    """The clock of the loop the crawl runs on (call it on that loop's thread).

    The reactor when there is one (whatever reactor it is); otherwise the
    running asyncio loop, wrapped once per loop.
    """
    if not is_reactorless():
        from twisted.internet import reactor

        clock: Clock = reactor  # type: ignore[assignment]
        return clock
    loop = asyncio.get_event_loop()
    known = _clocks.get(id(loop))
    if known is None or known.loop is not loop:
        known = _clocks[id(loop)] = AsyncioClock(loop)
    return known


def in_loop_thread(clock: Clock) -> bool:
    """Whether this thread is the one ``clock``'s loop runs on."""
    if isinstance(clock, AsyncioClock):
        return clock.in_loop_thread()
    from twisted.python import threadable

    return bool(threadable.isInIOThread())


def on_shutdown(func: Callable[..., Any], *args: Any) -> Callable[[], None]:
    """Run ``func(*args)`` when the crawl's loop shuts down; the function that forgets it.

    Before the reactor's shutdown when there is a reactor; at the process's
    exit on asyncio alone (its loop has no shutdown hooks of its own).
    """
    if not is_reactorless():
        from twisted.internet import reactor

        trigger = reactor.addSystemEventTrigger("before", "shutdown", func, *args)
        return lambda: reactor.removeSystemEventTrigger(trigger)
    import atexit

    def run() -> None:
        func(*args)

    atexit.register(run)
    return lambda: atexit.unregister(run)
