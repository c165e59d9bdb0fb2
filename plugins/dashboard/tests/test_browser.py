"""The dashboard in a real headless Chromium, against a real crawl of the demo shop.

Every wait is bounded and nothing is timed: a check that something stays
the same (a paused crawl fetches nothing) watches for a while and asserts
only on what it saw.
"""

from __future__ import annotations

import os
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from selenium.common.exceptions import NoSuchElementException, StaleElementReferenceException
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

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


# -- the downloader, the scheduler, memory and the log ----------------------------------------

#: The demo shop's downloader slot: its host.
SLOT = "127.0.0.1"


def shop_url(crawl) -> str:
    """The demo shop's URL, as the crawl was given it (``-a url=...``)."""
    return next(arg[4:] for arg in crawl.args if arg.startswith("url="))


def access(driver) -> str:
    """What the page found the token may do: control, read-only, unknown..."""
    return driver.execute_script("return document.body.dataset.access || ''")


def slot_cell(driver, field: str, slot: str = SLOT, spider: str = "demo") -> str:
    return (
        card(driver, spider)
        .find_element(By.CSS_SELECTOR, f'tr[data-slot="{slot}"] [data-field="{field}"]')
        .text
    )


def tool(driver, selector: str, spider: str = "demo"):
    return card(driver, spider).find_element(By.CSS_SELECTOR, f".tools {selector}")


def service_slots(client) -> dict[str, Any]:
    return client.call("crawler/downloader", "slots", "demo")


def log_lines(driver) -> list[tuple[str, str]]:
    """(level, text) of each line of the log tail."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#log-lines li')]"
        ".map(li => [li.dataset.level, li.textContent])"
    )


def assert_clean_console(driver) -> None:
    logs = driver.get_log("browser")
    assert not [e for e in logs if "Content Security Policy" in e["message"]], logs
    assert not [e for e in logs if e["level"] == "SEVERE"], logs


@pytest.mark.parametrize("reactorless", [False, True], ids=["reactor", "reactorless"])
def test_slots_table_tuning_and_enqueue(browser, webservice_crawl, artifacts, reactorless):
    crawl = webservice_crawl(
        plugins=["dashboard"], products=3000, delay=0.3, reactorless=reactorless
    )
    client = crawl.client
    driver = browser(1280, 1000)
    driver.get(f"{client.url}dashboard#token={client.token}")
    wait_for("the demo spider", lambda: card(driver).is_displayed())
    wait_for("the full token recognised", lambda: access(driver) == "control")

    # The shop's slot, as the service has it.
    wait_for("the shop's slot", lambda: slot_cell(driver, "key") == SLOT)
    started = service_slots(client)
    [slot] = [s for s in started["slots"] if s["key"] == SLOT]
    assert slot_cell(driver, "concurrency") == str(slot["concurrency"])
    assert slot_cell(driver, "delay") == "0 s"
    for field in ("active", "queued", "transferring"):
        assert number(slot_cell(driver, field)) >= 0
    assert started["tuned"] is False
    assert tool(driver, ".set-delay").is_displayed()
    assert tool(driver, ".enqueue").is_displayed()
    assert not visible(driver, "#access-note")

    # A delay for every slot: the table shows it, and the service has it.
    tool(driver, ".delay-input").send_keys("0.5")
    tool(driver, ".set-delay").click()
    wait_for("the new delay in the table", lambda: slot_cell(driver, "delay") == "0.5 s")
    wait_for(
        "the note of a tuned crawl",
        lambda: "tuned" in card(driver).find_element(By.CSS_SELECTOR, ".slots-note").text,
    )
    tuned = service_slots(client)
    assert tuned["tuned"] is True
    assert tuned["default_delay"] == 0.5
    assert {s["delay"] for s in tuned["slots"]} == {0.5}
    assert "0.5" in tool(driver, ".tune-message").text

    # Concurrency likewise, then reset: back to what the crawl started with.
    tool(driver, ".concurrency-input").send_keys("2")
    tool(driver, ".set-concurrency").click()
    wait_for("the new concurrency in the table", lambda: slot_cell(driver, "concurrency") == "2")
    assert {s["concurrency"] for s in service_slots(client)["slots"]} == {2}
    driver.save_screenshot(str(artifacts / "dashboard-slots-tuned.png"))
    tool(driver, ".reset").click()
    wait_for("the delay reset in the table", lambda: slot_cell(driver, "delay") == "0 s")
    assert slot_cell(driver, "concurrency") == str(slot["concurrency"])
    reset = service_slots(client)
    assert reset["tuned"] is False
    assert reset["default_delay"] == started["default_delay"]

    # Two URLs for parse_product, the same one twice: one scheduled, one duplicate.
    url = f"{shop_url(crawl)}product/7?ref=dashboard"
    tool(driver, ".enqueue-urls").send_keys(f"{url}\n\n{url}\n")
    tool(driver, ".enqueue-callback").send_keys("parse_product")
    tool(driver, ".enqueue-submit").click()
    answer = wait_for(
        "the enqueue counts",
        lambda: "scheduled" in (text := tool(driver, ".enqueue-message").text) and text,
    )
    assert answer.startswith("1 scheduled, 1 duplicate"), answer
    assert "parse_product" in answer
    assert tool(driver, ".enqueue-urls").get_attribute("value") == ""

    # A callback the spider does not have: the error lists those it has, as text.
    tool(driver, ".enqueue-urls").send_keys(f"{shop_url(crawl)}product/8?ref=dashboard")
    tool(driver, ".enqueue-callback").clear()
    tool(driver, ".enqueue-callback").send_keys("<b>nope</b>")
    tool(driver, ".enqueue-submit").click()
    error = wait_for(
        "the enqueue error",
        lambda: "Could not" in (text := tool(driver, ".enqueue-message").text) and text,
    )
    assert "'<b>nope</b>' is not a callback" in error
    assert "parse, parse_product" in error
    assert tool(driver, ".enqueue-message").find_elements(By.CSS_SELECTOR, "*") == []
    driver.save_screenshot(str(artifacts / "dashboard-enqueue.png"))
    assert_clean_console(driver)


def test_memory_panel_and_log_tail(browser, webservice_crawl, artifacts):
    # Scrapy's LogStats writes an INFO record ("Crawled N pages ...") every second.
    crawl = webservice_crawl(
        plugins=["dashboard"], settings={"LOGSTATS_INTERVAL": 1}, products=3000, delay=0.3
    )
    client = crawl.client
    crawl.wait_for(r"INFO: Crawled \d+ pages")
    driver = browser(1280, 1000)
    driver.get(f"{client.url}dashboard#token={client.token}")
    wait_for("the demo spider", lambda: card(driver).is_displayed())

    # Memory: RSS, and Scrapy's live requests.
    wait_for(
        "requests among the live references",
        lambda: (
            number(driver.find_element(By.CSS_SELECTOR, '#refs tr[data-class="Request"] td').text)
            > 0
        ),
    )
    assert driver.find_element(By.ID, "memory-rss").text.endswith("iB")
    assert driver.find_element(By.ID, "memory-peak").text.endswith("iB")

    # The log tail starts from WARNING: LogStats's INFO records, one a second, do not show.
    level = Select(driver.find_element(By.ID, "log-level"))
    assert level.first_selected_option.text == "WARNING"
    wait_for(
        "the WARNING stream",
        lambda: "WARNING and above" in driver.find_element(By.ID, "log-status").text,
    )
    time.sleep(3)
    assert [line for line in log_lines(driver) if line[0] in ("DEBUG", "INFO")] == []

    # From INFO: the next "Crawled N pages" record arrives.
    level.select_by_visible_text("INFO")
    wait_for(
        "Scrapy's INFO record in the tail",
        lambda: [t for lv, t in log_lines(driver) if lv == "INFO" and "Crawled" in t],
    )
    # A control call is logged at INFO with its params, and shows as text, not HTML.
    tool(driver, ".enqueue-urls").send_keys(f"{shop_url(crawl)}product/9?ref=log")
    tool(driver, ".enqueue-callback").send_keys("<img src=x>")
    tool(driver, ".enqueue-submit").click()
    wait_for(
        "the control call in the tail",
        lambda: [t for lv, t in log_lines(driver) if "enqueue" in t and "<img src=x>" in t],
    )
    assert driver.find_elements(By.CSS_SELECTOR, "#log-lines img") == []
    assert len(log_lines(driver)) <= 200
    assert not [url for url in fetched(driver) if client.token in url]
    driver.save_screenshot(str(artifacts / "dashboard-memory-log.png"))
    assert_clean_console(driver)


def test_read_only_token_hides_tuning_and_enqueue(browser, webservice_crawl, artifacts):
    crawl = webservice_crawl(
        plugins=["dashboard"],
        # (And no stall watchdog: the stalls panel says it is off.)
        settings={"WEBSERVICE_READONLY_TOKEN": READONLY, "WEBSERVICE_STALL_THRESHOLD": "None"},
        products=600,
        delay=0.3,
    )
    client = crawl.client
    driver = browser(1280, 1000)
    driver.get(f"{client.url}dashboard#token={READONLY}")
    wait_for("the demo spider", lambda: card(driver).is_displayed())
    wait_for("the read-only token recognised", lambda: access(driver) == "read-only")
    # What it may read shows: the slots and the memory.
    wait_for("the shop's slot", lambda: slot_cell(driver, "key") == SLOT)
    wait_for(
        "the live references",
        lambda: driver.find_elements(By.CSS_SELECTOR, '#refs tr[data-class="Request"]'),
    )
    # What it may not do does not show, and the page says why.
    tools = card(driver).find_elements(By.CSS_SELECTOR, ".tools")
    assert tools, "the card has no tuning section at all"
    assert not tools[0].is_displayed()
    for selector in (".set-delay", ".set-concurrency", ".reset", ".enqueue", ".enqueue-submit"):
        assert not tool(driver, selector).is_displayed(), selector
    assert visible(driver, "#access-note")
    assert "read-only" in driver.find_element(By.ID, "access-note").text
    # The stalls panel reads with this token too: here the watchdog is off.
    wait_for("the watchdog off", lambda: stalls_watchdog(driver) == "off")
    assert driver.find_element(By.ID, "stalls-watchdog").text == "Off"
    assert driver.find_element(By.ID, "stalls-count").text == "\u2013"  # (a dash: none)
    assert stall_rows(driver) == []
    assert driver.find_element(By.ID, "stall-rows").text == "The watchdog is off"
    assert (
        "WEBSERVICE_STALL_THRESHOLD is None" in driver.find_element(By.ID, "stalls-message").text
    )
    assert driver.find_element(By.ID, "stalls-lag").text == ""
    # Finding out changed nothing.
    assert service_slots(client)["tuned"] is False
    driver.save_screenshot(str(artifacts / "dashboard-read-only.png"))
    assert_clean_console(driver)


# -- stalls ---------------------------------------------------------------------------------------

#: The crawl's own pipeline that blocks the reactor when the test asks (not a test).
PIPELINE = Path(__file__).resolve().parent / "stalling_pipeline.py"


def marked_line(path: Path, mark: str) -> tuple[int, str]:
    """The number and the text (stripped) of the line of ``path`` marked ``# blocks: MARK``."""
    for number, line in enumerate(path.read_text().splitlines(), 1):
        if line.rstrip().endswith(f"# blocks: {mark}"):
            return number, line.strip()
    raise AssertionError(f"no line marked {mark!r} in {path}")


def stall_rows(driver) -> list[dict[str, Any]]:
    """The stalls panel's rows, as shown (newest first)."""
    return driver.execute_script(
        "return [...document.querySelectorAll('#stall-rows tr:not(.empty-row)')].map(tr => {"
        "  const cell = (f) => tr.querySelector(`[data-field=${f}]`);"
        "  const code = cell('where').querySelector('.stall-code');"
        "  return {seenAt: Number(tr.dataset.seenAt), time: cell('time').textContent,"
        "    datetime: cell('time').querySelector('time').getAttribute('datetime'),"
        "    seconds: cell('seconds').textContent,"
        "    where: cell('where').querySelector('.stall-place').textContent,"
        "    code: code ? code.textContent : null, stack: cell('where').title};"
        "})"
    )


def stalls_watchdog(driver) -> str:
    """on, off or unknown: what the stalls panel says of the watchdog."""
    return driver.find_element(By.ID, "stalls").get_attribute("data-watchdog") or ""


def shown_seconds(value: float) -> str:
    """A number of seconds as the page writes it (en-US, at most three decimals)."""
    return f"{round(value, 3):g} s"


def test_stalls_panel_names_the_pipeline_line_that_blocked(
    browser, webservice_crawl, monkeypatch, tmp_path, artifacts
):
    # The crawl's own pipeline blocks the reactor each time the test makes this file.
    trigger = tmp_path / "stall-now"
    path = [str(PIPELINE.parent), *filter(None, [os.environ.get("PYTHONPATH")])]
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(path))
    crawl = webservice_crawl(
        plugins=["dashboard"],
        settings={
            "WEBSERVICE_READONLY_TOKEN": READONLY,
            "ITEM_PIPELINES": {"stalling_pipeline.StallingPipeline": 300},
            "DASHBOARD_TEST_STALL_FILE": str(trigger),
            "DASHBOARD_TEST_STALL_SECONDS": 1.5,
        },
        products=3000,
        delay=0.3,
    )
    client = crawl.client
    line, code = marked_line(PIPELINE, "pipeline")
    where = f"{PIPELINE}:{line} in process_item"

    # The read-only token reads the stalls: the watchdog is on, at the default threshold,
    # and the pipeline has not blocked yet.
    driver = browser(1280, 1000)
    driver.get(f"{client.url}dashboard#token={READONLY}")
    wait_for("the demo spider", lambda: card(driver).is_displayed())
    wait_for("the read-only token recognised", lambda: access(driver) == "read-only")
    wait_for("the watchdog on", lambda: stalls_watchdog(driver) == "on")
    assert driver.find_element(By.ID, "stalls-watchdog").text == "0.5 s"
    assert not [row for row in stall_rows(driver) if row["where"] == where]
    wait_for("items through the pipeline", lambda: number(metric(driver, "items")) > 0)
    wait_for("the event stream", lambda: "Live" in driver.find_element(By.ID, "log-status").text)

    # The pipeline blocks: the panel names its line and shows it, as text.
    trigger.touch()
    row = wait_for(
        "the pipeline's stall in the panel",
        lambda: next((row for row in stall_rows(driver) if row["where"] == where), None),
    )
    assert not trigger.exists()
    assert row["code"] == code
    assert "<img src=x>" in row["code"]
    assert driver.find_elements(By.CSS_SELECTOR, "#stalls img") == []
    assert row["stack"].startswith("Stack, innermost last:\n")
    assert row["stack"].splitlines()[-1] == where
    # As the service has it.
    found = client.call("stalls", "recent", 50)
    [stall] = [stall for stall in found["recent"] if stall["where"] == where]
    assert row["seconds"] == shown_seconds(stall["seconds"])
    assert row["seenAt"] == stall["seen_at"]
    assert row["datetime"].startswith(time.strftime("%Y-%m-%d", time.gmtime(stall["seen_at"])))
    assert row["time"] == driver.execute_script(
        "return new Date(arguments[0] * 1000).toLocaleTimeString(undefined, {hour12: false})",
        stall["seen_at"],
    )
    assert number(driver.find_element(By.ID, "stalls-count").text) >= 1
    assert driver.find_element(By.ID, "stalls-longest").text.endswith(" s")
    assert re.fullmatch(
        r"Reactor lag: half the heartbeats within [\d.]+ s, 99% (within|over) [\d.]+ s"
        r" \([\d,]+ heartbeats?\)",
        driver.find_element(By.ID, "stalls-lag").text,
    )
    assert "The reactor was blocked" in crawl.wait_for(rf"at {re.escape(where)}").string
    driver.save_screenshot(str(artifacts / "dashboard-stalls.png"))
    assert_clean_console(driver)

    # With the refresh failing (its engine status blocked in the browser), the next
    # stall still comes: its event on the stream redraws the panel.
    shown = wait_for(
        "the count of stalls", lambda: number(driver.find_element(By.ID, "stalls-count").text)
    )
    driver.execute_cdp_cmd("Network.enable", {})
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": ["*/enginestatus*"]})
    wait_for(
        "the refresh failing",
        lambda: "retrying" in driver.find_element(By.ID, "connection").text,
    )
    trigger.touch()
    newest = wait_for(
        "the second stall, newest first, from its event",
        lambda: (
            (rows := stall_rows(driver))
            and rows[0]["where"] == where
            and rows[0]["seenAt"] > row["seenAt"]
            and rows[0]
        ),
    )
    assert "retrying" in driver.find_element(By.ID, "connection").text
    assert number(driver.find_element(By.ID, "stalls-count").text) > shown
    assert newest["code"] == code
    driver.execute_cdp_cmd("Network.setBlockedURLs", {"urls": []})
    wait_for(
        "the refresh again",
        lambda: driver.find_element(By.ID, "connection").text.startswith("Live"),
    )
