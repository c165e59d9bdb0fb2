"""``scrapy-ws``'s program: its parser, plugin subcommands, ``main`` and exit codes.

The commands themselves are in :mod:`.commands` (and the telnet jobs in
:mod:`.jobs`); here is what turns a command line into one of them and its
outcome into an exit code, with the errors said in one line.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
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
)
from .command import CommandFailed, Output, UsageError
from .commands import (
    EPILOG,
    EXIT_AMBIGUOUS,
    EXIT_BROKEN_PIPE,
    EXIT_ERROR,
    EXIT_INTERRUPTED,
    EXIT_NOT_FOUND,
    EXIT_OK,
    EXIT_UNREACHABLE,
    EXIT_USAGE,
    all_commands,
)
from .fleet import ENV_PROMETHEUS, ENV_PROMETHEUS_PASSWORD
from .targets import Targets


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
