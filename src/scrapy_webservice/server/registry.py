"""Which resources are mounted: the merge of the resource layers.

Layers merge in order, a later one overriding an earlier one for the same
resource: ``WEBSERVICE_RESOURCES_BASE``, then plugin contributions, then
``WEBSERVICE_RESOURCES``. A class and its dotted path are the same key,
``None`` drops a resource, and orders sort what is left (ties keep the
order in which resources were first named).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from scrapy.utils.misc import build_from_crawler, load_object

if TYPE_CHECKING:
    from scrapy.crawler import Crawler

    from ..public.resource import JsonResource
    from ..public.settings import WebServiceConfig

__all__ = ["Layer", "RegistryError", "build_resources", "merge_layers", "resource_key"]

logger = logging.getLogger(__name__)


class RegistryError(Exception):
    """The resources cannot be mounted together (two share one ``ws_name``)."""


@dataclass(frozen=True)
class Layer:
    """One source of resources, named so that errors can say where a resource came from."""

    source: str
    resources: Mapping[Any, int | None]


@dataclass(frozen=True)
class Entry:
    key: str
    cls: type | None
    order: int
    source: str


def class_path(cls: type) -> str:
    return f"{cls.__module__}.{cls.__qualname__}"


def _key(obj: Any) -> tuple[str, type | None, Exception | None]:
    """The canonical dotted path of a class or path, the class, and any import error."""
    if isinstance(obj, type):
        return class_path(obj), obj, None
    if not isinstance(obj, str):
        return repr(obj), None, TypeError(f"expected a class or a dotted path, got {obj!r}")
    try:
        cls = load_object(obj)
    except Exception as exc:
        return obj, None, exc
    if not isinstance(cls, type):
        return obj, None, TypeError(f"{obj!r} is not a class")
    return class_path(cls), cls, None


def resource_key(obj: Any) -> str:
    """The key under which a class or dotted path merges: its canonical dotted path."""
    return _key(obj)[0]


def merge_layers(layers: Iterable[Layer]) -> list[Entry]:
    """The enabled resources of all layers, sorted by order.

    A key that cannot be imported is logged with its source and skipped,
    unless a later layer drops it anyway.
    """
    merged: dict[str, Entry | None] = {}
    errors: dict[str, str] = {}
    for layer in layers:
        for obj, order in layer.resources.items():
            key, cls, error = _key(obj)
            if order is None:
                merged[key] = None
                errors.pop(key, None)
                continue
            if error is not None:
                errors[key] = f"{layer.source}: cannot load resource {key!r}: {error}"
                merged[key] = None
                continue
            errors.pop(key, None)
            try:
                order = int(order)
            except (TypeError, ValueError):
                errors[key] = (
                    f"{layer.source}: order of {key!r} must be a number or None, got {order!r}"
                )
                merged[key] = None
                continue
            merged[key] = Entry(key, cls, order, layer.source)
    for message in errors.values():
        logger.error("Web service resource skipped: %s", message)
    enabled = [entry for entry in merged.values() if entry is not None]
    return sorted(enabled, key=lambda entry: entry.order)


def settings_layers(config: WebServiceConfig, plugin_layers: Iterable[Layer] = ()) -> list[Layer]:
    return [
        Layer("WEBSERVICE_RESOURCES_BASE", config.resources_base),
        *plugin_layers,
        Layer("WEBSERVICE_RESOURCES", config.resources),
    ]


def build_resources(
    config: WebServiceConfig,
    crawler: Crawler,
    plugin_layers: Iterable[Layer] = (),
    on_error: Callable[[str, str, Exception], None] | None = None,
) -> list[JsonResource]:
    """Instantiate the merged resources, checking that their names are unique.

    A resource whose constructor raises is logged and skipped; two resources
    with one ``ws_name`` raise :class:`RegistryError` naming both.
    """
    mounted: dict[str, tuple[Entry, JsonResource]] = {}
    for entry in merge_layers(settings_layers(config, plugin_layers)):
        assert entry.cls is not None
        name = getattr(entry.cls, "ws_name", "")
        if not isinstance(name, str) or not name or "/" in name or name.startswith("_"):
            logger.error(
                "Web service resource %s (%s) skipped: ws_name must be a non-empty path segment"
                " not starting with '_', got %r",
                entry.key,
                entry.source,
                name,
            )
            continue
        if name in mounted:
            other = mounted[name][0]
            raise RegistryError(
                f"two resources are named {name!r}: {other.key} (from {other.source})"
                f" and {entry.key} (from {entry.source}); drop one with None in"
                " WEBSERVICE_RESOURCES"
            )
        try:
            # The Scrapy way: a resource's own ``from_crawler`` is used when it has one.
            resource = build_from_crawler(entry.cls, crawler)
        except Exception as exc:
            logger.exception(
                "Web service resource %s (%s) skipped: it failed to build", entry.key, entry.source
            )
            if on_error is not None:
                on_error(entry.source, entry.key, exc)
            continue
        mounted[name] = (entry, resource)
    return [resource for _, resource in mounted.values()]
