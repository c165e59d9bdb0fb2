"""The shipped annotations (``py.typed``) work for a plugin author's type checker.

mypy checks two small plugins against the installed package, as a third
party would (strict, no config of ours, no mypy-zope): one written right,
which must pass, and one that misuses the API, which must fail where it
misuses it. If the annotations were missing (everything ``Any``), the
second would pass too. ``.ci/typecheck`` checks the package itself.
"""

from __future__ import annotations

import importlib.util
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("mypy") is None,
    reason="mypy is not installed (it comes with the test extra: pip install -e '.[test]')",
)

GOOD = """
from __future__ import annotations

from typing import Any

from scrapy_webservice import Crawl, JsonRpcResource, WebServiceAPI, hookimpl, readonly


class Rates:
    def __init__(self, resource: RatesResource) -> None:
        self.resource = resource

    @readonly
    def get_rates(self, spider: str) -> dict[str, Any]:
        return self.resource.api.crawl(spider).rates()


class RatesResource(JsonRpcResource):
    ws_name = "myrates"

    def get_target(self) -> Rates:
        return Rates(self)

    def pages_per_minute(self) -> float:
        rates = self.api.crawl("x").rates()
        return float(rates["last_minute"]["pages"])

    def busiest(self) -> str | None:
        crawls: list[Crawl] = self.api.crawls()
        if not crawls:
            return None
        return max(crawls, key=lambda crawl: crawl.in_flight).spider_name


@hookimpl
def service_started(service: WebServiceAPI) -> None:
    url: str | None = service.url
    if url is not None:
        print(url.rstrip("/"), service.resource_url(RatesResource.ws_name))
"""

BAD = """
from __future__ import annotations

from scrapy_webservice import JsonRpcResource, WebServiceAPI, hookimpl


class BadResource(JsonRpcResource):
    ws_name = "bad"

    def first(self) -> None:
        crawl = self.api.crawl(1)  # MISTAKE arg-type: a spider name or crawl id is a str
        crawl.in_flight.upper()  # MISTAKE attr-defined: in_flight is an int


@hookimpl
def service_started(service: WebServiceAPI) -> None:
    print(service.url.rstrip("/"))  # MISTAKE union-attr: url is None before listening
"""


def expected_errors(source: str) -> set[tuple[int, str]]:
    """``(line, error code)`` of every line marked ``# MISTAKE code``."""
    return {
        (number, match.group(1))
        for number, line in enumerate(source.splitlines(), 1)
        if (match := re.search(r"# MISTAKE ([a-z-]+)", line))
    }


def run_mypy(directory: Path, *files: str) -> list[str]:
    # A config of its own, so that neither ours nor the user's applies.
    (directory / "mypy.ini").write_text("[mypy]\nstrict = True\n")
    result = subprocess.run(
        [sys.executable, "-m", "mypy", "--config-file", "mypy.ini", *files],
        cwd=directory,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode in (0, 1), result.stdout + result.stderr
    return result.stdout.splitlines()


def test_annotations_accept_a_correct_plugin_and_catch_mistakes(tmp_path: Path) -> None:
    (tmp_path / "plugin_good.py").write_text(GOOD)
    (tmp_path / "plugin_bad.py").write_text(BAD)
    lines = run_mypy(tmp_path, "plugin_good.py", "plugin_bad.py")

    good = [line for line in lines if line.startswith("plugin_good.py:")]
    assert good == [], "\n".join(lines)

    found = set()
    for line in lines:
        match = re.match(r"plugin_bad\.py:(\d+): error: .*\[([a-z-]+)\]$", line)
        if match:
            found.add((int(match.group(1)), match.group(2)))
    assert found == expected_errors(BAD), "\n".join(lines)
