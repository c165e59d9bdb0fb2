"""``scrapy-ws`` and the Python client: the service's other end.

What command-line plugins and scripts use is exported here:
``from scrapy_webservice.cli import WebServiceClient, client_from_options``.
Inside, :mod:`.client` (``WebServiceClient``, the discovery of local
services), :mod:`.fleet` (a fleet's services from Prometheus),
:mod:`.targets` (which services a command reaches), :mod:`.command` (what a
command is), :mod:`.commands` and :mod:`.jobs` (the commands), :mod:`.watch`
(the live view). Imports only :mod:`scrapy_webservice.rpc` of the core, so
it never loads the service (but ``scrapy-ws plugins`` and ``demo``, which
run the service's own code). Names load on first use.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

#: Each exported name, and the module of this package that defines it.
_EXPORTS: dict[str, str] = {
    "AmbiguousService": "client",
    "JsonRpcError": "client",
    "ServerEvent": "client",
    "ServiceGone": "client",
    "ServiceNotFound": "client",
    "WebServiceClient": "client",
    "WebServiceError": "client",
    "client_from_options": "client",
    "default_discovery_dir": "client",
    "describe_service": "client",
    "find_services": "client",
    "fleet_from_options": "targets",
    "get_json": "client",
    "iter_events": "client",
    "jsonrpc_client_call": "client",
    "main": "program",
    "read_token_option": "client",
}

__all__ = [
    "AmbiguousService",
    "JsonRpcError",
    "ServerEvent",
    "ServiceGone",
    "ServiceNotFound",
    "WebServiceClient",
    "WebServiceError",
    "client_from_options",
    "default_discovery_dir",
    "describe_service",
    "find_services",
    "fleet_from_options",
    "get_json",
    "iter_events",
    "jsonrpc_client_call",
    "main",
    "read_token_option",
]


def __getattr__(name: str) -> Any:
    # ``main`` too: ``scrapy_webservice.cli:main`` is the console script of
    # installs made before the command line became a package.
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from .client import (
        AmbiguousService,
        JsonRpcError,
        ServerEvent,
        ServiceGone,
        ServiceNotFound,
        WebServiceClient,
        WebServiceError,
        client_from_options,
        default_discovery_dir,
        describe_service,
        find_services,
        get_json,
        iter_events,
        jsonrpc_client_call,
        read_token_option,
    )
    from .program import main
    from .targets import fleet_from_options
