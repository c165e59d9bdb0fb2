"""``scrapy-ws demo``: the shop site and a crawl of it, with the web service on."""

from __future__ import annotations

import sys
from typing import Any, TextIO

from scrapy import signals

from .site import listen
from .spiders import DemoSpider


def demo_settings(slow: bool, port: Any = None) -> dict[str, Any]:
    settings: dict[str, Any] = {
        "ADDONS": {"scrapy_webservice.Addon": 0},
        # So that "scrapy-ws list-available" has spiders to list.
        "SPIDER_MODULES": ["scrapy_webservice.demo.spiders"],
        "LOG_LEVEL": "INFO",
        "ROBOTSTXT_OBEY": False,
        "USER_AGENT": "scrapy-webservice demo",
    }
    if slow:
        settings.update({"DOWNLOAD_DELAY": 0.5, "CONCURRENT_REQUESTS": 2})
    if port is not None:
        settings["WEBSERVICE_PORT"] = port
    return settings


def announce(out: TextIO = sys.stdout) -> None:
    """Tell the person at the terminal where the service is and what to try."""
    from ..service import current_service

    service = current_service()
    if service is None or service.url is None:
        print("The web service did not start: see the log above.", file=out, flush=True)
        return
    url = service.url
    where = service.discovery_path or "(no discovery file: pass --url and --token)"
    print(
        f"""
Web service of the demo crawl: {url}
Its URL and token are in {where}, so scrapy-ws needs no flags. Try, in another terminal:

  scrapy-ws watch                  a live view of the crawl (Ctrl-C leaves)
  scrapy-ws status
  scrapy-ws pause demo --wait
  scrapy-ws resume demo
  scrapy-ws get-spider-stats demo
  scrapy-ws list-resources
  scrapy-ws stop demo
  curl -H "Authorization: Bearer $(scrapy-ws token)" {url}enginestatus
  curl -H "Authorization: Bearer $(scrapy-ws token)" -H 'Content-Type: application/json' \\
       -d '{{"jsonrpc": "2.0", "method": "get_stats", "id": 1}}' {url}stats
""",
        file=out,
        flush=True,
    )


def run_demo(*, products: int = 200, slow: bool = False, port: Any = None) -> int:
    """Run the demo crawl to its end; returns a process exit code."""
    from scrapy.crawler import CrawlerProcess
    from scrapy.settings import Settings
    from scrapy.utils.reactor import install_reactor

    settings = Settings(demo_settings(slow, port))
    # The shop listens before the crawl starts, so install Scrapy's reactor first.
    install_reactor(settings["TWISTED_REACTOR"])
    process = CrawlerProcess(settings)
    _, site_url = listen(products, delay=0.2 if slow else 0.0)
    print(f"Demo shop ({products} products) served at {site_url}", flush=True)
    crawler = process.create_crawler(DemoSpider)

    def engine_started() -> None:
        from twisted.internet import reactor

        # After the extension's own engine_started handler has run.
        reactor.callLater(0, announce)

    crawler.signals.connect(engine_started, signal=signals.engine_started)
    process.crawl(crawler, url=site_url)
    process.start()
    stats = crawler.stats.get_stats() if crawler.stats else {}
    print(
        f"Demo crawl finished ({stats.get('finish_reason')}):"
        f" {stats.get('item_scraped_count', 0)} items scraped.",
        flush=True,
    )
    return 0
