"""``scrapy-ws`` and the Python client: the service's other end.

:mod:`.client` (``WebServiceClient``, what command-line plugins use),
:mod:`.commands` (the parser and the commands), :mod:`.jobs` (the telnet
console's jobs), :mod:`.targets` and :mod:`.fleet` (which services a
command reaches), :mod:`.watch` (the live view). Imports only
:mod:`scrapy_webservice.rpc` of the core, so it never loads the service.
"""

from __future__ import annotations

from typing import Any


def __getattr__(name: str) -> Any:
    # ``scrapy_webservice.cli:main``, the console script of installs made before
    # the command line became a package: the script stays valid until reinstalled.
    if name == "main":
        from .commands import main

        return main
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
