"""The resource base classes: ``JsonResource``, ``JsonRpcResource`` and the root.

A resource author writes ``render_GET`` returning a plain Python object
(or an awaitable of one); everything about HTTP (status, headers, JSON
encoding, errors that never leak a traceback) is handled here once.
Authentication and request limits are not: the :class:`~scrapy_webservice.site.WebServiceSite`
has checked them before any resource runs.
"""

from __future__ import annotations

import inspect
import logging
import traceback
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from scrapy.utils.defer import deferred_from_coro, maybe_deferred_to_future
from twisted.internet.defer import Deferred
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET

from . import jsonrpc
from .encoding import dumps
from .security import Access
from .settings import DEFAULTS

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.web.server import Request

    from .service import Service

__all__ = [
    "HttpError",
    "JsonResource",
    "JsonRpcResource",
    "RawBody",
    "RootResource",
    "control",
    "readonly",
]

logger = logging.getLogger(__name__)
audit_logger = logging.getLogger("scrapy_webservice.audit")

F = TypeVar("F", bound=Callable[..., Any])

_RPC_STATUS = {
    jsonrpc.NOT_FOUND: 404,
    jsonrpc.FORBIDDEN: 403,
    jsonrpc.INVALID_PARAMS: 400,
    jsonrpc.METHOD_NOT_FOUND: 404,
}


def readonly(func: F) -> F:
    """Mark a method of a JSON-RPC target as safe for the read-only token."""
    func.__webservice_readonly__ = True  # type: ignore[attr-defined]
    return func


def control(func: F) -> F:
    """Mark a method as a control method (the default; this documents intent)."""
    func.__webservice_readonly__ = False  # type: ignore[attr-defined]
    return func


class HttpError(Exception):
    """Raise from ``render_GET`` to answer with an HTTP error and a JSON body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


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


def error_body(status: int, message: str, data: Any = None) -> bytes:
    error: dict[str, Any] = {"status": status, "message": message}
    if data is not None:
        error["data"] = data
    return dumps({"error": error}).encode()


def write_error(request: Request, status: int, message: str, data: Any = None) -> bytes:
    """Set up ``request`` for a JSON error and return its body."""
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", b"application/json")
    request.setHeader(b"Cache-Control", b"no-store")
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
    #: The service this resource is mounted on; set when it is mounted.
    service: Service | None = None

    def __init__(self, crawler: Crawler) -> None:
        super().__init__()
        self.crawler = crawler

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
            # Runs before authentication: answer JSON, never Twisted's HTML page.
            status, message, _ = self._error_answer(request, exc)
            return ErrorResource(status, message)
        if child is None:
            return not_found(name)
        if isinstance(child, JsonResource) and child.service is None:
            child.service = self.service
        return child

    def child(self, name: str, request: Request) -> Resource | None:
        """The resource at path segment ``name`` below this one; ``None`` answers 404.

        Override it for dynamic paths (``enginestatus/<spider>``). ``name`` is
        already URL-decoded by Twisted; static children added with
        ``putChild`` never get here.
        """
        return None

    def render(self, request: Request) -> bytes | int:
        method = request.method.decode("ascii", "replace")
        handler = getattr(self, f"render_{method}", None)
        if handler is None and method == "HEAD":
            handler = getattr(self, "render_GET", None)
        if handler is None:
            allowed = ", ".join(self.allowed_methods())
            request.setHeader(b"Allow", allowed.encode())
            return write_error(request, 405, f"Method {method} not allowed here; use {allowed}")
        try:
            result = handler(request)
        except Exception as exc:
            return self._error(request, exc)
        if isinstance(result, Deferred) or inspect.isawaitable(result):
            return self._render_later(request, deferred_from_coro(result))
        return self._encode(request, result)

    def allowed_methods(self) -> list[str]:
        return sorted(
            name[len("render_") :]
            for name in dir(self)
            if name.startswith("render_") and name[len("render_") :].isupper()
        )

    # -- helpers ---------------------------------------------------------------

    @property
    def debug(self) -> bool:
        return bool(self.service is not None and self.service.config.debug)

    def dumps(self, obj: Any) -> str:
        """Encode ``obj`` as JSON, with the plugins' ``json_default`` as the last resort."""
        if self.service is not None:
            return self.service.dumps(obj)
        return dumps(obj)

    def _encode(self, request: Request, result: Any) -> bytes:
        if isinstance(result, RawBody):
            request.setHeader(b"Content-Type", result.content_type.encode("latin-1"))
            request.setHeader(b"Cache-Control", b"no-store")
            return result.body
        try:
            body = result if isinstance(result, RawJson) else self.dumps(result)
        except Exception as exc:  # a plugin's json_default may raise anything
            logger.error("%s returned a value that is not JSON: %r", type(self).__name__, exc)
            return write_error(request, 500, "Internal error: the result is not JSON")
        request.setHeader(b"Content-Type", b"application/json")
        request.setHeader(b"Cache-Control", b"no-store")
        return body.encode("utf-8")

    def _error(self, request: Request, exc: BaseException) -> bytes:
        return write_error(request, *self._error_answer(request, exc))

    def _error_answer(self, request: Request, exc: BaseException) -> tuple[int, str, Any]:
        """Status, message and data for an exception; unexpected ones are logged."""
        if isinstance(exc, HttpError):
            return exc.status, exc.message, None
        if isinstance(exc, jsonrpc.JsonRpcError) and exc.code in _RPC_STATUS:
            return _RPC_STATUS[exc.code], exc.message, None
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
        from twisted.internet import reactor

        ended: list[str] = []  # "gone" or "timeout", once
        timeout = (
            self.service.config.response_timeout
            if self.service is not None
            else DEFAULTS["WEBSERVICE_RESPONSE_TIMEOUT"]
        )

        def stop(why: str) -> None:
            if not ended:
                ended.append(why)
                d.cancel()

        timer = reactor.callLater(timeout, stop, "timeout")
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
            answer(lambda: self._error(request, failure.value))

        d.addCallbacks(done, failed)
        return NOT_DONE_YET


class _MethodTable(Mapping[str, jsonrpc.Method]):
    """The methods a JSON-RPC resource offers, resolved lazily by name.

    Properties are looked up statically so that listing the methods never
    runs a property's getter.
    """

    def __init__(self, resource: JsonRpcResource, target: Any) -> None:
        self.resource = resource
        self.target = target

    def __getitem__(self, name: str) -> jsonrpc.Method:
        if not self.resource.exposes(name):
            raise KeyError(name)
        try:
            static = inspect.getattr_static(self.target, name)
        except AttributeError:
            raise KeyError(name) from None
        if isinstance(static, property) or inspect.isclass(static):
            raise KeyError(name)
        func = getattr(self.target, name, None)
        if func is None or not callable(func) or inspect.isclass(func):
            raise KeyError(name)
        if inspect.isroutine(func) and not (inspect.isfunction(func) or inspect.ismethod(func)):
            # Methods of built-in types (``list.append`` under ``open_spiders``,
            # ``dict.clear`` under ``extensions``): data, not an API.
            raise KeyError(name)
        marked = getattr(func, "__webservice_readonly__", None)
        readonly_ = name in self.resource.readonly_methods if marked is None else bool(marked)
        return jsonrpc.Method(name, func, readonly=readonly_)

    def __iter__(self) -> Iterator[str]:
        names = self.resource.exposed
        if names is None:
            names = frozenset(dir(self.target))
        for name in sorted(names):
            if name in self:
                yield name

    def __len__(self) -> int:
        return sum(1 for _ in self)


class JsonRpcResource(JsonResource):
    """JSON-RPC 2.0 over ``POST`` on the object that ``get_target()`` returns.

    A path segment below it reaches a public attribute of the target as
    another ``JsonRpcResource`` (``crawler/engine``), and ``GET`` returns the
    target's value as JSON when it is data (``crawler/engine/open_spiders``)
    or the list of its methods when it is not. Names starting with ``_``
    are never reachable.

    Narrow what a resource offers with ``exposed`` (the attribute names
    reachable; ``None`` for every public one). Methods are *control*
    methods unless marked with :func:`readonly` or listed in
    ``readonly_methods``: only the full token may call control methods.
    """

    exposed: ClassVar[frozenset[str] | None] = None
    readonly_methods: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, crawler: Crawler, target: Any = None) -> None:
        super().__init__(crawler)
        self._target = target

    def get_target(self) -> Any:
        """The object whose methods this resource calls; override to compute it."""
        return self._target

    def exposes(self, name: str) -> bool:
        if not name or name.startswith("_"):
            return False
        return self.exposed is None or name in self.exposed

    def child(self, name: str, request: Request) -> Resource | None:
        if not name.isidentifier() or not self.exposes(name):
            return None
        return _AttributeResource(self, name)

    def render_GET(self, txrequest: Request) -> Any:
        target = self.get_target()
        try:
            return RawJson(self.dumps(target))
        except (TypeError, ValueError):
            pass
        methods = _MethodTable(self, target)
        return {
            "methods": [{"name": name, "readonly": methods[name].readonly} for name in methods],
            "attributes": [
                name
                for name in sorted(self.exposed if self.exposed is not None else dir(target))
                if self.exposes(name) and name not in methods
            ],
        }

    def render_POST(self, txrequest: Request) -> Any:
        # Fail closed: a request that did not pass the guarding site may do nothing.
        access = getattr(txrequest, "webservice_access", Access.NONE)
        body = txrequest.content.read() if txrequest.content is not None else b""
        config = self.service.config if self.service is not None else None
        path = txrequest.path.decode("utf-8", "replace")

        def audit(method: jsonrpc.Method, params: Any) -> None:
            peer = txrequest.getClientAddress()
            audit_logger.info(
                "Control call %s %s(%s) from %s",
                path,
                method.name,
                dumps(params) if params is not None else "",
                getattr(peer, "host", peer),
            )

        async def answer() -> RawJson | None:
            text = await jsonrpc.handle(
                body,
                _MethodTable(self, self.get_target()),
                title=path,
                version=_version(),
                allow_control=access >= Access.CONTROL,
                max_batch_size=config.max_batch_size if config else 100,
                debug=self.debug,
                adapt_result=_awaitable_deferred,
                audit=audit,
                dumps=self.dumps,
            )
            return None if text is None else RawJson(text)

        return answer()

    def _encode(self, request: Request, result: Any) -> bytes:
        if result is None and request.method == b"POST":
            # Only notifications: JSON-RPC says "nothing", HTTP says 204.
            request.setResponseCode(204)
            return b""
        return super()._encode(request, result)


class _AttributeResource(JsonRpcResource):
    """``parent/name``: the attribute ``name`` of the parent's target."""

    def __init__(self, parent: JsonRpcResource, name: str) -> None:
        super().__init__(parent.crawler)
        self._parent = parent
        self._name = name
        self._resolved = False

    def get_target(self) -> Any:
        if not self._resolved:
            target = self._parent.get_target()
            try:
                self._target = getattr(target, self._name)
            except AttributeError:
                raise HttpError(404, f"No such resource: {self._name!r}") from None
            self._resolved = True
        return self._target


def _awaitable_deferred(result: Any) -> Any:
    """Let a coroutine await a method's Deferred under either reactor."""
    if isinstance(result, Deferred):
        return maybe_deferred_to_future(result)
    return result


def _version() -> str:
    from . import __version__

    return __version__


class RootResource(JsonResource):
    """``GET /``: the names of the mounted resources, in mount order."""

    def __init__(self, crawler: Crawler, names: list[str] | None = None) -> None:
        super().__init__(crawler)
        self.names = list(names or [])

    def mount(self, resource: JsonResource) -> None:
        self.putChild(resource.ws_name.encode("utf-8"), resource)
        self.names.append(resource.ws_name)

    def render_GET(self, txrequest: Request) -> dict[str, list[str]]:
        return {"resources": list(self.names)}
