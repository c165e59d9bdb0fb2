"""What one web service offers: its JSON-RPC methods and the JSON it serves on ``GET``.

Found the way any client can: ``GET /`` names the mounted resources; a
``POST`` of ``rpc.discover`` to each tells the JSON-RPC resources (they answer
with an OpenRPC document whose methods carry ``x-readonly``) from plain ones,
which answer HTTP 405 to a ``POST``, or 403 when the token is read-only
(the service refuses every state-changing request of a read-only token before
looking at the resource). That 403 is how the access of the token is learnt
without calling anything that changes the crawl.

Below a JSON-RPC resource, ``GET`` lists its methods and attributes; an
attribute is either another holder of methods (``crawler/engine``) or data
(``crawler/engine/open_spiders``). Data is offered as a read tool, never its
Python methods.

This module is synchronous (the standard-library client); the MCP server
runs it in a worker thread.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any, Literal

from scrapy_webservice.cli import JsonRpcError, WebServiceClient, WebServiceError

__all__ = [
    "Catalog",
    "DiscoveryError",
    "RpcMethod",
    "discover_catalog",
    "tool_name",
]

Access = Literal["control", "read-only", "unknown"]

#: Deepest path walked below a top-level JSON-RPC resource (``crawler/engine/open_spiders``: 2).
MAX_DEPTH = 3
#: Most paths visited on one service, whatever its plugins mount.
MAX_PATHS = 200
#: Longest tool name most MCP clients accept.
MAX_NAME = 64


class DiscoveryError(Exception):
    """The service cannot be described: unreachable, or the token is refused."""


@dataclass(frozen=True)
class RpcMethod:
    """One JSON-RPC method, as ``rpc.discover`` describes it."""

    path: str
    name: str
    description: str
    params: tuple[dict[str, Any], ...]
    readonly: bool

    @property
    def param_names(self) -> set[str]:
        return {p["name"] for p in self.params}

    def input_schema(self) -> dict[str, Any]:
        """A JSON Schema object of the method's params, from its OpenRPC description."""
        properties: dict[str, Any] = {}
        required: list[str] = []
        for param in self.params:
            properties[param["name"]] = dict(param.get("schema") or {})
            if param.get("required"):
                required.append(param["name"])
        schema: dict[str, Any] = {
            "type": "object",
            "properties": properties,
            "additionalProperties": False,
        }
        if required:
            schema["required"] = required
        return schema

    def tool_description(self) -> str:
        kind = (
            "read-only"
            if self.readonly
            else "a control method: it changes the running crawl (full token only)"
        )
        text = self.description.strip() or self.name
        return f"{text}\n\n(JSON-RPC method {self.name!r} of {self.path!r}; {kind}.)"


@dataclass
class Catalog:
    """What one service offers."""

    resources: list[str] = field(default_factory=list)
    methods: list[RpcMethod] = field(default_factory=list)
    #: Paths below JSON-RPC resources whose ``GET`` is data.
    data: list[str] = field(default_factory=list)
    #: Top-level resources that are not JSON-RPC.
    plain: list[str] = field(default_factory=list)
    #: What the token may do, as far as the service showed it.
    access: Access = "unknown"


def tool_name(*parts: str) -> str:
    """``("crawler/engine", "pause")`` -> ``crawler_engine_pause``: ``[A-Za-z0-9_-]{1,64}``."""
    joined = "_".join(p.strip("/").replace("/", "_") for p in parts if p)
    name = re.sub(r"[^A-Za-z0-9_-]", "_", joined)
    return name[:MAX_NAME]


def _is_listing(value: Any) -> bool:
    """Whether a ``GET`` answer is a JSON-RPC resource's list of methods and attributes."""
    return (
        isinstance(value, dict)
        and set(value) == {"methods", "attributes"}
        and isinstance(value["methods"], list)
        and isinstance(value["attributes"], list)
    )


def _parse_openrpc(path: str, document: Any) -> list[RpcMethod]:
    if not isinstance(document, dict) or not isinstance(document.get("methods"), list):
        return []
    methods = []
    for item in document["methods"]:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            continue
        name = item["name"]
        if name.startswith("rpc.") or name.startswith("_"):
            continue
        params = tuple(
            p
            for p in item.get("params") or []
            if isinstance(p, dict) and isinstance(p.get("name"), str)
        )
        methods.append(
            RpcMethod(
                path=path,
                name=name,
                description=str(item.get("description") or item.get("summary") or ""),
                params=params,
                # Fail closed: a method not marked read-only is a control method.
                readonly=item.get("x-readonly") is True,
            )
        )
    return methods


def _fatal(exc: WebServiceError) -> bool:
    """Errors that end the discovery of the whole service."""
    return exc.status is None or exc.status == 401


def discover_catalog(client: WebServiceClient) -> Catalog:
    """Describe the service ``client`` talks to; raises :class:`DiscoveryError`."""
    catalog = Catalog()
    try:
        root = client.get("")
    except WebServiceError as exc:
        raise DiscoveryError(exc.message) from None
    names = root.get("resources") if isinstance(root, dict) else None
    if not isinstance(names, list):
        raise DiscoveryError(f"{client.url} does not list its resources: is it a web service?")
    catalog.resources = [n for n in names if isinstance(n, str) and n]
    seen = 0
    answers: set[int] = set()
    rpc: list[tuple[str, Any]] = []
    for name in catalog.resources:
        try:
            rpc.append((name, client.call(name, "rpc.discover")))
        except JsonRpcError:
            continue  # JSON-RPC without rpc.discover: nothing to describe it by
        except WebServiceError as exc:
            if _fatal(exc):
                raise DiscoveryError(exc.message) from None
            if exc.status in (403, 405):
                catalog.plain.append(name)
                answers.add(exc.status)
    if 405 in answers:
        catalog.access = "control"  # a POST got as far as the resource: the full token
    elif 403 in answers:
        catalog.access = "read-only"

    def walk(path: str, depth: int, document: Any = None) -> None:
        nonlocal seen
        seen += 1
        if seen > MAX_PATHS:
            return
        try:
            value = client.get(path)
        except WebServiceError as exc:
            if _fatal(exc):
                raise DiscoveryError(exc.message) from None
            return
        if not _is_listing(value):
            catalog.data.append(path)
            return
        if document is None:
            try:
                document = client.call(path, "rpc.discover")
            except JsonRpcError:
                document = None
            except WebServiceError as exc:
                if _fatal(exc):
                    raise DiscoveryError(exc.message) from None
                document = None
        catalog.methods.extend(_parse_openrpc(path, document))
        if depth >= MAX_DEPTH:
            return
        for attribute in value["attributes"]:
            if isinstance(attribute, str) and attribute.isidentifier():
                walk(f"{path}/{attribute}", depth + 1)

    for name, document in rpc:
        walk(name, 1, document)
    return catalog
