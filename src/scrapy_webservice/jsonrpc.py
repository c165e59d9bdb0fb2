"""JSON-RPC 2.0, the whole specification, and nothing else.

This module is pure: it imports nothing from Twisted or Scrapy, so the
protocol can be read and tested on its own (``tests/test_jsonrpc.py`` runs
every example of section 7 of https://www.jsonrpc.org/specification).
Transport concerns (HTTP status, authentication, turning Deferreds into
awaitables) belong to the caller, which hands :func:`handle` a table of
methods and gets back the response text.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import traceback
import types
import typing
from collections.abc import Awaitable, Callable, Iterable, Mapping
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


def error_response(
    code: int, message: str | None = None, data: Any = None, id: Any = None
) -> dict[str, Any]:
    """A whole response object carrying an error, for errors raised outside a call."""
    return {"jsonrpc": "2.0", "error": JsonRpcError(code, message, data).to_dict(), "id": id}


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
) -> str | None:
    """Answer one JSON-RPC request body; ``None`` means "send no body".

    A batch whose members are all notifications, or a single notification,
    gets no body, as the specification requires. ``adapt_result`` turns a
    method's result into something awaitable when the caller's event loop
    needs it (Twisted Deferreds under asyncio); ``audit`` is told about each
    control call before it runs. Each response is encoded with ``dumps`` on
    its own, so a result that cannot be encoded becomes that call's
    ``-32603`` instead of breaking the whole batch.
    """
    try:
        payload = json.loads(body, parse_constant=_refuse_constant)
    except (ValueError, RecursionError) as exc:
        return dumps(error_response(PARSE_ERROR, f"Parse error: {_short(exc)}"))
    call = _Caller(methods, title, version, allow_control, debug, adapt_result, audit, dumps)
    if isinstance(payload, list):
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
        answers = [await call(item) for item in payload]
        parts = [a for a in answers if a is not None]
        return "[" + ",".join(parts) + "]" if parts else None
    return await call(payload)


def _refuse_constant(name: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON (Python's parser accepts them)."""
    raise ValueError(f"{name} is not valid JSON")


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:200] + "..."


class _Caller:
    """Runs one request object of a (possibly batched) body."""

    def __init__(
        self,
        methods: Mapping[str, Method],
        title: str,
        version: str,
        allow_control: bool,
        debug: bool,
        adapt_result: Callable[[Any], Any] | None,
        audit: Callable[[Method, Any], None] | None,
        dumps: Callable[[Any], str],
    ) -> None:
        self.methods = methods
        self.title = title
        self.version = version
        self.allow_control = allow_control
        self.debug = debug
        self.adapt_result = adapt_result
        self.audit = audit
        self.dumps = dumps

    async def __call__(self, request: Any) -> str | None:
        try:
            method, args, kwargs, request_id = self._validate(request)
        except _Silent:
            return None
        except JsonRpcError as exc:
            return self.dumps({"jsonrpc": "2.0", "error": exc.to_dict(), "id": _safe_id(request)})
        try:
            result = await self._invoke(method, args, kwargs, request.get("params"))
        except JsonRpcError as exc:
            if request_id is _NO_ID:
                return None
            return self.dumps({"jsonrpc": "2.0", "error": exc.to_dict(), "id": request_id})
        if request_id is _NO_ID:
            return None
        try:
            return self.dumps({"jsonrpc": "2.0", "result": result, "id": request_id})
        except (TypeError, ValueError, RecursionError) as exc:
            logger.error(
                "JSON-RPC method %s returned a value that is not JSON: %s", method.name, exc
            )
            error = self._internal_error(exc, "the result could not be encoded as JSON")
            return self.dumps({"jsonrpc": "2.0", "error": error.to_dict(), "id": request_id})

    def _validate(self, request: Any) -> tuple[Method, list[Any], dict[str, Any], Any]:
        if not isinstance(request, dict):
            raise JsonRpcError(INVALID_REQUEST, "Invalid Request: expected an object")
        if request.get("jsonrpc") != "2.0":
            raise JsonRpcError(INVALID_REQUEST, 'Invalid Request: "jsonrpc" must be "2.0"')
        request_id = request.get("id", _NO_ID)
        if request_id is not _NO_ID and not _valid_id(request_id):
            raise JsonRpcError(
                INVALID_REQUEST, 'Invalid Request: "id" must be a string, number or null'
            )
        name = request.get("method")
        if not isinstance(name, str):
            raise JsonRpcError(INVALID_REQUEST, 'Invalid Request: "method" must be a string')
        params = request.get("params", [])
        if isinstance(params, list):
            args, kwargs = list(params), {}
        elif isinstance(params, dict):
            args, kwargs = [], dict(params)
        else:
            raise JsonRpcError(
                INVALID_REQUEST, 'Invalid Request: "params" must be an array or object'
            )
        if name == "rpc.discover":
            method = Method("rpc.discover", self._discover, readonly=True)
        else:
            try:
                method = self.methods.get(name)
            except Exception as exc:  # a lookup that runs code (a descriptor) and fails
                logger.exception("JSON-RPC method lookup of %r raised", name)
                raise self._internal_error(exc) from exc
            if method is None:
                # A notification of an unknown method is still a notification.
                if request_id is _NO_ID:
                    raise _Silent
                raise JsonRpcError(METHOD_NOT_FOUND, f"Method not found: {name!r}")
        return method, args, kwargs, request_id

    def _discover(self) -> dict[str, Any]:
        """Describe this resource's methods as an OpenRPC document."""
        return discover(self.methods.values(), title=self.title, version=self.version)

    async def _invoke(
        self, method: Method, args: list[Any], kwargs: dict[str, Any], params: Any
    ) -> Any:
        # Permission first: a read-only caller learns nothing about a control
        # method's params.
        if not method.readonly and not self.allow_control:
            raise JsonRpcError(
                FORBIDDEN,
                f"Forbidden: {method.name!r} is a control method; this token is read-only",
            )
        _check_params(method, args, kwargs)
        if not method.readonly and self.audit is not None:
            self.audit(method, params)
        try:
            result = method.func(*args, **kwargs)
            if self.adapt_result is not None:
                result = self.adapt_result(result)
            if inspect.isawaitable(result):
                result = await typing.cast(Awaitable[Any], result)
        except JsonRpcError:
            raise
        except Exception as exc:
            logger.exception("JSON-RPC method %s raised", method.name)
            raise self._internal_error(exc) from exc
        return result

    def _internal_error(self, exc: BaseException, message: str | None = None) -> JsonRpcError:
        data = None
        if self.debug:
            data = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
        return JsonRpcError(
            INTERNAL_ERROR, f"Internal error: {message or type(exc).__name__}", data
        )


class _Silent(JsonRpcError):
    """A failed notification: nothing is sent back."""

    def __init__(self) -> None:
        super().__init__(METHOD_NOT_FOUND)


def _valid_id(value: Any) -> bool:
    return value is None or (isinstance(value, (str, int, float)) and not isinstance(value, bool))


def _safe_id(request: Any) -> Any:
    """The id to echo in an error: the request's when it is valid, else null."""
    if isinstance(request, dict):
        request_id = request.get("id")
        if _valid_id(request_id):
            return request_id
    return None


def _signature(func: Callable[..., Any]) -> inspect.Signature | None:
    """The signature params are checked against, computed once per function.

    Targets are often made per request (a facade over the live crawlers), so
    their bound methods are new objects each time: the cache is keyed by the
    underlying function, and a bound method drops its first parameter.
    """
    function = getattr(func, "__func__", None)
    try:
        if function is not None and inspect.ismethod(func):
            return _bound_signature(function)
        return _function_signature(func)
    except TypeError:  # an unhashable callable object: no cache for it
        return _function_signature.__wrapped__(func)


@functools.lru_cache(maxsize=1024)
def _function_signature(func: Callable[..., Any]) -> inspect.Signature | None:
    try:
        return inspect.signature(func, eval_str=True)
    except (TypeError, ValueError, NameError):
        try:
            return inspect.signature(func)
        except (TypeError, ValueError):
            return None


@functools.lru_cache(maxsize=1024)
def _bound_signature(function: Callable[..., Any]) -> inspect.Signature | None:
    sig = _function_signature(function)
    if sig is None or not sig.parameters:
        return sig
    return sig.replace(parameters=list(sig.parameters.values())[1:])


_SIMPLE_TYPES: dict[Any, tuple[type, ...]] = {
    str: (str,),
    int: (int,),
    float: (int, float),
    bool: (bool,),
    list: (list,),
    dict: (dict,),
    type(None): (type(None),),
}


def _accepted_types(annotation: Any) -> tuple[type, ...] | None:
    """The JSON-decoded Python types an annotation accepts, or None for "any"."""
    if annotation in _SIMPLE_TYPES:
        return _SIMPLE_TYPES[annotation]
    origin = typing.get_origin(annotation)
    if origin in (list, dict):
        return (origin,)
    if origin in (typing.Union, types.UnionType):
        accepted: list[type] = []
        for arg in typing.get_args(annotation):
            types_ = _accepted_types(arg)
            if types_ is None:
                return None
            accepted.extend(types_)
        return tuple(accepted)
    return None


def _check_params(method: Method, args: list[Any], kwargs: dict[str, Any]) -> None:
    """Raise -32602 before the call when the params cannot fit the signature."""
    sig = _signature(method.func)
    if sig is None:
        return
    try:
        bound = sig.bind(*args, **kwargs)
    except TypeError as exc:
        raise JsonRpcError(INVALID_PARAMS, f"Invalid params: {exc}") from None
    for name, value in bound.arguments.items():
        param = sig.parameters[name]
        if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
            continue
        accepted = _accepted_types(param.annotation)
        if accepted is None:
            continue
        ok = isinstance(value, accepted) and not (isinstance(value, bool) and bool not in accepted)
        if not ok:
            expected = " or ".join(sorted({_json_type(t) for t in accepted}))
            raise JsonRpcError(
                INVALID_PARAMS,
                f"Invalid params: {name!r} must be {expected}, got {_json_type(type(value))}",
            )


def _json_type(py_type: type) -> str:
    return {
        str: "a string",
        int: "an integer",
        float: "a number",
        bool: "a boolean",
        list: "an array",
        dict: "an object",
        type(None): "null",
    }.get(py_type, py_type.__name__)


def _schema(annotation: Any) -> dict[str, Any]:
    """A JSON Schema for an annotation; ``{}`` (anything) when it is not simple."""
    names = {str: "string", int: "integer", float: "number", bool: "boolean", type(None): "null"}
    if annotation is None:  # "-> None" evaluates to None, not NoneType
        annotation = type(None)
    if annotation in names:
        return {"type": names[annotation]}
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if annotation is list or origin is list:
        return {"type": "array", "items": _schema(args[0])} if args else {"type": "array"}
    if annotation is dict or origin is dict:
        schema: dict[str, Any] = {"type": "object"}
        if len(args) == 2:
            schema["additionalProperties"] = _schema(args[1])
        return schema
    if origin in (typing.Union, types.UnionType):
        return {"anyOf": [_schema(arg) for arg in args]}
    return {}


def discover(methods: Iterable[Method], *, title: str, version: str = "0") -> dict[str, Any]:
    """An OpenRPC document describing ``methods``, what ``rpc.discover`` returns.

    Each method carries ``x-readonly`` so that a client (the MCP plugin, a
    dashboard) can offer control methods only to callers allowed to use them.
    """
    described = []
    for method in sorted(methods, key=lambda m: m.name):
        sig = _signature(method.func)
        params = []
        result_schema: dict[str, Any] = {}
        if sig is not None:
            for param in sig.parameters.values():
                if param.kind in (param.VAR_POSITIONAL, param.VAR_KEYWORD):
                    continue
                entry: dict[str, Any] = {
                    "name": param.name,
                    "required": param.default is param.empty,
                    "schema": _schema(param.annotation),
                }
                if param.default is not param.empty and _is_json_scalar(param.default):
                    entry["schema"]["default"] = param.default
                params.append(entry)
            if sig.return_annotation is not sig.empty:
                result_schema = _schema(sig.return_annotation)
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
    return value is None or isinstance(value, (str, int, float, bool))
