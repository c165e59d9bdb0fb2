"""No service, or one that does not answer: the MCP server starts and says so."""

from __future__ import annotations

import socket

import anyio
import pytest
from conftest import call_error, call_ok, tool_names

pytestmark = pytest.mark.anyio


def unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


async def test_a_service_that_does_not_answer_is_a_tool_error(mcp_server):
    url = f"http://127.0.0.1:{unused_port()}/"
    with anyio.fail_after(60):
        async with mcp_server("--url", url, "--token=t", "mcp") as session:
            assert await tool_names(session) == {"list_services"}
            [service] = (await call_ok(session, "list_services"))["services"]
            assert "cannot reach" in service["error"]
            message = await call_error(session, "stats_get_stats")
            assert "No tool 'stats_get_stats'" in message
            assert (await session.list_resources()).resources == []


async def test_no_discovery_file_no_service(mcp_server, tmp_path):
    with anyio.fail_after(60):
        async with mcp_server("mcp", "--", "--discovery-dir", str(tmp_path / "none")) as session:
            assert await tool_names(session) == {"list_services"}
            assert (await call_ok(session, "list_services"))["services"] == []


def test_help_through_scrapy_ws():
    import subprocess

    from conftest import SCRAPY_WS

    listed = subprocess.run([SCRAPY_WS, "help"], capture_output=True, text=True, timeout=60)
    assert "mcp - from scrapy-webservice-mcp" in listed.stdout
    shown = subprocess.run(
        [SCRAPY_WS, "mcp", "--", "--help"], capture_output=True, text=True, timeout=60
    )
    assert shown.returncode == 0, shown.stderr
    assert "--read-only" in shown.stdout
