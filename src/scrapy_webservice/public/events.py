"""The service's event bus: what happened to the crawls, for ``/events`` and plugins.

Events are small dicts with a name (``spider_opened``, ``spider_closed``,
``spider_pausing``, ``spider_paused``, ``spider_resumed``, ``rates``,
``log``), numbered in the order they were published. The bus keeps the
last few so a client that reconnects with ``Last-Event-ID`` misses nothing
recent. Publishing never raises and never blocks: a subscriber that fails
is dropped.
"""

from __future__ import annotations

import contextlib
import itertools
import logging
from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, Protocol

from ..adapter.loop import Clock, crawl_clock, in_loop_thread

__all__ = ["Event", "EventBus", "LogEventHandler", "Subscriber"]

logger = logging.getLogger(__name__)

#: Events kept for clients that reconnect with ``Last-Event-ID``.
HISTORY = 200
#: Longest log message an event carries.
MAX_MESSAGE = 2000


@dataclass(frozen=True)
class Event:
    id: int
    name: str
    data: dict[str, Any] = field(default_factory=dict)


class Subscriber(Protocol):
    def send(self, event: Event) -> None: ...

    def close(self) -> None: ...


class EventBus:
    """Fan-out of events to subscribers, on the reactor thread."""

    def __init__(self, history: int = HISTORY) -> None:
        self.subscribers: list[Subscriber] = []
        self.history: deque[Event] = deque(maxlen=history)
        self._ids = itertools.count(1)
        self._publishing = False
        self.closed = False

    def subscribe(self, subscriber: Subscriber) -> None:
        if self.closed:
            subscriber.close()
            return
        self.subscribers.append(subscriber)

    def unsubscribe(self, subscriber: Subscriber) -> None:
        if subscriber in self.subscribers:
            self.subscribers.remove(subscriber)

    def publish(self, name: str, **data: Any) -> Event | None:
        """Send an event to every subscriber; ``None`` if called from inside a publish."""
        if self._publishing:
            return None  # a subscriber's own log record, say: never recurse
        self._publishing = True
        try:
            event = Event(next(self._ids), name, {"time": _now(), **data})
            self.history.append(event)
            for subscriber in list(self.subscribers):
                try:
                    subscriber.send(event)
                except Exception as exc:
                    self.unsubscribe(subscriber)
                    logger.warning("Event subscriber %r dropped: %r", subscriber, exc)
                    with contextlib.suppress(Exception):
                        subscriber.close()
            return event
        finally:
            self._publishing = False

    def since(self, last_id: int) -> list[Event]:
        """Kept events after ``last_id``, oldest first."""
        return [event for event in self.history if event.id > last_id]

    def close(self) -> None:
        """End every subscription (the service is stopping); later ones end at once."""
        self.closed = True
        subscribers, self.subscribers = self.subscribers, []
        for subscriber in subscribers:
            try:
                subscriber.close()
            except Exception as exc:
                logger.warning("Closing event subscriber %r failed: %r", subscriber, exc)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class LogEventHandler(logging.Handler):
    """Publishes log records of the process as ``log`` events.

    ERROR and worse always; lower levels only while someone follows them
    (:meth:`follow`, an ``/events?level=INFO`` client) and only what the
    log itself produces (``floor``, Scrapy's ``LOG_LEVEL`` as
    ``log.set_level`` left it): a follower never makes the crawl log more.
    Installed on the root logger while the service listens. Records from
    other threads are handed to the crawl's loop thread, where the bus lives.
    """

    def __init__(self, bus: EventBus, floor: Any = None) -> None:
        super().__init__(logging.ERROR)
        self.bus = bus
        self.floor = floor if floor is not None else (lambda: logging.NOTSET)
        self._followers: Counter[int] = Counter()
        self.threshold = logging.ERROR
        #: The loop the bus lives on, set by :meth:`install` (on that loop's thread).
        self.clock: Clock | None = None

    def install(self) -> None:
        """Start publishing the root logger's records (call it on the crawl's loop)."""
        self.clock = crawl_clock()
        logging.getLogger().addHandler(self)

    def follow(self, level: int) -> Any:
        """Publish records from ``level`` up until the returned function is called."""
        self._followers[level] += 1
        self._update()
        released = False

        def release() -> None:
            nonlocal released
            if released:
                return
            released = True
            self._followers[level] -= 1
            if self._followers[level] <= 0:
                del self._followers[level]
            self._update()

        return release

    def _update(self) -> None:
        # The handler's own level: the logging module skips it for records below.
        self.threshold = min([logging.ERROR, *self._followers])
        self.setLevel(self.threshold)

    def emit(self, record: logging.LogRecord) -> None:
        if record.levelno < logging.ERROR and record.levelno < self.floor():
            return
        if record.name.startswith(__name__):
            return
        try:
            data = self._data(record)
        except Exception:
            self.handleError(record)
            return
        clock = self.clock
        if clock is None or in_loop_thread(clock):
            self.bus.publish("log", **data)
        else:
            clock.callFromThread(self.bus.publish, "log", **data)

    @staticmethod
    def _data(record: logging.LogRecord) -> dict[str, Any]:
        spider = getattr(record, "spider", None)
        crawler = getattr(record, "crawler", None)
        if spider is None and crawler is not None:
            spider = getattr(crawler, "spider", None)
        data: dict[str, Any] = {
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage()[:MAX_MESSAGE],
            "spider": getattr(spider, "name", None),
        }
        if record.exc_info and record.exc_info[0] is not None:
            # The exception's type only: tracebacks stay in the log.
            data["exception"] = record.exc_info[0].__name__
        return data
