"""``scrapy-ws``: the command-line client, with the seed's commands.

With no ``--url``/``--host``/``--port`` it finds the local services through
their discovery files, token included; :mod:`.targets` decides which one a
command goes to.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from typing import Any

from .client import (
    WebServiceClient,
    WebServiceError,
    describe_service,
)
from .command import SPIDER, Arguments, Command, CommandFailed, Output, UsageError
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
