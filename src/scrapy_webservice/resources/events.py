"""``events``: the service's events as a Server-Sent Events stream.

``GET /events`` (token required) keeps the response open and writes each
event as ``id``/``event``/``data`` lines. ``?spider=NAME`` and
``?events=rates,log`` filter it; a reconnecting client's ``Last-Event-ID``
replays what it missed of the recent events.

A client that reads slower than events come is paused by Twisted's
producer machinery; its frames then wait in a bounded queue, and when that
is full the client is dropped, so a stalled client costs neither memory
nor time of the crawl.
"""

from __future__ import annotations

import logging
from collections import deque
from typing import TYPE_CHECKING, Any

from twisted.internet.interfaces import IPushProducer
from twisted.web.server import NOT_DONE_YET
from zope.interface import implementer

from .. import HttpError, JsonResource, Repeating, WebServiceAPI

if TYPE_CHECKING:
    from twisted.web.server import Request

    from .. import Event

__all__ = ["EventStream", "EventsResource"]

logger = logging.getLogger(__name__)

#: Seconds between keep-alive comments, which also reveal clients that are gone.
KEEPALIVE = 15.0
#: Milliseconds a browser's EventSource waits before it reconnects.
RETRY_MS = 2000
#: The log levels a client may ask for, lowest first.
LEVEL_NAMES = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


@implementer(IPushProducer)
class EventStream:
    """One client's open ``/events`` response."""

    def __init__(
        self,
        request: Request,
        max_buffer: int,
        spiders: frozenset[str] | None = None,
        names: frozenset[str] | None = None,
        encode: Any = None,
        log_level: int = logging.ERROR,
    ) -> None:
        self.request = request
        self.max_buffer = max_buffer
        self.spiders = spiders
        self.names = names
        self.encode = encode
        #: ``log`` events below this level are not for this client.
        self.log_level = log_level
        self.paused = False
        self.closed = False
        self.pending: deque[bytes] = deque()
        self.pending_size = 0
        self.on_close: list[Any] = []

    def wants(self, event: Event) -> bool:
        if self.names is not None and event.name not in self.names:
            return False
        if event.name == "log" and _level(event.data.get("level")) < self.log_level:
            return False
        spider = event.data.get("spider")
        if self.spiders is None or spider is None:
            return True
        # ``?spider=`` takes a spider name or a crawl id, as every other place does.
        return spider in self.spiders or event.data.get("crawl_id") in self.spiders

    def send(self, event: Event) -> None:
        if self.closed:
            return
        frame = self.frame(event)
        if frame is not None:
            self.write(frame)

    def frame(self, event: Event) -> bytes | None:
        """The SSE frame of ``event`` for this client; ``None`` if filtered out or not JSON."""
        if not self.wants(event):
            return None
        try:
            data = self.encode(event)
        except Exception as exc:  # a plugin's event that its json_default cannot encode
            logger.warning("Event %s %r left out: not JSON (%r)", event.id, event.name, exc)
            return None
        return f"id: {event.id}\nevent: {event.name}\ndata: {data}\n\n".encode()

    def comment(self, text: str) -> None:
        if not self.closed:
            self.write(f": {text}\n\n".encode())

    def write(self, frame: bytes) -> None:
        if not self.paused:
            self.request.write(frame)
            return
        self.pending.append(frame)
        self.pending_size += len(frame)
        if self.pending_size > self.max_buffer:
            self.drop(f"it reads too slowly ({self.pending_size} bytes waiting)")

    # -- IPushProducer: Twisted pauses us when the client's socket is full ------------

    def pauseProducing(self) -> None:
        self.paused = True

    def resumeProducing(self) -> None:
        self.paused = False
        while self.pending and not self.paused and not self.closed:
            frame = self.pending.popleft()
            self.pending_size -= len(frame)
            self.request.write(frame)

    def stopProducing(self) -> None:
        self.mark_closed()

    # -- ending ---------------------------------------------------------------------------

    def drop(self, reason: str) -> None:
        """Cut a client off at once, discarding what it has not read."""
        peer = getattr(self.request.getClientAddress(), "host", "?")
        logger.info("Event stream to %s dropped: %s", peer, reason)
        self.mark_closed()
        transport = self.request.transport
        if transport is not None:
            abort = getattr(transport, "abortConnection", transport.loseConnection)
            abort()

    def close(self) -> None:
        """End the stream and its connection (the service is stopping).

        The connection is closed too: left open for another request, it
        would reach the stopped service's site.
        """
        if self.closed:
            return
        self.mark_closed()
        channel = self.request.channel  # finish() lets go of it
        self.request.unregisterProducer()
        self.request.finish()
        if channel is not None:
            channel.loseConnection()

    def mark_closed(self) -> None:
        """Forget the client: no more writes, callbacks told (idempotent)."""
        if self.closed:
            return
        self.closed = True
        self.pending.clear()
        self.pending_size = 0
        for callback in self.on_close:
            callback(self)


class EventsResource(JsonResource):
    """``GET events``: a Server-Sent Events stream of the service's events."""

    ws_name = "events"

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self.streams: list[EventStream] = []
        self._keepalive = Repeating(self._ping)
        self._encoded: tuple[int, str] = (0, "")

    def allowed_methods(self) -> list[str]:
        return ["GET"]

    def render(self, request: Request) -> bytes | int:
        if request.method != b"GET":
            return super().render(request)
        api = self.api
        config = api.config
        try:
            if api.events_closed:
                raise HttpError(503, "The web service is stopping")
            if len(self.streams) >= config.events_max_clients:
                request.setHeader(b"Retry-After", b"10")
                raise HttpError(
                    503,
                    f"Too many event stream clients (WEBSERVICE_EVENTS_MAX_CLIENTS ="
                    f" {config.events_max_clients})",
                )
            log_level = _log_level(request)
        except HttpError as exc:
            return self._error(request, exc)
        stream = EventStream(
            request,
            max_buffer=config.events_max_buffer,
            spiders=_arg_set(request, b"spider"),
            names=_arg_set(request, b"events"),
            encode=self._encode_event,
            log_level=log_level,
        )
        if log_level < logging.ERROR:
            release = api.follow_log(logging.getLevelName(log_level))
            stream.on_close.append(lambda _: release())
        self._open(stream, api, _last_event_id(request))
        return NOT_DONE_YET

    def _open(self, stream: EventStream, api: WebServiceAPI, last_id: int | None) -> None:
        request = stream.request
        request.setHeader(b"Content-Type", b"text/event-stream; charset=utf-8")
        request.setHeader(b"Cache-Control", b"no-store")
        request.setHeader(b"X-Accel-Buffering", b"no")
        # (Twisted stops the channel's idle timeout while a request is being
        # answered, so a quiet client is not cut off; keep-alives find gone ones.)

        def forget(_: EventStream) -> None:
            api.unsubscribe(stream)
            if stream in self.streams:
                self.streams.remove(stream)
            if not self.streams and self._keepalive.running:
                self._keepalive.stop()

        # Registered before anything is written, so that a stream closed at
        # any point below is forgotten.
        stream.on_close.append(forget)
        request.notifyFinish().addBoth(lambda _: stream.mark_closed())
        self.streams.append(stream)
        api.subscribe(stream)
        request.registerProducer(stream, True)
        # The first chunk sends the headers, so the client knows it is connected;
        # the replay goes with it in one write, outside the slow-client budget.
        frames = [f"retry: {RETRY_MS}\n: connected\n\n".encode()]
        if last_id is not None:
            frames += [f for e in api.events_since(last_id) if (f := stream.frame(e)) is not None]
        request.write(b"".join(frames))
        if not self._keepalive.running and not stream.closed:
            self._keepalive.start(KEEPALIVE, now=False)

    def _encode_event(self, event: Event) -> str:
        """An event's JSON, encoded once for all the streams it goes to."""
        if self._encoded[0] != event.id:
            self._encoded = (event.id, self.api.dumps(event.data))
        return self._encoded[1]

    def _ping(self) -> None:
        for stream in list(self.streams):
            stream.comment("keepalive")


def _arg_set(request: Request, name: bytes) -> frozenset[str] | None:
    values = request.args.get(name) if request.args else None
    if not values:
        return None
    names = {
        part.strip()
        for value in values
        for part in value.decode("utf-8", "replace").split(",")
        if part.strip()
    }
    return frozenset(names) or None


#: The levels ``?level=`` takes, by name.
LOG_LEVELS = {name: logging.getLevelName(name) for name in LEVEL_NAMES}


def _level(name: Any) -> int:
    return LOG_LEVELS.get(name, logging.CRITICAL) if isinstance(name, str) else logging.CRITICAL


def _log_level(request: Request) -> int:
    """``?level=INFO``: the lowest level of ``log`` events wanted (ERROR when absent)."""
    values = request.args.get(b"level") if request.args else None
    if not values:
        return logging.ERROR
    name = values[-1].decode("utf-8", "replace").strip().upper()
    if name not in LOG_LEVELS:
        raise HttpError(400, f"level must be one of {', '.join(LEVEL_NAMES)}, got {name[:30]!r}")
    return LOG_LEVELS[name]


def _last_event_id(request: Request) -> int | None:
    header = request.getHeader(b"last-event-id")
    if header is None:
        return None
    try:
        return int(header.strip())
    except ValueError:
        return None
