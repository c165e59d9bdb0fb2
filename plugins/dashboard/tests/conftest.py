"""A headless Chromium for the browser tests, driven through chromedriver (Selenium).

Debian's ``chromium`` and ``chromium-driver`` packages are used as they are
(no browser is downloaded); ``CHROMIUM`` and ``CHROMEDRIVER`` name other
binaries. Without them the browser tests are skipped with
the command that installs them; with ``SCRAPY_WS_REQUIRE_BROWSER=1`` (CI)
they fail instead.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

INSTALL = (
    "plugins/dashboard/install-chromium.sh (Debian: apt-get install chromium chromium-driver)"
)
#: Screenshots of the browser tests (gitignored).
ARTIFACTS = Path(__file__).resolve().parent.parent / "test-artifacts"


def _find(variable: str, names: tuple[str, ...], fixed: str) -> str | None:
    """``$variable`` if set (and then only it), else ``fixed``, else the first name on PATH."""
    chosen = os.environ.get(variable)
    for candidate in [chosen] if chosen else [fixed, *names]:
        path = shutil.which(candidate)
        if path is not None:
            return path
    return None


@pytest.fixture(scope="session")
def chromium() -> tuple[str, str]:
    """Paths of the Chromium binary and of its chromedriver."""
    browser = _find("CHROMIUM", ("chromium", "chromium-browser"), "/usr/bin/chromium")
    driver = _find("CHROMEDRIVER", ("chromedriver",), "/usr/bin/chromedriver")
    if browser is None or driver is None:
        missing = " and ".join(
            name for name, path in (("chromium", browser), ("chromedriver", driver)) if not path
        )
        message = f"the browser tests need {missing}: run {INSTALL}"
        if os.environ.get("SCRAPY_WS_REQUIRE_BROWSER", "").lower() in ("1", "true", "yes"):
            pytest.fail(message)
        pytest.skip(message)
    return browser, driver


@pytest.fixture
def browser(chromium: tuple[str, str], tmp_path: Path) -> Iterator[Callable[..., object]]:
    """Start headless Chromium: ``browser(width=1280, height=800)`` → a Selenium driver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.options import Options
    from selenium.webdriver.chrome.service import Service

    binary, driver_path = chromium
    started: list[webdriver.Chrome] = []

    def start(width: int = 1280, height: int = 800) -> webdriver.Chrome:
        options = Options()
        options.binary_location = binary
        for argument in (
            "--headless=new",
            "--no-sandbox",  # root in a container has no user namespaces for the sandbox
            "--disable-dev-shm-usage",
            "--disable-gpu",
            "--no-first-run",
            "--disable-extensions",
            "--disable-background-networking",
            "--lang=en-US",
            f"--window-size={width},{height}",
            f"--user-data-dir={tmp_path / f'chromium{len(started)}'}",
        ):
            options.add_argument(argument)
        options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
        service = Service(executable_path=driver_path, log_output=str(tmp_path / "driver.log"))
        driver = webdriver.Chrome(options=options, service=service)
        started.append(driver)
        driver.set_page_load_timeout(30)
        driver.set_script_timeout(10)
        set_viewport(driver, width, height)
        return driver

    yield start
    for driver in started:
        driver.quit()


@pytest.fixture
def artifacts() -> Path:
    """Where tests save screenshots: ``plugins/dashboard/test-artifacts/`` (gitignored)."""
    ARTIFACTS.mkdir(exist_ok=True)
    return ARTIFACTS


@pytest.fixture
def viewport() -> Callable[..., None]:
    """``viewport(driver, width, height)``: resize the page's viewport."""
    return set_viewport


def set_viewport(driver, width: int, height: int) -> None:
    """Make the page's viewport exactly ``width`` by ``height`` CSS pixels."""
    driver.execute_cdp_cmd(
        "Emulation.setDeviceMetricsOverride",
        {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": width < 600},
    )
