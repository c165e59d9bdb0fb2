"""``scrapy-ws``: the command-line client, with the seed's commands.

With no ``--url``/``--host``/``--port`` it finds the local services through
their discovery files, token included; :mod:`.targets` decides which one a
command goes to.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any

from ..rpc import messages as jsonrpc
from ..rpc.errors import AMBIGUOUS
from .client import (
    AmbiguousService,
    JsonRpcError,
    ServiceGone,
    ServiceNotFound,
    WebServiceClient,
    WebServiceError,
    describe_service,
)
from .command import SPIDER, Arguments, Command, CommandFailed, Output, UsageError
from .fleet import ENV_PROMETHEUS, ENV_PROMETHEUS_PASSWORD
from .jobs import JOB_COMMANDS
from .targets import Targets, fan_out
from .watch import annotated_rates, status_lines, watch

EXIT_OK = 0
EXIT_ERROR = 1
EXIT_USAGE = 2
EXIT_UNREACHABLE = 3
EXIT_NOT_FOUND = 4
EXIT_AMBIGUOUS = 5
EXIT_INTERRUPTED = 130
EXIT_BROKEN_PIPE = 141

#: The one table of exit codes: printed by ``--help``, documented in docs/cli.md.
EXIT_CODES: dict[int, str] = {
    EXIT_OK: "done",
    EXIT_ERROR: "the service answered with an error (a JSON-RPC error, HTTP 401 or 403,"
    " an answer that is not JSON)",
    EXIT_USAGE: "bad usage: unknown command or option, missing argument",
    EXIT_UNREACHABLE: "no service found, it cannot be reached, or the process of its"
    " discovery file is gone (the token is then not sent)",
    EXIT_NOT_FOUND: "no such spider, resource or method",
    EXIT_AMBIGUOUS: "several services (or crawls) match: pick one with --pid, --url or a crawl id",
    EXIT_INTERRUPTED: "interrupted with Ctrl-C (but watch, which Ctrl-C ends with 0)",
    EXIT_BROKEN_PIPE: "the reader closed the pipe early (| head): output cut short, no traceback",
}


def exit_codes_text() -> str:
    width = max(len(str(code)) for code in EXIT_CODES)
    return "\n".join(f"  {code:<{width}}  {meaning}" for code, meaning in EXIT_CODES.items())


EPILOG = f"""\
examples:
  scrapy-ws status                       every running spider of every local service
  scrapy-ws services                     the local services: URL, pid, spiders
  scrapy-ws watch                        the same, live, until the crawls end
  scrapy-ws pause demo --wait            pause a spider; wait for its requests in flight
  scrapy-ws resume demo                  fetch again, at once
  scrapy-ws stop demo                    stop a spider (finish_reason: closed_by_webservice)
  scrapy-ws get enginestatus/demo        GET any resource
  scrapy-ws call stats get_value item_scraped_count 0 demo
  scrapy-ws call crawler/engine close_spider -k spider=demo -k reason=enough
  scrapy-ws slots demo                   the downloader's slots: delay, concurrency, queues
  scrapy-ws tune demo --delay 0.5        tune the downloader (--concurrency, --reset...)
  scrapy-ws enqueue demo URL --callback parse_product
  scrapy-ws log --set DEBUG              the log level now; --follow prints the records
  scrapy-ws status --json                machine-readable output (every command)
  scrapy-ws token --pid 4242             with several services: the one of process 4242
  scrapy-ws --url http://127.0.0.1:6080 --token "$TOKEN" list-resources
  scrapy-ws plugins                      installed plugins, hooks and resources
  scrapy-ws completion bash > ~/.local/share/bash-completion/completions/scrapy-ws
  scrapy-ws demo --slow                  a demo crawl to try all of the above on

Options go before or after the command. A command naming a spider goes to
the local service running it; the others need one service: with several,
pick it with --pid (or SCRAPY_WS_PID) or --url.

exit codes:
{exit_codes_text()}

environment: SCRAPY_WS_URL, SCRAPY_WS_TOKEN and SCRAPY_WS_PID stand for
--url, --token and --pid.
"""


def cmd_stop(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """stop <spider> - stop a running spider"""
    result = targets.for_spider(args.spider).call("crawler/engine", "close_spider", args.spider)
    out.result(result, f"Stopping {args.spider}")


def cmd_pause(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """pause <spider> - stop a spider's new requests (--wait: until none are in flight)"""
    client = targets.for_spider(args.spider)
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


def cmd_resume(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """resume <spider> - let a paused spider fetch again, at once"""
    state = targets.for_spider(args.spider).call("crawler/engine", "unpause", args.spider)
    out.result(state, _describe_state(state))


def _describe_state(state: dict[str, Any]) -> str:
    text = f"{state['spider']}: {state['state']}"
    if state["state"] == "pausing":
        text += f", {state['in_flight']} requests still in flight"
    return text


def cmd_status(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """status [spider] - state, rates and requests in flight of the running spiders"""
    if args.spider:
        client = targets.for_spider(args.spider)
        rates = {args.spider: client.call("stats", "get_rates", args.spider)}
        sections = [(client, rates)]
        failed: list[dict[str, Any]] = []
    else:
        sections, failed = rates_of_every(targets)
    if out.as_json:
        out.json({**annotated_rates(sections), **down_entries(failed)})
        return
    for client, rates in sections:
        if len(sections) + len(failed) > 1:
            print(f"{client.name}:", file=out.stream)
        if not rates:
            print("No spider is running.", file=out.stream)
        else:
            out.lines(status_lines(rates))
    for info in failed:
        reason = info.get("error") or "no answer"
        print(f"{describe_service(info)}: down ({reason})", file=out.stream)


def rates_of_every(
    targets: Targets,
) -> tuple[list[tuple[WebServiceClient, dict[str, Any]]], list[dict[str, Any]]]:
    """Every service's rates, and the services that are down (shown, never hidden).

    With one service its failure is the command's; with several (a machine's,
    a fleet's), one that does not answer is listed as down and the others
    are shown.
    """
    clients = targets.every()
    failed = list(targets.down())
    sections = []
    for client, rates, error in fan_out(lambda c: c.call("stats", "get_rates"), clients):
        targets.asked = client
        if error is None:
            sections.append((client, rates or {}))
        elif isinstance(error, (WebServiceError, OSError)) and (len(clients) > 1 or failed):
            failed.append({"url": client.url, "pid": client.pid, "error": _message(error)})
        else:
            raise error
    return sections, failed


def _message(exc: BaseException) -> str:
    return getattr(exc, "message", None) or str(exc)


def down_entries(failed: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    """``status --json``'s entries of services that are down: keyed by their instance."""
    return {
        str(info.get("instance") or info["url"]): {
            "spider": None,
            "state": "down",
            "service": info["url"],
            "instance": info.get("instance"),
            "pid": info.get("pid"),
            "error": info.get("error"),
        }
        for info in failed
    }


def cmd_watch(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """watch - a live view of the running spiders until the crawls end (--json: one line a poll)"""
    down = [describe_service(info) for info in targets.down()]
    watch(targets.every(), args.interval, as_json=out.as_json, stream=out.stream, down=down)


def cmd_services(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """services - the local web services: URL, pid and running spiders"""
    listing = []
    for client in targets.every():
        info: dict[str, Any] = {"url": client.url, "pid": client.pid}
        try:
            info["spiders"] = client.get("crawler/engine/open_spiders")
        except WebServiceError as exc:
            info["error"] = exc.message
        listing.append(info)
    for down in targets.down():
        error = f"down: {down.get('error') or 'no answer'}"
        listing.append({"url": down["url"], "pid": None, "error": error})
    if out.as_json:
        out.json(listing)
        return
    for info in listing:
        pid = "-" if info["pid"] is None else info["pid"]
        spiders = ", ".join(info.get("spiders", [])) or "(no spider running)"
        print(f"{pid:<8} {info['url']:<32} {info.get('error', spiders)}", file=out.stream)


def cmd_get(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """get <path> - GET any resource; JSON pretty-printed, anything else (CSV...) as it is"""
    content_type, body = targets.one().get_raw(args.resource)
    if "json" not in content_type:
        out.raw(body)
    elif body:
        try:
            value = json.loads(body)
        except ValueError:
            raise WebServiceError(
                f"the answer from {args.resource!r} is not JSON", status=200
            ) from None
        out.json(value)


def cmd_call(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """call <path> <method> [args...] - call a JSON-RPC method (-k NAME=VALUE for named params)"""
    params = [_json_or_text(value) for value in args.params]
    named = dict(_named(item) for item in args.kwarg)
    if params and named:
        raise UsageError("give positional params or -k NAME=VALUE params, not both")
    out.json(targets.one().call(args.resource, args.method, *params, **named))


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


def cmd_list_running(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """list-running - list running spiders (of every local service)"""
    clients = targets.every()
    rows: list[tuple[str, WebServiceClient]] = []
    down = [describe_service(info) for info in targets.down()]
    for client in clients:
        targets.asked = client
        try:
            rows += [(name, client) for name in client.get("crawler/engine/open_spiders")]
        except WebServiceError:
            if len(clients) == 1 and not down:
                raise
            down.append(client.name)
    if out.as_json or (len(clients) == 1 and not down):
        out.lines([name for name, _ in rows])
    else:
        width = max((len(name) for name, _ in rows), default=0)
        out.lines([f"{name:<{width}}  {client.name}" for name, client in rows])
    for name in down:
        print(f"{name}: down", file=sys.stderr)


def cmd_list_available(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """list-available - list names of available spiders"""
    out.lines(targets.one().call("crawler/spiders", "list"))


def cmd_list_resources(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """list-resources - list available web service resources"""
    out.lines(targets.one().get("")["resources"])


def cmd_get_spider_stats(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """get-spider-stats <spider> - get stats of a running spider"""
    out.table(targets.for_spider(args.spider).call("stats", "get_stats", args.spider))


def cmd_get_global_stats(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """get-global-stats - get global stats"""
    out.table(targets.one().call("stats", "get_stats"))


def cmd_token(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """token - print the token of the service (for curl and scripts)"""
    client = targets.one()
    client.check_identity()  # a discovered service still there: the token is worth printing
    out.result({"url": client.url, "token": client.token}, client.token or "")


#: The positional of ``get`` and ``call``: ``resource``, since ``--path`` is a global option.
RESOURCE = {"metavar": "path", "help": "resource path, e.g. enginestatus/demo"}

COMMANDS: dict[str, tuple[Command, Arguments]] = {
    "status": (cmd_status, [(("spider",), {"nargs": "?", "help": "only this spider"})]),
    "services": (cmd_services, []),
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
    "get": (cmd_get, [(("resource",), RESOURCE)]),
    "call": (
        cmd_call,
        [
            (
                ("resource",),
                {"metavar": "path", "help": "JSON-RPC resource path, e.g. crawler/engine"},
            ),
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


def all_commands() -> dict[str, tuple[Command, Arguments]]:
    """These commands and the telnet jobs of :mod:`.jobs` (slots, tune, enqueue, mem, log ...)."""
    return {**COMMANDS, **JOB_COMMANDS}


def list_plugins(as_json: bool, out: Any = None) -> int:
    """``scrapy-ws plugins``: what is installed, without a running service.

    Loads the plugins as a service would (entry points, and the project's
    ``WEBSERVICE_PLUGINS`` when run inside a Scrapy project) and asks each
    for its resources.
    """
    from scrapy.utils.project import get_project_settings

    from ..public.settings import WebServiceConfig
    from ..server.plugins import Plugins

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

    taken = {*all_commands(), "help", "plugins", "demo", "completion"}
    return {ep.name: ep for ep in entry_points(group=COMMANDS_GROUP) if ep.name not in taken}


def _env_pid() -> int | None:
    value = os.environ.get("SCRAPY_WS_PID", "").strip()
    return int(value) if value.isdigit() else None


def add_global_options(parser: argparse.ArgumentParser, *, defaults: bool) -> None:
    """The global options; on subcommands with no default, so that they only set what is given.

    The main parser holds the defaults; each subcommand's parser accepts the
    same options (``scrapy-ws status --json``) with ``argparse.SUPPRESS`` as
    default, so an option left out after the command keeps what was given
    before it, or the default.
    """

    def default(value: Any) -> Any:
        return value if defaults else argparse.SUPPRESS

    group = parser.add_argument_group("global options (before or after the command)")
    group.add_argument(
        "--url", default=default(os.environ.get("SCRAPY_WS_URL")), help="service URL"
    )
    group.add_argument(
        "-H", "--host", default=default(None), help="service host (with --port, instead of --url)"
    )
    group.add_argument("-P", "--port", type=int, default=default(None), help="service port")
    group.add_argument("-p", "--path", default=default(""), help="path prefix of the service")
    group.add_argument(
        "--token",
        default=default(os.environ.get("SCRAPY_WS_TOKEN")),
        help="Bearer token of the service",
    )
    group.add_argument(
        "--pid",
        type=int,
        default=default(_env_pid()),
        help="with several local services: the one of this process",
    )
    group.add_argument(
        "--json", action="store_true", default=default(False), help="print JSON, for scripts"
    )
    group.add_argument("--timeout", type=float, default=default(10.0), help="seconds per request")
    group.add_argument(
        "--token-file",
        default=default(None),
        metavar="FILE",
        help="read the token from FILE (a mounted secret), instead of --token",
    )
    fleet = parser.add_argument_group("a fleet through Prometheus (before or after the command)")
    fleet.add_argument(
        "--prometheus",
        default=default(os.environ.get(ENV_PROMETHEUS)),
        metavar="URL",
        help="take the services from this Prometheus's active targets (SCRAPY_WS_PROMETHEUS);"
        " the fleet's token from --token or --token-file",
    )
    fleet.add_argument(
        "--prometheus-job", default=default(None), metavar="NAME", help="only this scrape job"
    )
    fleet.add_argument(
        "--prometheus-token-file",
        default=default(None),
        metavar="FILE",
        help="bearer token for a Prometheus behind auth",
    )
    fleet.add_argument(
        "--prometheus-user",
        default=default(None),
        metavar="USER",
        help=f"basic auth for Prometheus; the password from ${ENV_PROMETHEUS_PASSWORD}",
    )
    fleet.add_argument(
        "--prometheus-ca",
        default=default(None),
        metavar="FILE",
        help="CA certificates to trust for an HTTPS Prometheus",
    )


#: The ``dest`` of each global option.
GLOBAL_OPTIONS = ("url", "host", "port", "path", "token", "pid", "json", "timeout")


def _globals_parser() -> argparse.ArgumentParser:
    """The global options alone, to take them from after a plugin command's name."""
    parser = argparse.ArgumentParser(add_help=False, allow_abbrev=False)
    add_global_options(parser, defaults=False)
    return parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="scrapy-ws",
        description="Watch and steer running Scrapy crawls through their web services.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_global_options(parser, defaults=True)
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    def add_command(name: str, **kwargs: Any) -> argparse.ArgumentParser:
        command = sub.add_parser(name, **kwargs)
        add_global_options(command, defaults=False)
        # A UsageError found after parsing shows this command's usage, as argparse would.
        command.set_defaults(command_usage=command.format_usage)
        return command

    add_command("help", help="list available commands")
    for name, (func, arguments) in all_commands().items():
        summary = (func.__doc__ or "").split(" - ", 1)[-1]
        command = add_command(name, help=summary, description=summary)
        for flags, options in arguments:
            command.add_argument(*flags, **options)
    add_command(
        "plugins",
        help="list installed plugins (no service needed)",
        description="List the installed web service plugins: name, distribution, version,"
        " hooks and resources, and those that failed to load.",
    )
    demo = add_command(
        "demo",
        help="run a demo crawl of a local site with the web service on",
        description="Serve a small shop on 127.0.0.1 and crawl it with the web service on,"
        " until the crawl ends (or Ctrl-C).",
    )
    demo.add_argument("--slow", action="store_true", help="crawl slowly enough to play with")
    demo.add_argument("--products", type=int, default=200, help="products in the shop")
    demo.add_argument("--ws-port", help="WEBSERVICE_PORT for the demo (default: 6080-7030)")
    completion = add_command(
        "completion",
        help="print a shell completion script",
        description="Print a completion script for your shell; for bash:"
        " scrapy-ws completion bash > ~/.local/share/bash-completion/completions/scrapy-ws",
    )
    completion.add_argument("shell", choices=["bash", "zsh", "tcsh"])
    for name, entry_point in plugin_commands().items():
        origin = entry_point.dist.name if entry_point.dist else entry_point.value
        # No option of its own ("\0"): everything after the name is the plugin's,
        # "--help" and "--read-only" included; run_plugin_command takes the
        # global options out of it (up to a "--").
        command = sub.add_parser(
            name,
            help=f"(from {origin}) see scrapy-ws {name} --help",
            add_help=False,
            prefix_chars="\0",
        )
        command.add_argument("plugin_argv", nargs=argparse.REMAINDER)
    return parser


def split_plugin_argv(argv: list[str], args: argparse.Namespace) -> list[str]:
    """Take scrapy-ws's global options out of a plugin command's arguments.

    Up to a ``--``, a global option (``--url``, ``--json``, ``-p``...) is
    scrapy-ws's, whatever the plugin has; after ``--`` everything is the
    plugin's (the ``--`` included, which the plugin drops).
    """
    if "--" in argv:
        at = argv.index("--")
        head, tail = argv[:at], argv[at:]
    else:
        head, tail = argv, []
    found, rest = _globals_parser().parse_known_args(head)
    for name in GLOBAL_OPTIONS:
        if hasattr(found, name):  # given: the others are argparse.SUPPRESS'ed
            setattr(args, name, getattr(found, name))
    return rest + tail


def run_plugin_command(args: argparse.Namespace) -> int:
    """Hand a plugin's subcommand what follows its name, and the global options."""
    entry_point = plugin_commands()[args.command]
    argv = split_plugin_argv(list(args.plugin_argv), args)
    try:
        command: PluginCommand = entry_point.load()
    except Exception as exc:
        print(f"scrapy-ws: the {args.command!r} command failed to load: {exc!r}", file=sys.stderr)
        return EXIT_ERROR
    return int(command(argv, args) or 0)


def print_help(parser: argparse.ArgumentParser) -> None:
    print("Available commands:")
    for name, (func, _) in sorted(all_commands().items()):
        print("  ", func.__doc__ or name)
    print("   plugins - list installed plugins (no service needed)")
    print("   demo [--slow] - run a demo crawl with the web service on")
    print("   completion <shell> - print a shell completion script")
    for name, entry_point in sorted(plugin_commands().items()):
        origin = entry_point.dist.name if entry_point.dist else entry_point.value
        print(f"   {name} - from {origin}")
    print(f"\nRun '{parser.prog} --help' for options.")


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``scrapy-ws``; a reader that closes the pipe early ends it quietly (exit 141)."""
    try:
        try:
            code = _main(argv)
        except SystemExit as exc:  # argparse: --help, or a usage error
            code = exc.code if isinstance(exc.code, int) else (EXIT_OK if exc.code is None else 1)
        sys.stdout.flush()
    except BrokenPipeError:
        # What the Python docs recommend (signal module, "Note on SIGPIPE"):
        # send what is left to devnull, so that the flush at exit does not fail.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return EXIT_BROKEN_PIPE
    return code


def _main(argv: Sequence[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command in (None, "help"):
        print_help(parser)
        return EXIT_OK
    if args.command == "plugins":
        return list_plugins(args.json)
    if args.command == "demo":
        from ..demo.run import run_demo

        return run_demo(products=args.products, slow=args.slow, port=args.ws_port)
    if args.command == "completion":
        import shtab

        print(shtab.complete(parser, shell=args.shell))
        return EXIT_OK
    try:
        targets = Targets(args)
    except WebServiceError as exc:  # an unreadable --token-file, say: the command line's fault
        print(f"scrapy-ws: error: {exc.message}", file=sys.stderr)
        return EXIT_USAGE
    try:
        if hasattr(args, "plugin_argv"):
            return run_plugin_command(args)
        func = all_commands()[args.command][0]
        return func(targets, args, Output(args.json)) or EXIT_OK
    except UsageError as exc:
        usage = getattr(args, "command_usage", parser.format_usage)
        print(usage(), end="", file=sys.stderr)
        print(f"scrapy-ws: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except CommandFailed as exc:
        return report(f"{exc}", targets.asked, EXIT_ERROR)
    except JsonRpcError as exc:
        if exc.code in _NOT_FOUND_CODES:
            code = EXIT_NOT_FOUND
        else:
            code = EXIT_AMBIGUOUS if exc.code == AMBIGUOUS else EXIT_ERROR
        return report(f"error {exc.code}: {exc.message}", targets.asked, code)
    except AmbiguousService as exc:
        return report_ambiguous(exc, targets)
    except (ServiceNotFound, ServiceGone) as exc:
        return report(exc.message, None, EXIT_UNREACHABLE)
    except WebServiceError as exc:
        if exc.status is None:
            code = EXIT_UNREACHABLE
        elif exc.status == 404:
            code = EXIT_NOT_FOUND
        else:
            code = EXIT_AMBIGUOUS if exc.status == 409 else EXIT_ERROR
        return report(exc.message, targets.asked, code)
    except KeyboardInterrupt:
        if args.command == "watch":
            print("Stopped watching.", file=sys.stderr)
            return EXIT_OK
        return EXIT_INTERRUPTED


def report(message: str, asked: WebServiceClient | None, code: int) -> int:
    """One line on standard error, naming the service that was asked."""
    if asked is not None and asked.url not in message:
        message += f" [service {asked.name}]"
    elif asked is not None and asked.pid is not None and f"pid {asked.pid}" not in message:
        message += f" [pid {asked.pid}]"
    print(f"scrapy-ws: {message}", file=sys.stderr)
    return code


def report_ambiguous(exc: AmbiguousService, targets: Targets) -> int:
    """The candidates, with their spiders, and how to pick one."""
    print(f"scrapy-ws: {exc.message}; this command needs one of:", file=sys.stderr)
    fleet = targets.prometheus is not None
    for info in exc.candidates:
        url, pid = info.get("url"), info.get("pid")
        pick = f"--url {url}" if fleet else f"--pid {pid:<8} {url}"
        print(f"  {pick}  {targets.spiders_of(info)}", file=sys.stderr)
    how = (
        "pick one by crawl id or scrapyd job id, or with --url URL (the same token)"
        if fleet
        else "pick one with --pid PID (or SCRAPY_WS_PID=PID), or --url URL --token TOKEN"
    )
    print(f"{how}; see 'scrapy-ws services'", file=sys.stderr)
    return EXIT_AMBIGUOUS


_NOT_FOUND_CODES = frozenset({jsonrpc.NOT_FOUND, jsonrpc.METHOD_NOT_FOUND})


if __name__ == "__main__":
    sys.exit(main())
