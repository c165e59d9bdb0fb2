"""Finding, loading and calling plugins, each inside its own guard.

pluggy's own ``load_setuptools_entrypoints`` stops at the first broken
plugin, and one raising hook implementation aborts a whole hook call; a
crawl must not depend on every installed plugin being healthy. So plugins
are loaded one by one here, and each is registered as a *guarded proxy*:
the same hook implementations, with the same markers and arguments, each
wrapped so that an exception is logged, listed as the plugin's failure and
counted as a ``None`` result. Hooks are then called through pluggy's own
call loop, so ``wrapper``/``hookwrapper`` implementations, ``tryfirst`` /
``trylast`` and ``firstresult`` behave as pluggy documents. Strict mode
re-raises a failure while the service loads (never while it serves).
"""

from __future__ import annotations

import functools
import importlib
import importlib.metadata
import inspect
import logging
import os
from collections.abc import Callable, Generator, Iterable, Mapping
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

import pluggy

from ..public import hookspecs
from .registry import Layer, resource_key

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

    from ..public.settings import WebServiceConfig

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


#: Most plugin failures listed; later ones are logged at DEBUG only.
MAX_FAILURES = 100

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
        #: The registered plugins as loaded (pluggy holds their guarded proxies).
        self._originals: dict[str, object] = {}
        #: Each ``register_resources`` result of the current call, and its plugin.
        self._contributions: list[tuple[Any, str]] = []
        self._failure_kinds: set[tuple[str, str, str]] = set()

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
        if name in self.loaded or any(p is plugin for p in self._originals.values()):
            # Named twice (an entry point and WEBSERVICE_PLUGINS, say): once is enough.
            return True
        try:
            proxy = self._guarded(plugin, name)
            self.pm.register(proxy, name)
            self.pm.check_pending()
        except Exception as exc:
            registered = self.pm.get_plugin(name)
            if registered is not None and name not in self.loaded:  # undo this call only
                self.pm.unregister(registered)
            self._fail(name, "register", exc, distribution, version)
            return False
        self._originals[name] = plugin
        hooks = sorted(caller.name for caller in self.pm.get_hookcallers(proxy) or [])
        module = getattr(plugin, "__name__", type(plugin).__module__)
        self.loaded[name] = PluginInfo(name, module, distribution, version, hooks)
        return True

    def _guarded(self, plugin: object, name: str) -> object:
        """A stand-in for ``plugin`` whose hook implementations cannot raise into pluggy."""
        proxy = _GuardedPlugin(getattr(plugin, "__name__", name))
        for attr in dir(plugin):
            opts = self.pm.parse_hookimpl_opts(plugin, attr)
            if opts is None:
                continue
            func = getattr(plugin, attr)
            hook_name = opts.get("specname") or attr
            if opts.get("wrapper") or opts.get("hookwrapper"):
                if not inspect.isgeneratorfunction(func):
                    # pluggy checks this at registration; the guard would hide it.
                    raise pluggy.PluginValidationError(
                        plugin,
                        f"{name}: the wrapper {attr} must be a generator function (yield once)",
                    )
                guarded = _guard_wrapper(func, self._failer(name, hook_name), opts.get("wrapper"))
            else:
                guarded = _guard_call(
                    func, self._failer(name, hook_name), self._recorder(name, hook_name)
                )
            setattr(guarded, hookspecs.PROJECT_NAME + "_impl", opts)
            setattr(proxy, attr, guarded)
            proxy.hook_attributes.append(attr)
        return proxy

    def _recorder(self, name: str, hook_name: str) -> Callable[[Any], None] | None:
        """For ``register_resources``: remember which plugin returned which dict."""
        if hook_name != "register_resources":
            return None

        def record(result: Any) -> None:
            self._contributions.append((result, name))

        return record

    def _failer(self, name: str, hook_name: str) -> Callable[[BaseException], None]:
        def fail(exc: BaseException) -> None:
            self._fail(name, hook_name, exc)

        return fail

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
        strict = self.strict and stage not in _REQUEST_TIME_STAGES
        kind = (name, stage, type(exc).__name__)
        if kind in self._failure_kinds or len(self.failures) >= MAX_FAILURES:
            # A hook that fails on every request (each time with another
            # message, say) is logged and listed once: neither the list nor
            # the crawl's ERROR count grows with the requests.
            logger.debug("Web service plugin %s failed again at %s: %r", name, stage, exc)
            if strict:
                raise exc
            return
        self._failure_kinds.add(kind)
        reason = f"{type(exc).__name__}: {exc}"
        failure = PluginFailure(name, stage, reason, distribution, version)
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
        if strict:
            raise exc

    def resource_failed(self, source: str, key: str, exc: BaseException) -> None:
        """Record a plugin's resource that failed to build (called by the registry)."""
        prefix = "plugin "
        if source.startswith(prefix):
            name = source[len(prefix) :]
            self._fail(name, f"resource {key}", exc)

    # -- calling -------------------------------------------------------------

    def call(self, hook_name: str, **kwargs: Any) -> list[Any]:
        """Call a hook through pluggy: the results, ``None`` ones left out (pluggy's rule)."""
        results = getattr(self.pm.hook, hook_name)(**kwargs)
        return list(results) if isinstance(results, list) else [results]

    def resource_layers(self, settings: BaseSettings) -> list[Layer]:
        """One layer per plugin, from ``register_resources``, in pluggy's call order."""
        self._contributions.clear()
        layers = []
        for contributed in self.pm.hook.register_resources(settings=settings):
            name = self._owner(contributed)
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

    def _owner(self, contributed: Any) -> str:
        """The plugin that returned ``contributed``, matched by identity, each match once.

        The results stay referenced until the call ends, so no ``id()`` is
        reused; a dict two plugins return is each one's in turn; a result no
        plugin returned came from a wrapper.
        """
        for index, (result, owner) in enumerate(self._contributions):
            if result is contributed:
                del self._contributions[index]
                return owner
        return "a hook wrapper"

    def json_default(self, obj: Any) -> Any:
        """The first plugin's JSON replacement for ``obj``; ``TypeError`` when none knows it."""
        result = self.pm.hook.json_default(obj=obj)
        if result is None:
            raise TypeError(f"Object of type {type(obj).__name__} is not JSON serializable")
        return result

    def listing(self) -> dict[str, list[dict[str, Any]]]:
        """What loaded and what failed, for ``scrapy-ws plugins`` and the ``plugins`` resource."""
        return {
            "plugins": [info.to_dict() for info in self.loaded.values()],
            "failures": [failure.to_dict() for failure in self.failures],
        }


class _GuardedPlugin:
    """What pluggy registers for a plugin: its hook implementations, each guarded."""

    def __init__(self, name: str) -> None:
        self.__name__ = name
        #: The names of the guarded hook implementations set on this stand-in.
        self.hook_attributes: list[str] = []

    def __repr__(self) -> str:
        return f"<guarded plugin {self.__name__}>"

    def __dir__(self) -> list[str]:
        # pluggy looks for implementations under every name ``dir()`` gives,
        # each with ``inspect.getattr_static``: the hooks only, not the ~30
        # names every object has (most of start-up with many plugins).
        return list(self.hook_attributes)


def _guard_call(
    func: Callable[..., Any],
    fail: Callable[[BaseException], None],
    record: Callable[[Any], None] | None = None,
) -> Any:
    """``func``, answering ``None`` (after ``fail``) instead of raising."""

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        try:
            result = func(*args, **kwargs)
        except Exception as exc:
            fail(exc)
            return None
        if record is not None and result is not None:
            record(result)
        return result

    return guarded


def _guard_wrapper(
    func: Callable[..., Any], fail: Callable[[BaseException], None], new_style: Any
) -> Any:
    """A hook wrapper that passes the inner result through unchanged if ``func`` raises.

    A new-style wrapper (``wrapper=True``) returns the result; an old-style
    one (``hookwrapper=True``) gets pluggy's ``Result`` and returns nothing.
    """

    @functools.wraps(func)
    def guarded(*args: Any, **kwargs: Any) -> Generator[None, Any, Any]:
        try:
            inner = func(*args, **kwargs)
            next(inner)
        except Exception as exc:
            fail(exc)
            inner = None
        try:
            outcome = yield
        except Exception as raised:  # new-style: the implementations below raised
            if inner is None:
                raise
            try:
                inner.throw(raised)
            except StopIteration as stop:
                return stop.value
            except Exception as exc:
                if exc is not raised:
                    fail(exc)
                raise raised from None
            fail(RuntimeError(f"{func.__name__} yielded more than once"))
            raise
        if inner is None:
            return outcome if new_style else None
        try:
            inner.send(outcome)
        except StopIteration as stop:
            return stop.value if new_style else None
        except Exception as exc:
            fail(exc)
            return outcome if new_style else None
        fail(RuntimeError(f"{func.__name__} yielded more than once"))
        return outcome if new_style else None

    return guarded
