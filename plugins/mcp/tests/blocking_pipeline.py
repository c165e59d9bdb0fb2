"""An item pipeline that blocks the reactor once: the crawl's own stall, for the tests.

Not a test: ``test_crawl.py`` puts this directory on the crawl's ``PYTHONPATH``
and sets ``ITEM_PIPELINES = {"blocking_pipeline.BlockOnce": 300}``. The first
item sleeps ``MCP_TEST_STALL_SECONDS`` on the reactor, as a pipeline's blocking
database call does, on the line marked ``# blocks here``.
"""

from __future__ import annotations

import time


class BlockOnce:
    def __init__(self, seconds: float) -> None:
        self.seconds = seconds

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler.settings.getfloat("MCP_TEST_STALL_SECONDS", 1.2))

    def process_item(self, item, spider=None):
        if self.seconds:
            seconds, self.seconds = self.seconds, 0.0
            time.sleep(seconds)  # blocks here
        return item
