"""How a service's description becomes tools: names, schemas, access, routing.

The service is a small stand-in here (its answers are those of the real
service, checked end to end in ``test_crawl.py``).
"""

from __future__ import annotations

from typing import Any

import anyio
import pytest
from scrapy_webservice.cli import JsonRpcError, WebServiceClient, WebServiceError

from scrapy_webservice_mcp.catalog import Catalog, RpcMethod, discover_catalog, tool_name
from scrapy_webservice_mcp.server import McpBridge, build_tools
from scrapy_webservice_mcp.services import AttachedService, ServiceSet

ENGINE_OPENRPC = {
    "openrpc": "1.3.2",
    "info": {"title": "/crawler/engine", "version": "0.1.0"},
    "methods": [
        {
            "name": "pause",
            "summary": "Stop a spider from taking new requests.",
            "description": "Stop a spider from taking new requests.\n\nMore.",
            "params": [{"name": "spider", "required": True, "schema": {"type": "string"}}],
            "result": {"name": "result", "schema": {"type": "object"}},
            "x-readonly": False,
        },
        {
            "name": "state",
            "summary": "The state.",
            "description": "The state.",
            "params": [{"name": "spider", "required": True, "schema": {"type": "string"}}],
            "result": {"name": "result", "schema": {}},
            "x-readonly": True,
        },
        {"name": "unmarked", "params": []},
        {"name": "rpc.discover", "params": [], "x-readonly": True},
    ],
}


class StandIn:
    """Answers like a service with ``crawler`` (JSON-RPC) and ``enginestatus`` (plain)."""

    url = "http://127.0.0.1:6080/"

    def __init__(self, readonly_token: bool = False) -> None:
        self.readonly_token = readonly_token

    def get(self, path: str = "") -> Any:
        return {
            "": {"resources": ["crawler", "enginestatus", "events"]},
            "crawler": {"methods": [], "attributes": ["engine", "extensions"]},
            "crawler/engine": {
                "methods": [{"name": "pause", "readonly": False}],
                "attributes": ["open_spiders"],
            },
            "crawler/engine/open_spiders": ["demo"],
            "crawler/extensions": {"demo": ["scrapy.extensions.corestats.CoreStats"]},
        }[path]

    def call(self, path: str, method: str, *args: Any, **kwargs: Any) -> Any:
        assert method == "rpc.discover"
        if path == "crawler":
            return {"openrpc": "1.3.2", "info": {}, "methods": []}
        if path == "crawler/engine":
            return ENGINE_OPENRPC
        status = 403 if self.readonly_token else 405
        raise WebServiceError(f"HTTP {status}: no", status=status)


def test_tool_names_are_safe_for_every_client():
    assert tool_name("crawler/engine", "pause") == "crawler_engine_pause"
    assert tool_name("get", "crawler/engine/open_spiders") == "get_crawler_engine_open_spiders"
    assert tool_name("my.plugin", "do it") == "my_plugin_do_it"
    assert len(tool_name("x" * 100, "y")) == 64


@pytest.mark.parametrize(("readonly_token", "access"), [(False, "control"), (True, "read-only")])
def test_catalog_of_a_service(readonly_token, access):
    catalog = discover_catalog(StandIn(readonly_token))  # type: ignore[arg-type]
    assert catalog.resources == ["crawler", "enginestatus", "events"]
    assert catalog.plain == ["enginestatus", "events"]
    assert catalog.access == access
    # Data is read with GET; its Python methods (a list's, a dict's) are never offered.
    assert catalog.data == ["crawler/engine/open_spiders", "crawler/extensions"]
    methods = {m.name: m for m in catalog.methods}
    assert set(methods) == {"pause", "state", "unmarked"}
    assert methods["state"].readonly
    assert not methods["pause"].readonly
    assert not methods["unmarked"].readonly  # not marked read-only: a control method
    assert methods["pause"].input_schema() == {
        "type": "object",
        "properties": {"spider": {"type": "string"}},
        "required": ["spider"],
        "additionalProperties": False,
    }
    assert (
        methods["pause"]
        .tool_description()
        .startswith("Stop a spider from taking new requests.\n\nMore.")
    )


def attached(access: str = "control", url: str = "http://127.0.0.1:6080/", pid: int = 1):
    catalog = discover_catalog(StandIn(access == "read-only"))  # type: ignore[arg-type]
    return AttachedService(WebServiceClient(url, "t"), pid=pid, catalog=catalog)


def test_control_tools_need_the_full_token_and_no_read_only_flag():
    full = set(build_tools([attached()], read_only=False, discovering=False))
    assert {"crawler_engine_pause", "crawler_engine_unmarked", "crawler_engine_state"} <= full
    assert {"get_enginestatus", "get_crawler_engine_open_spiders", "list_services"} <= full
    assert "get_events" not in full  # a stream, not JSON
    for tools in (
        build_tools([attached()], read_only=True, discovering=False),
        build_tools([attached("read-only")], read_only=False, discovering=False),
    ):
        assert "crawler_engine_state" in tools
        assert "crawler_engine_pause" not in tools
        assert "crawler_engine_unmarked" not in tools


def test_a_refused_control_call_withdraws_the_control_tools():
    service = attached()
    bridge = McpBridge(ServiceSet(client=service.client))

    def refused() -> Any:
        raise JsonRpcError(-32003, "Forbidden: 'pause' is a control method")

    result = anyio.run(bridge._run, service, refused)
    assert result.is_error
    assert "-32003" in result.content[0].text
    assert service.access == "read-only"
    assert "crawler_engine_pause" not in build_tools([service], read_only=False, discovering=False)


def test_several_services_take_a_service_argument():
    one, two = attached(pid=1), attached(url="http://127.0.0.1:6081/", pid=2)
    tools = build_tools([one, two], read_only=False, discovering=True)
    entry = tools["crawler_engine_state"]
    assert entry.services == [one, two]
    assert "service" in entry.tool.input_schema["properties"]
    bridge = McpBridge(ServiceSet(directories=[]))
    assert anyio.run(bridge._route, entry, {"service": 2}) is two
    assert anyio.run(bridge._route, entry, {"service": "127.0.0.1:6080"}) is one
    assert anyio.run(bridge._route, entry, {"service": "http://127.0.0.1:6081/"}) is two
    with pytest.raises(Exception, match="No attached web service"):
        anyio.run(bridge._route, entry, {"service": 3})


def test_a_method_with_its_own_service_param_keeps_it():
    method = RpcMethod(
        "queue",
        "size",
        "Size of a queue.",
        ({"name": "service", "required": True, "schema": {"type": "string"}},),
        True,
    )
    service = AttachedService(
        WebServiceClient("http://127.0.0.1:1/"), catalog=Catalog(methods=[method])
    )
    [entry] = [
        e for e in build_tools([service], read_only=False, discovering=True).values() if e.method
    ]
    assert not entry.selector
    assert entry.tool.input_schema["properties"]["service"] == {"type": "string"}


def test_one_name_for_two_methods_goes_to_the_first():
    first = RpcMethod("a/b", "c", "First.", (), True)
    second = RpcMethod("a", "b_c", "Second.", (), True)
    service = AttachedService(
        WebServiceClient("http://127.0.0.1:1/"), catalog=Catalog(methods=[first, second])
    )
    entry = build_tools([service], read_only=False, discovering=False)["a_b_c"]
    assert entry.method is first
    assert entry.services == [service]
