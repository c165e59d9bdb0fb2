"""Real entry points: plugin distributions pip-installed into a fresh virtual environment.

The virtual environment sees this project's environment (Scrapy, Twisted,
scrapy-webservice) through a ``site.addsitedir`` line, and gets the two
test plugin distributions of ``tests/data/plugins`` installed by pip, so
``importlib.metadata`` finds their entry points exactly as after a user's
``pip install``.
"""

from __future__ import annotations

import json
import os
import site
import subprocess
import sys
from pathlib import Path

import pytest

from scrapy_webservice.cli.client import WebServiceClient
from scrapy_webservice.server.plugins import ENV_NO_AUTOLOAD

from .processes import PRODUCTS, PROJECT, Crawl, count_lines

pytestmark = pytest.mark.integration

DATA = Path(__file__).parent / "data" / "plugins"
#: The entry points of the test plugins. Other plugins may be installed where
#: the suite runs (the first-party ones, a user's own): listings are read for
#: these names only.
OURS = ("good", "broken_import", "broken_hook")


def ours(entries: list[dict]) -> list[dict]:
    return [entry for entry in entries if entry["name"] in OURS]


@pytest.fixture(scope="module")
def plugin_python(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The python of a new venv holding the good and the broken test plugins."""
    venv = tmp_path_factory.mktemp("plugin-venv")
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    purelib = subprocess.run(
        [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    parents = [p for p in site.getsitepackages() if Path(p).is_dir()]
    lines = "".join(f"import site; site.addsitedir({p!r})\n" for p in parents)
    (Path(purelib) / "_parent_env.pth").write_text(lines)
    distributions = [str(DATA / "good"), str(DATA / "broken")]
    pip = subprocess.run(
        [str(python), "-m", "pip", "install", "--no-deps", "--quiet", *distributions],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert pip.returncode == 0, pip.stderr
    return str(python)


@pytest.fixture
def autoload(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(ENV_NO_AUTOLOAD, raising=False)


def test_scrapy_ws_plugins_lists_what_is_installed(plugin_python, autoload):
    result = subprocess.run(
        [plugin_python, "-m", "scrapy_webservice.cli", "--json", "plugins"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    listing = json.loads(result.stdout)
    [good] = [p for p in listing["plugins"] if p["name"] == "good"]
    assert good == {
        "name": "good",
        "module": "ws_testgood",
        "distribution": "scrapy-webservice-testgood",
        "version": "1.2.3",
        "hooks": ["json_default", "register_resources", "service_started", "service_stopped"],
        "resources": ["ws_testgood.GoodResource"],
    }
    failures = {f["name"]: f for f in ours(listing["failures"])}
    assert set(failures) == {"broken_import", "broken_hook"}
    assert failures["broken_import"]["stage"] == "import"
    assert "cannot be imported (on purpose)" in failures["broken_import"]["error"]
    assert failures["broken_import"]["distribution"] == "scrapy-webservice-testbroken"
    assert failures["broken_hook"]["stage"] == "register_resources"

    text = subprocess.run(
        [plugin_python, "-m", "scrapy_webservice.cli", "plugins"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout
    assert "good  (scrapy-webservice-testgood 1.2.3, ws_testgood)" in text
    assert "broken_import  FAILED at import" in text


def wait_for_service(crawl: Crawl) -> WebServiceClient:
    crawl.wait_for(r"Web service URL and token written to")
    return WebServiceClient.discover()


def test_plugins_add_scrapy_ws_commands(plugin_python):
    def scrapy_ws(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [plugin_python, "-m", "scrapy_webservice.cli", *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )

    ran = scrapy_ws("--url", "http://127.0.0.1:1/", "--json", "good-cmd", "a", "--flag")
    assert ran.returncode == 5, ran.stderr
    assert ran.stdout.strip() == "good-cmd argv=['a', '--flag'] url=http://127.0.0.1:1/ json=True"
    options_first = scrapy_ws("good-cmd", "--help", "-x")
    assert options_first.returncode == 5, options_first.stderr
    assert "argv=['--help', '-x']" in options_first.stdout
    assert "good-cmd - from scrapy-webservice-testgood" in scrapy_ws("help").stdout
    broken = scrapy_ws("broken-cmd")
    assert broken.returncode == 1
    assert "the 'broken-cmd' command failed to load" in broken.stderr
    assert "Traceback" not in broken.stderr


def test_installed_plugin_is_served_and_broken_ones_do_not_stop_the_crawl(
    plugin_python, autoload, slow_shop, crawls, tmp_path
):
    crawl = Crawl(slow_shop, tmp_path / "items.jsonl", python=plugin_python)
    crawls.append(crawl)
    client = wait_for_service(crawl)
    assert "good" in client.get("")["resources"]
    assert client.get("good") == {"plugin": "good", "ratio": "1/3"}
    listing = client.get("plugins")
    assert [p["name"] for p in ours(listing["plugins"])] == ["good", "broken_hook"]
    assert {f["name"] for f in ours(listing["failures"])} == {"broken_import", "broken_hook"}
    crawl.wait_for(r"good plugin saw the service start at http://127\.0\.0\.1:\d+/")
    assert crawl.wait() == 0
    assert "good plugin saw the service stop" in crawl.output
    assert "Web service plugin broken_import (scrapy-webservice-testbroken 0.0.1)" in crawl.output
    assert count_lines(tmp_path / "items.jsonl") == PRODUCTS


@pytest.mark.parametrize(
    ("settings", "environ", "plugin_loaded"),
    [
        ({"WEBSERVICE_RESOURCES": '{"ws_testgood.GoodResource": null}'}, {}, True),
        ({"WEBSERVICE_PLUGINS_DISABLED": "good"}, {}, False),
        ({}, {"SCRAPY_WEBSERVICE_DISABLE_PLUGINS": "good,broken_import"}, False),
    ],
    ids=["resource-None", "setting-by-name", "environment"],
)
def test_plugin_can_be_turned_off(
    plugin_python,
    autoload,
    slow_shop,
    crawls,
    tmp_path,
    monkeypatch,
    settings,
    environ,
    plugin_loaded,
):
    for name, value in environ.items():
        monkeypatch.setenv(name, value)
    crawl = Crawl(slow_shop, tmp_path / "items.jsonl", python=plugin_python, settings=settings)
    crawls.append(crawl)
    client = wait_for_service(crawl)
    assert "good" not in client.get("")["resources"]
    loaded = [p["name"] for p in ours(client.get("plugins")["plugins"])]
    assert ("good" in loaded) is plugin_loaded
    client.call("crawler/engine", "close_spider", "demo")
    assert crawl.wait() == 0


def test_strict_mode_fails_the_crawl_on_a_broken_plugin(
    plugin_python, autoload, slow_shop, crawls, tmp_path
):
    crawl = Crawl(
        slow_shop,
        tmp_path / "items.jsonl",
        python=plugin_python,
        settings={"WEBSERVICE_PLUGINS_STRICT": "True"},
    )
    crawls.append(crawl)
    assert crawl.wait(timeout=60) != 0
    assert "this plugin cannot be imported (on purpose)" in crawl.output
    assert not (tmp_path / "items.jsonl").exists() or count_lines(tmp_path / "items.jsonl") == 0


def test_project_and_core_tests_do_not_see_installed_plugins(
    plugin_python, slow_shop, crawls, tmp_path
):
    """With autoload off (as in this suite), installed plugins stay out."""
    assert os.environ.get(ENV_NO_AUTOLOAD) == "1"
    crawl = Crawl(slow_shop, tmp_path / "items.jsonl", python=plugin_python)
    crawls.append(crawl)
    client = wait_for_service(crawl)
    assert client.get("plugins") == {"plugins": [], "failures": []}
    client.call("crawler/engine", "close_spider", "demo")
    assert crawl.wait() == 0
    assert PROJECT.is_dir()


PLUGIN_AUTHOR_TESTS = """
import pytest_twisted

import ws_testgood


def test_through_a_real_crawl(webservice_crawl):
    crawl = webservice_crawl(plugins=["good"])
    client = crawl.client
    assert client.get("good") == {"plugin": "good", "ratio": "1/3"}
    assert [p["name"] for p in client.get("plugins")["plugins"]] == ["good"]
    client.call("crawler/engine", "close_spider", "demo")
    assert crawl.wait() == 0


@pytest_twisted.ensureDeferred
async def test_in_process(webservice):
    served = webservice(ws_testgood)
    reply = await served.get("good")
    assert reply.json == {"plugin": "good", "ratio": "1/3"}
    assert (await served.get("good", token=None)).status == 401
    assert (await served.get("plugins")).json["plugins"][0]["name"] == "ws_testgood"
"""


def test_fixtures_for_plugin_authors(plugin_python, tmp_path):
    """The pytest11 fixtures, used the way a plugin's own test suite uses them."""
    (tmp_path / "test_good_plugin.py").write_text(PLUGIN_AUTHOR_TESTS)
    result = subprocess.run(
        [plugin_python, "-m", "pytest", "-p", "no:cacheprovider", "--reactor=asyncio", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    # The in-process test once per front (``webservice_front``), the crawl once.
    assert "3 passed" in result.stdout
