"""The built-in resources: ``crawler``, ``stats``, ``enginestatus``, ``events`` and the rest.

Scrapy 2.x has one spider per crawler and async shutdown, so the seed's
raw objects no longer fit its URLs; each resource here wraps a small facade
over the service's running crawlers instead, which also keeps every method
it offers explicit.
"""

from .crawler import CrawlerResource
from .enginestatus import EngineStatusResource
from .events import EventsResource
from .health import HealthResource
from .log import LogResource
from .memory import MemoryResource
from .plugins import PluginsResource
from .stalls import StallsResource
from .stats import StatsResource

__all__ = [
    "CrawlerResource",
    "EngineStatusResource",
    "EventsResource",
    "HealthResource",
    "LogResource",
    "MemoryResource",
    "PluginsResource",
    "StallsResource",
    "StatsResource",
]
