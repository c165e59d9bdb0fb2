"""``JsonRpcResource``: JSON-RPC 2.0 over ``POST`` on a target object, and its paths.

What a target offers is declared, never probed:

- its public methods are JSON-RPC methods (``@readonly`` ones for both
  tokens, every other one for the full token); a read-only method's own
  path also answers ``GET``, params from the query string;
- attributes declared ``@data`` (or named in ``data_attributes``) answer
  ``GET`` on their path with their value;
- attributes named in ``exposed`` that are neither are walked into, as
  another JSON-RPC resource over their value (``crawler/engine``).

Names starting with ``_`` are never reachable, whatever is declared.
"""

from __future__ import annotations

import inspect
import json
import logging
import types
from collections.abc import Awaitable, Iterator, Mapping
from typing import TYPE_CHECKING, Any, ClassVar

from scrapy.utils.defer import maybe_deferred_to_future
from twisted.internet.defer import Deferred

from ..rpc.dispatch import Dispatcher, Method
from ..rpc.encoding import dumps
from ..rpc.errors import HttpError, rpc_error
from ..rpc.markers import Access, is_data, readonly_mark
from ..rpc.secret import Secret
from .resource import JsonResource, RawJson, write_error
from .settings import DEFAULTS

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from twisted.web.resource import Resource
    from twisted.web.server import Request

__all__ = ["JsonRpcResource"]

logger = logging.getLogger(__name__)
audit_logger = logging.getLogger("scrapy_webservice.audit")


class _MethodTable(Mapping[str, Method]):
    """The methods a JSON-RPC resource offers on one target, resolved lazily by name.

    Properties are looked up statically so that listing the methods never
    runs a property's getter.
    """

    def __init__(self, resource: JsonRpcResource, target: Any) -> None:
        self.resource = resource
        self.target = target
        #: Methods found, by name: a dispatcher's table lives as long as its target,
        #: and resolving a name (static lookups) cost more than the call it answers.
        self._found: dict[str, Method] = {}

    def __getitem__(self, name: str) -> Method:
        found = self._found.get(name)
        if found is not None:
            return found
        found = self._found[name] = self._resolve(name)
        return found

    def get(self, name: str, default: Any = None) -> Any:
        # Mapping.get, with a found method answered first (it runs on every call).
        found = self._found.get(name)
        if found is not None:
            return found
        try:
            return self[name]
        except KeyError:
            return default

    def _resolve(self, name: str) -> Method:
        if not self.resource.exposes(name) or isinstance(self.target, Secret):
            raise KeyError(name)
        try:
            static = inspect.getattr_static(self.target, name)
        except AttributeError:
            raise KeyError(name) from None
        # Decided from the class (or instance) dict alone: a property, a
        # cached_property or any other descriptor is never run to find out,
        # and methods of built-in types (``list.append``) are data, not an API.
        if not (
            inspect.isfunction(static)
            or isinstance(static, (staticmethod, classmethod, types.MethodType))
        ):
            raise KeyError(name)
        func = getattr(self.target, name)  # binding a function runs no code of the target
        marked = readonly_mark(func)
        readonly_ = name in self.resource.readonly_methods if marked is None else marked
        return Method(name, func, readonly=readonly_)

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

    Its public methods are the JSON-RPC methods: *control* methods unless
    marked :func:`~scrapy_webservice.readonly` (or listed in
    ``readonly_methods``); only the full token may call control methods.
    ``GET`` lists the methods and attributes; ``GET`` on a read-only
    method's path calls it (``GET stats/get_stats?spider=demo``).

    Attributes are reachable only when declared: with
    :func:`~scrapy_webservice.data` on the target's class (or in
    ``data_attributes``), ``GET`` on their path answers their value
    (``crawler/engine/open_spiders``); named in ``exposed``, their path is
    a JSON-RPC resource over their value (``crawler/engine``). ``exposed``
    also narrows the methods offered, when it is set.
    """

    #: Names reachable on the target (methods and attributes); ``None``: every
    #: public method, and the attributes declared ``@data``.
    exposed: ClassVar[frozenset[str] | None] = None
    #: Methods treated as ``@readonly``, for targets whose class you do not own.
    readonly_methods: ClassVar[frozenset[str]] = frozenset()
    #: Attributes answered as data, for targets whose class you do not own.
    data_attributes: ClassVar[frozenset[str]] = frozenset()

    def __init__(self, crawler: Crawler, target: Any = None) -> None:
        super().__init__(crawler)
        self._target = target
        #: The dispatcher and the children found (by path segment) of
        #: ``_dispatched``, the target they were made for.
        self._dispatcher: Dispatcher | None = None
        self._dispatched: Any = None
        self._children: dict[str, Resource] = {}

    def get_target(self) -> Any:
        """The object whose methods this resource calls; override to compute it.

        Return the same object each time when you can (build it once, as the
        built-ins do): the JSON-RPC dispatcher is then built once too.
        """
        return self._target

    def dispatcher(self, target: Any = None) -> Dispatcher:
        """The JSON-RPC dispatcher of ``target`` (by default ``get_target()``), built once."""
        if target is None:
            target = self.get_target()
        if self._dispatcher is None or self._dispatched is not target:
            self._dispatcher = Dispatcher(
                _MethodTable(self, target), title=self.rpc_path(), version=_version()
            )
            self._dispatched = target
            self._children = {}
        return self._dispatcher

    def rpc_path(self) -> str:
        """The path under the root (``/crawler/engine``): the title of ``rpc.discover``."""
        return f"/{self.ws_name}"

    def exposes(self, name: str) -> bool:
        """Whether ``name`` may be reached at all (methods included)."""
        if not name or name.startswith("_") or not name.isidentifier():
            return False
        return self.exposed is None or name in self.exposed or name in self.data_attributes

    def methods(self, target: Any = None) -> Mapping[str, Method]:
        """The JSON-RPC methods offered on ``target`` (by default ``get_target()``)."""
        return self.dispatcher(target).methods

    def attribute_kind(self, target: Any, name: str) -> str | None:
        """``"method"``, ``"data"``, ``"object"`` or ``None`` (not reachable), as declared."""
        if not self.exposes(name):
            return None
        try:
            static = inspect.getattr_static(target, name)
        except AttributeError:
            return None
        if is_data(static) or name in self.data_attributes:
            return "data"
        if name in self.methods(target):
            return "method"
        if self.exposed is not None and name in self.exposed:
            return "object"
        return None

    def child(self, name: str, request: Request) -> Resource | None:
        target = self.get_target()
        self.dispatcher(target)  # a new target: its children are found anew
        # Kept while the target is the same object: what a name is does not
        # change, and working it out (static lookups) cost more than the answer.
        # Only names that exist are kept, so no request can make this grow.
        child = self._children.get(name)
        if child is not None:
            return child
        kind = self.attribute_kind(target, name)
        if kind == "method":
            child = _MethodResource(self, name)
        elif kind == "data":
            child = _DataResource(self, name)
        elif kind == "object":
            child = _AttributeResource(self, name)  # kept: its dispatcher is built once too
        if child is not None:
            self._children[name] = child
        return child

    def render_GET(self, txrequest: Request) -> Any:
        target = self.get_target()
        methods = self.methods(target)
        candidates = set(dir(target)) | self.data_attributes | (self.exposed or frozenset())
        return {
            "methods": [{"name": name, "readonly": methods[name].readonly} for name in methods],
            "attributes": sorted(
                name
                for name in candidates
                if self.attribute_kind(target, name) in ("data", "object")
            ),
        }

    def render_POST(self, txrequest: Request) -> Any:
        # Fail closed: a request that did not pass the guarding site may do nothing.
        access = getattr(txrequest, "webservice_access", Access.NONE)
        body = txrequest.content.read() if txrequest.content is not None else b""
        bound = self._found_api or self._bound_api()
        config = None if bound is None else bound.config
        max_batch_size = (
            DEFAULTS["WEBSERVICE_MAX_BATCH_SIZE"] if config is None else config.max_batch_size
        )

        def audit(method: Method, params: Any) -> None:
            peer = txrequest.getClientAddress()
            audit_logger.info(
                "Control call %s %s(%s) from %s",
                self.rpc_path(),
                method.name,
                dumps(params) if params is not None else "",
                getattr(peer, "host", peer),
            )

        answer = self.dispatcher().handle(
            body,
            allow_control=access >= Access.CONTROL,
            max_batch_size=max_batch_size,
            debug=config is not None and config.debug,  # self.debug, without a second lookup
            adapt_result=_awaitable_deferred,
            audit=audit,
            dumps=self.dumps,
            map_error=rpc_error,
        )
        if answer is None:
            return None
        if isinstance(answer, str):
            return RawJson(answer)
        return _raw_later(answer)

    def _encode(self, request: Request, result: Any) -> bytes:
        if result is None and request.method == b"POST":
            # Only notifications: JSON-RPC says "nothing", HTTP says 204.
            request.setResponseCode(204)
            return b""
        return super()._encode(request, result)


class _AttributeResource(JsonRpcResource):
    """``parent/name``: a JSON-RPC resource over the attribute ``name`` of the parent's target."""

    def __init__(self, parent: JsonRpcResource, name: str) -> None:
        super().__init__(parent.crawler)
        self.parent = parent
        self.name = name

    def get_target(self) -> Any:
        return _read(self.parent, self.name)

    def rpc_path(self) -> str:
        return f"{self.parent.rpc_path()}/{self.name}"


class _DataResource(JsonResource):
    """``parent/name`` of an attribute declared as data: ``GET`` answers its value."""

    def __init__(self, parent: JsonRpcResource, name: str) -> None:
        super().__init__(parent.crawler)
        self.parent = parent
        self.name = name

    def render_GET(self, txrequest: Request) -> Any:
        return _read(self.parent, self.name)


class _MethodResource(JsonResource):
    """``parent/method``: ``GET`` calls a read-only method, params from the query string.

    Each query value is parsed as JSON, or else taken as a string
    (``?spider=demo``, ``?limit=10``, ``?spider=null``); a key given twice
    is a 400. Params are checked as a JSON-RPC call's are, with the same
    message. Control methods answer 405: they are called by ``POST`` only.
    """

    def __init__(self, parent: JsonRpcResource, name: str) -> None:
        super().__init__(parent.crawler)
        self.parent = parent
        self.name = name

    def render_GET(self, txrequest: Request) -> Any:
        # The parent's methods (never rpc.discover: its name is not a path segment).
        method = self.parent.dispatcher().methods.get(self.name)
        if method is None:
            raise HttpError(404, f"No such resource: {self.name!r}")
        if not method.readonly:
            raise HttpError(
                405,
                f"{self.name!r} is a control method: call it with a JSON-RPC POST"
                f" to {self.parent.rpc_path()}",
            )
        kwargs = _query_params(txrequest) if txrequest.args else {}
        params = method.params
        if params is not None:
            params.check((), kwargs)  # the -32602 checks, as 400s
        # An awaitable or a Deferred is answered when it fires, as any resource's.
        return method.func(**kwargs)

    def render(self, request: Request) -> bytes | int:
        if request.method not in (b"GET", b"HEAD"):
            request.setHeader(b"Allow", b"GET")
            method = request.method.decode("ascii", "replace")
            return write_error(
                request, 405, f"Method {method} not allowed here; use GET, or POST to its resource"
            )
        return JsonResource.render(self, request)  # by name: cheaper than super()


def _read(parent: JsonRpcResource, name: str) -> Any:
    try:
        value = getattr(parent.get_target(), name)
    except AttributeError:
        raise HttpError(404, f"No such resource: {name!r}") from None
    if isinstance(value, Secret):
        raise HttpError(404, f"No such resource: {name!r}")  # never a token, even if declared
    return value


def _query_params(request: Request) -> dict[str, Any]:
    params: dict[str, Any] = {}
    for raw_key, values in (request.args or {}).items():
        key = raw_key.decode("utf-8", "replace")
        if len(values) != 1:
            raise HttpError(
                400, f"Query parameter {key!r} given {len(values)} times; give it once"
            )
        text = values[0].decode("utf-8", "replace")
        try:
            params[key] = json.loads(text, parse_constant=_not_json)
        except (ValueError, RecursionError):  # not JSON, or nested too deep: a string
            params[key] = text
    return params


async def _raw_later(answer: Awaitable[str | None]) -> RawJson | None:
    text = await answer
    return None if text is None else RawJson(text)


def _not_json(name: str) -> Any:
    """``NaN`` and ``Infinity`` are not JSON: ``?spider=NaN`` is the string."""
    raise ValueError(name)


#: Results that are never a Deferred, answered without ``isinstance(result, Deferred)``:
#: Deferred is an ABC (``Awaitable``), and that check cost more than the rest of the call.
_PLAIN_RESULTS = frozenset({dict, list, str, int, float, bool, type(None)})


def _awaitable_deferred(result: Any) -> Any:
    """Let a coroutine await a method's Deferred under either reactor."""
    if type(result) in _PLAIN_RESULTS:
        return result
    if isinstance(result, Deferred):
        return maybe_deferred_to_future(result)
    return result


def _version() -> str:
    from .. import __version__

    return __version__
