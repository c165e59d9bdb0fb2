"""JSON-RPC 2.0, the whole specification, and nothing else.

This module is pure: it imports nothing from Twisted or Scrapy, so the
protocol can be read and tested on its own (``tests/test_jsonrpc.py`` runs
every example of section 7 of https://www.jsonrpc.org/specification).
Transport concerns (HTTP status, authentication, turning Deferreds into
awaitables) belong to the caller, which builds a :class:`Dispatcher` over a
table of methods once and hands it request bodies, getting back the
response text.

Params are checked against each method's annotations before the call, and
``rpc.discover`` describes them with JSON Schemas. Both come from one walk
over the annotations (:func:`_compile`), so what is advertised is exactly
what is checked.
"""

from __future__ import annotations

import copy
import functools
import inspect
import itertools
import json
import logging
import math
import traceback
import types
import typing
from collections.abc import (
    Awaitable,
    Callable,
    Collection,
    Iterable,
    Mapping,
    MutableMapping,
    MutableSequence,
    Sequence,
)
from dataclasses import dataclass
from typing import Any

__all__ = [
    "FORBIDDEN",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "NOT_FOUND",
    "PARSE_ERROR",
    "SERVER_ERROR",
    "Dispatcher",
    "JsonRpcError",
    "Method",
    "discover",
    "error_response",
    "handle",
]

logger = logging.getLogger(__name__)

#: Standard error codes (section 5.1 of the specification).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
#: Application errors of this project, in the reserved -32000..-32099 range.
SERVER_ERROR = -32000  #: an application error with no more specific code
NOT_FOUND = -32001  #: the named thing (a spider, a key) does not exist
FORBIDDEN = -32003  #: the caller's token may not call this method

OPENRPC_VERSION = "1.3.2"

_MESSAGES = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    INTERNAL_ERROR: "Internal error",
}

_NO_ID = object()
_NO_PARAMS: tuple[Any, ...] = ()
#: Results that are never awaitable: no need to ask (an ABC check per call).
_PLAIN = frozenset({dict, list, str, int, float, bool, type(None)})
#: Types of the ids that need no closer look (a bool is an int, but not an id).
_COMMON_IDS = frozenset({int, str, type(_NO_ID)})


class JsonRpcError(Exception):
    """An error that a JSON-RPC method raises to answer with a chosen code.

    Application code raises it with a code in ``-32000..-32099`` and a
    message meant for the caller; the client library raises the same class
    when a response carries an error, so both sides speak one type.
    """

    def __init__(self, code: int, message: str | None = None, data: Any = None) -> None:
        self.code = code
        self.message = message or _MESSAGES.get(code, "Server error")
        self.data = data
        super().__init__(f"{self.message} ({self.code})")

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


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
    def params(self) -> _Params | None:
        """The compiled signature that checks a call's params (``None``: not introspectable).

        Kept on the method (a dispatcher keeps its methods), so a call pays
        for no cache lookup.
        """
        return _params(self.func)


def error_response(
    code: int, message: str | None = None, data: Any = None, id: Any = None
) -> dict[str, Any]:
    """A whole response object carrying an error, for errors raised outside a call."""
    return {"jsonrpc": "2.0", "error": JsonRpcError(code, message, data).to_dict(), "id": id}


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
            self._description = _describe(self.methods.values(), self.title, self.version)
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
    return _describe(methods, title, version)


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


# -- annotations: one walk gives both the JSON Schema and the check ------------------

#: A check takes a JSON-decoded value and raises _Mismatch when it does not fit.
_Check = Callable[[Any], None]

_NOUNS = {
    "null": "null",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
}


class _Mismatch(Exception):
    """A value that does not fit; the path to it is added on the way out."""

    def __init__(self, tail: str) -> None:
        super().__init__(tail)
        self.tail = tail  # "must be an integer, got a string"
        self.path: list[Any] = []  # innermost first

    def message(self, name: str) -> str:
        where = "".join(f"[{_clip(repr(step))}]" for step in reversed(self.path))
        return f"Invalid params: {name!r}{where} {self.tail}"


def _kind(value: Any) -> str:
    """The JSON type of a decoded value (a Python type name when it is not JSON)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _got(value: Any) -> str:
    kind = _kind(value)
    return _NOUNS.get(kind) or f"a {kind}"


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _shown(value: Any) -> str:
    """A value in a message: JSON when it is a scalar, else its type."""
    if value is None or isinstance(value, (str, int, float)):
        try:
            return _clip(json.dumps(value))
        except ValueError:  # an integer too long to print
            pass
    return _got(value)


class _Node:
    """What one annotation compiles to.

    ``schema`` is its JSON Schema, ``check`` raises :class:`_Mismatch` on a
    value that the schema refuses (``None``: the schema accepts anything),
    ``kinds`` are the JSON types it may accept (unions use them to pick the
    member whose error to report), ``noun`` names it in messages, and
    ``exact`` says that ``check`` looks at nothing but the JSON type.
    """

    __slots__ = ("check", "exact", "kinds", "noun", "schema")

    def __init__(
        self,
        schema: dict[str, Any],
        check: _Check | None,
        kinds: frozenset[str] | None,
        noun: str,
        exact: bool = False,
    ) -> None:
        self.schema = schema
        self.check = check
        self.kinds = kinds
        self.noun = noun
        self.exact = exact


def _any() -> _Node:
    return _Node({}, None, None, "anything")


def _check_str(value: Any) -> None:
    if not isinstance(value, str):
        raise _Mismatch(f"must be a string, got {_got(value)}")


def _check_int(value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Mismatch(f"must be an integer, got {_got(value)}")


def _check_number(value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _Mismatch(f"must be a number, got {_got(value)}")


def _check_bool(value: Any) -> None:
    if not isinstance(value, bool):
        raise _Mismatch(f"must be a boolean, got {_got(value)}")


def _check_null(value: Any) -> None:
    if value is not None:
        raise _Mismatch(f"must be null, got {_got(value)}")


def _check_list(value: Any) -> None:
    if not isinstance(value, list):
        raise _Mismatch(f"must be an array, got {_got(value)}")


def _check_dict(value: Any) -> None:
    if not isinstance(value, dict):
        raise _Mismatch(f"must be an object, got {_got(value)}")


_SCALARS: dict[Any, tuple[str, _Check, frozenset[str]]] = {
    str: ("string", _check_str, frozenset({"string"})),
    int: ("integer", _check_int, frozenset({"integer"})),
    float: ("number", _check_number, frozenset({"integer", "number"})),
    bool: ("boolean", _check_bool, frozenset({"boolean"})),
    type(None): ("null", _check_null, frozenset({"null"})),
}
#: Annotations of JSON arrays (decoded as a list); ``typing.List`` and the other
#: aliases are reached through ``typing.get_origin``.
_ARRAYS = frozenset({list, Sequence, MutableSequence, Collection, Iterable})
#: Annotations of JSON objects (decoded as a dict).
_OBJECTS = frozenset({dict, Mapping, MutableMapping})


def _compile(annotation: Any, seen: tuple[type, ...] = ()) -> _Node:
    """The schema and the check of an annotation, in one walk.

    An annotation it does not understand gives ``{}`` and no check, so that
    the schema never promises a check that is not made, nor the reverse.
    """
    try:
        return _compile_unsafe(annotation, seen)
    except Exception:  # an annotation object that breaks introspection
        logger.debug("Cannot compile the annotation %r", annotation, exc_info=True)
        return _any()


def _compile_unsafe(annotation: Any, seen: tuple[type, ...]) -> _Node:
    if annotation is None:  # "-> None" evaluates to None, not NoneType
        annotation = type(None)
    if annotation is Any or annotation is object or annotation is inspect.Parameter.empty:
        return _any()
    try:
        scalar = _SCALARS.get(annotation)
    except TypeError:  # unhashable (Annotated with unhashable metadata)
        scalar = None
    if scalar is not None:
        name, check, kinds = scalar
        return _Node({"type": name}, check, kinds, _NOUNS[name], exact=True)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _compile(args[0], seen)
    supertype = getattr(annotation, "__supertype__", None)  # a NewType
    if supertype is not None:
        return _compile(supertype, seen)
    if origin is typing.Union or origin is types.UnionType:
        return _union([_compile(arg, seen) for arg in args])
    if origin is typing.Literal:
        return _literal(args)
    base = origin if origin is not None else annotation
    if base is tuple:
        return _tuple(annotation, args, seen)
    if _member(base, _ARRAYS):
        if not args:
            return _Node({"type": "array"}, _check_list, frozenset({"array"}), "an array", True)
        return _array(_compile(args[0], seen))
    if _member(base, _OBJECTS):
        return _object(args, seen)
    if _is_typeddict(annotation):
        return _typeddict(annotation, seen)
    return _any()


def _member(value: Any, group: frozenset[Any]) -> bool:
    try:
        return value in group
    except TypeError:
        return False


def _array(item: _Node, length: int | None = None) -> _Node:
    schema: dict[str, Any] = {"type": "array", "items": item.schema}
    if length is not None:
        schema["minItems"] = schema["maxItems"] = length
    item_check = item.check
    if item_check is None and length is None:
        return _Node(schema, _check_list, frozenset({"array"}), "an array", True)

    def check(value: Any) -> None:
        if not isinstance(value, list):
            raise _Mismatch(f"must be an array, got {_got(value)}")
        if length is not None and len(value) != length:
            items = "item" if length == 1 else "items"
            raise _Mismatch(f"must be an array of {length} {items}, got {len(value)}")
        if item_check is None:
            return
        index = 0
        try:
            for index, element in enumerate(value):  # noqa: B007 -- read in the handler
                item_check(element)
        except _Mismatch as exc:
            exc.path.append(index)
            raise

    return _Node(schema, check, frozenset({"array"}), "an array")


def _tuple(annotation: Any, args: tuple[Any, ...], seen: tuple[type, ...]) -> _Node:
    if annotation is tuple or annotation is typing.Tuple:  # noqa: UP006
        return _Node({"type": "array"}, _check_list, frozenset({"array"}), "an array", True)
    if len(args) == 2 and args[1] is Ellipsis:  # tuple[T, ...]
        return _array(_compile(args[0], seen))
    if not args:  # tuple[()]
        return _Node(
            {"type": "array", "maxItems": 0}, _check_empty, frozenset({"array"}), "an empty array"
        )
    if all(arg == args[0] for arg in args):  # tuple[T, T]: a fixed length, one item type
        return _array(_compile(args[0], seen), len(args))
    # tuple[A, B] needs "prefixItems" (draft 2020-12) or "items": [...] (draft 7), which
    # mean different things to each draft: not described, not checked.
    return _any()


def _check_empty(value: Any) -> None:
    if not isinstance(value, list):
        raise _Mismatch(f"must be an array, got {_got(value)}")
    if value:
        raise _Mismatch(f"must be an empty array, got {len(value)} items")


def _object(args: tuple[Any, ...], seen: tuple[type, ...]) -> _Node:
    if len(args) != 2:
        return _Node({"type": "object"}, _check_dict, frozenset({"object"}), "an object", True)
    key, value_annotation = args
    if key is not str and key is not Any:
        # JSON keys are strings: other key types are not described, nor checked.
        return _Node({"type": "object"}, _check_dict, frozenset({"object"}), "an object", True)
    value = _compile(value_annotation, seen)
    schema = {"type": "object", "additionalProperties": value.schema}
    value_check = value.check
    if value_check is None:
        return _Node(schema, _check_dict, frozenset({"object"}), "an object", True)

    def check(obj: Any) -> None:
        if not isinstance(obj, dict):
            raise _Mismatch(f"must be an object, got {_got(obj)}")
        key = None
        try:
            for key, element in obj.items():  # noqa: B007 -- read in the handler
                value_check(element)
        except _Mismatch as exc:
            exc.path.append(key)
            raise

    return _Node(schema, check, frozenset({"object"}), "an object")


def _union(members: list[_Node]) -> _Node:
    schema = {"anyOf": [member.schema for member in members]}
    if any(member.check is None for member in members):
        return _Node(schema, None, None, "anything")
    kinds = frozenset().union(*(typing.cast(frozenset, member.kinds) for member in members))
    noun = " or ".join(dict.fromkeys(member.noun for member in members))
    if all(member.exact for member in members):

        def check_kind(value: Any) -> None:
            if _kind(value) not in kinds:
                raise _Mismatch(f"must be {noun}, got {_got(value)}")

        return _Node(schema, check_kind, kinds, noun, exact=True)
    checks = [(member.kinds, member.check) for member in members]

    def check(value: Any) -> None:
        kind = _kind(value)
        errors: list[_Mismatch] = []
        for member_kinds, member_check in checks:
            if kind in member_kinds:  # type: ignore[operator]
                try:
                    member_check(value)  # type: ignore[misc]
                except _Mismatch as exc:
                    errors.append(exc)
                else:
                    return
        if not errors:
            raise _Mismatch(f"must be {noun}, got {_got(value)}")
        # The member that got furthest into the value says best what is wrong.
        raise max(errors, key=lambda error: len(error.path))

    return _Node(schema, check, kinds, noun)


def _literal(values: tuple[Any, ...]) -> _Node:
    if not values or any(type(v) not in (str, int, bool, type(None)) for v in values):
        return _any()  # an Enum member, bytes: not JSON
    unique = list(dict.fromkeys((type(v), v) for v in values))
    literals = [v for _, v in unique]
    allowed = frozenset(unique)
    shown = [_clip(json.dumps(v)) for v in literals]
    if len(literals) == 1:
        schema: dict[str, Any] = {"const": literals[0]}
        noun = shown[0]
    else:
        schema = {"enum": literals}
        noun = "one of " + ", ".join(shown)

    def check(value: Any) -> None:
        try:
            ok = (type(value), value) in allowed
        except TypeError:  # an array or an object
            ok = False
        if not ok:
            raise _Mismatch(f"must be {noun}, got {_shown(value)}")

    return _Node(schema, check, frozenset(_kind(v) for v in literals), noun)


def _is_typeddict(annotation: Any) -> bool:
    return (
        isinstance(annotation, type)
        and issubclass(annotation, dict)
        and hasattr(annotation, "__required_keys__")
        and hasattr(annotation, "__total__")
    )


def _typeddict(annotation: type, seen: tuple[type, ...]) -> _Node:
    if annotation in seen:  # a recursive TypedDict: described and checked once
        return _any()
    hints = typing.get_type_hints(annotation)
    fields = {key: _compile(hint, (*seen, annotation)) for key, hint in hints.items()}
    required = [key for key in hints if key in annotation.__required_keys__]  # type: ignore[attr-defined]
    schema: dict[str, Any] = {
        "type": "object",
        "title": annotation.__name__,
        "properties": {key: node.schema for key, node in fields.items()},
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    checks = {key: node.check for key, node in fields.items()}

    def check(value: Any) -> None:
        if not isinstance(value, dict):
            raise _Mismatch(f"must be an object, got {_got(value)}")
        for key in required:
            if key not in value:
                raise _Mismatch(f"is missing the key {key!r}")
        for key, element in value.items():
            try:
                field_check = checks[key]
            except KeyError:
                raise _Mismatch(f"has an unexpected key {_clip(repr(key))}") from None
            if field_check is not None:
                try:
                    field_check(element)
                except _Mismatch as exc:
                    exc.path.append(key)
                    raise

    return _Node(schema, check, frozenset({"object"}), "an object")


# -- signatures: compiled once per function ----------------------------------------


class _Params:
    """A function's signature, compiled: checks params fast, describes them."""

    def __init__(self, sig: inspect.Signature, reserved: frozenset[str] = frozenset()) -> None:
        self.sig = sig
        #: The name a bound method's first parameter had (``self``): never a
        #: keyword, not even into ``**kwargs`` (the call would fail on it).
        self.reserved = reserved
        #: (parameter, its compiled annotation) of each named parameter, in order.
        self.entries: list[tuple[inspect.Parameter, _Node]] = []
        self.checks: dict[str, _Check | None] = {}
        positional: list[tuple[str, _Check | None]] = []
        keyword: dict[str, tuple[int | None, _Check | None]] = {}
        required: list[tuple[str, int | None, bool]] = []
        self.var_positional = self.var_keyword = False
        for param in sig.parameters.values():
            if param.kind is param.VAR_POSITIONAL:
                self.var_positional = True
                continue
            if param.kind is param.VAR_KEYWORD:
                self.var_keyword = True
                continue
            node = _compile(param.annotation)
            self.entries.append((param, node))
            self.checks[param.name] = node.check
            index = None
            if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
                index = len(positional)
                positional.append((param.name, node.check))
            by_keyword = param.kind is not param.POSITIONAL_ONLY
            if by_keyword:
                keyword[param.name] = (index, node.check)
            if param.default is param.empty:
                required.append((param.name, index, by_keyword))
        self.positional = tuple(positional)
        self.positional_only = frozenset(n for n, _ in positional if n not in keyword)
        self.keyword = keyword
        self.keyword_checks = tuple(
            (name, check) for name, (_, check) in keyword.items() if check is not None
        )
        self.required = tuple(required)
        self.result = (
            _compile(sig.return_annotation) if sig.return_annotation is not sig.empty else None
        )

    def check(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        """Raise -32602 when the params cannot fit; like ``sig.bind``, only faster."""
        if not args and not kwargs and not self.required:
            return None  # a call without params, of a method that needs none
        count = len(args)
        if self.reserved and not self.reserved.isdisjoint(kwargs):
            name = next(iter(self.reserved.intersection(kwargs)))
            raise JsonRpcError(INVALID_PARAMS, f"Invalid params: {name!r} is not a parameter")
        if count > len(self.positional) and not self.var_positional:
            return self._check_slowly(args, kwargs)
        keyword = self.keyword
        for key in kwargs:
            entry = keyword.get(key)
            if entry is None:
                # Signature.bind refuses a positional-only name even with **kwargs.
                if not self.var_keyword or key in self.positional_only:
                    return self._check_slowly(args, kwargs)
            elif entry[0] is not None and entry[0] < count:  # given twice
                return self._check_slowly(args, kwargs)
        for name, index, by_keyword in self.required:
            if not ((index is not None and index < count) or (by_keyword and name in kwargs)):
                return self._check_slowly(args, kwargs)
        for (name, check), value in zip(self.positional, args, strict=False):
            if check is not None:
                try:
                    check(value)
                except _Mismatch as exc:
                    raise JsonRpcError(INVALID_PARAMS, exc.message(name)) from None
        if kwargs:
            for name, check in self.keyword_checks:
                if name in kwargs:
                    try:
                        check(kwargs[name])
                    except _Mismatch as exc:
                        raise JsonRpcError(INVALID_PARAMS, exc.message(name)) from None
        return None

    def _check_slowly(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        """What is wrong, in Python's words ("missing a required argument: 'x'")."""
        try:
            bound = self.sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise JsonRpcError(INVALID_PARAMS, f"Invalid params: {exc}") from None
        for name, value in bound.arguments.items():
            check = self.checks.get(name)
            if check is not None:
                try:
                    check(value)
                except _Mismatch as exc:
                    raise JsonRpcError(INVALID_PARAMS, exc.message(name)) from None


def _params(func: Callable[..., Any]) -> _Params | None:
    """The compiled signature of ``func``, computed once per function.

    Targets are often made per request (a facade over the live crawlers), so
    their bound methods are new objects each time: the cache is keyed by the
    underlying function, and a bound method drops its first parameter.
    """
    if type(func) is types.MethodType:
        function = func.__func__
        try:
            return _bound_params(function)
        except TypeError:  # unhashable
            return _bound_params.__wrapped__(function)
    try:
        return _function_params(func)
    except TypeError:  # an unhashable callable object: no cache for it
        return _function_params.__wrapped__(func)


@functools.lru_cache(maxsize=1024)
def _function_params(func: Callable[..., Any]) -> _Params | None:
    sig = _signature(func)
    return None if sig is None else _Params(sig)


@functools.lru_cache(maxsize=1024)
def _bound_params(function: Callable[..., Any]) -> _Params | None:
    sig = _signature(function)
    if sig is None:
        return None
    if not sig.parameters:
        return _Params(sig)
    first, *rest = sig.parameters.values()
    return _Params(sig.replace(parameters=rest), reserved=frozenset({first.name}))


def _signature(func: Callable[..., Any]) -> inspect.Signature | None:
    """The signature with its string annotations evaluated, each on its own.

    ``from __future__ import annotations`` makes every annotation a string;
    one that cannot be evaluated (a name only imported for type checkers)
    stays a string, which describes and checks nothing, without losing the
    others.
    """
    try:
        return inspect.signature(func, eval_str=True)
    except Exception:  # no signature at all, or an annotation that cannot be evaluated
        logger.debug("Evaluating the annotations of %r failed", func, exc_info=True)
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    namespace = getattr(inspect.unwrap(func), "__globals__", None)
    if namespace is None:
        return sig

    def resolve(annotation: Any) -> Any:
        if not isinstance(annotation, str):
            return annotation
        try:
            # What inspect.signature(eval_str=True) does, one annotation at a time.
            return eval(annotation, namespace)  # noqa: S307
        except Exception:
            return annotation

    return sig.replace(
        parameters=[
            param.replace(annotation=resolve(param.annotation))
            for param in sig.parameters.values()
        ],
        return_annotation=resolve(sig.return_annotation),
    )


# -- OpenRPC -------------------------------------------------------------------------


def _describe(methods: Iterable[Method], title: str, version: str) -> dict[str, Any]:
    described = []
    for method in sorted(methods, key=lambda m: m.name):
        compiled = _params(method.func)
        params = []
        result_schema: dict[str, Any] = {}
        if compiled is not None:
            for param, node in compiled.entries:
                schema = copy.deepcopy(node.schema)
                if param.default is not param.empty and _is_json_scalar(param.default):
                    schema["default"] = param.default
                params.append(
                    {
                        "name": param.name,
                        "required": param.default is param.empty,
                        "schema": schema,
                    }
                )
            if compiled.result is not None:
                result_schema = copy.deepcopy(compiled.result.schema)
        doc = method.description
        described.append(
            {
                "name": method.name,
                "summary": doc.splitlines()[0] if doc else method.name,
                "description": doc,
                "params": params,
                "result": {"name": "result", "schema": result_schema},
                "x-readonly": method.readonly,
            }
        )
    return {
        "openrpc": OPENRPC_VERSION,
        "info": {"title": title or "JSON-RPC resource", "version": version},
        "methods": described,
    }


def _is_json_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, int, bool))
