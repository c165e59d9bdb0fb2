"""The resource base class ``JsonResource``, and the root.

A resource author writes ``render_GET`` returning a plain Python object
(or an awaitable of one); everything about HTTP (status, headers, JSON
encoding, errors that never leak a traceback) is handled here once.
Authentication and request limits are not: the site
(:class:`~scrapy_webservice.server.site.WebServiceSite`) has checked them
before any resource runs.
"""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, cast

from scrapy.utils.defer import deferred_from_coro
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from ..adapter.loop import crawl_clock
from ..rpc.encoding import dumps
from ..rpc.errors import HttpError, http_status
from .api import WebServiceAPI, api, bound_api
from .settings import DEFAULTS

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.web.server import Request

    # typing.Self requires Python 3.11
    from typing_extensions import Self

__all__ = [
    "ErrorResource",
    "HttpError",
    "JsonResource",
    "RawBody",
    "RawJson",
    "RootResource",
    "not_found",
    "write_error",
]

logger = logging.getLogger(__name__)


class RawJson(str):
    """JSON text that is already encoded (the JSON-RPC layer encodes its own)."""


@dataclass(frozen=True)
class RawBody:
    """Return this from ``render_GET`` to send a body that is not JSON, as it is.

    For formats other programs expect (Prometheus metrics, an HTML page);
    everything else about the answer (errors, token, headers) stays the
    service's.
    """

    body: bytes
    content_type: str


#: The handler names of the usual methods, made once rather than for each request.
_HANDLERS = {m: "render_" + m.decode() for m in (b"GET", b"HEAD", b"POST", b"OPTIONS")}
#: Results that are data as they are, never awaitable: no need to ask (an ABC check).
_PLAIN = frozenset({dict, list, str, int, float, bool, type(None), RawJson, RawBody})


def error_body(status: int, message: str, data: Any = None) -> bytes:
    error: dict[str, Any] = {"status": status, "message": message}
    if data is not None:
        error["data"] = data
    return dumps({"error": error}).encode()


def write_error(request: Request, status: int, message: str, data: Any = None) -> bytes:
    """Set up ``request`` for a JSON error and return its body."""
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"application/json")
    return error_body(status, message, data)


class ErrorResource(Resource):
    """A leaf that answers every request with one JSON error."""

    isLeaf = True

    def __init__(self, status: int, message: str, headers: Mapping[bytes, bytes] | None = None):
        super().__init__()
        self.status = status
        self.message = message
        self.headers = dict(headers or {})

    def render(self, request: Request) -> bytes:
        for name, value in self.headers.items():
            request.setHeader(name, value)
        return write_error(request, self.status, self.message)


def not_found(path: bytes | str) -> ErrorResource:
    text = path.decode("utf-8", "replace") if isinstance(path, bytes) else path
    return ErrorResource(404, f"No such resource: {text!r}")


class JsonResource(Resource):
    """A read-only resource whose ``render_GET`` returns data, not bytes.

    Subclass it, set ``ws_name`` (the path under the root) and return any
    JSON-able object from ``render_GET`` (datetimes, sets, bytes and Decimals
    included), or an awaitable/Deferred of one. Raise :class:`HttpError` for a
    4xx answer; anything else raised becomes a logged 500 whose body never
    holds a traceback (unless ``WEBSERVICE_DEBUG`` is on).
    """

    #: Path segment under the service root.
    ws_name: ClassVar[str] = ""
    #: True only for resources that hold no data (health, a page's static
    #: shell): the service then serves them without a token.
    public: ClassVar[bool] = False

    def __init__(self, crawler: Crawler) -> None:
        super().__init__()
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler: Crawler) -> Self:
        """How the service builds a resource (``build_from_crawler``); override it freely."""
        return cls(crawler)

    @property
    def api(self) -> WebServiceAPI:
        """The service's public API: crawls, events, facts, plugins.

        Bound to the crawler before any resource is built, so it works in
        ``__init__`` and ``from_crawler`` too; ``LookupError`` for a crawler
        that no service serves.
        """
        return api(self.crawler)

    #: The API, under the name hooks give it (``service``).
    service = api

    # -- Twisted entry points -------------------------------------------------

    def getChild(self, path: bytes, request: Request) -> Resource:
        if path == b"":
            return self
        try:
            name = path.decode("utf-8")
        except UnicodeDecodeError:
            return not_found(path)
        try:
            child = self.child(name, request)
        except Exception as exc:
            # Answer JSON, never Twisted's HTML page.
            status, message, _ = self._error_answer(request, exc)
            return ErrorResource(status, message)
        if child is None:
            return not_found(name)
        return child

    def child(self, name: str, request: Request) -> Resource | None:
        """The resource at path segment ``name`` below this one; ``None`` answers 404.

        Override it for dynamic paths (``enginestatus/<spider>``). ``name`` is
        already URL-decoded by Twisted; static children added with
        ``putChild`` never get here.
        """
        return None

    def render(self, request: Request) -> bytes | int:
        name = _HANDLERS.get(request.method)
        if name is None:
            name = "render_" + request.method.decode("ascii", "replace")
        handler = getattr(self, name, None)
        if handler is None and request.method == b"HEAD":
            handler = getattr(self, "render_GET", None)
        if handler is None:
            method = request.method.decode("ascii", "replace")
            allowed = ", ".join(self.allowed_methods())
            request.setHeader(b"Allow", allowed.encode())
            return write_error(request, 405, f"Method {method} not allowed here; use {allowed}")
        try:
            result = handler(request)
        except Exception as exc:
            return self._error(request, exc)
        if type(result) not in _PLAIN and (
            isinstance(result, Deferred) or inspect.isawaitable(result)
        ):
            return self._render_later(request, deferred_from_coro(result))
        return self._encode(request, result)

    def allowed_methods(self) -> list[str]:
        return sorted(
            name[len("render_") :]
            for name in dir(self)
            if name.startswith("render_") and name[len("render_") :].isupper()
        )

    # -- helpers ---------------------------------------------------------------

    #: The API bound to the crawler, once found: a resource is built for one
    #: service, after the binding, and every answer needs it (its encoder).
    _found_api: WebServiceAPI | None = None

    def _bound_api(self) -> WebServiceAPI | None:
        """``bound_api(self.crawler)``, kept once found; ``None`` outside a service."""
        found = self._found_api
        if found is None:
            found = self._found_api = bound_api(self.crawler)
        return found

    @property
    def debug(self) -> bool:
        bound = self._bound_api()
        return bool(bound is not None and bound.config.debug)

    def dumps(self, obj: Any) -> str:
        """Encode ``obj`` as JSON, with the plugins' ``json_default`` as the last resort."""
        bound = self._found_api or self._bound_api()
        return dumps(obj) if bound is None else bound.dumps(obj)

    def _encode(self, request: Request, result: Any) -> bytes:
        if isinstance(result, RawBody):
            request.setHeader(b"Content-Type", result.content_type.encode("latin-1"))
            return result.body
        try:
            body = result if isinstance(result, RawJson) else self.dumps(result)
        except Exception as exc:  # a plugin's json_default may raise anything
            logger.error("%s returned a value that is not JSON: %r", type(self).__name__, exc)
            return write_error(request, 500, "Internal error: the result is not JSON")
        # Cache-Control (no-store) and nosniff: the site's channel adds them to every answer.
        request.setHeader(b"Content-Type", b"application/json")
        return body.encode("utf-8")

    def _error(self, request: Request, exc: BaseException) -> bytes:
        return write_error(request, *self._error_answer(request, exc))

    def _error_answer(self, request: Request, exc: BaseException) -> tuple[int, str, Any]:
        """Status, message and data for an exception; unexpected ones are logged."""
        known = http_status(exc)
        if known is not None:
            return known[0], known[1], None
        logger.error(
            "Web service resource %s failed on %s",
            type(self).__name__,
            request.uri.decode("utf-8", "replace"),
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        data = None
        if self.debug:
            data = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return 500, f"Internal error: {type(exc).__name__}", data

    def _render_later(self, request: Request, d: Deferred[Any]) -> int:
        """Answer when ``d`` fires; cancel it if the client leaves or it takes too long.

        A resource that never answers must not hold a connection (and its
        memory) forever: after ``WEBSERVICE_RESPONSE_TIMEOUT`` seconds the
        work is cancelled and the client gets a 504.
        """
        ended: list[str] = []  # "gone" or "timeout", once
        bound = self._bound_api()
        timeout = (
            bound.config.response_timeout
            if bound is not None
            else DEFAULTS["WEBSERVICE_RESPONSE_TIMEOUT"]
        )

        def stop(why: str) -> None:
            if not ended:
                ended.append(why)
                d.cancel()

        timer = crawl_clock().callLater(timeout, stop, "timeout")
        request.notifyFinish().addErrback(lambda _: stop("gone"))

        def answer(body: Callable[[], bytes]) -> None:
            # What happened to the request decides, not how the work ended:
            # a cancelled Deferred may still call back with a value.
            if timer.active():
                timer.cancel()
            if ended == ["gone"]:
                return
            if ended == ["timeout"]:
                logger.warning(
                    "Web service resource %s gave no answer to %s within %g s",
                    type(self).__name__,
                    request.uri.decode("utf-8", "replace"),
                    timeout,
                )
                message = f"No answer within {timeout:g} s (WEBSERVICE_RESPONSE_TIMEOUT)"
                request.write(write_error(request, 504, message))
            else:
                request.write(body())
            request.finish()

        def done(result: Any) -> None:
            answer(lambda: self._encode(request, result))

        def failed(failure: Failure) -> None:
            # A CancelledError we did not cause is the resource's own failure: a 500.
            # (Twisted infers Failure.value as Optional from its __init__; a
            # Failure always holds its exception.)
            answer(lambda: self._error(request, cast(BaseException, failure.value)))

        d.addCallbacks(done, failed)
        return NOT_DONE_YET


class RootResource(JsonResource):
    """``GET /``: the names of the mounted resources, in mount order."""

    def __init__(self, crawler: Crawler, names: list[str] | None = None) -> None:
        super().__init__(crawler)
        self.names = list(names or [])

    def render_GET(self, txrequest: Request) -> dict[str, list[str]]:
        return {"resources": list(self.names)}
