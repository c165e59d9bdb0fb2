"""The dashboard in a real headless Chromium, against a real crawl of the demo shop.

Every wait is bounded and nothing is timed: a check that something stays
the same (a paused crawl fetches nothing) watches for a while and asserts
only on what it saw.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from typing import Any

from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import WebDriverWait

READONLY = "read-only-" + "r" * 32
#: Upper bound of every wait in these tests (seconds); none is expected to take long.
WAIT = 45


def wait_for(what: str, condition: Callable[[], Any], timeout: float = WAIT) -> Any:
    """Poll ``condition`` until it returns something true; fail saying ``what`` was awaited."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while True:
        try:
            last = condition()
        except (NoSuchElementException, StaleElementReferenceException) as exc:
            last = exc
        else:
            if last:
                return last
        if time.monotonic() > deadline:
            raise AssertionError(f"not seen within {timeout} s: {what} (last: {last!r})")
        time.sleep(0.2)


def visible(driver, selector: str) -> bool:
    found = driver.find_elements(By.CSS_SELECTOR, selector)
    return bool(found) and found[0].is_displayed()


def card(driver, spider: str = "demo"):
    return driver.find_element(By.CSS_SELECTOR, f'article.card[data-spider="{spider}"]')


def metric(driver, name: str, spider: str = "demo") -> str:
    return card(driver, spider).find_element(By.CSS_SELECTOR, f'dd[data-metric="{name}"]').text


def number(text: str) -> int:
    digits = re.sub(r"[^0-9]", "", text)
    return int(digits) if digits else -1


def state(driver, spider: str = "demo") -> str:
    return card(driver, spider).get_attribute("data-state") or ""


def button(driver, name: str, spider: str = "demo"):
    return card(driver, spider).find_element(By.CSS_SELECTOR, f"button.{name}")


def fetched(driver) -> list[str]:
    """URLs of what the page fetched so far (resource timing)."""
    return driver.execute_script(
        "return performance.getEntriesByType('resource').map(e => e.name)"
    )


def stored_token(driver) -> str | None:
    return driver.execute_script(
        "return sessionStorage.getItem('scrapy-webservice-dashboard-token')"
    )


def request_count(client) -> int:
    return client.call("stats", "get_value", "downloader/request_count", 0, "demo")


def test_without_the_token_the_page_asks_and_shows_nothing(browser, webservice_crawl, artifacts):
    crawl = webservice_crawl(
        plugins=["dashboard"],
        settings={"WEBSERVICE_READONLY_TOKEN": READONLY},
        products=600,
        delay=0.3,
    )
    client = crawl.client
    logged = crawl.wait_for(r"Web service dashboard: (http://\S+/dashboard) ")
    assert logged.group(1) == client.url + "dashboard"
    assert client.token not in logged.string

    driver = browser()
    driver.get(logged.group(1))
    assert driver.current_url == client.url + "dashboard/"
    wait_for("the token prompt", lambda: visible(driver, "#login"))
    assert driver.switch_to.active_element.get_attribute("id") == "token-input"
    # Two refresh periods: still no data, and nothing but the page's own files fetched.
    time.sleep(4)
    assert not visible(driver, "#crawls")
    assert driver.find_elements(By.CSS_SELECTOR, "article.card") == []
    assert "demo" not in driver.find_element(By.TAG_NAME, "body").text
    assert {url.rsplit("/", 1)[1] for url in fetched(driver)} <= {
        "dashboard.css",
        "dashboard.js",
        "favicon.svg",
    }

    # A wrong token: refused, forgotten, and the prompt says so.
    driver.find_element(By.ID, "token-input").send_keys("not-the-token\n")
    message = wait_for(
        "the refusal message",
        lambda: (
            visible(driver, "#login-message") and driver.find_element(By.ID, "login-message").text
        ),
    )
    assert "401" in message
    assert "scrapy-ws token" in message
    driver.save_screenshot(str(artifacts / "dashboard-token-refused.png"))
    assert stored_token(driver) is None
    assert driver.find_elements(By.CSS_SELECTOR, "article.card") == []

    # A read-only token: the crawl shows, its controls are refused, and the token
    # stays in this tab's session storage (no cookie).
    driver.find_element(By.ID, "token-input").send_keys(READONLY + "\n")
    wait_for("the demo spider", lambda: card(driver).is_displayed())
    assert not visible(driver, "#login")
    assert stored_token(driver) == READONLY
    assert driver.get_cookies() == []
    wait_for("the running state", lambda: state(driver) == "running")
    button(driver, "pause").click()
    refusal = wait_for(
        "the refused pause",
        lambda: (
            "Could not pause"
            in (note := card(driver).find_element(By.CSS_SELECTOR, ".card-message").text)
            and note
        ),
    )
    assert "read-only" in refusal
    assert client.call("crawler/engine", "state", "demo")["state"] == "running"
    assert state(driver) == "running"

    # Forgetting it goes back to the prompt, without data.
    driver.find_element(By.ID, "forget").click()
    wait_for("the token prompt again", lambda: visible(driver, "#login"))
    assert driver.find_elements(By.CSS_SELECTOR, "article.card") == []
    assert stored_token(driver) is None


def test_watch_pause_resume_and_stop_a_real_crawl(browser, webservice_crawl, viewport, artifacts):
    crawl = webservice_crawl(plugins=["dashboard"], products=3000, delay=0.3)
    client = crawl.client
    driver = browser(1280, 800)
    driver.get(f"{client.url}dashboard#token={client.token}")

    # The token leaves the address bar at once and lives in session storage only.
    wait_for("the token gone from the address", lambda: "token" not in driver.current_url)
    assert driver.current_url == client.url + "dashboard/"
    assert stored_token(driver) == client.token
    wait_for("the demo spider", lambda: card(driver).is_displayed())
    assert not visible(driver, "#login")

    # Live numbers: they change without a reload.
    first = wait_for(
        "pages scraped", lambda: number(metric(driver, "pages")) > 0 and metric(driver, "pages")
    )
    wait_for("the pages count to change", lambda: metric(driver, "pages") != first)
    wait_for("a rate", lambda: number(metric(driver, "pages_per_minute")) > 0)
    wait_for(
        "the chart",
        lambda: (
            len(
                card(driver)
                .find_element(By.CSS_SELECTOR, "polyline.pages")
                .get_attribute("points")
                .split()
            )
            >= 3
        ),
    )
    assert state(driver) == "running"
    assert number(metric(driver, "queued")) >= 0
    assert number(metric(driver, "in_flight")) >= 0
    assert metric(driver, "errors") == "0"
    assert driver.find_element(By.ID, "connection").text.startswith("Live")

    driver.save_screenshot(str(artifacts / "dashboard-1280x800.png"))
    viewport(driver, 375, 812)
    wait_for(
        "no sideways scrolling at 375 px",
        lambda: driver.execute_script(
            "return document.documentElement.scrollWidth <= window.innerWidth"
        ),
    )
    assert driver.execute_script("return window.innerWidth") == 375
    driver.save_screenshot(str(artifacts / "dashboard-375.png"))
    viewport(driver, 1280, 800)

    # The page works under its own Content-Security-Policy, without errors.
    logs = driver.get_log("browser")
    assert not [e for e in logs if "Content Security Policy" in e["message"]], logs
    assert not [e for e in logs if e["level"] == "SEVERE"], logs

    # Pause: the state reads paused, and the crawl fetches nothing more.
    assert button(driver, "resume").get_attribute("disabled") is not None
    button(driver, "pause").click()
    wait_for("the paused state", lambda: state(driver) == "paused")
    assert card(driver).find_element(By.CSS_SELECTOR, ".state").text.lower() == "paused"
    assert button(driver, "pause").get_attribute("disabled") is not None
    paused_at = request_count(client)
    seen = set()
    for _ in range(8):  # watch for a while (about four refreshes of the page)
        time.sleep(0.5)
        seen.add(request_count(client))
    assert seen == {paused_at}
    assert state(driver) == "paused"
    pages_paused = metric(driver, "pages")
    driver.save_screenshot(str(artifacts / "dashboard-paused.png"))

    # Resume: it fetches again.
    button(driver, "resume").click()
    wait_for("the running state", lambda: state(driver) == "running")
    wait_for("new requests", lambda: request_count(client) > paused_at)
    wait_for("pages to grow", lambda: number(metric(driver, "pages")) > number(pages_paused))

    # Stop asks first; saying no changes nothing.
    button(driver, "stop").click()
    alert = WebDriverWait(driver, WAIT).until(expected_conditions.alert_is_present())
    assert "demo" in alert.text
    alert.dismiss()
    time.sleep(1)
    assert crawl.proc.poll() is None
    assert state(driver) == "running"

    # Saying yes ends the crawl, and the page says the service is gone.
    button(driver, "stop").click()
    WebDriverWait(driver, WAIT).until(expected_conditions.alert_is_present()).accept()
    assert crawl.wait(timeout=90) == 0
    assert "'finish_reason': 'closed_by_webservice'" in crawl.output
    wait_for(
        "the page to notice the end",
        lambda: "cannot reach" in driver.find_element(By.ID, "connection").text.lower(),
    )
