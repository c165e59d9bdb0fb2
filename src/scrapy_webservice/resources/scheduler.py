"""``crawler/scheduler``: what a running spider has waiting, and new requests for it.

The API people ask for to add URLs to a running crawl (scrapy/scrapy#3477),
usually answered with scrapy-redis or a scheduler of their own. Requests
built here go through the duplicates filter and the downloader
middlewares, as the spider's own would after its spider middlewares; the
spider middlewares do not see them.
"""

from __future__ import annotations

import inspect
import re
from typing import Any
from urllib.parse import urlsplit

import scrapy

from .. import JsonRpcError, WebServiceAPI, control, readonly

__all__ = ["MAX_URLS", "SchedulerFacade"]

#: URLs one ``enqueue`` call may carry.
MAX_URLS = 1000
#: Schemes never enqueued unless ``WEBSERVICE_ENQUEUE_SCHEMES`` names them:
#: ``file:`` would read this machine's files for whoever holds the token.
LOCAL_SCHEMES = frozenset({"file"})
#: An HTTP method is a token (RFC 9110).
_METHOD = re.compile(r"[A-Z][A-Z0-9!#$%&'*+.^_`|~-]{0,19}")
INVALID_PARAMS = -32602


def _invalid(message: str, data: Any = None) -> JsonRpcError:
    return JsonRpcError(INVALID_PARAMS, message, data)


class SchedulerFacade:
    """``crawler/scheduler``: requests waiting, and requests added to a running spider."""

    def __init__(self, api: WebServiceAPI) -> None:
        self._api = api

    @readonly
    def size(self, spider: str) -> dict[str, Any]:
        """Requests waiting in the scheduler, and by queue (``memory``, ``disk`` with JOBDIR)."""
        crawl = self._api.crawl(spider)
        return {
            "spider": crawl.spider_name,
            "crawl_id": crawl.id,
            "waiting": crawl.scheduled,
            "queues": crawl.queues(),
            "in_flight": crawl.in_flight,
        }

    @control
    def enqueue(
        self,
        spider: str,
        urls: list[str],
        callback: str | None = None,
        priority: int = 0,
        dont_filter: bool = False,
        meta: dict[str, Any] | None = None,
        cb_kwargs: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        method: str = "GET",
        body: str | None = None,
    ) -> dict[str, Any]:
        """Schedule requests for a running spider, as if one of its callbacks had yielded them.

        ``callback`` names a callback of the spider (a public method its class
        defines, or ``parse``, the default). Each URL's scheme must be one
        Scrapy downloads; ``file:`` only where ``WEBSERVICE_ENQUEUE_SCHEMES``
        allows it. The duplicates filter applies unless ``dont_filter``; the
        answer says how many were scheduled and how many were duplicates. A
        paused spider keeps them until it resumes.
        """
        crawl = self._api.crawl(spider)
        spider_object = crawl.crawler.spider
        if not urls or len(urls) > MAX_URLS:
            raise _invalid(f"urls must list 1 to {MAX_URLS} URLs, got {len(urls)}")
        callback_name = callback or "parse"
        callbacks = spider_callbacks(type(spider_object))
        if callback_name not in callbacks:
            raise _invalid(
                f"{callback_name[:100]!r} is not a callback of spider {crawl.spider_name!r};"
                f" its callbacks: {', '.join(callbacks)}",
                {"callbacks": callbacks},
            )
        method = method.upper()
        if not _METHOD.fullmatch(method):
            raise _invalid(f"method must be an HTTP method name, got {method[:30]!r}")
        schemes = self._schemes(crawl.crawler.settings)
        for url in urls:
            scheme = urlsplit(url).scheme.lower()
            if scheme not in schemes:
                raise _invalid(
                    f"URL {url[:200]!r}: scheme {scheme or '(none)'!r} is not enqueued"
                    f" (allowed: {', '.join(sorted(schemes))}; WEBSERVICE_ENQUEUE_SCHEMES)"
                )
        func = getattr(spider_object, callback_name)
        try:
            requests = [
                scrapy.Request(
                    url,
                    callback=func,
                    priority=priority,
                    dont_filter=dont_filter,
                    meta=meta,
                    cb_kwargs=cb_kwargs,
                    headers=headers,
                    method=method,
                    body=body,
                )
                for url in urls
            ]
        except (TypeError, ValueError) as exc:
            raise _invalid(f"cannot build the requests: {exc}") from None
        counts = crawl.enqueue(requests)
        return {
            "spider": crawl.spider_name,
            "crawl_id": crawl.id,
            "callback": callback_name,
            **counts,
            "paused": crawl.paused,
        }

    def _schemes(self, settings: Any) -> frozenset[str]:
        """The URL schemes this crawl may be given: what it downloads, less local files."""
        handlers = settings.getwithbase("DOWNLOAD_HANDLERS")
        downloadable = {str(s).lower() for s, handler in handlers.items() if handler}
        allowed = self._api.config.enqueue_schemes
        if allowed is None:
            return frozenset(downloadable - LOCAL_SCHEMES)
        return frozenset(downloadable & {s.lower() for s in allowed})


def spider_callbacks(cls: type) -> list[str]:
    """The names ``enqueue`` takes as a callback: ``parse``, and the public methods
    of the spider's class that are not ``scrapy.Spider``'s own.
    """
    names = {"parse"}
    for name in dir(cls):
        if name.startswith("_") or name in _SPIDER_OWN:
            continue
        static = inspect.getattr_static(cls, name, None)
        if callable(static) and not isinstance(static, (type, staticmethod, classmethod)):
            names.add(name)
    return sorted(names)


_SPIDER_OWN = frozenset(name for name in dir(scrapy.Spider) if name != "parse")
