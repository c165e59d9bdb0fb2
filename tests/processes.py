"""Real processes for integration tests: the demo shop and ``scrapy crawl``."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from scrapy_webservice.testing import WatchedProcess

PROJECT = Path(__file__).parent / "project"
#: Products of the test shop: every complete crawl scrapes exactly this many items.
PRODUCTS = 40
BIN = Path(sys.executable).parent


def scrapy_ws(*args: str, timeout: float = 30) -> subprocess.CompletedProcess[str]:
    """Run the installed ``scrapy-ws`` entry point."""
    return subprocess.run(
        [str(BIN / "scrapy-ws"), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def ok(*args: str) -> str:
    """``scrapy-ws ARGS``'s output, which must have succeeded quietly."""
    result = scrapy_ws(*args)
    assert (result.returncode, result.stderr) == (0, ""), (args, result.stdout)
    return result.stdout


def as_json(*args: str) -> Any:
    """``scrapy-ws ARGS --json``'s answer, which must have succeeded quietly."""
    return json.loads(ok(*args, "--json"))


Process = WatchedProcess


class Crawl(Process):
    """``scrapy crawl demo`` in the test project, with the web service on."""

    def __init__(
        self,
        shop_url: str,
        items: Path,
        spider: str = "demo",
        settings: dict[str, Any] | None = None,
        python: str = sys.executable,
        arguments: dict[str, str] | None = None,
    ) -> None:
        args = [
            python,
            "-m",
            "scrapy",
            "crawl",
            spider,
            "-a",
            f"url={shop_url}",
            "-O",
            f"{items}:jsonlines",
        ]
        for name, value in (arguments or {}).items():
            args += ["-a", f"{name}={value}"]  # spider arguments, as scrapyd's -a _job=
        for name, value in (settings or {}).items():
            args += ["-s", f"{name}={value}"]
        super().__init__(args, cwd=PROJECT)

    def service_url(self, timeout: float = 60) -> str:
        return self.wait_for(r"Web service listening on (http://\S+)", timeout).group(1) + "/"


def count_lines(path: Path) -> int:
    return sum(1 for line in path.read_text().splitlines() if line.strip())


def wait_until(condition, timeout: float = 30, what: str = "condition") -> Any:
    """``condition()``'s first true result, asked every 50 ms; fails after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not (result := condition()):
        assert time.monotonic() < deadline, f"{what}: not met within {timeout} s"
        time.sleep(0.05)
    return result
