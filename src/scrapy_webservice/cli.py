"""``scrapy-ws``: the command-line client, with the seed's commands.

With no ``--url``/``--host``/``--port`` it finds the newest local service
through its discovery file, token included.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .client import JsonRpcError, WebServiceClient, WebServiceError

EXIT_OK = 0
EXIT_ERROR = 1  # the service answered with an error
EXIT_USAGE = 2  # wrong command line (argparse's own code)
EXIT_UNREACHABLE = 3  # no service found, or it cannot be reached

EPILOG = """\
examples:
  scrapy-ws list-running                 running spiders of the local service
  scrapy-ws get-spider-stats demo        stats of one spider
  scrapy-ws stop demo                    stop a spider (finish_reason: closed_by_webservice)
  scrapy-ws --url http://127.0.0.1:6080 --token "$TOKEN" list-resources
  scrapy-ws --json get-global-stats      machine-readable output
  scrapy-ws plugins                      installed plugins, hooks and resources
  scrapy-ws demo --slow                  a demo crawl to try all of the above on

exit codes: 0 ok, 1 the service answered with an error, 2 bad usage,
3 no service found or not reachable.
environment: SCRAPY_WS_URL and SCRAPY_WS_TOKEN stand for --url and --token.
"""


class Output:
    """Prints either for people (the seed's formats) or as JSON for scripts."""

    def __init__(self, as_json: bool, stream: Any = None) -> None:
        self.as_json = as_json
        self.stream = stream or sys.stdout

    def lines(self, values: Sequence[Any]) -> None:
        if self.as_json:
            self.json(list(values))
            return
        for value in values:
            print(value, file=self.stream)

    def table(self, mapping: dict[str, Any]) -> None:
        if self.as_json:
            self.json(mapping)
            return
        for name, value in mapping.items():
            print(f"{name:<40} {value}", file=self.stream)

    def json(self, value: Any) -> None:
        print(json.dumps(value, indent=2, sort_keys=True), file=self.stream)


Command = Callable[[WebServiceClient, argparse.Namespace, Output], None]


def cmd_stop(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """stop <spider> - stop a running spider"""
    result = client.call("crawler/engine", "close_spider", args.spider)
    if out.as_json:
        out.json(result)
    else:
        print(f"Stopping {args.spider}", file=out.stream)


def cmd_list_running(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """list-running - list running spiders"""
    out.lines(client.get("crawler/engine/open_spiders"))


def cmd_list_available(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """list-available - list names of available spiders"""
    out.lines(client.call("crawler/spiders", "list"))


def cmd_list_resources(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """list-resources - list available web service resources"""
    out.lines(client.get("")["resources"])


def cmd_get_spider_stats(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """get-spider-stats <spider> - get stats of a running spider"""
    out.table(client.call("stats", "get_stats", args.spider))


def cmd_get_global_stats(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """get-global-stats - get global stats"""
    out.table(client.call("stats", "get_stats"))


def cmd_token(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """token - print the token of the service (for curl and scripts)"""
    if out.as_json:
        out.json({"url": client.url, "token": client.token})
    else:
        print(client.token or "", file=out.stream)


COMMANDS: dict[str, tuple[Command, list[str]]] = {
    "stop": (cmd_stop, ["spider"]),
    "list-running": (cmd_list_running, []),
    "list-available": (cmd_list_available, []),
    "list-resources": (cmd_list_resources, []),
    "get-spider-stats": (cmd_get_spider_stats, ["spider"]),
    "get-global-stats": (cmd_get_global_stats, []),
    "token": (cmd_token, []),
}


def list_plugins(as_json: bool, out: Any = None) -> int:
    """``scrapy-ws plugins``: what is installed, without a running service.

    Loads the plugins as a service would (entry points, and the project's
    ``WEBSERVICE_PLUGINS`` when run inside a Scrapy project) and asks each
    for its resources.
    """
    from scrapy.utils.project import get_project_settings

    from .plugins import Plugins
    from .settings import WebServiceConfig

    out = out or sys.stdout
    settings = get_project_settings()
    settings.set("WEBSERVICE_PLUGINS_STRICT", False)
    plugins = Plugins.from_config(WebServiceConfig.from_settings(settings))
    plugins.resource_layers(settings)
    listing = plugins.listing()
    if as_json:
        print(json.dumps(listing, indent=2, sort_keys=True), file=out)
        return EXIT_OK
    if not listing["plugins"] and not listing["failures"]:
        print("No plugins installed.", file=out)
    for info in listing["plugins"]:
        origin = f"{info['distribution']} {info['version']}" if info["distribution"] else "module"
        print(f"{info['name']}  ({origin}, {info['module']})", file=out)
        print(f"    hooks:     {', '.join(info['hooks']) or '-'}", file=out)
        print(f"    resources: {', '.join(info['resources']) or '-'}", file=out)
    for failure in listing["failures"]:
        print(f"{failure['name']}  FAILED at {failure['stage']}: {failure['error']}", file=out)
    return EXIT_OK


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scrapy-ws",
        description="Watch and steer a running Scrapy crawl through its web service.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--url", default=os.environ.get("SCRAPY_WS_URL"), help="service URL")
    parser.add_argument("-H", "--host", help="service host (with --port, instead of --url)")
    parser.add_argument("-P", "--port", type=int, help="service port")
    parser.add_argument("-p", "--path", default="", help="path prefix of the service")
    parser.add_argument(
        "--token", default=os.environ.get("SCRAPY_WS_TOKEN"), help="Bearer token of the service"
    )
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("help", help="list available commands")
    for name, (func, params) in COMMANDS.items():
        summary = (func.__doc__ or "").split(" - ", 1)[-1]
        command = sub.add_parser(name, help=summary, description=summary)
        for param in params:
            command.add_argument(param)
    sub.add_parser(
        "plugins",
        help="list installed plugins (no service needed)",
        description="List the installed web service plugins: name, distribution, version,"
        " hooks and resources, and those that failed to load.",
    )
    demo = sub.add_parser(
        "demo",
        help="run a demo crawl of a local site with the web service on",
        description="Serve a small shop on 127.0.0.1 and crawl it with the web service on,"
        " until the crawl ends (or Ctrl-C).",
    )
    demo.add_argument("--slow", action="store_true", help="crawl slowly enough to play with")
    demo.add_argument("--products", type=int, default=200, help="products in the shop")
    demo.add_argument("--ws-port", help="WEBSERVICE_PORT for the demo (default: 6080-7030)")
    return parser


def make_client(args: argparse.Namespace) -> WebServiceClient:
    if args.url or args.host or args.port:
        url = args.url or f"http://{args.host or '127.0.0.1'}:{args.port or 6080}/"
        url = url.rstrip("/") + "/" + (args.path.strip("/") + "/" if args.path else "")
        return WebServiceClient(url, args.token, timeout=args.timeout)
    client = WebServiceClient.discover(timeout=args.timeout)
    if args.token:
        client.token = args.token
    return client


def print_help(parser: argparse.ArgumentParser) -> None:
    print("Available commands:")
    for name, (func, _) in sorted(COMMANDS.items()):
        print("  ", func.__doc__ or name)
    print("   plugins - list installed plugins (no service needed)")
    print("   demo [--slow] - run a demo crawl with the web service on")
    print(f"\nRun '{parser.prog} --help' for options.")


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in (None, "help"):
        print_help(parser)
        return EXIT_OK
    if args.command == "plugins":
        return list_plugins(args.json)
    if args.command == "demo":
        from .demo.run import run_demo

        return run_demo(products=args.products, slow=args.slow, port=args.ws_port)
    func = COMMANDS[args.command][0]
    out = Output(args.json)
    try:
        func(make_client(args), args, out)
    except JsonRpcError as exc:
        print(f"scrapy-ws: error {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_ERROR
    except WebServiceError as exc:
        print(f"scrapy-ws: {exc.message}", file=sys.stderr)
        return EXIT_ERROR if exc.status is not None else EXIT_UNREACHABLE
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
