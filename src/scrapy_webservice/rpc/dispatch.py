"""JSON-RPC 2.0 dispatch: the whole specification, and nothing else.

This module is pure: it imports nothing from Twisted or Scrapy, so the
protocol can be read and tested on its own (``tests/test_jsonrpc.py`` runs
every example of section 7 of https://www.jsonrpc.org/specification).
Transport concerns (HTTP status, authentication, turning Deferreds into
awaitables) belong to the caller, which builds a :class:`Dispatcher` over a
table of methods once and hands it request bodies, getting back the
response text.

Params are checked against each method's annotations before the call, and
``rpc.discover`` describes them with JSON Schemas. Both come from one walk
over the annotations (:mod:`.validation`), so what is advertised is exactly
what is checked; the messages are :mod:`.messages`, the OpenRPC document
:mod:`.openrpc`.
"""

from __future__ import annotations

import functools
import inspect
import itertools
import json
import logging
import math
import traceback
import typing
from collections.abc import (
    Awaitable,
    Callable,
    Iterable,
    Mapping,
    Sequence,
)
from dataclasses import dataclass
from typing import Any

from .messages import (
    FORBIDDEN,
    INTERNAL_ERROR,
    INVALID_REQUEST,
    METHOD_NOT_FOUND,
    PARSE_ERROR,
    JsonRpcError,
    error_response,
)
from .openrpc import describe
from .validation import Params, params_of

__all__ = ["Dispatcher", "Method", "discover", "handle"]

logger = logging.getLogger(__name__)

_NO_ID = object()
_NO_PARAMS: tuple[Any, ...] = ()
#: Results that are never awaitable: no need to ask (an ABC check per call).
_PLAIN = frozenset({dict, list, str, int, float, bool, type(None)})
#: Types of the ids that need no closer look (a bool is an int, but not an id).
_COMMON_IDS = frozenset({int, str, type(_NO_ID)})


@dataclass(frozen=True)
class Method:
    """A callable offered over JSON-RPC, with the permission it needs.

    ``readonly`` methods may be called with the read-only token; every
    other method is a *control* method and needs the full token.
    """

    name: str
    func: Callable[..., Any]
    readonly: bool = False

    @property
    def description(self) -> str:
        return inspect.getdoc(self.func) or ""

    @functools.cached_property
    def params(self) -> Params | None:
        """The compiled signature that checks a call's params (``None``: not introspectable).

        Kept on the method (a dispatcher keeps its methods), so a call pays
        for no cache lookup.
        """
        return params_of(self.func)


# -- the dispatcher ----------------------------------------------------------------


class Dispatcher:
    """Answers JSON-RPC request bodies for one table of methods; build it once.

    ``methods`` is either a mapping from names to :class:`Method` (looked up
    with ``methods.get(name)`` at each call, so it may resolve them lazily)
    or an iterable of them. Each method's params are compiled once, on first
    use, from its annotations (cached by function, so bound methods made
    afresh for each request share the work); the same compilation gives the
    schemas of :meth:`describe`.
    """

    def __init__(
        self,
        methods: Mapping[str, Method] | Iterable[Method],
        *,
        title: str = "",
        version: str = "0",
    ) -> None:
        if isinstance(methods, Mapping):
            self.methods: Mapping[str, Method] = methods
        else:
            self.methods = {method.name: method for method in methods}
        self.title = title
        self.version = version
        self._description: dict[str, Any] | None = None
        self._discover = Method("rpc.discover", self.describe, readonly=True)

    def lookup(self, name: str) -> Method | None:
        """The method called ``name`` (``rpc.discover`` included), or None."""
        if name == "rpc.discover":
            return self._discover
        return self.methods.get(name)

    def describe(self) -> dict[str, Any]:
        """Describe this resource's methods as an OpenRPC document.

        The document is built on the first call and kept: build a new
        dispatcher when the methods change. Do not modify it.
        """
        if self._description is None:
            self._description = describe(self.methods.values(), self.title, self.version)
        return self._description

    def validate(
        self,
        method: str | Method,
        args: Sequence[Any] = (),
        kwargs: Mapping[str, Any] | None = None,
    ) -> None:
        """Raise ``JsonRpcError(INVALID_PARAMS)`` when the params do not fit ``method``.

        ``args`` and ``kwargs`` are JSON-decoded values (an array is a list,
        an object a dict). An unknown method name raises ``METHOD_NOT_FOUND``.
        """
        if isinstance(method, str):
            found = self.lookup(method)
            if found is None:
                raise JsonRpcError(METHOD_NOT_FOUND, f"Method not found: {method!r}")
            method = found
        params = method.params
        if params is not None:
            params.check(args, {} if kwargs is None else kwargs)

    def handle(
        self,
        body: bytes | str,
        *,
        allow_control: bool = True,
        max_batch_size: int = 100,
        debug: bool = False,
        adapt_result: Callable[[Any], Any] | None = None,
        audit: Callable[[Method, Any], None] | None = None,
        dumps: Callable[[Any], str] = json.dumps,
        map_error: Callable[[Exception], JsonRpcError | None] | None = None,
    ) -> str | Awaitable[str | None] | None:
        """Answer one request body; ``None`` means "send no body".

        When no method called returns an awaitable (after ``adapt_result``),
        the answer is returned at once, with no coroutine made; otherwise an
        awaitable of the answer is returned (check with
        :func:`inspect.isawaitable`). The calls of a batch run in order, one
        after the other, even when one of them has to be awaited.

        A batch whose members are all notifications, or a single notification,
        gets no body, as the specification requires. ``adapt_result`` turns a
        method's result into something awaitable when the caller's event loop
        needs it (Twisted Deferreds under asyncio); ``audit`` is told about each
        control call before it runs; ``map_error`` may turn an exception that a
        method raised into the ``JsonRpcError`` to answer with (``None``: an
        internal error, ``-32603``, logged). Each response is encoded with
        ``dumps`` on its own, so a result that cannot be encoded becomes that
        call's ``-32603`` instead of breaking the whole batch.
        """
        try:
            payload = _loads(body)
        except (ValueError, RecursionError) as exc:
            return dumps(error_response(PARSE_ERROR, f"Parse error: {_short(exc)}"))
        run = _Run(self, allow_control, debug, adapt_result, audit, dumps, map_error)
        if not isinstance(payload, list):
            answer = run.answer(payload)
            return answer.finish() if type(answer) is _Pending else answer
        if not payload:
            return dumps(error_response(INVALID_REQUEST, "Invalid Request: empty batch"))
        if len(payload) > max_batch_size:
            return dumps(
                error_response(
                    INVALID_REQUEST,
                    f"Invalid Request: batch of {len(payload)} calls is over the limit"
                    f" of {max_batch_size}",
                )
            )
        parts: list[str] = []
        for index, item in enumerate(payload):
            answer = run.answer(item)
            if type(answer) is _Pending:
                return _finish_batch(run, payload, index + 1, parts, answer)
            if answer is not None:
                parts.append(answer)
        return _join(parts)


async def _finish_batch(
    run: _Run, payload: list[Any], start: int, parts: list[str], pending: _Pending
) -> str | None:
    """The rest of a batch once one of its calls has to be awaited."""
    answer: str | _Pending | None
    answer = await pending.finish()
    if answer is not None:
        parts.append(answer)
    for item in itertools.islice(payload, start, None):
        answer = run.answer(item)
        if type(answer) is _Pending:
            answer = await answer.finish()
        if answer is not None:
            parts.append(answer)
    return _join(parts)


def _join(parts: list[str]) -> str | None:
    return "[" + ",".join(parts) + "]" if parts else None


async def handle(
    body: bytes | str,
    methods: Mapping[str, Method],
    *,
    title: str = "",
    version: str = "0",
    allow_control: bool = True,
    max_batch_size: int = 100,
    debug: bool = False,
    adapt_result: Callable[[Any], Any] | None = None,
    audit: Callable[[Method, Any], None] | None = None,
    dumps: Callable[[Any], str] = json.dumps,
    map_error: Callable[[Exception], JsonRpcError | None] | None = None,
) -> str | None:
    """Answer one JSON-RPC request body; ``None`` means "send no body".

    A coroutine over a :class:`Dispatcher` made for this body alone; a
    caller that answers many bodies for the same methods should keep a
    dispatcher and call its :meth:`~Dispatcher.handle`, which answers
    synchronous methods without a coroutine.
    """
    answer = Dispatcher(methods, title=title, version=version).handle(
        body,
        allow_control=allow_control,
        max_batch_size=max_batch_size,
        debug=debug,
        adapt_result=adapt_result,
        audit=audit,
        dumps=dumps,
        map_error=map_error,
    )
    if inspect.isawaitable(answer):
        return await answer
    return answer


def discover(methods: Iterable[Method], *, title: str, version: str = "0") -> dict[str, Any]:
    """An OpenRPC document describing ``methods``, what ``rpc.discover`` returns.

    Each method carries ``x-readonly`` so that a client (the MCP plugin, a
    dashboard) can offer control methods only to callers allowed to use them.
    """
    return describe(methods, title, version)


def _refuse_constant(name: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON (Python's parser accepts them)."""
    raise ValueError(f"{name} is not valid JSON")


#: One decoder for every body: ``json.loads`` with a keyword builds one per call.
_DECODER = json.JSONDecoder(parse_constant=_refuse_constant)


def _loads(body: bytes | str) -> Any:
    """``json.loads(body, parse_constant=_refuse_constant)``, with the decoder kept."""
    if isinstance(body, str):
        if body.startswith("\ufeff"):
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", body, 0)
    else:
        body = body.decode(json.detect_encoding(body), "surrogatepass")
    return _DECODER.decode(body)


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."


class _Run:
    """The options of one :meth:`Dispatcher.handle`; answers its request objects."""

    __slots__ = (
        "adapt_result",
        "allow_control",
        "audit",
        "debug",
        "dispatcher",
        "dumps",
        "map_error",
    )

    def __init__(
        self,
        dispatcher: Dispatcher,
        allow_control: bool,
        debug: bool,
        adapt_result: Callable[[Any], Any] | None,
        audit: Callable[[Method, Any], None] | None,
        dumps: Callable[[Any], str],
        map_error: Callable[[Exception], JsonRpcError | None] | None,
    ) -> None:
        self.dispatcher = dispatcher
        self.allow_control = allow_control
        self.debug = debug
        self.adapt_result = adapt_result
        self.audit = audit
        self.dumps = dumps
        self.map_error = map_error

    def answer(self, request: Any) -> str | _Pending | None:
        """The encoded response to one request object, or a call still to await."""
        try:
            method, args, kwargs, request_id = self._prepare(request)
        except _Silent:
            return None
        except JsonRpcError as exc:
            return self.error(exc, _safe_id(request))
        try:
            result = self._start(method, args, kwargs, request)
        except JsonRpcError as exc:
            return None if request_id is _NO_ID else self.error(exc, request_id)
        if type(result) not in _PLAIN and inspect.isawaitable(result):
            return _Pending(self, method, request_id, result)
        return self.result(method, result, request_id)

    def _prepare(self, request: Any) -> tuple[Method, Sequence[Any], dict[str, Any], Any]:
        if not isinstance(request, dict):
            raise JsonRpcError(INVALID_REQUEST, "Invalid Request: expected an object")
        if request.get("jsonrpc") != "2.0":
            raise JsonRpcError(INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"')
        request_id = request.get("id", _NO_ID)
        if type(request_id) not in _COMMON_IDS and not _valid_id(request_id):
            raise JsonRpcError(
                INVALID_REQUEST, 'Invalid Request: "id" must be a string, number or null'
            )
        name = request.get("method")
        if not isinstance(name, str):
            raise JsonRpcError(INVALID_REQUEST, 'Invalid Request: "method" must be a string')
        params = request.get("params", _NO_PARAMS)
        if params is _NO_PARAMS or isinstance(params, list):
            args, kwargs = params, {}
        elif isinstance(params, dict):
            args, kwargs = (), params
        else:
            raise JsonRpcError(
                INVALID_REQUEST, 'Invalid Request: "params" must be an array or object'
            )
        try:
            method = self.dispatcher.lookup(name)
        except Exception as exc:  # a lookup that runs code (a descriptor) and fails
            logger.exception("JSON-RPC method lookup of %r raised", name)
            raise self.internal_error(exc) from exc
        if method is None:
            # A notification of an unknown method is still a notification.
            if request_id is _NO_ID:
                raise _Silent
            raise JsonRpcError(METHOD_NOT_FOUND, f"Method not found: {name!r}")
        return method, args, kwargs, request_id

    def _start(
        self, method: Method, args: Sequence[Any], kwargs: dict[str, Any], request: dict[str, Any]
    ) -> Any:
        """Check and call ``method``; its result may still have to be awaited."""
        # Permission first: a read-only caller learns nothing about a control
        # method's params.
        if not method.readonly and not self.allow_control:
            raise JsonRpcError(
                FORBIDDEN,
                f"Forbidden: {method.name!r} is a control method; this token is read-only",
            )
        params = method.params
        if params is not None:
            params.check(args, kwargs)
        if not method.readonly and self.audit is not None:
            try:
                self.audit(method, request.get("params"))
            except Exception as exc:  # no record, no call
                logger.exception("Auditing the JSON-RPC call %s failed", method.name)
                raise self.internal_error(exc) from exc
        try:
            result = method.func(*args, **kwargs)
            if self.adapt_result is not None:
                result = self.adapt_result(result)
        except JsonRpcError:
            raise
        except Exception as exc:
            raise self.failure(method, exc) from exc
        return result

    def result(self, method: Method, result: Any, request_id: Any) -> str | None:
        if request_id is _NO_ID:
            return None
        try:
            return self.dumps({"jsonrpc": "2.0", "result": result, "id": request_id})
        except Exception as exc:  # the caller's dumps may raise anything
            logger.error(
                "JSON-RPC method %s returned a value that is not JSON: %s", method.name, exc
            )
            error = self.internal_error(exc, "the result could not be encoded as JSON")
            return self.error(error, request_id)

    def error(self, exc: JsonRpcError, request_id: Any) -> str:
        try:
            return self.dumps({"jsonrpc": "2.0", "error": exc.to_dict(), "id": request_id})
        except Exception as encoding_error:  # an application error with odd data
            logger.error("JSON-RPC error %r could not be encoded: %s", exc, encoding_error)
            error = JsonRpcError(
                INTERNAL_ERROR, "Internal error: the error could not be encoded as JSON"
            )
            return json.dumps({"jsonrpc": "2.0", "error": error.to_dict(), "id": request_id})

    def failure(self, method: Method, exc: Exception) -> JsonRpcError:
        """The error to answer for an exception that ``method`` raised."""
        if isinstance(exc, JsonRpcError):
            return exc
        if self.map_error is not None:
            try:
                mapped = self.map_error(exc)
            except Exception:
                logger.exception("Mapping the error of JSON-RPC method %s failed", method.name)
                mapped = None
            if mapped is not None:
                return mapped
        logger.error(
            "JSON-RPC method %s raised", method.name, exc_info=(type(exc), exc, exc.__traceback__)
        )
        return self.internal_error(exc)

    def internal_error(self, exc: BaseException, message: str | None = None) -> JsonRpcError:
        data = None
        if self.debug:
            data = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return JsonRpcError(
            INTERNAL_ERROR, f"Internal error: {message or type(exc).__name__}", data
        )


@typing.final  # so that `type(answer) is _Pending` narrows both ways
class _Pending:
    """A call whose method returned an awaitable: the rest of its answer."""

    __slots__ = ("awaitable", "method", "request_id", "run")

    def __init__(self, run: _Run, method: Method, request_id: Any, awaitable: Any) -> None:
        self.run = run
        self.method = method
        self.request_id = request_id
        self.awaitable = awaitable

    async def finish(self) -> str | None:
        run = self.run
        try:
            result = await self.awaitable
        except Exception as exc:
            error = run.failure(self.method, exc)
            return None if self.request_id is _NO_ID else run.error(error, self.request_id)
        return run.result(self.method, result, self.request_id)


class _Silent(JsonRpcError):
    """A failed notification: nothing is sent back."""

    def __init__(self) -> None:
        super().__init__(METHOD_NOT_FOUND)


def _valid_id(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)  # ``1e999`` parses to inf, which JSON cannot echo
    return value is None or (isinstance(value, (str, int)) and not isinstance(value, bool))


def _safe_id(request: Any) -> Any:
    """The id to echo in an error: the request's when it is valid, else null."""
    if isinstance(request, dict):
        request_id = request.get("id")
        if _valid_id(request_id):
            return request_id
    return None
