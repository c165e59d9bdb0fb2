"""``scrapy-ws`` commands for the telnet console's jobs: slots, tune, enqueue, mem, log, settings.

What people opened the telnet console of a crawl for (``est()``, assigning
``engine.downloader.slots[...].delay``, ``prefs()``, ``settings[...]``),
over the typed resources ``crawler/downloader``, ``crawler/scheduler``,
``crawler/settings``, ``memory`` and ``log``. They follow the other
commands' rules (see :mod:`.commands`): a spider name routes the command to the
service running it, ``--json`` prints one JSON document, and errors name
the service asked.

:mod:`.commands` adds :data:`JOB_COMMANDS` to its own; what they print is
made in :mod:`.tables`.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Iterator
from typing import Any

from ..rpc.messages import INVALID_PARAMS
from .client import JsonRpcError, ServerEvent, WebServiceClient
from .command import SPIDER, Arguments, Command, Output, UsageError
from .tables import (
    age_text,
    memory_lines,
    record_line,
    slots_lines,
    stall_lines,
)
from .targets import Targets

__all__ = ["JOB_COMMANDS", "LOG_LEVELS"]

#: What ``log --set``, ``log --level`` and ``/events?level=`` take, lowest first.
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


def _running_spider(targets: Targets, spider: str) -> WebServiceClient:
    """The service running ``spider``, checked there: a wrong name is exit code 4.

    For the per-process resources (``memory``, ``log``), where the spider
    only routes the command and the service itself would never check it.
    """
    client = targets.for_spider(spider)
    client.call("crawler/engine", "state", spider)
    return client


# -- slots and tune ------------------------------------------------------------------------


def cmd_slots(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """slots <spider> - the downloader's slots: requests active and queued, concurrency, delay"""
    answer = targets.for_spider(args.spider).call("crawler/downloader", "slots", args.spider)
    out.result(answer, "\n".join(slots_lines(answer)))


#: ``tune``'s options, for the message when none is given.
TUNE_OPTIONS = (
    "--delay",
    "--concurrency",
    "--total-concurrency",
    "--reset",
    "--autothrottle",
    "--target-concurrency",
)


def cmd_tune(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """tune <spider> --delay S|--concurrency N|... - change the downloader's delays, concurrency"""
    autothrottle = args.autothrottle is not None or args.target_concurrency is not None
    slot_changes = args.delay is not None or args.concurrency is not None
    if args.slot is not None and not slot_changes:
        raise UsageError("--slot says which slot --delay or --concurrency changes")
    if not (slot_changes or autothrottle or args.reset or args.total_concurrency is not None):
        raise UsageError(f"tune needs at least one of {', '.join(TUNE_OPTIONS)}")
    client = targets.for_spider(args.spider)
    path, spider = "crawler/downloader", args.spider
    # Reset first, so that "--reset --delay 0" means: from the configured values, this delay.
    answer: dict[str, Any] | None = None
    if args.reset:
        answer = client.call(path, "reset", spider=spider)
    if args.total_concurrency is not None:
        answer = client.call(
            path, "set_total_concurrency", spider=spider, concurrency=args.total_concurrency
        )
    if args.concurrency is not None:
        answer = client.call(
            path, "set_concurrency", spider=spider, concurrency=args.concurrency, slot=args.slot
        )
    if args.delay is not None:
        answer = client.call(path, "set_delay", spider=spider, delay=args.delay, slot=args.slot)
    throttle: dict[str, Any] | None = None
    if autothrottle:
        named: dict[str, Any] = {"spider": spider}
        if args.autothrottle is not None:
            named["enabled"] = args.autothrottle == "on"
        if args.target_concurrency is not None:
            named["target_concurrency"] = args.target_concurrency
        throttle = client.call(path, "set_autothrottle", **named)
        answer = None  # AutoThrottle's answer is not the slots'
    if answer is None:
        answer = client.call(path, "slots", spider=spider)
    if out.as_json:
        out.json(answer if throttle is None else {**answer, "autothrottle_state": throttle})
        return
    if throttle is not None:
        print(_describe_autothrottle(throttle), file=out.stream)
    out.lines(slots_lines(answer))


def _describe_autothrottle(state: dict[str, Any]) -> str:
    text = f"AutoThrottle: {'on' if state.get('enabled') else 'off'}"
    if state.get("target_concurrency") is not None:
        text += f", target concurrency {state['target_concurrency']:g}"
    return text


# -- enqueue -------------------------------------------------------------------------------


def _json_object(value: str) -> dict[str, Any]:
    """``--meta`` and ``--cb-kwargs``: a JSON object, checked here (a usage error, code 2)."""
    try:
        parsed = json.loads(value)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not JSON ({exc}): {value!r}") from None
    if not isinstance(parsed, dict):
        raise argparse.ArgumentTypeError(f"must be a JSON object, got {value!r}")
    return parsed


def _headers(items: list[str]) -> dict[str, str]:
    headers: dict[str, str] = {}
    for item in items:
        name, sep, value = item.partition(":")
        name = name.strip()
        if not sep or not name:
            raise UsageError(f"--header takes 'Name: value', got {item!r}")
        if name.lower() in {n.lower() for n in headers}:
            raise UsageError(f"--header {name!r} given twice")
        headers[name] = value.strip()
    return headers


def cmd_enqueue(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """enqueue <spider> <url>... - add requests to a running spider (--callback NAME...)"""
    given = {
        "spider": args.spider,
        "urls": args.urls,
        "callback": args.callback,
        "priority": args.priority,
        "dont_filter": args.dont_filter or None,
        "meta": args.meta,
        "cb_kwargs": args.cb_kwargs,
        "headers": _headers(args.header) or None,
        "method": args.method,
        "body": args.body,
    }
    client = targets.for_spider(args.spider)
    # By name, and only what is given: the service's defaults stay its own.
    named = {name: value for name, value in given.items() if value is not None}
    try:
        answer = client.call("crawler/scheduler", "enqueue", **named)
    except JsonRpcError as exc:
        callbacks = exc.data.get("callbacks") if isinstance(exc.data, dict) else None
        if exc.code == INVALID_PARAMS and callbacks and str(callbacks[0]) not in exc.message:
            exc.message += f"; callbacks: {', '.join(map(str, callbacks))}"
        raise
    duplicates = answer["duplicates"]
    plural = "" if duplicates == 1 else "s"
    text = f"{answer['scheduled']} scheduled, {duplicates} duplicate{plural}"
    if answer.get("paused"):
        text += "; paused: kept until resumed"
    out.result(answer, text)


# -- mem -----------------------------------------------------------------------------------


def cmd_mem(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """mem [spider] - memory of the crawl's process: RSS, GC, live requests/responses/items"""
    client = _running_spider(targets, args.spider) if args.spider else targets.one()
    if args.oldest is not None:
        oldest = client.call("memory", "oldest", class_name=args.oldest)
        details = {k: v for k, v in oldest.items() if k not in ("class", "age_seconds")}
        lines = [f"{oldest['class']}, {age_text(oldest['age_seconds'])} old"]
        width = max((len(k) for k in details), default=0)
        lines += [f"  {key:<{width}}  {value}" for key, value in details.items()]
        out.result(oldest, "\n".join(lines))
        return
    usage = client.call("memory", "usage")
    refs = client.call("memory", "live_refs")
    out.result({"usage": usage, "live_refs": refs}, "\n".join(memory_lines(usage, refs)))


# -- stalls --------------------------------------------------------------------------------


def cmd_stalls(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """stalls [spider] - when the crawl's own code blocked the reactor, and which line"""
    client = _running_spider(targets, args.spider) if args.spider else targets.one()
    found = client.call("stalls", "recent", limit=args.limit)
    out.result(found, "\n".join(stall_lines(found, args.stack)))


# -- log -----------------------------------------------------------------------------------


def log_events(
    client: WebServiceClient, level: str, spider: str | None = None
) -> Iterator[ServerEvent]:
    """The ``log`` events from ``level`` up, as they come (``/events?events=log&level=``)."""
    return client.events(names=["log"], level=level, spiders=[spider] if spider else ())


def _describe_level(answer: dict[str, Any], verb: str = "is") -> str:
    whose = f"log level of {answer['logger']}" if answer.get("logger") else "log level"
    return f"{whose} {verb} {answer['level']}"


def cmd_log(targets: Targets, args: argparse.Namespace, out: Output) -> int | None:
    """log [spider] [--set LEVEL|--follow] - the crawl's log level; set it; follow the log live"""
    if args.level is not None and not args.follow:
        raise UsageError("--level is the lowest level --follow shows; --set changes the log's")
    if args.logger is not None and args.follow and args.set is None:
        raise UsageError("--logger names the logger of --set (--follow shows every logger)")
    client = _running_spider(targets, args.spider) if args.spider else targets.one()
    logger = {"logger": args.logger} if args.logger else {}
    if args.set is not None:
        answer = client.call("log", "set_level", level=args.set, **logger)
        if not args.follow:
            out.result(answer, _describe_level(answer, "set to"))
            return None
        # Standard output is for the records (one JSON line each with --json).
        print(_describe_level(answer, "set to"), file=sys.stderr)
    if not args.follow:
        answer = client.call("log", "get_level", **logger)
        out.result(answer, _describe_level(answer))
        return None
    level = args.level or "INFO"
    print(f"Following the log of {client.name} from {level}; Ctrl-C stops.", file=sys.stderr)
    try:
        for event in log_events(client, level, args.spider):
            if event.name != "log":
                continue
            if out.as_json:
                print(json.dumps(event.data, sort_keys=True), file=out.stream, flush=True)
            else:
                print(record_line(event.data), file=out.stream, flush=True)
    except KeyboardInterrupt:  # how following ends, as watching does: not a failure
        print("Stopped following the log.", file=sys.stderr)
        return None
    print("The web service ended the stream: its crawl is over.", file=sys.stderr)
    return None


# -- settings ------------------------------------------------------------------------------


def cmd_settings(targets: Targets, args: argparse.Namespace, out: Output) -> None:
    """settings get <name>|list [prefix] - a crawl's effective settings, secrets redacted"""
    if args.action == "get" and not args.name:
        raise UsageError("settings get needs the name of a setting")
    client = targets.for_spider(args.spider) if args.spider else targets.one()
    spider = {"spider": args.spider} if args.spider else {}
    if args.action == "list":
        prefix = {"prefix": args.name} if args.name else {}
        out.lines(client.call("crawler/settings", "names", **prefix, **spider))
        return
    answer = client.call("crawler/settings", "get", name=args.name, **spider)
    if not answer.get("set"):
        out.result(answer, f"{answer['name']}: not set")
        return
    value = answer["value"]
    shown = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    out.result(answer, f"{answer['name']} = {shown}  ({answer['priority']})")


# -- the commands --------------------------------------------------------------------------


def _level(value: str) -> str:
    return value.upper()


JOB_COMMANDS: dict[str, tuple[Command, Arguments]] = {
    "slots": (cmd_slots, SPIDER),
    "tune": (
        cmd_tune,
        [
            *SPIDER,
            (
                ("--delay",),
                {"type": float, "metavar": "SECONDS", "help": "seconds between requests"},
            ),
            (("--concurrency",), {"type": int, "metavar": "N", "help": "requests per slot"}),
            (
                ("--total-concurrency",),
                {"type": int, "metavar": "N", "help": "requests of the whole crawl"},
            ),
            (
                ("--slot",),
                {"metavar": "KEY", "help": "only this slot (default: every slot and new ones)"},
            ),
            (("--reset",), {"action": "store_true", "help": "back to the configured values"}),
            (
                ("--autothrottle",),
                {"choices": ["on", "off"], "help": "stop or restart AutoThrottle's adjusting"},
            ),
            (
                ("--target-concurrency",),
                {"type": float, "metavar": "X", "help": "AutoThrottle's target concurrency"},
            ),
        ],
    ),
    "enqueue": (
        cmd_enqueue,
        [
            *SPIDER,
            (("urls",), {"nargs": "+", "metavar": "url", "help": "URLs to request"}),
            (("--callback",), {"metavar": "NAME", "help": "a callback of the spider (parse)"}),
            (("--priority",), {"type": int, "metavar": "N", "help": "request priority (0)"}),
            (
                ("--dont-filter",),
                {"action": "store_true", "help": "past the duplicates filter"},
            ),
            (("--meta",), {"type": _json_object, "metavar": "JSON", "help": "Request.meta"}),
            (
                ("--cb-kwargs",),
                {"type": _json_object, "metavar": "JSON", "help": "Request.cb_kwargs"},
            ),
            (
                ("--header",),
                {
                    "action": "append",
                    "default": [],
                    "metavar": "'NAME: VALUE'",
                    "help": "a request header (repeatable)",
                },
            ),
            (("--method",), {"metavar": "M", "help": "HTTP method (GET)"}),
            (("--body",), {"metavar": "TEXT", "help": "request body"}),
        ],
    ),
    "mem": (
        cmd_mem,
        [
            (
                ("spider",),
                {"nargs": "?", "help": "a spider of the process to ask (memory is per process)"},
            ),
            (
                ("--oldest",),
                {"metavar": "CLASS", "help": "the oldest live object of a class, e.g. Request"},
            ),
        ],
    ),
    "stalls": (
        cmd_stalls,
        [
            (
                ("spider",),
                {"nargs": "?", "help": "a spider of the process to ask (stalls are per process)"},
            ),
            (
                ("--limit",),
                {"type": int, "default": 10, "metavar": "N", "help": "the N most recent (10)"},
            ),
            (("--stack",), {"action": "store_true", "help": "each stall's frames too"}),
        ],
    ),
    "log": (
        cmd_log,
        [
            (
                ("spider",),
                {"nargs": "?", "help": "a spider of the process (--follow: its records only)"},
            ),
            (
                ("--set",),
                {"type": _level, "choices": LOG_LEVELS, "metavar": "LEVEL", "help": "log level"},
            ),
            (("--logger",), {"metavar": "NAME", "help": "one logger (default: crawl-wide)"}),
            (("--follow",), {"action": "store_true", "help": "print records as they come"}),
            (
                ("--level",),
                {
                    "type": _level,
                    "choices": LOG_LEVELS,
                    "metavar": "LEVEL",
                    "help": "with --follow: records from this level up (INFO)",
                },
            ),
        ],
    ),
    "settings": (
        cmd_settings,
        [
            (("action",), {"choices": ["get", "list"], "help": "get one, or list the names"}),
            (
                ("name",),
                {"nargs": "?", "metavar": "name|prefix", "help": "setting (get), prefix (list)"},
            ),
            (
                ("--spider",),
                {"help": "that crawl's settings (default: those the service started with)"},
            ),
        ],
    ),
}
