"""An item pipeline that blocks the reactor when a test asks: the crawl's own stall.

Not a test: the browser test puts this directory on the crawl's ``PYTHONPATH``
and sets ``ITEM_PIPELINES = {"stalling_pipeline.StallingPipeline": 300}``.
Whenever the file ``DASHBOARD_TEST_STALL_FILE`` names appears, the next item
removes it and sleeps ``DASHBOARD_TEST_STALL_SECONDS`` on the reactor, as a
pipeline's blocking database call does, on the line that ends in
``# blocks: pipeline`` (the test finds its number by that mark). The line
holds some HTML, which the dashboard must show as text.
"""

from __future__ import annotations

import time
from pathlib import Path


class StallingPipeline:
    def __init__(self, trigger: Path, seconds: float) -> None:
        self.trigger = trigger
        self.seconds = seconds

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        trigger = Path(settings["DASHBOARD_TEST_STALL_FILE"])
        return cls(trigger, settings.getfloat("DASHBOARD_TEST_STALL_SECONDS", 1.5))

    def process_item(self, item, spider=None):
        if self.trigger.exists():
            self.trigger.unlink()
            time.sleep(self.seconds)  # a blocking call, <img src=x>  # blocks: pipeline
        return item
