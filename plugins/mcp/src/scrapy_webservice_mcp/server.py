"""The MCP server: the attached services' methods as tools, their live numbers as resources.

Tools:

- one per JSON-RPC method (``stats_get_stats``, ``crawler_engine_pause``…):
  input schema and description from the method's ``rpc.discover`` entry;
  control methods (``x-readonly`` false) only when the token may call them
  and ``--read-only`` is not given;
- one per JSON ``GET`` (``get_enginestatus``, ``get_crawler_engine_open_spiders``…);
- ``list_services``: the services attached, their access and resources.

With several services (discovery mode), every tool takes an optional
``service`` (URL, ``host:port`` or process id); without it, a call goes to
the only service that offers the tool, or to the one running the ``spider``
argument.

Errors of a call (a JSON-RPC error, a service that went away) come back as
tool results with ``isError`` and the service's message; nothing here raises
into the MCP session. No tool runs code: each is one JSON-RPC call or one
``GET`` of the web service.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.to_thread
from mcp import types
from mcp.server.context import ServerRequestContext
from mcp.server.lowlevel import NotificationOptions, Server
from mcp.shared.exceptions import MCPError
from scrapy_webservice.cli import JsonRpcError, WebServiceError

from . import __version__
from .catalog import RpcMethod, tool_name
from .services import AttachedService, ServiceSet

__all__ = ["McpBridge", "run_stdio"]

logger = logging.getLogger(__name__)

FORBIDDEN = -32003
URI_SCHEME = "scrapy-webservice"
SELECTOR = "service"

INSTRUCTIONS = """\
Tools to watch and steer running Scrapy crawls through their web service \
(scrapy-webservice). Read live numbers with stats_get_stats, stats_get_rates \
(pages and items per minute, state, requests in flight) and get_enginestatus; \
list the running spiders with get_crawler_engine_open_spiders. When the token \
allows it, crawler_engine_pause, crawler_engine_unpause and \
crawler_engine_close_spider steer a spider by name. list_services shows which \
crawls are attached and what they allow."""

#: Descriptions of the built-in resources served on ``GET``.
GET_DESCRIPTIONS = {
    "enginestatus": (
        "Scrapy's engine status of every running spider, or of `spider`: the engine's"
        " internals (as the telnet console's est()), plus state (running, pausing, paused,"
        " closing), requests in flight and live rates."
    ),
    "plugins": "The web service plugins that loaded, and those that failed and why.",
    "crawler/engine/open_spiders": "Names of the spiders running now.",
    "crawler/extensions": "The enabled Scrapy extensions of each running crawler, by spider name.",
}
#: Plain (not JSON-RPC) resources known to answer ``GET`` with JSON; others
#: (an event stream, a page, metrics text) are not offered.
KNOWN_PLAIN = ("enginestatus", "plugins")

#: MCP resources of each service: name -> (title, description, how to read it).
RESOURCES: dict[str, tuple[str, str, tuple[str, str]]] = {
    "stats": ("stats", "All stats of the crawl (stats.get_stats).", ("call", "stats/get_stats")),
    "rates": (
        "rates",
        "Live rates of each running spider: pages, items, errors and retries per minute,"
        " state and requests in flight (stats.get_rates).",
        ("call", "stats/get_rates"),
    ),
    "enginestatus": ("engine status", GET_DESCRIPTIONS["enginestatus"], ("get", "enginestatus")),
    "open_spiders": (
        "open spiders",
        GET_DESCRIPTIONS["crawler/engine/open_spiders"],
        ("get", "crawler/engine/open_spiders"),
    ),
}


class ToolError(Exception):
    """A call that cannot be made; its message goes back to the agent."""


@dataclass
class ToolEntry:
    """A tool and where its calls go."""

    tool: types.Tool
    kind: str  # "rpc", "get" or "services"
    key: tuple[str, ...] = ()  # what the tool reaches: ("rpc", path, method) or ("get", path)
    method: RpcMethod | None = None
    path: str = ""
    spider_subpath: bool = False
    selector: bool = False
    services: list[AttachedService] = field(default_factory=list)


def _selector_schema() -> dict[str, Any]:
    return {
        "type": "string",
        "description": "Which web service: its URL, host:port or process id (see"
        " list_services); only needed when several crawls offer this tool and no"
        " `spider` tells them apart.",
    }


def _get_tool(name: str, path: str, description: str, spider: bool, selector: bool) -> types.Tool:
    properties: dict[str, Any] = {}
    if spider:
        properties["spider"] = {
            "type": "string",
            "description": "Only this running spider (default: every one).",
        }
    if selector:
        properties[SELECTOR] = _selector_schema()
    return types.Tool(
        name=name,
        title=f"GET {path}",
        description=description,
        input_schema={"type": "object", "properties": properties, "additionalProperties": False},
        annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
    )


def build_tools(
    services: list[AttachedService], *, read_only: bool, discovering: bool
) -> dict[str, ToolEntry]:
    """The tools the attached services offer (newest service first wins a name)."""
    entries: dict[str, ToolEntry] = {
        "list_services": ToolEntry(
            types.Tool(
                name="list_services",
                title="Attached web services",
                description="The Scrapy web services this server is attached to: URL, process"
                " id, access (control or read-only), resources, or why one cannot be reached.",
                input_schema={"type": "object", "properties": {}, "additionalProperties": False},
                annotations=types.ToolAnnotations(read_only_hint=True, open_world_hint=False),
            ),
            "services",
        )
    }

    def add(name: str, make: Callable[[], ToolEntry], service: AttachedService) -> None:
        entry = entries.get(name)
        if entry is None:
            entry = entries[name] = make()
        elif entry.key != make().key:
            # Two different things with one tool name (a/b.c and a.b_c): the first keeps it.
            logger.warning("%s of %s: tool name %r already taken", make().key, service.url, name)
            return
        entry.services.append(service)

    for service in services:
        catalog = service.catalog
        if catalog is None:
            continue
        control = service.allows_control(read_only)
        for method in catalog.methods:
            if not method.readonly and not control:
                continue
            add(tool_name(method.path, method.name), _rpc_maker(method, discovering), service)
        for path in catalog.data:
            description = GET_DESCRIPTIONS.get(path, f"The current value of {path!r}, as JSON.")
            add(tool_name("get", path), _get_maker(path, description, False, discovering), service)
        for path in KNOWN_PLAIN:
            if path in catalog.plain:
                spider = path == "enginestatus"
                add(
                    tool_name("get", path),
                    _get_maker(path, GET_DESCRIPTIONS[path], spider, discovering),
                    service,
                )
    return entries


def _rpc_maker(method: RpcMethod, discovering: bool) -> Callable[[], ToolEntry]:
    def make() -> ToolEntry:
        schema = method.input_schema()
        selector = discovering and SELECTOR not in method.param_names
        if selector:
            schema["properties"][SELECTOR] = _selector_schema()
        tool = types.Tool(
            name=tool_name(method.path, method.name),
            title=f"{method.path}: {method.name}",
            description=method.tool_description(),
            input_schema=schema,
            annotations=types.ToolAnnotations(
                read_only_hint=method.readonly, open_world_hint=False
            ),
        )
        return ToolEntry(
            tool,
            "rpc",
            key=("rpc", method.path, method.name),
            method=method,
            path=method.path,
            selector=selector,
        )

    return make


def _get_maker(
    path: str, description: str, spider: bool, discovering: bool
) -> Callable[[], ToolEntry]:
    def make() -> ToolEntry:
        name = tool_name("get", path)
        tool = _get_tool(name, path, description, spider, discovering)
        return ToolEntry(
            tool,
            "get",
            key=("get", path),
            path=path,
            spider_subpath=spider,
            selector=discovering,
        )

    return make


def _dumps(value: Any) -> str:
    return json.dumps(value, indent=2, sort_keys=True, ensure_ascii=False, default=str)


def _ok(value: Any) -> types.CallToolResult:
    return types.CallToolResult(
        content=[types.TextContent(text=_dumps(value))],
        structured_content=value if isinstance(value, dict) else None,
    )


def _error(message: str) -> types.CallToolResult:
    return types.CallToolResult(content=[types.TextContent(text=message)], is_error=True)


def _service_error(service: AttachedService, exc: WebServiceError) -> str:
    if exc.status is None:
        return (
            f"The web service at {service.url} is gone or unreachable (the crawl may have"
            f" ended): {exc.message}"
        )
    return f"The web service at {service.url} answered {exc.message}"


class McpBridge:
    """State and handlers of the MCP server over a :class:`ServiceSet`."""

    def __init__(self, services: ServiceSet, *, read_only: bool = False) -> None:
        self.services = services
        self.read_only = read_only
        self._lock = anyio.Lock()
        self._listed: set[str] | None = None
        self._entries: dict[str, ToolEntry] = {}

    # -- state ---------------------------------------------------------------------

    async def refresh(self) -> list[AttachedService]:
        async with self._lock:
            services = await anyio.to_thread.run_sync(self.services.refresh)
            self._entries = build_tools(
                services, read_only=self.read_only, discovering=self.services.discovering
            )
            return services

    async def _announce_changes(self, ctx: ServerRequestContext[Any] | None) -> None:
        """Tell the client when the tools changed since it listed them."""
        names = set(self._entries)
        if self._listed is None or names == self._listed or ctx is None:
            return
        self._listed = names
        try:
            await ctx.session.send_tool_list_changed()
            await ctx.session.send_resource_list_changed()
        except Exception as exc:  # an older client or another era: listing again still works
            logger.debug("could not announce changed tools: %r", exc)

    # -- MCP handlers ----------------------------------------------------------------

    async def list_tools(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListToolsResult:
        await self.refresh()
        self._listed = set(self._entries)
        return types.ListToolsResult(tools=[entry.tool for entry in self._entries.values()])

    async def call_tool(
        self, ctx: ServerRequestContext[Any], params: types.CallToolRequestParams
    ) -> types.CallToolResult:
        arguments = dict(params.arguments or {})
        try:
            await self.refresh()
            await self._announce_changes(ctx)
            entry = self._entries.get(params.name)
            if entry is None:
                return _error(self._unknown_tool(params.name))
            return await self._call(entry, arguments)
        except ToolError as exc:
            return _error(str(exc))
        except Exception as exc:  # never let a call break the session
            logger.exception("tool %s failed", params.name)
            return _error(f"Internal error of the MCP server: {exc!r}")

    def _unknown_tool(self, name: str) -> str:
        offered = ", ".join(sorted(self._entries))
        if self.read_only or any(s.access == "read-only" for s in self.services.services):
            return (
                f"No tool {name!r}: control methods are not offered with a read-only token"
                f" or --read-only. Tools: {offered}"
            )
        return f"No tool {name!r} (the crawl may have ended). Tools: {offered}"

    async def _call(self, entry: ToolEntry, arguments: dict[str, Any]) -> types.CallToolResult:
        if entry.kind == "services":
            return _ok(
                {
                    "services": [s.summary(self.read_only) for s in self.services.services],
                    "read_only": self.read_only,
                }
            )
        service = await self._route(entry, arguments)
        if entry.kind == "get":
            path = entry.path
            if entry.spider_subpath and arguments.get("spider") is not None:
                spider = arguments.pop("spider")
                if not isinstance(spider, str) or not spider or "/" in spider:
                    raise ToolError("`spider` must be the name of a running spider")
                path = f"{path}/{spider}"
            arguments.pop("spider", None)
            if arguments:
                raise ToolError(f"Unexpected arguments: {', '.join(sorted(arguments))}")
            return await self._run(service, lambda: service.client.get(path))
        assert entry.method is not None
        method = entry.method

        def call() -> Any:
            return service.client.call(method.path, method.name, **arguments)

        return await self._run(service, call)

    async def _run(
        self, service: AttachedService, func: Callable[[], Any]
    ) -> types.CallToolResult:
        try:
            result = await anyio.to_thread.run_sync(func)
        except JsonRpcError as exc:
            if exc.code == FORBIDDEN:
                service.control_refused = True
            return _error(f"JSON-RPC error {exc.code}: {exc.message}")
        except WebServiceError as exc:
            return _error(_service_error(service, exc))
        return _ok(result)

    async def _route(self, entry: ToolEntry, arguments: dict[str, Any]) -> AttachedService:
        """The service a call goes to (and drop the ``service`` argument)."""
        candidates = list(entry.services)
        selector = arguments.pop(SELECTOR, None) if entry.selector else None
        if selector is not None:
            candidates = [s for s in candidates if s.matches(selector)]
            if not candidates:
                attached = ", ".join(s.address for s in entry.services) or "none"
                raise ToolError(
                    f"No attached web service {selector!r} offers {entry.tool.name}"
                    f" (those that do: {attached})"
                )
        if not candidates:
            raise ToolError(
                f"No running web service offers {entry.tool.name} (the crawl may have ended)"
            )
        if len(candidates) == 1:
            return candidates[0]
        spider = arguments.get("spider")
        if isinstance(spider, str):
            running = [s for s in candidates if spider in await self._open_spiders(s)]
            if len(running) == 1:
                return running[0]
        names = ", ".join(f"{s.address} (pid {s.pid})" for s in candidates)
        raise ToolError(
            f"Several web services offer {entry.tool.name}: pass `service`, one of {names}"
        )

    async def _open_spiders(self, service: AttachedService) -> list[str]:
        try:
            value = await anyio.to_thread.run_sync(
                service.client.get, "crawler/engine/open_spiders"
            )
        except WebServiceError:
            return []
        return value if isinstance(value, list) else []

    # -- resources -----------------------------------------------------------------------

    def _resources(self) -> list[tuple[str, str, AttachedService]]:
        found = []
        for service in self.services.services:
            catalog = service.catalog
            if catalog is None:
                continue
            methods = {f"{m.path}/{m.name}" for m in catalog.methods}
            gettable = set(catalog.data) | set(catalog.plain)
            for kind, (_, _, (how, target)) in RESOURCES.items():
                if (how == "call" and target in methods) or (how == "get" and target in gettable):
                    found.append((f"{URI_SCHEME}://{service.address}/{kind}", kind, service))
        return found

    async def list_resources(
        self, ctx: ServerRequestContext[Any], params: types.PaginatedRequestParams | None
    ) -> types.ListResourcesResult:
        await self.refresh()
        resources = []
        for uri, kind, service in self._resources():
            title, description, _ = RESOURCES[kind]
            resources.append(
                types.Resource(
                    uri=uri,
                    name=f"{service.address} {kind}",
                    title=f"{title} of {service.address}",
                    description=description,
                    mime_type="application/json",
                )
            )
        return types.ListResourcesResult(resources=resources)

    async def read_resource(
        self, ctx: ServerRequestContext[Any], params: types.ReadResourceRequestParams
    ) -> types.ReadResourceResult:
        uri = str(params.uri)
        await self.refresh()
        found = [(kind, service) for known, kind, service in self._resources() if known == uri]
        if not found:
            raise MCPError(-32002, f"No such resource: {uri} (the crawl may have ended)")
        kind, service = found[0]
        how, target = RESOURCES[kind][2]
        try:
            if how == "call":
                path, _, method = target.rpartition("/")
                value = await anyio.to_thread.run_sync(service.client.call, path, method)
            else:
                value = await anyio.to_thread.run_sync(service.client.get, target)
        except JsonRpcError as exc:
            raise MCPError(exc.code, exc.message) from None
        except WebServiceError as exc:
            raise MCPError(-32603, _service_error(service, exc)) from None
        return types.ReadResourceResult(
            contents=[
                types.TextResourceContents(
                    uri=uri, mime_type="application/json", text=_dumps(value)
                )
            ]
        )

    # -- the server ----------------------------------------------------------------------

    def server(self) -> Server[Any]:
        return Server(
            "scrapy-webservice",
            version=__version__,
            title="Scrapy web service",
            instructions=INSTRUCTIONS,
            on_list_tools=self.list_tools,
            on_call_tool=self.call_tool,
            on_list_resources=self.list_resources,
            on_read_resource=self.read_resource,
        )


async def run_stdio(bridge: McpBridge) -> None:
    """Serve ``bridge`` on standard input and output until the client closes them."""
    from mcp.server.stdio import stdio_server

    server = bridge.server()
    options = server.create_initialization_options(
        NotificationOptions(tools_changed=True, resources_changed=True)
    )
    async with stdio_server() as (read_stream, write_stream):
        await server.run(read_stream, write_stream, options)
