"""Spiders of the demo shop; ``SPIDER_MODULES = ["scrapy_webservice.demo.spiders"]``."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import scrapy
from scrapy.http import Response

__all__ = ["DemoSpider", "OtherDemoSpider"]


class DemoSpider(scrapy.Spider):
    """Crawl the demo shop: follow listing pages, scrape every product.

    ``scrapy crawl demo -a url=http://127.0.0.1:PORT/``
    """

    name = "demo"

    def __init__(self, url: str = "http://127.0.0.1:8000/", **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.url = url

    async def start(self) -> AsyncIterator[scrapy.Request]:
        yield scrapy.Request(self.url, callback=self.parse)

    def parse(self, response: Response) -> Iterator[Any]:
        for href in response.css("ul.pages a::attr(href), a.next::attr(href)").getall():
            yield response.follow(href, callback=self.parse)
        for href in response.css("a.product::attr(href)").getall():
            yield response.follow(href, callback=self.parse_product)

    def parse_product(self, response: Response) -> Iterator[dict[str, Any]]:
        yield {
            "name": response.css("h1.name::text").get(),
            "price": float(response.css("p.price::text").get("0")),
            "in_stock": response.css("p.stock::text").get() == "in stock",
            "url": response.url,
        }


class OtherDemoSpider(DemoSpider):
    """The same crawl under another name, to run two crawlers in one process."""

    name = "demo2"
