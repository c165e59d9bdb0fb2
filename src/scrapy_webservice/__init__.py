"""scrapy-webservice: watch and steer running Scrapy crawls over HTTP.

Everything a resource or a plugin may use is exported here (plus
``scrapy_webservice.client`` for command-line plugins). Names load on
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
    "Access": "security",
    "Addon": "addon",
    "AmbiguousSpider": "errors",
    "CLOSE_REASON": "crawls",
    "Crawl": "crawls",
    "Event": "events",
    "HttpError": "errors",
    "JsonResource": "resource",
    "JsonRpcError": "jsonrpc",
    "JsonRpcResource": "rpc_resource",
    "NoSuchSpider": "errors",
    "RawBody": "resource",
    "Secret": "secret",
    "WebService": "extension",
    "WebServiceAPI": "public",
    "WebServiceAPIError": "errors",
    "api": "public",
    "control": "markers",
    "data": "markers",
    "hookimpl": "hookspecs",
    "readonly": "markers",
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
    from .addon import Addon
    from .crawls import CLOSE_REASON, Crawl
    from .errors import AmbiguousSpider, HttpError, NoSuchSpider, WebServiceAPIError
    from .events import Event
    from .extension import WebService
    from .hookspecs import hookimpl
    from .jsonrpc import JsonRpcError
    from .markers import control, data, readonly
    from .public import WebServiceAPI, api
    from .resource import JsonResource, RawBody
    from .rpc_resource import JsonRpcResource
    from .secret import Secret
    from .security import Access
