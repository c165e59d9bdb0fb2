"""scrapy-webservice: watch and steer running Scrapy crawls over HTTP.

Everything a resource or a plugin may use is exported here (plus
``scrapy_webservice.cli`` for command-line plugins). Names load on
first use, so that ``import scrapy_webservice`` (done by every pytest
session that has the package installed, through its pytest plugin) costs
almost nothing.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

#: Each public name, and the module that defines it.
_EXPORTS: dict[str, str] = {
    "Access": "rpc.markers",
    "Addon": "server.addon",
    "AmbiguousSpider": "rpc.errors",
    "CLOSE_REASON": "public.crawls",
    "Crawl": "public.crawls",
    "Event": "public.events",
    "HttpError": "rpc.errors",
    "JsonResource": "public.resource",
    "JsonRpcError": "rpc.messages",
    "JsonRpcResource": "public.rpc_resource",
    "NoSuchSpider": "rpc.errors",
    "RawBody": "public.resource",
    "Repeating": "public.repeating",
    "Secret": "rpc.secret",
    "WebService": "server.extension",
    "WebServiceAPI": "public.api",
    "WebServiceAPIError": "rpc.errors",
    "api": "public.api",
    "control": "rpc.markers",
    "data": "rpc.markers",
    "hookimpl": "public.hookspecs",
    "readonly": "rpc.markers",
}

__all__ = [
    "CLOSE_REASON",
    "Access",
    "Addon",
    "AmbiguousSpider",
    "Crawl",
    "Event",
    "HttpError",
    "JsonResource",
    "JsonRpcError",
    "JsonRpcResource",
    "NoSuchSpider",
    "RawBody",
    "Repeating",
    "Secret",
    "WebService",
    "WebServiceAPI",
    "WebServiceAPIError",
    "__version__",
    "api",
    "control",
    "data",
    "hookimpl",
    "readonly",
]


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'scrapy_webservice' has no attribute {name!r}")
    value = getattr(import_module(f".{module}", __name__), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_EXPORTS))


if TYPE_CHECKING:
    from .public.api import WebServiceAPI, api
    from .public.crawls import CLOSE_REASON, Crawl
    from .public.events import Event
    from .public.hookspecs import hookimpl
    from .public.repeating import Repeating
    from .public.resource import JsonResource, RawBody
    from .public.rpc_resource import JsonRpcResource
    from .rpc.errors import AmbiguousSpider, HttpError, NoSuchSpider, WebServiceAPIError
    from .rpc.markers import Access, control, data, readonly
    from .rpc.messages import JsonRpcError
    from .rpc.secret import Secret
    from .server.addon import Addon
    from .server.extension import WebService
