"""A spider whose own code blocks the reactor, where and how long its arguments say.

``-a block=callback,pipeline`` (any of them, or ``none``) blocks once for
``-a seconds=S`` in ``parse`` on the third page and in the pipeline on the
sixth item, among ``-a pages=N`` ``data:`` pages (no server needed). The
blocking lines end in ``# blocks: callback`` and ``# blocks: pipeline`` so
that the tests can find their numbers.
"""

from __future__ import annotations

import threading
import time
from typing import ClassVar

import scrapy


class BlockingPipeline:
    def __init__(self, crawler):
        self.crawler = crawler

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler)

    def process_item(self, item, spider=None):
        spider = self.crawler.spider
        if "pipeline" in spider.blocks and item["page"] == 6:
            # Blocking in the standard library's own Python frames, as a driver does.
            threading.Event().wait(spider.seconds)  # blocks: pipeline
        return item


class StallingSpider(scrapy.Spider):
    name = "stalling"
    custom_settings: ClassVar[dict] = {
        "ADDONS": {"scrapy_webservice.Addon": 0},
        "ITEM_PIPELINES": {BlockingPipeline: 300},
        "WEBSERVICE_PORT": 0,
        "LOG_LEVEL": "INFO",
        "TELNETCONSOLE_ENABLED": False,
        "CONCURRENT_REQUESTS": 4,
    }

    def __init__(self, block: str = "none", seconds: str = "1.0", pages: str = "12", **kwargs):
        super().__init__(**kwargs)
        self.blocks = set(block.split(","))
        self.seconds = float(seconds)
        self.pages = int(pages)

    async def start(self):
        for page in range(1, self.pages + 1):
            yield scrapy.Request(f"data:,{page}", cb_kwargs={"page": page})

    def parse(self, response, page):
        if "callback" in self.blocks and page == 3:
            time.sleep(self.seconds)  # blocks: callback
        yield {"page": page}
