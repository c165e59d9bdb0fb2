"""The modules that moved when the package took its layers, and their old paths.

Each old path is a module of two lines that calls :func:`moved`: importing
it warns once and hands out the new module's names, so code written for
the flat layout keeps working for a release.
"""

from __future__ import annotations

import importlib
import sys
import warnings
from collections.abc import Callable
from typing import Any

#: Old module (documented in the flat layout) -> the modules its names live in now.
MOVED: dict[str, tuple[str, ...]] = {
    "scrapy_webservice.client": ("scrapy_webservice.cli",),
    "scrapy_webservice.extension": ("scrapy_webservice.server.extension",),
    "scrapy_webservice.hookspecs": ("scrapy_webservice.public.hookspecs",),
    "scrapy_webservice.jsonrpc": (
        "scrapy_webservice.rpc.messages",
        "scrapy_webservice.rpc.dispatch",
    ),
    "scrapy_webservice.resource": ("scrapy_webservice.public.resource",),
    "scrapy_webservice.settings": ("scrapy_webservice.public.settings",),
}


def moved(old: str) -> Callable[[str], Any]:
    """Warn that ``old`` moved; the module ``__getattr__`` that forwards to the new one."""
    new = MOVED[old]
    warnings.warn(
        f"{old} is deprecated: import from {' or '.join(new)}"
        " (or the names scrapy_webservice exports)",
        DeprecationWarning,
        stacklevel=3,
    )
    targets = [importlib.import_module(name) for name in new]
    shim = sys.modules[old]
    shim.__all__ = [n for t in targets for n in getattr(t, "__all__", ())]  # type: ignore[attr-defined]

    def forward(name: str) -> Any:
        for target in targets:
            if hasattr(target, name):
                return getattr(target, name)
        raise AttributeError(f"module {old!r} has no attribute {name!r}")

    return forward
