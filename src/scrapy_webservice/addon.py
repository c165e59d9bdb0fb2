"""``Addon``: turn the web service on with one line of ``ADDONS``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from .extension import WebService

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

__all__ = ["Addon"]


class Addon:
    """Scrapy add-on: ``ADDONS = {"scrapy_webservice.Addon": 0}``.

    It only enables the :class:`~scrapy_webservice.WebService` extension
    (order 500, after Scrapy's own extensions); every ``WEBSERVICE_*``
    setting keeps its meaning and can still turn the service off.
    """

    extension_order = 500

    def update_settings(self, settings: BaseSettings) -> None:
        settings.set_in_component_priority_dict("EXTENSIONS", WebService, self.extension_order)
