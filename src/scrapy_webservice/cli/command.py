"""What a ``scrapy-ws`` command is: its output, how it declares its arguments, its errors.

Shared by the seed's commands (:mod:`.commands`) and the telnet console's
jobs (:mod:`.jobs`), so that neither imports the other's module to be one.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from typing import Any

from .targets import Targets

__all__ = ["SPIDER", "Arguments", "Command", "CommandFailed", "Output", "UsageError"]


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

    def raw(self, body: bytes) -> None:
        """A body that is not JSON (CSV, metrics), byte for byte."""
        self.stream.flush()
        buffer = getattr(self.stream, "buffer", None)
        if buffer is None:
            self.stream.write(body.decode("utf-8", "replace"))
        else:
            buffer.write(body)
            buffer.flush()

    def result(self, value: Any, text: str) -> None:
        """``value`` as JSON for scripts, ``text`` for people."""
        if self.as_json:
            self.json(value)
        else:
            print(text, file=self.stream)


Command = Callable[[Targets, argparse.Namespace, "Output"], "int | None"]
#: How a command's arguments are declared: ``(flags, add_argument keywords)``.
Arguments = list[tuple[tuple[str, ...], dict[str, Any]]]
SPIDER: Arguments = [(("spider",), {"help": "name (or crawl id) of a running spider"})]


class UsageError(Exception):
    """A command line that parses but makes no sense (exit code 2)."""


class CommandFailed(Exception):
    """The service answered, but the command did not get what it asked for (exit code 1)."""
