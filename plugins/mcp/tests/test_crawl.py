"""``scrapy-ws mcp`` against real crawls, through the mcp SDK's client over stdio.

Each crawl is a real ``scrapy crawl`` of the demo shop with the web service
on (the ``webservice_crawl`` fixture); every wait is bounded, no duration is
asserted.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import anyio
import anyio.to_thread
import pytest
from conftest import call_error, call_ok, text_of, tool_names

pytestmark = pytest.mark.anyio

READONLY_TOKEN = "mcp-reads-only-" + "r" * 24
CONTROL_TOOLS = {"crawler_engine_pause", "crawler_engine_unpause", "crawler_engine_close_spider"}
READ_TOOLS = {
    "list_services",
    "stats_get_stats",
    "stats_get_rates",
    "stats_get_value",
    "crawler_engine_state",
    "crawler_engine_is_paused",
    "crawler_spiders_list",
    "get_enginestatus",
    "get_crawler_engine_open_spiders",
}
#: Bound of a whole test.
TEST_TIMEOUT = 150


async def started(crawl):
    """The crawl's client, once its service listens (waited for off the event loop)."""
    return await anyio.to_thread.run_sync(lambda: crawl.client)


async def wait_for_tool(session, name, arguments, condition, what, timeout=30.0):
    """Call a tool until ``condition(result)`` holds; fails after ``timeout`` seconds."""
    result = None
    with anyio.move_on_after(timeout):
        while True:
            result = await call_ok(session, name, arguments)
            if condition(result):
                return result
            await anyio.sleep(0.2)
    raise AssertionError(f"{what}: not seen within {timeout} s; last answer: {result!r}")


@pytest.mark.parametrize("reactorless", [False, True], ids=["reactor", "reactorless"])
async def test_full_token_reads_pauses_resumes_and_stops_a_crawl(
    webservice_crawl, mcp_server, reactorless
):
    crawl = webservice_crawl(products=600, delay=0.3, reactorless=reactorless)
    with anyio.fail_after(TEST_TIMEOUT):
        client = await started(crawl)
        async with mcp_server("--url", client.url, f"--token={client.token}", "mcp") as session:
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            assert set(tools) >= READ_TOOLS | CONTROL_TOOLS
            # Data is read, never offered through its Python methods; no rpc.* tool.
            assert not [n for n in tools if n.startswith("get_crawler_extensions_")]
            assert not [n for n in tools if "rpc" in n]
            # Schema and description come from rpc.discover.
            pause = tools["crawler_engine_pause"]
            assert pause.input_schema["properties"] == {"spider": {"type": "string"}}
            assert pause.input_schema["required"] == ["spider"]
            assert "Stop a spider from taking new requests" in pause.description
            assert pause.annotations.read_only_hint is False
            assert tools["stats_get_stats"].annotations.read_only_hint is True
            # One service named on the command line: no `service` selector.
            assert "service" not in tools["stats_get_stats"].input_schema["properties"]

            # Live numbers: the tool's stats are the service's own, and they grow.
            stats = await wait_for_tool(
                session,
                "stats_get_stats",
                {},
                lambda s: s.get("response_received_count", 0) >= 2,
                "responses counted",
            )
            direct = await anyio.to_thread.run_sync(client.call, "stats", "get_stats")
            assert stats["start_time"] == direct["start_time"]
            assert direct["response_received_count"] >= stats["response_received_count"]
            spider_stats = await call_ok(session, "stats_get_stats", {"spider": "demo"})
            assert spider_stats["start_time"] == stats["start_time"]
            assert await call_ok(session, "get_crawler_engine_open_spiders") == ["demo"]
            rates = await call_ok(session, "stats_get_rates", {"spider": "demo"})
            assert rates["state"] == "running"
            status = await call_ok(session, "get_enginestatus", {"spider": "demo"})
            assert status["state"] == "running"
            assert "demo" in await call_ok(session, "crawler_spiders_list")

            # Bad params: the JSON-RPC error, as a tool error.
            message = await call_error(session, "crawler_engine_pause", {"spider": 123})
            assert "-32602" in message
            assert "'spider' must be a string" in message
            message = await call_error(session, "crawler_engine_pause", {})
            assert "-32602" in message
            message = await call_error(session, "crawler_engine_state", {"spider": "nope"})
            assert "nope" in message

            # Pause: the tool and the service agree.
            state = await call_ok(session, "crawler_engine_pause", {"spider": "demo"})
            assert state["state"] in ("pausing", "paused")
            assert await anyio.to_thread.run_sync(
                client.call, "crawler/engine", "is_paused", "demo"
            )
            await wait_for_tool(
                session,
                "crawler_engine_state",
                {"spider": "demo"},
                lambda s: s["state"] == "paused",
                "paused",
            )
            assert await call_ok(session, "crawler_engine_is_paused", {"spider": "demo"}) is True

            # Resume.
            state = await call_ok(session, "crawler_engine_unpause", {"spider": "demo"})
            assert state["state"] == "running"
            assert not await anyio.to_thread.run_sync(
                client.call, "crawler/engine", "is_paused", "demo"
            )

            # Stop: the crawl ends, and exits 0.
            answer = await call_ok(session, "crawler_engine_close_spider", {"spider": "demo"})
            assert answer == {"spider": "demo", "closing": True, "reason": "closed_by_webservice"}
            code = await anyio.to_thread.run_sync(crawl.wait, 60)
            assert code == 0, crawl.output_tail()
            assert "closed_by_webservice" in crawl.output

            # The service is gone: a tool error, and the MCP server goes on.
            message = await call_error(session, "stats_get_stats")
            assert "gone or unreachable" in message
            services = await call_ok(session, "list_services")
            assert services["services"][0]["url"] == client.url


async def test_read_only_token_or_flag_offers_no_control_tools(webservice_crawl, mcp_server):
    crawl = webservice_crawl(
        settings={"WEBSERVICE_READONLY_TOKEN": READONLY_TOKEN}, products=600, delay=0.3
    )
    with anyio.fail_after(TEST_TIMEOUT):
        client = await started(crawl)

        # The read-only token: learnt from the service, control tools are not offered.
        async with mcp_server("--url", client.url, f"--token={READONLY_TOKEN}", "mcp") as session:
            names = await tool_names(session)
            assert names >= READ_TOOLS
            assert not names & CONTROL_TOOLS
            stats = await call_ok(session, "stats_get_stats")
            assert "start_time" in stats
            message = await call_error(session, "crawler_engine_pause", {"spider": "demo"})
            assert "read-only" in message
            [service] = (await call_ok(session, "list_services"))["services"]
            assert service["access"] == "read-only"

        # The full token with --read-only: no control tools either.
        async with mcp_server(
            "--url", client.url, f"--token={client.token}", "mcp", "--", "--read-only"
        ) as session:
            names = await tool_names(session)
            assert names >= READ_TOOLS
            assert not names & CONTROL_TOOLS
            assert (await call_ok(session, "list_services"))["read_only"] is True

        # The same from the environment, as an MCP client's configuration may set it.
        async with mcp_server(
            "--url",
            client.url,
            f"--token={client.token}",
            "mcp",
            env={"SCRAPY_WS_MCP_READ_ONLY": "1"},
        ) as session:
            names = await tool_names(session)
            assert "stats_get_stats" in names
            assert not names & CONTROL_TOOLS

        # The crawl was never paused nor stopped.
        assert not await anyio.to_thread.run_sync(
            client.call, "crawler/engine", "is_paused", "demo"
        )
        assert crawl.proc.poll() is None


async def test_discovery_files_attach_without_flags(webservice_crawl, mcp_server):
    crawl = webservice_crawl(products=600, delay=0.3)
    with anyio.fail_after(TEST_TIMEOUT):
        client = await started(crawl)
        async with mcp_server("mcp", "--", "--discovery-dir", str(crawl.discovery)) as session:
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            # The discovery file holds the full token.
            assert set(tools) >= READ_TOOLS | CONTROL_TOOLS
            assert "service" in tools["crawler_engine_pause"].input_schema["properties"]
            [service] = (await call_ok(session, "list_services"))["services"]
            assert service["url"] == client.url
            assert service["access"] == "control"
            assert service["pid"] == crawl.proc.pid
            # The service by its process id, or found alone.
            assert await call_ok(
                session, "get_crawler_engine_open_spiders", {"service": crawl.proc.pid}
            ) == ["demo"]
            message = await call_error(session, "stats_get_stats", {"service": "127.0.0.1:1"})
            assert "No attached web service" in message

            # Live numbers as MCP resources too.
            resources = {str(r.uri) for r in (await session.list_resources()).resources}
            address = client.url.split("//", 1)[1].rstrip("/")
            stats_uri = f"scrapy-webservice://{address}/stats"
            assert stats_uri in resources
            assert f"scrapy-webservice://{address}/rates" in resources
            contents = (await session.read_resource(stats_uri)).contents
            assert "start_time" in json.loads(contents[0].text)

            # The crawl ends (its discovery file goes): no service offers the tools.
            await call_ok(session, "crawler_engine_close_spider", {"spider": "demo"})
            assert await anyio.to_thread.run_sync(crawl.wait, 60) == 0
            result = await session.call_tool("stats_get_stats", {})
            assert result.is_error
            assert "may have ended" in text_of(result)


#: The telnet console's jobs (docs/resources.md), each a tool by itself through rpc.discover.
JOB_READ_TOOLS = {
    "crawler_downloader_slots",
    "crawler_downloader_autothrottle",
    "crawler_scheduler_size",
    "crawler_settings_get",
    "crawler_settings_names",
    "memory_usage",
    "memory_live_refs",
    "memory_oldest",
    "log_get_level",
    "stalls_recent",
    "stalls_lag",
}
JOB_CONTROL_TOOLS = {
    "crawler_downloader_set_delay",
    "crawler_downloader_set_concurrency",
    "crawler_downloader_set_total_concurrency",
    "crawler_downloader_reset",
    "crawler_downloader_set_autothrottle",
    "crawler_scheduler_enqueue",
    "memory_collect",
    "log_set_level",
}


async def test_the_telnet_jobs_are_tools_with_their_schemas(webservice_crawl, mcp_server):
    crawl = webservice_crawl(
        products=600, delay=0.3, settings={"WEBSERVICE_READONLY_TOKEN": READONLY_TOKEN}
    )
    with anyio.fail_after(TEST_TIMEOUT):
        client = await started(crawl)
        async with mcp_server("--url", client.url, f"--token={client.token}", "mcp") as session:
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            assert set(tools) >= JOB_READ_TOOLS | JOB_CONTROL_TOOLS
            for name in JOB_READ_TOOLS:
                assert tools[name].annotations.read_only_hint is True, name
            for name in JOB_CONTROL_TOOLS:
                assert tools[name].annotations.read_only_hint is False, name
            set_delay = tools["crawler_downloader_set_delay"].input_schema
            assert set(set_delay["properties"]) == {"spider", "delay", "slot"}
            assert set_delay["required"] == ["spider", "delay"]
            assert set_delay["properties"]["delay"]["type"] == "number"
            enqueue = tools["crawler_scheduler_enqueue"]
            assert enqueue.input_schema["properties"]["urls"]["type"] == "array"
            assert enqueue.input_schema["properties"]["urls"]["items"] == {"type": "string"}
            assert set(enqueue.input_schema["required"]) == {"spider", "urls"}
            assert "callback" in enqueue.description

            # The tools answer what the service answers.
            slots = await wait_for_tool(
                session,
                "crawler_downloader_slots",
                {"spider": "demo"},
                lambda s: s["slots"],
                "a downloader slot",
            )
            assert slots["slots"][0]["key"] == "127.0.0.1"
            tuned = await call_ok(
                session, "crawler_downloader_set_delay", {"spider": "demo", "delay": 0.5}
            )
            assert tuned["default_delay"] == 0.5
            direct = await anyio.to_thread.run_sync(
                client.call, "crawler/downloader", "slots", "demo"
            )
            assert direct["default_delay"] == 0.5
            refs = await call_ok(session, "memory_live_refs")
            assert "Request" in {row["class"] for row in refs}
            message = await call_error(
                session,
                "crawler_scheduler_enqueue",
                {"spider": "demo", "urls": ["file:///etc/passwd"]},
            )
            assert "-32602" in message
            assert "file" in message

        # The read-only token: the job's read tools only.
        async with mcp_server("--url", client.url, f"--token={READONLY_TOKEN}", "mcp") as session:
            names = await tool_names(session)
            assert names >= JOB_READ_TOOLS
            assert not names & JOB_CONTROL_TOOLS


#: The crawl's own pipeline that blocks the reactor on its first item (not a test).
PIPELINE = Path(__file__).resolve().parent / "blocking_pipeline.py"


def blocking_line() -> int:
    lines = PIPELINE.read_text().splitlines()
    return next(n for n, line in enumerate(lines, 1) if line.endswith("# blocks here"))


async def test_stalls_name_the_users_line_with_the_read_only_token(
    webservice_crawl, mcp_server, monkeypatch
):
    path = [str(PIPELINE.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path))
    crawl = webservice_crawl(
        products=600,
        delay=0.3,
        settings={
            "WEBSERVICE_READONLY_TOKEN": READONLY_TOKEN,
            "ITEM_PIPELINES": {"blocking_pipeline.BlockOnce": 300},
            "MCP_TEST_STALL_SECONDS": 1.2,
        },
    )
    where = f"{PIPELINE}:{blocking_line()} in process_item"
    with anyio.fail_after(TEST_TIMEOUT):
        client = await started(crawl)
        async with mcp_server("--url", client.url, f"--token={READONLY_TOKEN}", "mcp") as session:
            tools = {tool.name: tool for tool in (await session.list_tools()).tools}
            for name in ("stalls_recent", "stalls_lag"):
                assert tools[name].annotations.read_only_hint is True, name
            assert "limit" in tools["stalls_recent"].input_schema["properties"]

            found = await wait_for_tool(
                session,
                "stalls_recent",
                {"limit": 10},
                lambda found: any(stall["where"] == where for stall in found["recent"]),
                "the pipeline's stall",
            )
            [stall] = [stall for stall in found["recent"] if stall["where"] == where]
            assert stall["code"] == "time.sleep(seconds)  # blocks here"
            assert stall["seconds"] >= found["threshold"] == 0.5
            assert stall["stack"][-1] == where
            # What the service itself answers.
            direct = await anyio.to_thread.run_sync(client.call, "stalls", "recent", 10)
            assert stall in direct["recent"]
            assert direct["count"] >= 1

            lag = await call_ok(session, "stalls_lag")
            assert lag["buckets"][-1][0] == "+Inf"
            assert lag["buckets"][-1][1] == lag["count"] > 0
