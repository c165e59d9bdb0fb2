"""Finding, loading and calling plugins, each inside its own guard.

pluggy's own ``load_setuptools_entrypoints`` stops at the first broken
plugin, and one raising hook implementation aborts a whole hook call; a
crawl must not depend on every installed plugin being healthy, so plugins
are registered one by one here and their hooks are called one by one. A
broken plugin is logged with its name and the reason, listed as failed,
and skipped, unless strict mode asks for the error to be raised.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import logging
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from . import hookspecs
from .registry import Layer, resource_key

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

    from .settings import WebServiceConfig

__all__ = [
    "ENTRY_POINT_GROUP",
    "ENV_DISABLE",
    "ENV_NO_AUTOLOAD",
    "PluginFailure",
    "PluginInfo",
    "Plugins",
]

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = hookspecs.PROJECT_NAME
#: Comma-separated plugin names not to load, whatever the settings say.
ENV_DISABLE = "SCRAPY_WEBSERVICE_DISABLE_PLUGINS"
#: Set to ``1`` to load no entry-point plugin (like ``PYTEST_DISABLE_PLUGIN_AUTOLOAD``).
ENV_NO_AUTOLOAD = "SCRAPY_WEBSERVICE_DISABLE_PLUGIN_AUTOLOAD"


@dataclass
class PluginInfo:
    """A plugin that loaded: where it comes from and what it offers."""

    name: str
    module: str
    distribution: str | None = None
    version: str | None = None
    hooks: list[str] = field(default_factory=list)
    resources: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class PluginFailure:
    """A plugin that failed, at which stage (import, a hook, a resource), and why."""

    name: str
    stage: str
    error: str
    distribution: str | None = None
    version: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: Hooks called while serving or stopping: strict mode must not turn their
#: errors into a broken request or a port left open.
_REQUEST_TIME_STAGES = frozenset({"json_default", "service_started", "service_stopped"})


def _distribution(ep: importlib.metadata.EntryPoint) -> tuple[str | None, str | None]:
    """The name and version of the distribution that declares ``ep``, when known."""
    dist = getattr(ep, "dist", None)
    if dist is None:
        return None, None
    try:
        return dist.metadata["Name"], dist.version
    except Exception:
        return None, None


def _words(value: str | None) -> set[str]:
    return {w.strip() for w in (value or "").split(",") if w.strip()}


class Plugins:
    """The plugin manager of one service: what loaded, what failed, isolated hook calls."""

    def __init__(self, *, strict: bool = False) -> None:
        self.strict = strict
        self.pm = pluggy.PluginManager(hookspecs.PROJECT_NAME)
        self.pm.add_hookspecs(hookspecs)
        self.loaded: dict[str, PluginInfo] = {}
        self.failures: list[PluginFailure] = []

    @classmethod
    def from_config(
        cls, config: WebServiceConfig, environ: Mapping[str, str] | None = None
    ) -> Plugins:
        """Load the plugins that the settings and the environment allow."""
        environ = os.environ if environ is None else environ
        plugins = cls(strict=config.plugins_strict)
        disabled = set(config.plugins_disabled) | _words(environ.get(ENV_DISABLE))
        only = None if config.plugins_only is None else set(config.plugins_only)
        autoload = config.plugins_autoload and environ.get(ENV_NO_AUTOLOAD, "") in ("", "0")
        if autoload:
            plugins.load_entry_points(disabled=disabled, only=only)
        for path in config.plugins:
            if path in disabled or (only is not None and path not in only):
                continue
            plugins.load_module(path)
        return plugins

    # -- loading -----------------------------------------------------------

    def load_entry_points(
        self, *, disabled: Iterable[str] = (), only: Iterable[str] | None = None
    ) -> None:
        disabled = set(disabled)
        only = None if only is None else set(only)
        seen: set[str] = set()
        try:
            entry_points = list(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP))
        except Exception as exc:  # a broken distribution's metadata on sys.path
            self._fail("(entry points)", "import", exc)
            return
        for ep in entry_points:
            if ep.name in seen:  # the same distribution found twice on sys.path
                continue
            seen.add(ep.name)
            if ep.name in disabled or (only is not None and ep.name not in only):
                continue
            dist_name, version = _distribution(ep)
            try:
                plugin = ep.load()
            except Exception as exc:
                self._fail(ep.name, "import", exc, dist_name, version)
                continue
            self.register(plugin, ep.name, distribution=dist_name, version=version)

    def load_module(self, path: str) -> None:
        """Load a plugin module named in ``WEBSERVICE_PLUGINS`` (code of the project)."""
        try:
            module = importlib.import_module(path)
        except Exception as exc:
            self._fail(path, "import", exc)
            return
        self.register(module, path)

    def register(
        self,
        plugin: object,
        name: str | None = None,
        *,
        distribution: str | None = None,
        version: str | None = None,
    ) -> bool:
        """Register ``plugin`` (a module or object with hook implementations)."""
        name = name or getattr(plugin, "__name__", None) or type(plugin).__name__
        if name in self.loaded or self.pm.is_registered(plugin):
            # Named twice (an entry point and WEBSERVICE_PLUGINS, say): once is enough.
            return True
        try:
            self.pm.register(plugin, name)
            self.pm.check_pending()
        except Exception as exc:
            if self.pm.get_plugin(name) is plugin:  # only undo what this call did
                self.pm.unregister(plugin)
            self._fail(name, "register", exc, distribution, version)
            return False
        hooks = sorted(impl_name for impl_name in self._hook_names(plugin))
        module = getattr(plugin, "__name__", type(plugin).__module__)
        self.loaded[name] = PluginInfo(name, module, distribution, version, hooks)
        return True

    def _hook_names(self, plugin: object) -> list[str]:
        return [caller.name for caller in self.pm.get_hookcallers(plugin) or []]

    def _fail(
        self,
        name: str,
        stage: str,
        exc: BaseException,
        distribution: str | None = None,
        version: str | None = None,
    ) -> None:
        if distribution is None and name in self.loaded:
            distribution = self.loaded[name].distribution
            version = self.loaded[name].version
        reason = f"{type(exc).__name__}: {exc}"
        failure = PluginFailure(name, stage, reason, distribution, version)
        if failure in self.failures:
            # A hook that fails on every request is logged and listed once.
            return
        self.failures.append(failure)
        where = f" ({distribution} {version})" if distribution else ""
        logger.error(
            "Web service plugin %s%s failed at %s and is skipped: %s",
            name,
            where,
            stage,
            reason,
            exc_info=(type(exc), exc, exc.__traceback__),
        )
        if self.strict and stage not in _REQUEST_TIME_STAGES:
            raise exc

    def resource_failed(self, source: str, key: str, exc: BaseException) -> None:
        """Record a plugin's resource that failed to build (called by the registry)."""
        prefix = "plugin "
        if source.startswith(prefix):
            name = source[len(prefix) :]
            self._fail(name, f"resource {key}", exc)

    # -- calling -------------------------------------------------------------

    def each(self, hook_name: str, **kwargs: Any) -> Iterator[tuple[str, Any]]:
        """Call the implementations of a hook one at a time, each in its own guard.

        Implementations run in pluggy's order (last registered first,
        ``tryfirst``/``trylast`` honoured) and yield ``(plugin name, result)``;
        a raising one is recorded as a failure of its plugin and the others
        still run. Stopping the iteration early gives ``firstresult``.
        """
        for impl in reversed(getattr(self.pm.hook, hook_name).get_hookimpls()):
            if impl.hookwrapper or getattr(impl, "wrapper", False):
                continue  # wrappers need pluggy's own call loop; these hooks have none
            try:
                result = impl.function(*(kwargs[arg] for arg in impl.argnames))
            except Exception as exc:
                self._fail(impl.plugin_name, hook_name, exc)
                continue
            yield impl.plugin_name, result

    def call(self, hook_name: str, **kwargs: Any) -> list[tuple[str, Any]]:
        """Every implementation's result, as ``(plugin name, result)`` pairs."""
        return list(self.each(hook_name, **kwargs))

    def resource_layers(self, settings: BaseSettings) -> list[Layer]:
        """One layer per plugin, from ``register_resources``."""
        layers = []
        for name, contributed in self.call("register_resources", settings=settings):
            if contributed is None:
                continue
            if not isinstance(contributed, Mapping):
                error = TypeError(
                    f"register_resources returned {type(contributed).__name__}, expected a dict"
                )
                self._fail(name, "register_resources", error)
                continue
            info = self.loaded.get(name)
            if info is not None:
                info.resources = [
                    resource_key(key) for key, order in contributed.items() if order is not None
                ]
            layers.append(Layer(f"plugin {name}", dict(contributed)))
        return layers

    def json_default(self, obj: Any) -> Any:
        """The first plugin's JSON replacement for ``obj``; ``TypeError`` when none knows it."""
        for _, result in self.each("json_default", obj=obj):
            if result is not None:
                return result
        raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")

    def listing(self) -> dict[str, list[dict[str, Any]]]:
        """What loaded and what failed, for ``scrapy-ws plugins`` and the ``plugins`` resource."""
        return {
            "plugins": [info.to_dict() for info in self.loaded.values()],
            "failures": [failure.to_dict() for failure in self.failures],
        }
