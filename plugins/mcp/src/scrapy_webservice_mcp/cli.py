"""``scrapy-ws mcp``: an MCP server on standard input and output.

Entry point ``mcp`` of the group ``scrapy_webservice.commands``:
``scrapy-ws`` calls :func:`command` with what follows ``mcp`` and its own
global options (``--url``, ``--token``, ``--pid``, ``--timeout``…).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

from scrapy_webservice.cli import client_from_options, fleet_from_options

from .services import ServiceSet, discovery_dirs

__all__ = ["build_parser", "command"]

DESCRIPTION = """\
Serve the running Scrapy crawls to an MCP client (Claude Desktop, an IDE, an
agent) over standard input and output: every JSON-RPC method of the web
service becomes a tool, its live numbers resources. Without --url it attaches
to every crawl of this user that has the web service on (their discovery
files, read again at each request); scrapy-ws's global options go before or
after 'mcp': scrapy-ws mcp --read-only --url http://127.0.0.1:6080 --token=TOKEN."""

#: Environment variable that stands for --read-only (handy in an MCP client's configuration).
ENV_READ_ONLY = "SCRAPY_WS_MCP_READ_ONLY"


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="scrapy-ws mcp", description=DESCRIPTION)
    parser.add_argument(
        "--read-only",
        action="store_true",
        help="never offer control methods (close_spider, pause, unpause...), whatever the"
        f" token; or set {ENV_READ_ONLY}=1",
    )
    parser.add_argument(
        "--discovery-dir",
        type=Path,
        help="directory of the services' discovery files (default: the per-user runtime"
        " directory, as WEBSERVICE_DISCOVERY_DIR)",
    )
    parser.add_argument(
        "--log-level",
        default="WARNING",
        choices=["DEBUG", "INFO", "WARNING", "ERROR"],
        help="what this server logs, on standard error",
    )
    return parser


def make_services(args: argparse.Namespace, options: argparse.Namespace) -> ServiceSet:
    """The services to attach to, from the global options of ``scrapy-ws``."""
    timeout = getattr(options, "timeout", None) or 10.0
    if (
        getattr(options, "url", None)
        or getattr(options, "host", None)
        or getattr(options, "port", None)
    ):
        return ServiceSet(client=client_from_options(options), timeout=timeout)
    if fleet_from_options(options) is not None:
        # --prometheus: the fleet's services, asked again at each refresh.
        return ServiceSet(
            fleet=lambda: fleet_from_options(options) or [],
            token=getattr(options, "token", None),
            timeout=timeout,
        )
    return ServiceSet(
        directories=discovery_dirs(args.discovery_dir),
        pid=getattr(options, "pid", None),
        token=getattr(options, "token", None),
        timeout=timeout,
    )


def command(argv: list[str], options: argparse.Namespace) -> int:
    """``scrapy-ws [global options] mcp [--read-only] [--discovery-dir DIR]``."""
    if argv[:1] == ["--"]:
        argv = argv[1:]
    args = build_parser().parse_args(argv)
    if os.environ.get(ENV_READ_ONLY, "").strip().lower() not in ("", "0", "false", "no"):
        args.read_only = True
    logging.basicConfig(
        stream=sys.stderr,
        level=args.log_level,
        format="scrapy-ws mcp: %(levelname)s %(name)s: %(message)s",
    )
    import anyio

    from .server import McpBridge, run_stdio

    bridge = McpBridge(make_services(args, options), read_only=args.read_only)
    try:
        anyio.run(run_stdio, bridge)
    except KeyboardInterrupt:
        return 130
    return 0
