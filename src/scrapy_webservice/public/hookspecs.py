"""The hook specifications of pluggy project ``scrapy_webservice``.

Each docstring here is the reference for its hook (the docs page is made
from them). A plugin is a module (or object) with functions of these names
marked with :data:`scrapy_webservice.hookimpl`; an implementation may take
fewer arguments than the specification lists.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

    from .api import WebServiceAPI

PROJECT_NAME = "scrapy_webservice"

hookspec = pluggy.HookspecMarker(PROJECT_NAME)
hookimpl = pluggy.HookimplMarker(PROJECT_NAME)


@hookspec
def register_resources(settings: BaseSettings) -> dict[Any, int | None] | None:
    """Contribute resources to the service: ``{class or dotted path: order or None}``.

    The contributions of all plugins form one layer of the merge, between
    ``WEBSERVICE_RESOURCES_BASE`` and ``WEBSERVICE_RESOURCES``: a plugin may
    replace a built-in resource (same class or ``ws_name``) or drop one with
    ``None``, and the project's ``WEBSERVICE_RESOURCES`` has the last word.
    ``settings`` are the settings of the first crawler, so a plugin can offer
    resources only when its own settings ask for them. Return ``None`` (or
    nothing) to contribute nothing.

    .. code-block:: python

        @hookimpl
        def register_resources(settings):
            if settings.getbool("MYPLUGIN_ENABLED", True):
                return {"myplugin.resources.QueueResource": 100}
    """


@hookspec(firstresult=True)
def json_default(obj: Any) -> Any:
    """Encode a value that the service's JSON encoder does not know.

    Called only for values that are not JSON and not one of the types the
    service already handles (datetimes, sets, bytes, Decimals, dataclasses,
    items...). Return a JSON-able replacement, or ``None`` to let the next
    plugin try; the first non-``None`` answer wins (``firstresult``). When no
    plugin knows the value, the response is a ``500`` (or a JSON-RPC
    ``-32603``) and the value is never leaked through its ``repr``.

    .. code-block:: python

        @hookimpl
        def json_default(obj):
            if isinstance(obj, Money):
                return {"amount": str(obj.amount), "currency": obj.currency}
    """


@hookspec
def service_started(service: WebServiceAPI) -> None:
    """The service is listening: ``service.url`` and ``service.resources()`` are set.

    ``service`` is the :class:`~scrapy_webservice.WebServiceAPI`, the whole
    of what a plugin may use. Called once per service, when the first
    crawler's engine has started. Start the plugin's own periodic work here
    (on the reactor; never block it), or ``service.subscribe`` to the
    events; ``service.crawls()`` gives the running crawls of the process.
    """


@hookspec
def service_stopped(service: WebServiceAPI) -> None:
    """The service stopped listening (the last crawler of the process stopped).

    ``service`` is the same :class:`~scrapy_webservice.WebServiceAPI` as at
    start; its ``url`` is ``None`` now.

    Stop what :func:`service_started` began. Also called when the service
    failed to start, so that cleanup never depends on success.
    """
