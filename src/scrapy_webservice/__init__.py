"""scrapy-webservice: watch and steer running Scrapy crawls over HTTP."""

from __future__ import annotations

__version__ = "0.1.0"

from .addon import Addon
from .extension import WebService
from .hookspecs import hookimpl
from .resource import JsonResource, JsonRpcResource, control, readonly

__all__ = [
    "Addon",
    "JsonResource",
    "JsonRpcResource",
    "WebService",
    "__version__",
    "control",
    "hookimpl",
    "readonly",
]
