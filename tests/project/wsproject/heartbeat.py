"""An extension for tests only: a one-minute engine heartbeat.

Scrapy's engine also looks for work on a 5-second heartbeat. With it
slowed to a minute, a crawl that fetches again within seconds of
``unpause`` can only have been woken by the web service, which is what
the resume test checks, without timing anything.
"""

from scrapy.core.engine import ExecutionEngine


class SlowHeartbeat:
    def __init__(self) -> None:
        ExecutionEngine._SLOT_HEARTBEAT_INTERVAL = 60.0

    @classmethod
    def from_crawler(cls, crawler):
        return cls()
