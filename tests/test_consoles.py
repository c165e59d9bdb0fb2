"""Scrapy's own consoles: the add-on switches them off, a project's own choice wins.

Scrapy turns on its telnet console and (2.19) RemoteControl by default; both
run arbitrary Python. The unit tests check the priorities; the crawl tests
run ``scrapy crawl`` as a user does and read its log.
"""

from __future__ import annotations

import logging

import pytest
from scrapy.settings import Settings, default_settings

from scrapy_webservice import Addon
from scrapy_webservice.adapter.consoles import (
    CONSOLES,
    log_still_off,
    switch_off,
    switched_off,
)

from .conftest import free_port_holder
from .processes import Crawl

HAS_REMOTE_CONTROL = hasattr(default_settings, "REMOTE_CONTROL_ENABLED")
KNOWN = [name for name in CONSOLES if hasattr(default_settings, name)]
TELNET_LISTENING = "Telnet console listening on"
REMOTE_CONTROL_LISTENING = "Remote control HTTP server listening"
SWITCHED_OFF = "scrapy-webservice switched off Scrapy's"


def test_the_addon_switches_both_off_at_addon_priority(caplog):
    settings = Settings()
    with caplog.at_level(logging.INFO, logger="scrapy_webservice"):
        Addon().update_settings(settings)
    for name in KNOWN:
        assert settings.getbool(name) is False
        assert settings.getpriority(name) == 15  # "addon"
    assert switched_off(settings) == KNOWN
    [line] = [r.getMessage() for r in caplog.records if SWITCHED_OFF in r.getMessage()]
    assert caplog.records[-1].levelname == "INFO"
    if HAS_REMOTE_CONTROL:
        assert line == (
            "scrapy-webservice switched off Scrapy's telnet console and RemoteControl"
            " (they run arbitrary Python); set TELNETCONSOLE_ENABLED / REMOTE_CONTROL_ENABLED"
            " in your settings to keep them"
        )


@pytest.mark.parametrize("priority", ["project", "spider", "cmdline"])
@pytest.mark.parametrize("value", [True, False])
def test_a_projects_own_choice_is_kept(priority, value, caplog):
    settings = Settings()
    settings.set("TELNETCONSOLE_ENABLED", value, priority)
    with caplog.at_level(logging.INFO, logger="scrapy_webservice"):
        assert "TELNETCONSOLE_ENABLED" not in switch_off(settings)
    assert settings.getbool("TELNETCONSOLE_ENABLED") is value
    assert "TELNETCONSOLE_ENABLED" not in switched_off(settings)
    assert "telnet console" not in caplog.text


def test_nothing_switched_off_logs_nothing(caplog):
    settings = Settings({name: False for name in KNOWN})
    with caplog.at_level(logging.INFO, logger="scrapy_webservice"):
        Addon().update_settings(settings)
    assert SWITCHED_OFF not in caplog.text


def test_one_console_is_named_alone(caplog):
    settings = Settings({"TELNETCONSOLE_ENABLED": True})
    with caplog.at_level(logging.INFO, logger="scrapy_webservice"):
        Addon().update_settings(settings)
    if HAS_REMOTE_CONTROL:
        assert (
            "switched off Scrapy's RemoteControl (it runs arbitrary Python);"
            " set REMOTE_CONTROL_ENABLED in your settings to keep it"
        ) in caplog.text
    assert "telnet console" not in caplog.text


@pytest.mark.parametrize(
    "setting", [{"WEBSERVICE_ENABLED": False}, {"WEBSERVICE_PORT": "not-a-port"}]
)
def test_the_addon_leaves_them_on_when_the_service_will_not_serve(setting, caplog):
    """Off, or refused by a setting: the crawl keeps the consoles it would have had."""
    settings = Settings(setting)
    with caplog.at_level(logging.INFO, logger="scrapy_webservice"):
        Addon().update_settings(settings)
    assert all(settings.getbool(name) for name in KNOWN)
    assert switched_off(settings) == []
    assert SWITCHED_OFF not in caplog.text


def test_the_extension_alone_leaves_them_on():
    """``EXTENSIONS`` users choose for themselves: the docs name the two settings."""
    settings = Settings({"EXTENSIONS": {"scrapy_webservice.WebService": 500}})
    assert all(settings.getbool(name) for name in KNOWN)
    assert switched_off(settings) == []


def test_still_off_is_said_only_for_what_the_addon_switched_off(caplog):
    settings = Settings()
    with caplog.at_level(logging.WARNING, logger="scrapy_webservice"):
        log_still_off(settings)
        assert caplog.text == ""
        switch_off(settings)
        log_still_off(settings)
    # "stay off" for both consoles, "stays off" where Scrapy has no RemoteControl (< 2.19).
    assert "off (switched off by scrapy-webservice's add-on)" in caplog.text


# -- real crawls --------------------------------------------------------------------------


def crawl(crawls, shop, tmp_path, **settings) -> Crawl:
    process = Crawl(
        shop, tmp_path / "items.jsonl", settings={"REMOTE_CONTROL_JOBS_DIR": tmp_path, **settings}
    )
    crawls.append(process)
    return process


@pytest.mark.integration
def test_the_addons_crawl_has_no_console(fast_shop, crawls, tmp_path):
    process = crawl(crawls, fast_shop, tmp_path)
    assert process.wait() == 0
    log = process.output
    assert "Web service listening on" in log
    assert TELNET_LISTENING not in log
    assert REMOTE_CONTROL_LISTENING not in log
    assert "Telnet Password" not in log
    [line] = [line for line in process.lines if SWITCHED_OFF in line]
    assert "] INFO: " in line
    assert "telnet console" in line
    if HAS_REMOTE_CONTROL:
        assert "RemoteControl" in line
    assert not list(tmp_path.glob("*.json")), "no RemoteControl job file"


@pytest.mark.integration
def test_a_project_that_sets_them_keeps_them(fast_shop, crawls, tmp_path, monkeypatch):
    monkeypatch.setenv("SCRAPY_SETTINGS_MODULE", "wsproject.consoles_on")
    process = crawl(crawls, fast_shop, tmp_path)
    assert process.wait() == 0
    log = process.output
    assert "Web service listening on" in log
    assert TELNET_LISTENING in log
    if HAS_REMOTE_CONTROL:
        assert REMOTE_CONTROL_LISTENING in log
    assert SWITCHED_OFF not in log


@pytest.mark.integration
def test_a_disabled_service_leaves_the_consoles_running(fast_shop, crawls, tmp_path):
    process = crawl(crawls, fast_shop, tmp_path, WEBSERVICE_ENABLED="False")
    assert process.wait() == 0
    assert TELNET_LISTENING in process.output
    if HAS_REMOTE_CONTROL:
        assert REMOTE_CONTROL_LISTENING in process.output
    assert SWITCHED_OFF not in process.output


@pytest.mark.integration
def test_a_service_that_cannot_start_leaves_them_off_and_says_so(fast_shop, crawls, tmp_path):
    holder = free_port_holder()
    port = holder.getsockname()[1]
    try:
        process = crawl(crawls, fast_shop, tmp_path, WEBSERVICE_PORT=f"{port},{port}")
        assert process.wait() == 0
    finally:
        holder.close()
    log = process.output
    assert f"Web service not started: cannot listen on 127.0.0.1 port {port}" in log
    assert TELNET_LISTENING not in log
    assert REMOTE_CONTROL_LISTENING not in log
    assert SWITCHED_OFF in log
    [line] = [line for line in process.lines if "off (switched off by" in line]
    assert "] WARNING: " in line
    assert "this crawl has no console" in line
    assert "TELNETCONSOLE_ENABLED" in line
