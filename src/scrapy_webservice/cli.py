"""``scrapy-ws``: the command-line client, with the seed's commands.

With no ``--url``/``--host``/``--port`` it finds the newest local service
through its discovery file, token included.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from . import jsonrpc
from .client import JsonRpcError, WebServiceClient, WebServiceError, client_from_options
from .watch import status_lines, watch

EXIT_OK = 0
EXIT_ERROR = 1  # the service answered with an error
EXIT_USAGE = 2  # wrong command line (argparse's own code)
EXIT_UNREACHABLE = 3  # no service found, or it cannot be reached
EXIT_NOT_FOUND = 4  # no such spider, resource or method
EXIT_INTERRUPTED = 130  # Ctrl-C (but watch, which Ctrl-C ends normally)

EPILOG = """\
examples:
  scrapy-ws status                       every running spider: state, rates, in flight
  scrapy-ws watch                        the same, live, until the crawl ends
  scrapy-ws pause demo --wait            pause a spider; wait for its requests in flight
  scrapy-ws resume demo                  fetch again, at once
  scrapy-ws stop demo                    stop a spider (finish_reason: closed_by_webservice)
  scrapy-ws get enginestatus/demo        GET any resource
  scrapy-ws call stats get_value item_scraped_count 0 demo
  scrapy-ws call crawler/engine close_spider -k spider=demo -k reason=enough
  scrapy-ws --json status                machine-readable output (every command)
  scrapy-ws --url http://127.0.0.1:6080 --token "$TOKEN" list-resources
  scrapy-ws plugins                      installed plugins, hooks and resources
  scrapy-ws completion bash > ~/.local/share/bash-completion/completions/scrapy-ws
  scrapy-ws demo --slow                  a demo crawl to try all of the above on

exit codes: 0 ok, 1 the service answered with an error, 2 bad usage,
3 no service found or not reachable, 4 no such spider, resource or method,
130 interrupted.
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

    def result(self, value: Any, text: str) -> None:
        """``value`` as JSON for scripts, ``text`` for people."""
        if self.as_json:
            self.json(value)
        else:
            print(text, file=self.stream)


Command = Callable[[WebServiceClient, argparse.Namespace, Output], "int | None"]
#: How a command's arguments are declared: ``(flags, add_argument keywords)``.
Arguments = list[tuple[tuple[str, ...], dict[str, Any]]]
SPIDER: Arguments = [(("spider",), {"help": "name of a running spider"})]


def cmd_stop(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """stop <spider> - stop a running spider"""
    result = client.call("crawler/engine", "close_spider", args.spider)
    out.result(result, f"Stopping {args.spider}")


def cmd_pause(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """pause <spider> - stop a spider's new requests (--wait: until none are in flight)"""
    state = client.call("crawler/engine", "pause", args.spider)
    deadline = time.monotonic() + args.wait_timeout
    while args.wait and state["state"] == "pausing":
        if time.monotonic() > deadline:
            raise CommandFailed(
                f"{args.spider} still has {state['in_flight']} requests in flight after"
                f" {args.wait_timeout:g} s; it stays paused"
            )
        time.sleep(0.1)
        state = client.call("crawler/engine", "state", args.spider)
    out.result(state, _describe_state(state))


def cmd_resume(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """resume <spider> - let a paused spider fetch again, at once"""
    state = client.call("crawler/engine", "unpause", args.spider)
    out.result(state, _describe_state(state))


def _describe_state(state: dict[str, Any]) -> str:
    text = f"{state['spider']}: {state['state']}"
    if state["state"] == "pausing":
        text += f", {state['in_flight']} requests still in flight"
    return text


def cmd_status(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """status [spider] - state, rates and requests in flight of the running spiders"""
    if args.spider:
        rates = {args.spider: client.call("stats", "get_rates", args.spider)}
    else:
        rates = client.call("stats", "get_rates")
    if out.as_json:
        out.json(rates)
    elif not rates:
        print("No spider is running.", file=out.stream)
    else:
        out.lines(status_lines(rates))


def cmd_watch(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """watch - a live view of the running spiders until the crawl ends (--json: one line a poll)"""
    watch(client, args.interval, as_json=out.as_json, stream=out.stream)


def cmd_get(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """get <path> - GET any resource and print its JSON"""
    out.json(client.get(args.path))


def cmd_call(client: WebServiceClient, args: argparse.Namespace, out: Output) -> None:
    """call <path> <method> [args...] - call a JSON-RPC method (-k NAME=VALUE for named params)"""
    params = [_json_or_text(value) for value in args.params]
    named = dict(_named(item) for item in args.kwarg)
    if params and named:
        raise UsageError("give positional params or -k NAME=VALUE params, not both")
    out.json(client.call(args.path, args.method, *params, **named))


def _interval(value: str) -> float:
    """At least 0.1 s: watching must not keep the crawl's reactor busy."""
    seconds = float(value)
    if not seconds >= 0.1:
        raise argparse.ArgumentTypeError(f"must be at least 0.1 seconds, got {value}")
    return seconds


def _json_or_text(value: str) -> Any:
    """A command-line value as JSON when it is JSON (``3``, ``true``, ``[1]``), else text."""
    try:
        return json.loads(value)
    except ValueError:
        return value


def _named(item: str) -> tuple[str, Any]:
    name, sep, value = item.partition("=")
    if not sep or not name:
        raise UsageError(f"-k takes NAME=VALUE, got {item!r}")
    return name, _json_or_text(value)


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
    out.result({"url": client.url, "token": client.token}, client.token or "")


COMMANDS: dict[str, tuple[Command, Arguments]] = {
    "status": (cmd_status, [(("spider",), {"nargs": "?", "help": "only this spider"})]),
    "watch": (
        cmd_watch,
        [
            (
                ("--interval",),
                {"type": _interval, "default": 1.0, "help": "seconds between updates"},
            )
        ],
    ),
    "pause": (
        cmd_pause,
        [
            *SPIDER,
            (("--wait",), {"action": "store_true", "help": "return once nothing is in flight"}),
            (("--wait-timeout",), {"type": float, "default": 60.0, "help": "seconds to wait"}),
        ],
    ),
    "resume": (cmd_resume, SPIDER),
    "stop": (cmd_stop, SPIDER),
    "get": (cmd_get, [(("path",), {"help": "resource path, e.g. enginestatus/demo"})]),
    "call": (
        cmd_call,
        [
            (("path",), {"help": "JSON-RPC resource path, e.g. crawler/engine"}),
            (("method",), {"help": "method name, e.g. close_spider"}),
            (("params",), {"nargs": "*", "help": "positional params (JSON, or else text)"}),
            (
                ("-k", "--kwarg"),
                {"action": "append", "default": [], "metavar": "NAME=VALUE", "help": "named"},
            ),
        ],
    ),
    "list-running": (cmd_list_running, []),
    "list-available": (cmd_list_available, []),
    "list-resources": (cmd_list_resources, []),
    "get-spider-stats": (cmd_get_spider_stats, SPIDER),
    "get-global-stats": (cmd_get_global_stats, []),
    "token": (cmd_token, []),
}


class UsageError(Exception):
    """A command line that parses but makes no sense (exit code 2)."""


class CommandFailed(Exception):
    """The service answered, but the command did not get what it asked for (exit code 1)."""


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


#: Entry-point group of ``scrapy-ws`` subcommands that plugins add (``scrapy-ws mcp``).
COMMANDS_GROUP = "scrapy_webservice.commands"
#: What such an entry point names: ``command(argv, options) -> exit code``, where
#: ``argv`` is what follows the command's name and ``options`` holds the global
#: options (``url``, ``host``, ``port``, ``path``, ``token``, ``pid``, ``json``, ``timeout``).
PluginCommand = Callable[[list[str], argparse.Namespace], int]


def plugin_commands() -> dict[str, Any]:
    """Installed plugins' subcommands by name; built-in names cannot be taken."""
    from importlib.metadata import entry_points

    taken = {*COMMANDS, "help", "plugins", "demo", "completion"}
    return {ep.name: ep for ep in entry_points(group=COMMANDS_GROUP) if ep.name not in taken}


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
    parser.add_argument(
        "--pid", type=int, help="with several local services: the one of this process"
    )
    parser.add_argument("--json", action="store_true", help="print JSON, for scripts")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per request")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.add_parser("help", help="list available commands")
    for name, (func, arguments) in COMMANDS.items():
        summary = (func.__doc__ or "").split(" - ", 1)[-1]
        command = sub.add_parser(name, help=summary, description=summary)
        for flags, options in arguments:
            command.add_argument(*flags, **options)
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
    completion = sub.add_parser(
        "completion",
        help="print a shell completion script",
        description="Print a completion script for your shell; for bash:"
        " scrapy-ws completion bash > ~/.local/share/bash-completion/completions/scrapy-ws",
    )
    completion.add_argument("shell", choices=["bash", "zsh", "tcsh"])
    for name, entry_point in plugin_commands().items():
        origin = entry_point.dist.name if entry_point.dist else entry_point.value
        # No option of its own ("\0"): everything after the name is the plugin's,
        # "--help" and "--read-only" included.
        command = sub.add_parser(
            name,
            help=f"(from {origin}) see scrapy-ws {name} --help",
            add_help=False,
            prefix_chars="\0",
        )
        command.add_argument("plugin_argv", nargs=argparse.REMAINDER)
    return parser


def run_plugin_command(args: argparse.Namespace) -> int:
    """Hand a plugin's subcommand what follows its name, and the global options."""
    entry_point = plugin_commands()[args.command]
    try:
        command: PluginCommand = entry_point.load()
    except Exception as exc:
        print(f"scrapy-ws: the {args.command!r} command failed to load: {exc!r}", file=sys.stderr)
        return EXIT_ERROR
    return int(command(list(args.plugin_argv), args) or 0)


def print_help(parser: argparse.ArgumentParser) -> None:
    print("Available commands:")
    for name, (func, _) in sorted(COMMANDS.items()):
        print("  ", func.__doc__ or name)
    print("   plugins - list installed plugins (no service needed)")
    print("   demo [--slow] - run a demo crawl with the web service on")
    print("   completion <shell> - print a shell completion script")
    for name, entry_point in sorted(plugin_commands().items()):
        origin = entry_point.dist.name if entry_point.dist else entry_point.value
        print(f"   {name} - from {origin}")
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
    if hasattr(args, "plugin_argv"):
        return run_plugin_command(args)
    if args.command == "completion":
        import shtab

        print(shtab.complete(parser, shell=args.shell))
        return EXIT_OK
    func = COMMANDS[args.command][0]
    out = Output(args.json)
    try:
        func(client_from_options(args), args, out)
    except UsageError as exc:
        parser.print_usage(sys.stderr)
        print(f"scrapy-ws: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandFailed as exc:
        print(f"scrapy-ws: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except JsonRpcError as exc:
        print(f"scrapy-ws: error {exc.code}: {exc.message}", file=sys.stderr)
        return EXIT_NOT_FOUND if exc.code in _NOT_FOUND_CODES else EXIT_ERROR
    except WebServiceError as exc:
        print(f"scrapy-ws: {exc.message}", file=sys.stderr)
        if exc.status is None:
            return EXIT_UNREACHABLE
        return EXIT_NOT_FOUND if exc.status == 404 else EXIT_ERROR
    except KeyboardInterrupt:
        if args.command == "watch":
            print("Stopped watching.", file=sys.stderr)
            return EXIT_OK
        return EXIT_INTERRUPTED
    return EXIT_OK


_NOT_FOUND_CODES = frozenset({jsonrpc.NOT_FOUND, jsonrpc.METHOD_NOT_FOUND})


if __name__ == "__main__":
    sys.exit(main())
