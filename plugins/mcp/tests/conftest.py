"""Helpers: ``scrapy-ws mcp`` as a subprocess, driven by the mcp SDK's own client over stdio."""

from __future__ import annotations

import json
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from mcp import ClientSession, StdioServerParameters, stdio_client, types

#: The ``scrapy-ws`` script of this environment: the command an MCP client runs.
SCRAPY_WS = str(Path(sys.executable).with_name("scrapy-ws"))
#: Seconds any one MCP request may take before the test fails.
REQUEST_TIMEOUT = 30.0


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
def mcp_server(tmp_path: Path):
    """``async with mcp_server(*scrapy_ws_args, env={}) as session``: an initialized MCP session.

    The server's standard error goes to a file, shown when the test fails.
    """
    logs: list[Path] = []

    @asynccontextmanager
    async def start(*args: str, env: dict[str, str] | None = None) -> AsyncIterator[ClientSession]:
        log = tmp_path / f"mcp-server-{len(logs)}.log"
        logs.append(log)
        params = StdioServerParameters(command=SCRAPY_WS, args=list(args), env=env)
        with log.open("w") as errlog:
            async with (
                stdio_client(params, errlog=errlog) as (read, write),
                ClientSession(read, write, read_timeout_seconds=REQUEST_TIMEOUT) as session,
            ):
                await session.initialize()
                yield session

    yield start
    for log in logs:
        text = log.read_text() if log.exists() else ""
        if text.strip():
            print(f"--- {log.name}\n{text}")


async def tool_names(session: ClientSession) -> set[str]:
    return {tool.name for tool in (await session.list_tools()).tools}


def text_of(result: types.CallToolResult) -> str:
    return "\n".join(c.text for c in result.content if isinstance(c, types.TextContent))


async def call_ok(session: ClientSession, name: str, arguments: dict[str, Any] | None = None):
    """A tool's result, decoded from its JSON text; fails on a tool error."""
    result = await session.call_tool(name, arguments or {})
    assert not result.is_error, text_of(result)
    return json.loads(text_of(result))


async def call_error(session: ClientSession, name: str, arguments: dict[str, Any] | None = None):
    """A tool error's message; fails when the call succeeds."""
    result = await session.call_tool(name, arguments or {})
    assert result.is_error, f"{name} succeeded: {text_of(result)}"
    return text_of(result)
