"""``crawler/settings``: a crawl's effective settings, as JSON, secrets redacted.

What ``settings['NAME']`` in the telnet console shows, for the read-only
token too: so a value that looks secret (by its name, a token of this
service, a password in a URL) is answered as ``"<redacted>"``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from scrapy.settings import SETTINGS_PRIORITIES

from .. import WebServiceAPI, readonly

if TYPE_CHECKING:
    from scrapy.crawler import Crawler
    from scrapy.settings import BaseSettings

__all__ = ["SettingsFacade"]

_PRIORITY_NAMES = {number: name for name, number in SETTINGS_PRIORITIES.items()}


class SettingsFacade:
    """``crawler/settings``: read a crawl's settings (never change them: they are frozen)."""

    def __init__(self, api: WebServiceAPI, crawler: Crawler) -> None:
        self._api = api
        self._crawler = crawler

    def _settings(self, spider: str | None) -> BaseSettings:
        crawler = self._crawler if spider is None else self._api.crawler_for(spider)
        return crawler.settings

    @readonly
    def get(self, name: str, spider: str | None = None) -> dict[str, Any]:
        """The effective value of one setting, and where it came from (its priority).

        Without ``spider``, the settings the service started with. Values are
        JSON (dict settings such as ``FEEDS`` included); secrets come back as
        ``"<redacted>"``.
        """
        settings = self._settings(spider)
        if name not in settings:
            return {"name": name, "set": False, "value": None, "priority": None}
        priority = settings.getpriority(name)
        return {
            "name": name,
            "set": True,
            "value": self._api.redact(settings[name], name),
            "priority": _PRIORITY_NAMES.get(priority, priority) if priority is not None else None,
        }

    @readonly
    def names(self, prefix: str | None = None, spider: str | None = None) -> list[str]:
        """Names of the settings, sorted; only those starting with ``prefix`` if given."""
        names = (str(name) for name, _ in self._settings(spider).items())
        return sorted(n for n in names if prefix is None or n.startswith(prefix))
