"""``scrapy-ws demo``: the shop site and a crawl of it, with the web service on."""

from __future__ import annotations

import os
import shlex
import shutil
import sys
from pathlib import Path
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


def scrapy_ws_command() -> str:
    """The ``scrapy-ws`` that is running, as a command to type in another terminal.

    A bare ``scrapy-ws`` only works where a virtual environment is activated,
    and may be another installation's: print the full path of this one.
    """
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    candidates = [
        argv0 if argv0 is not None and argv0.name == "scrapy-ws" else None,
        Path(sys.executable).parent / "scrapy-ws",
    ]
    for candidate in candidates:
        if candidate is not None and candidate.is_file() and os.access(candidate, os.X_OK):
            return shlex.quote(os.path.abspath(candidate))
    found = shutil.which("scrapy-ws")
    if found:
        return shlex.quote(os.path.abspath(found))
    return f"{shlex.quote(sys.executable)} -m scrapy_webservice.cli"


HINTS = [
    ("watch", "a live view of the crawl (Ctrl-C leaves)"),
    ("status", ""),
    ("pause demo --wait", ""),
    ("resume demo", ""),
    ("get-spider-stats demo", ""),
    ("list-resources", ""),
    ("stop demo", ""),
]


def announce(out: TextIO = sys.stdout) -> None:
    """Tell the person at the terminal where the service is and what to try."""
    from ..server.service import current_service

    service = current_service()
    if service is None or service.url is None:
        print("The web service did not start: see the log above.", file=out, flush=True)
        return
    url = service.url
    where = service.discovery_path or "(no discovery file: pass --url and --token)"
    ws = scrapy_ws_command()
    commands = [f"{ws} {args}" for args, _ in HINTS]
    width = max(len(command) for command in commands) + 2
    hints = "\n".join(
        f"  {command:<{width}}{what}".rstrip()
        for command, (_, what) in zip(commands, HINTS, strict=True)
    )
    print(
        f"""
Web service of the demo crawl: {url}
Its URL and token are in {where}, so scrapy-ws needs no flags. Try, in another terminal:

{hints}
  curl -H "Authorization: Bearer $({ws} token)" {url}enginestatus
  curl -H "Authorization: Bearer $({ws} token)" -H 'Content-Type: application/json' \\
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
