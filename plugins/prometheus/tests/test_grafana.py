"""The Grafana dashboard (grafana/scrapy-fleet.json): its JSON, and every query of it.

Grafana is not run here. The static tests read the JSON as Grafana's import
would; the live ones run every panel's PromQL, with the template variables
filled in as Grafana fills them, against the real Prometheus server scraping
a small fleet: two real crawl processes of a local site some of whose pages
answer 500 or 404, fail in the spider's callback or refuse the connection,
so that the error series exist. One crawl runs on; the other ended and
lingers (``WEBSERVICE_LINGER``), so a closed crawl and its finish reason are
there too. The Prometheus tests need the ``prometheus`` binary: skipped
without it, failed with ``SCRAPY_WS_REQUIRE_PROMETHEUS=1`` (as CI sets).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import urllib.parse
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from prometheus_client.parser import text_string_to_metric_families
from scrapy_webservice.cli import WebServiceClient
from scrapy_webservice.server.plugins import ENV_DISABLE, ENV_NO_AUTOLOAD
from scrapy_webservice.testing import CrawlWithService
from test_prometheus_server import INSTALL, TOKEN, api, free_port, running_prometheus, wait_for

from scrapy_webservice_prometheus.targets import write_targets

ROOT = Path(__file__).resolve().parent.parent
DASHBOARD = ROOT / "grafana" / "scrapy-fleet.json"
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
#: Series Prometheus makes itself for each target, not in any /metrics.
PROMETHEUS_MADE = {"up", "scrape_duration_seconds", "scrape_samples_scraped"}
#: What Grafana's interval variables are replaced with: sane for a 1 s scrape interval.
INTERVALS = {"$__rate_interval": "15s", "$__interval": "5s", "$__range": "1m"}
PROMQL_WORDS = {
    "by",
    "without",
    "on",
    "ignoring",
    "group_left",
    "group_right",
    "bool",
    "and",
    "or",
    "unless",
    "offset",
    "inf",
    "nan",
}


def load_dashboard() -> dict[str, Any]:
    return json.loads(DASHBOARD.read_text())


def all_panels(dashboard: dict[str, Any]) -> Iterator[dict[str, Any]]:
    for panel in dashboard["panels"]:
        yield panel
        yield from panel.get("panels", [])  # the panels of a collapsed row


def query_panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    return [panel for panel in all_panels(dashboard) if panel["type"] != "row"]


def variables(dashboard: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {variable["name"]: variable for variable in dashboard["templating"]["list"]}


def variable_query(variable: dict[str, Any]) -> str:
    query = variable["query"]
    return query["query"] if isinstance(query, dict) else query


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression reads (a small tokenizer, enough for ours)."""
    text = re.sub(r'"(?:[^"\\]|\\.)*"', '""', expr)  # strings, label values
    text = re.sub(r"\b(by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)", " ", text)
    text = re.sub(r"\{[^}]*\}|\[[^\]]*\]", " ", text)  # selectors, ranges
    names = set()
    for match in re.finditer(r"[A-Za-z_:][A-Za-z0-9_:]*", text):
        word = match.group()
        if text[match.end() :].lstrip().startswith("("):
            continue  # a function or an aggregation
        if word.lower() not in PROMQL_WORDS:
            names.add(word)
    return names


# -- the JSON, as Grafana imports it ------------------------------------------------------------


def test_the_dashboard_is_importable_json():
    dashboard = load_dashboard()
    assert dashboard["uid"] == "scrapy-fleet"
    assert dashboard["title"] == "Scrapy fleet"
    assert dashboard["id"] is None  # an export: Grafana gives it an id on import
    [source] = dashboard["__inputs"]
    assert source == {
        "name": "DS_PROMETHEUS",
        "label": "Prometheus",
        "description": source["description"],
        "type": "datasource",
        "pluginId": "prometheus",
        "pluginName": "Prometheus",
    }
    required = {(r["type"], r["id"]) for r in dashboard["__requires"]}
    assert ("datasource", "prometheus") in required
    used = {panel["type"] for panel in query_panels(dashboard)}
    assert {("panel", kind) for kind in used} <= required
    # The import's one input is where the datasource variable starts.
    variable = variables(dashboard)["datasource"]
    assert variable["type"] == "datasource"
    assert variable["query"] == "prometheus"
    assert variable["current"]["value"] == "${DS_PROMETHEUS}"
    # And nowhere else: everything else goes through the variable.
    assert DASHBOARD.read_text().count("${DS_PROMETHEUS}") == 1


def test_every_panel_and_query_uses_the_datasource_variable():
    dashboard = load_dashboard()
    panels = query_panels(dashboard)
    assert len(panels) >= 12
    for panel in panels:
        assert panel["datasource"] == DATASOURCE, panel["title"]
        assert panel["targets"], panel["title"]
        assert panel.get("description"), panel["title"]
        refs = [target["refId"] for target in panel["targets"]]
        assert len(set(refs)) == len(refs), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == DATASOURCE, panel["title"]
            assert target["expr"].strip(), panel["title"]
    for name in ("job", "instance", "spider"):
        variable = variables(dashboard)[name]
        assert variable["type"] == "query"
        assert variable["datasource"] == DATASOURCE
        assert variable["multi"] is True
        assert variable["includeAll"] is True
        assert variable["allValue"] == ".*"
        assert variable_query(variable).startswith("label_values(")


def test_panel_ids_are_unique_and_panels_do_not_overlap():
    dashboard = load_dashboard()
    panels = list(all_panels(dashboard))
    ids = [panel["id"] for panel in panels]
    assert len(set(ids)) == len(ids)
    cells: dict[tuple[int, int], str] = {}
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
        for x in range(grid["x"], grid["x"] + grid["w"]):
            for y in range(grid["y"], grid["y"] + grid["h"]):
                assert (x, y) not in cells, f"{panel['title']} overlaps {cells[(x, y)]}"
                cells[(x, y)] = panel["title"]


def test_every_panel_filters_by_the_variables():
    for panel in query_panels(load_dashboard()):
        for target in panel["targets"]:
            expr = target["expr"]
            assert 'job=~"$job"' in expr, panel["title"]
            assert 'instance=~"$instance"' in expr, panel["title"]
            # Process metrics (and up) have no spider: every crawl series is filtered by it.
            if metric_names(expr) - PROMETHEUS_MADE - {"process_resident_memory_bytes"}:
                assert 'spider=~"$spider"' in expr, panel["title"]


def test_the_metric_name_tokenizer():
    expr = (
        'sum by (instance, spider) (rate(scrapy_a_total{job=~"$job", x="a b(c)"}[5m]))'
        " / on (instance) group_left () scrapy_b or vector(0)"
    )
    assert metric_names(expr) == {"scrapy_a_total", "scrapy_b"}


# -- a small fleet of real crawls -------------------------------------------------------------


class ErrorSite(BaseHTTPRequestHandler):
    """A shop that never ends, for the demo spider, with something wrong on every page.

    ``/`` lists ``/page/1``; each page links the next one and, as products:
    two good ones, one whose price is not a number (the callback raises
    ValueError), one answering 500 (retried, then given up: an ERROR),
    one answering 404, and one on a port nobody listens on (refused).
    """

    delay = 0.1
    refused_port = 9

    def do_GET(self) -> None:
        time.sleep(self.delay)
        path = self.path.strip("/").split("/")
        if path == [""]:
            self._page(200, '<ul class="pages"><li><a href="/page/1">Page 1</a></li></ul>')
        elif path[0] == "page" and len(path) == 2 and path[1].isdigit():
            n = int(path[1])
            hrefs = [
                f"/product/{n}-1",
                f"/product/{n}-2",
                f"/bad-price/{n}",
                f"/server-error/{n}",
                f"/missing/{n}",
                f"http://127.0.0.1:{self.refused_port}/product/{n}",
            ]
            links = "".join(f'<li><a class="product" href="{h}">p</a></li>' for h in hrefs)
            self._page(200, f'<ul>{links}</ul><a class="next" href="/page/{n + 1}">Next</a>')
        elif path[0] in ("product", "bad-price"):
            price = "n/a" if path[0] == "bad-price" else "1.50"
            self._page(200, f'<h1 class="name">P</h1><p class="price">{price}</p>')
        elif path[0] == "server-error":
            self._page(500, "<p>Internal error</p>")
        else:
            self._page(404, "<p>No such page</p>")

    def _page(self, status: int, body: str) -> None:
        data = f"<!doctype html><html><body>{body}</body></html>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: Any) -> None:
        pass


SETTINGS = """\
SPIDER_MODULES = ["scrapy_webservice.demo.spiders"]
ADDONS = {{"scrapy_webservice.Addon": 0}}
ROBOTSTXT_OBEY = False
TELNETCONSOLE_ENABLED = False
LOG_LEVEL = "INFO"
CONCURRENT_REQUESTS = 4
RETRY_TIMES = 1
WEBSERVICE_PORT = 0
WEBSERVICE_DISCOVERY_DIR = {discovery!r}
WEBSERVICE_PLUGINS_ONLY = ["prometheus"]
WEBSERVICE_READONLY_TOKEN = {token!r}
WEBSERVICE_LINGER = {linger!r}
"""

#: The series the errors of the site make: (sample name, labels besides ``spider``).
ERROR_SERIES = (
    ("scrapy_log_records_total", {"level": "ERROR"}),
    ("scrapy_downloader_response_status_total", {"status": "500"}),
    ("scrapy_downloader_response_status_total", {"status": "404"}),
    ("scrapy_spider_exception_type_total", {"type": "ValueError"}),
    ("scrapy_downloader_exception_type_total", {}),
    ("scrapy_retry_reason_total", {}),
    ("scrapy_retry_max_reached_total", {}),
)


@dataclass
class Fleet:
    """The crawls (spider name → process) and where they are found."""

    discovery: Path
    crawls: dict[str, CrawlWithService]
    clients: dict[str, WebServiceClient] = field(default_factory=dict)

    def metrics(self, spider: str) -> str:
        return self.clients[spider].get_raw("metrics")[1].decode()

    def samples(self, spider: str) -> list[tuple[str, dict[str, str]]]:
        return [
            (sample.name, sample.labels)
            for family in text_string_to_metric_families(self.metrics(spider))
            for sample in family.samples
        ]

    def has(self, spider: str, name: str, labels: dict[str, str]) -> bool:
        wanted = {"spider": spider, **labels}.items()
        return any(n == name and wanted <= have.items() for n, have in self.samples(spider))


def start_crawl(
    project: Path, discovery: Path, site: str, spider: str, linger: int
) -> CrawlWithService:
    project.mkdir()
    (project / "scrapy.cfg").write_text("[settings]\ndefault = fleet_settings\n")
    settings = SETTINGS.format(discovery=str(discovery), token=TOKEN, linger=linger)
    (project / "fleet_settings.py").write_text(settings)
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop(ENV_NO_AUTOLOAD, None)
    env.pop(ENV_DISABLE, None)
    args = [sys.executable, "-m", "scrapy", "crawl", spider, "-a", f"url={site}"]
    return CrawlWithService(args, project, env, discovery)


@pytest.fixture(scope="module")
def fleet(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Fleet]:
    """Two crawls of the error site: ``demo`` runs on, ``demo2`` ended and lingers."""
    ErrorSite.refused_port = free_port()  # nothing listens there once the socket is closed
    server = ThreadingHTTPServer(("127.0.0.1", 0), ErrorSite)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    site = f"http://127.0.0.1:{server.server_address[1]}/"
    root = tmp_path_factory.mktemp("fleet")
    discovery = root / "discovery"
    fleet = Fleet(discovery, {})
    try:
        for spider, linger in (("demo", 0), ("demo2", 600)):
            fleet.crawls[spider] = start_crawl(root / spider, discovery, site, spider, linger)
        for spider, crawl in fleet.crawls.items():
            crawl.wait_for(r"Web service URL and token written to")
            fleet.clients[spider] = WebServiceClient.discover(discovery, pid=crawl.proc.pid)

        def errors_seen(spider: str) -> bool:
            return all(fleet.has(spider, name, labels) for name, labels in ERROR_SERIES)

        for spider in fleet.crawls:
            wait_for(f"the error series of {spider}", lambda s=spider: errors_seen(s), 60)
        fleet.clients["demo2"].call("crawler/engine", "close_spider", "demo2")
        reason = {"reason": "closed_by_webservice"}
        wait_for(
            "demo2 closed and lingering",
            lambda: fleet.has("demo2", "scrapy_finish_reason_info", reason),
            30,
        )
        yield fleet
    finally:
        for crawl in fleet.crawls.values():
            crawl.stop()
        server.shutdown()
        server.server_close()


def test_every_metric_the_dashboard_reads_is_in_a_real_scrape(fleet: Fleet):
    scraped: set[str] = set()
    for spider in fleet.crawls:
        scraped.update(name for name, _ in fleet.samples(spider))
    dashboard = load_dashboard()
    used = {
        name
        for panel in query_panels(dashboard)
        for target in panel["targets"]
        for name in metric_names(target["expr"])
    }
    for variable in variables(dashboard).values():
        if variable["type"] == "query":
            used |= metric_names(label_values(variable_query(variable))[1])
    assert used - PROMETHEUS_MADE <= scraped, sorted(used - PROMETHEUS_MADE - scraped)
    assert {"scrapy_response_received_total", "scrapy_log_records_total"} <= used


# -- the real Prometheus scraping the fleet ---------------------------------------------------


@pytest.fixture(scope="module")
def prometheus(fleet: Fleet, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Prometheus scraping the fleet's crawls through file_sd, every second; its URL."""
    binary = shutil.which("prometheus")
    if binary is None:
        message = f"the real Prometheus server is needed: {INSTALL}"
        if os.environ.get("SCRAPY_WS_REQUIRE_PROMETHEUS"):
            pytest.fail(message)
        pytest.skip(message)
    tmp_path = tmp_path_factory.mktemp("prometheus")
    targets_file = tmp_path / "targets.json"
    assert len(write_targets(targets_file, fleet.discovery)) == 2
    scrape = {
        "job_name": "crawls",
        "authorization": {"type": "Bearer", "credentials": TOKEN},
        "file_sd_configs": [{"files": [str(targets_file)], "refresh_interval": "1s"}],
    }
    with running_prometheus(binary, tmp_path, [scrape]) as base:
        # Rates need a few samples of each crawl in their window.
        def scraped_enough() -> bool:
            query = 'count_over_time(up{job="crawls"}[15s]) >= 4'
            return len(api(base, "query", query=query)["result"]) == 2

        wait_for("both crawls scraped 4 times", scraped_enough, 60)
        yield base


def label_values(query: str) -> tuple[str, str]:
    """``label_values(selector, label)`` → (label, selector), as Grafana's variable runs it."""
    match = re.fullmatch(r"\s*label_values\((.*),\s*(\w+)\s*\)\s*", query)
    assert match, query
    return match.group(2), match.group(1)


def fill(text: str, values: dict[str, str]) -> str:
    for name, value in INTERVALS.items():
        text = text.replace(name, value)
    for name, value in values.items():
        text = text.replace(f"${{{name}}}", value).replace(f"${name}", value)
    assert "$" not in text, text
    return text


def regex_of(values: list[str]) -> str:
    """A multi-value selection, as Grafana writes it into a PromQL regex matcher."""
    escaped = [re.sub(r"([\\^$.|?*+()\[\]{}])", r"\\\\\1", value) for value in values]
    return escaped[0] if len(escaped) == 1 else "(" + "|".join(escaped) + ")"


def run_variables(base: str, all_value: str | None) -> tuple[dict[str, str], dict[str, list]]:
    """Each variable's values from Prometheus, in order, each one then set to All."""
    values: dict[str, str] = {}
    listed: dict[str, list[str]] = {}
    for name, variable in variables(load_dashboard()).items():
        if variable["type"] != "query":
            continue
        label, selector = label_values(variable_query(variable))
        selector = fill(selector, values)
        found = api(base, f"label/{label}/values", **{"match[]": selector})
        series = api(base, "series", **{"match[]": selector})
        assert sorted({s[label] for s in series}) == sorted(found), name
        listed[name] = found
        values[name] = all_value if all_value is not None else regex_of(found)
    return values, listed


@pytest.mark.parametrize("selection", ["all-value", "every-value"])
def test_every_panel_query_returns_series(prometheus: str, fleet: Fleet, selection: str):
    base = prometheus
    values, listed = run_variables(base, ".*" if selection == "all-value" else None)
    instances = {urllib.parse.urlsplit(c.url).netloc for c in fleet.clients.values()}
    assert listed["job"] == ["crawls"]
    assert sorted(listed["instance"]) == sorted(instances)
    assert listed["spider"] == ["demo", "demo2"]

    empty = []
    results: dict[str, list[dict[str, Any]]] = {}
    for panel in query_panels(load_dashboard()):
        for target in panel["targets"]:
            expr = fill(target["expr"], values)
            if target.get("instant"):
                result = api(base, "query", query=expr)["result"]
            else:
                now = time.time()
                query = {"query": expr, "start": str(now - 60), "end": str(now), "step": "5"}
                result = api(base, "query_range", **query)["result"]
            results[f"{panel['title']}/{target['refId']}"] = result
            if not result:
                empty.append(f"{panel['title']} ({target['refId']}): {expr}")
    assert not empty, "queries without a series:\n" + "\n".join(empty)

    states = {s["metric"]["state"] for s in results["Crawls by state/A"]}
    assert states == {"running", "closed"}
    [finished] = results["Finished crawls (lingering)/A"]
    assert finished["metric"]["spider"] == "demo2"
    assert finished["metric"]["reason"] == "closed_by_webservice"
    crawls = {(s["metric"]["spider"], s["metric"]["state"]) for s in results["Crawls/A"]}
    assert crawls == {("demo", "running"), ("demo2", "closed")}
    statuses = {s["metric"]["status"] for s in results["Non-2xx responses per minute/A"]}
    assert {"404", "500"} <= statuses
    pages = results["Pages per minute/A"]
    assert {s["metric"]["spider"] for s in pages} == {"demo", "demo2"}
    assert any(float(v) > 0 for s in pages for _, v in s["values"])


# -- the wheel ------------------------------------------------------------------------------


def test_the_wheel_ships_the_dashboard(tmp_path: Path):
    source = tmp_path / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(ROOT / name, source / name)
    for name in ("src", "grafana"):
        shutil.copytree(
            ROOT / name, source / name, ignore=shutil.ignore_patterns("*.egg-info", "__pycache__")
        )
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "-w", str(wheels), "."],
        cwd=source,
        check=True,
        timeout=300,
    )
    [wheel] = wheels.glob("scrapy_webservice_prometheus-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = archive.read("scrapy_webservice_prometheus/grafana/scrapy-fleet.json")
    assert shipped == DASHBOARD.read_bytes()
