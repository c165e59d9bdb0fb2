"""``crawler/downloader``: the downloader's slots, read and tuned on a running crawl.

What people open the telnet console for (``engine.downloader.slots``,
assigning a slot's ``delay``), as typed methods: the read-only token reads,
the full token tunes. A tuning lasts when Scrapy drops an idle slot and
makes it again, and ``reset`` goes back to the configured values.
"""

from __future__ import annotations

from typing import Any

from .. import WebServiceAPI, control, readonly

__all__ = ["DownloaderFacade"]


class DownloaderFacade:
    """``crawler/downloader``: per-spider downloader slots, delays and concurrency."""

    def __init__(self, api: WebServiceAPI) -> None:
        self._api = api

    def _answer(self, spider: str, answer: dict[str, Any]) -> dict[str, Any]:
        crawl = self._api.crawl(spider)
        return {"spider": crawl.spider_name, "crawl_id": crawl.id, **answer}

    @readonly
    def slots(self, spider: str) -> dict[str, Any]:
        """Each slot's key, requests active, queued and transferring, concurrency, delay,
        jitter and seconds since it last sent a request; the crawl-wide limit
        (``total_concurrency``, from ``CONCURRENT_REQUESTS``) and what new slots get.
        """
        return self._answer(spider, self._api.crawl(spider).downloader.slots())

    @control
    def set_delay(self, spider: str, delay: float, slot: str | None = None) -> dict[str, Any]:
        """Seconds between requests of one slot, or (``slot`` null) of every slot and new ones.

        ``delay`` >= 0. With AutoThrottle on, the answer says that it will go
        on adjusting delays.
        """
        return self._answer(spider, self._api.crawl(spider).downloader.set_delay(delay, slot))

    @control
    def set_concurrency(
        self, spider: str, concurrency: int, slot: str | None = None
    ) -> dict[str, Any]:
        """Requests one slot (or, ``slot`` null, every slot and new ones) may download at once.

        ``concurrency`` >= 1.
        """
        tuning = self._api.crawl(spider).downloader
        return self._answer(spider, tuning.set_concurrency(concurrency, slot))

    @control
    def set_total_concurrency(self, spider: str, concurrency: int) -> dict[str, Any]:
        """The crawl-wide limit of requests downloading at once (>= 1)."""
        tuning = self._api.crawl(spider).downloader
        return self._answer(spider, tuning.set_total_concurrency(concurrency))

    @control
    def reset(self, spider: str) -> dict[str, Any]:
        """Delays and concurrency back to the values the crawl started with."""
        return self._answer(spider, self._api.crawl(spider).downloader.reset())

    @readonly
    def autothrottle(self, spider: str) -> dict[str, Any]:
        """Whether AutoThrottle was loaded and adjusts delays now; its target concurrency."""
        return self._answer(spider, self._api.crawl(spider).downloader.autothrottle())

    @control
    def set_autothrottle(
        self,
        spider: str,
        enabled: bool | None = None,
        target_concurrency: float | None = None,
    ) -> dict[str, Any]:
        """Stop or restart AutoThrottle's adjusting, or change its target concurrency.

        Only when AutoThrottle was loaded at start (``AUTOTHROTTLE_ENABLED``);
        otherwise an error says so.
        """
        tuning = self._api.crawl(spider).downloader
        return self._answer(spider, tuning.set_autothrottle(enabled, target_concurrency))
