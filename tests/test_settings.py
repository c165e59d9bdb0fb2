"""Reading the WEBSERVICE_* settings: the one table, its parsers, misspelt names."""

from __future__ import annotations

import logging
import re
from dataclasses import fields
from typing import TYPE_CHECKING, Any

import pytest
import pytest_twisted
from scrapy import Spider
from scrapy.exceptions import NotConfigured
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from scrapy_webservice import WebService
from scrapy_webservice.public.settings import (
    DEFAULTS,
    SETTINGS,
    Setting,
    WebServiceConfig,
    unknown_settings,
)

if TYPE_CHECKING:
    from scrapy.crawler import Crawler


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ([6080, 7030], [6080, 7030]),
        (None, []),
        (0, []),
        ([], []),
        ("0", []),
        (6081, [6081]),
        ("6080-6090", [6080, 6090]),
        ("6080,6090", [6080, 6090]),
    ],
)
def test_port_range(value, expected):
    assert WebServiceConfig.from_settings(Settings({"WEBSERVICE_PORT": value})).port_range == (
        expected
    )


@pytest.mark.parametrize("value", [[7030, 6080], [1, 2, 3], "abc", [70000]])
def test_bad_port_range_is_a_clear_error(value):
    with pytest.raises(ValueError, match="WEBSERVICE_PORT"):
        WebServiceConfig.from_settings(Settings({"WEBSERVICE_PORT": value}))


def test_defaults_are_secure():
    config = WebServiceConfig.from_settings(Settings())
    assert config.host == "127.0.0.1"
    assert config.auth_enabled is True
    assert config.cors_origins == ()
    assert config.debug is False
    assert config.port_range == DEFAULTS["WEBSERVICE_PORT"]
    assert set(config.resources_base) == set(DEFAULTS["WEBSERVICE_RESOURCES_BASE"])


def test_command_line_strings_are_understood():
    config = WebServiceConfig.from_settings(
        Settings(
            {
                "WEBSERVICE_ENABLED": "False",
                "WEBSERVICE_CORS_ORIGINS": "http://a.example,http://b.example",
                "WEBSERVICE_MAX_BATCH_SIZE": "7",
                "WEBSERVICE_RESOURCES": '{"x.Y": null}',
            }
        )
    )
    assert config.enabled is False
    assert config.cors_origins == ("http://a.example", "http://b.example")
    assert config.max_batch_size == 7
    assert config.resources == {"x.Y": None}


# -- the one table ---------------------------------------------------------------------


def test_the_table_fills_every_attribute_of_the_config_once():
    attributes = [setting.attribute for setting in SETTINGS]
    assert sorted(attributes) == sorted(field.name for field in fields(WebServiceConfig))


def test_defaults_come_from_the_table():
    config = WebServiceConfig.from_settings(Settings())
    for setting in SETTINGS:
        value = getattr(config, setting.attribute)
        expected = setting.default
        if isinstance(value, tuple):
            expected = tuple(expected)
        assert value == expected, setting.name


@pytest.mark.parametrize(
    ("name", "value", "attribute", "expected"),
    [
        ("WEBSERVICE_DEBUG", "true", "debug", True),
        ("WEBSERVICE_AUTH_ENABLED", "0", "auth_enabled", False),
        ("WEBSERVICE_TIMEOUT", "2.5", "timeout", 2.5),
        ("WEBSERVICE_RATES_INTERVAL", "0.5", "rates_interval", 0.5),
        ("WEBSERVICE_EVENTS_MAX_CLIENTS", "0", "events_max_clients", 0),
        ("WEBSERVICE_PLUGINS_ONLY", "a,b", "plugins_only", ("a", "b")),
        ("WEBSERVICE_PLUGINS_ONLY", "", "plugins_only", ()),
        ("WEBSERVICE_ALLOWED_HOSTS", "example.com", "allowed_hosts", ("example.com",)),
        ("WEBSERVICE_RESOURCES_BASE", "{}", "resources_base", {}),
        ("WEBSERVICE_HOST", "", "host", ""),
        ("WEBSERVICE_TOKEN", "", "token", None),
    ],
)
def test_command_line_strings_of_every_kind(name, value, attribute, expected):
    config = WebServiceConfig.from_settings(Settings({name: value}))
    assert getattr(config, attribute) == expected


@pytest.mark.parametrize(
    "name",
    [
        "WEBSERVICE_ENABLED",
        "WEBSERVICE_HOST",
        "WEBSERVICE_ALLOWED_HOSTS",
        "WEBSERVICE_RESOURCES_BASE",
        "WEBSERVICE_TIMEOUT",
        "WEBSERVICE_MAX_BATCH_SIZE",
    ],
)
def test_an_explicit_none_is_the_default(name):
    """As Scrapy's getters read it; only ``WEBSERVICE_PORT = None`` means something else."""
    assert WebServiceConfig.from_settings(
        Settings({name: None})
    ) == WebServiceConfig.from_settings(Settings())


def test_a_path_object_is_a_path(tmp_path):
    config = WebServiceConfig.from_settings(
        Settings({"WEBSERVICE_DISCOVERY_DIR": tmp_path, "WEBSERVICE_UNIX_SOCKET": tmp_path / "s"})
    )
    assert config.discovery_dir == str(tmp_path)
    assert config.unix_socket == str(tmp_path / "s")


# -- a wrong value: a clear error, and the crawl goes on without the service -------------

#: A wrong value for every kind of parser of the table, and the start of its error.
WRONG_VALUES = [
    ("WEBSERVICE_DEBUG", "yes", "WEBSERVICE_DEBUG must be True or False"),
    ("WEBSERVICE_ENABLED", [1], "WEBSERVICE_ENABLED must be True or False"),
    ("WEBSERVICE_MAX_BATCH_SIZE", "many", "WEBSERVICE_MAX_BATCH_SIZE must be an integer"),
    ("WEBSERVICE_EVENTS_MAX_CLIENTS", -1, "WEBSERVICE_EVENTS_MAX_CLIENTS must be at least 0"),
    ("WEBSERVICE_MAX_REQUEST_SIZE", "0", "WEBSERVICE_MAX_REQUEST_SIZE must be at least 1"),
    ("WEBSERVICE_EVENTS_MAX_BUFFER", 0, "WEBSERVICE_EVENTS_MAX_BUFFER must be at least 1"),
    ("WEBSERVICE_TIMEOUT", "soon", "WEBSERVICE_TIMEOUT must be a number of seconds"),
    ("WEBSERVICE_RESPONSE_TIMEOUT", "-1", "WEBSERVICE_RESPONSE_TIMEOUT must be positive"),
    ("WEBSERVICE_RATES_INTERVAL", "0", "WEBSERVICE_RATES_INTERVAL must be between 0.05 and 60"),
    ("WEBSERVICE_PORT", "http", "WEBSERVICE_PORT must be a port or a [first, last] range"),
    ("WEBSERVICE_PORT", 6080.5, "WEBSERVICE_PORT must be a port or a [first, last] range"),
    ("WEBSERVICE_HOST", 127001, "WEBSERVICE_HOST must be a string"),
    ("WEBSERVICE_TOKEN", 1234, "WEBSERVICE_TOKEN must be a string"),
    ("WEBSERVICE_LOGFILE", 1, "WEBSERVICE_LOGFILE must be a path"),
    ("WEBSERVICE_CORS_ORIGINS", 5, "WEBSERVICE_CORS_ORIGINS must be a list of strings"),
    ("WEBSERVICE_PLUGINS", [object], "WEBSERVICE_PLUGINS must be a list of strings"),
    ("WEBSERVICE_PLUGINS_ONLY", 5, "WEBSERVICE_PLUGINS_ONLY must be a list of strings"),
    ("WEBSERVICE_RESOURCES", "{not json", "WEBSERVICE_RESOURCES must be a dict (or its JSON)"),
    ("WEBSERVICE_RESOURCES_BASE", "[1]", "WEBSERVICE_RESOURCES_BASE must be a dict"),
    ("WEBSERVICE_MAX_SHARE", "half", "WEBSERVICE_MAX_SHARE must be a fraction above 0"),
    ("WEBSERVICE_MAX_SHARE", 1.5, "WEBSERVICE_MAX_SHARE must be a fraction above 0"),
    ("WEBSERVICE_MAX_SHARE", "0", "WEBSERVICE_MAX_SHARE must be a fraction above 0"),
    ("WEBSERVICE_STALL_THRESHOLD", "soon", "WEBSERVICE_STALL_THRESHOLD must be a positive number"),
    ("WEBSERVICE_STALL_THRESHOLD", 0, "WEBSERVICE_STALL_THRESHOLD must be a positive number"),
    ("WEBSERVICE_STALL_THRESHOLD", "nan", "WEBSERVICE_STALL_THRESHOLD must be a positive number"),
    ("WEBSERVICE_MAX_CONNECTIONS", 0, "WEBSERVICE_MAX_CONNECTIONS must be at least 1"),
]


def parser_kind(setting: Setting) -> str:
    """``integer.<locals>.parse`` and ``boolean``: one name per kind, whatever its bounds."""
    return setting.parse.__qualname__


def test_every_kind_of_parser_has_a_wrong_value():
    wrong = {name for name, _, _ in WRONG_VALUES}
    by_name = {setting.name: setting for setting in SETTINGS}
    assert {parser_kind(by_name[name]) for name in wrong} == {parser_kind(s) for s in SETTINGS}


@pytest.mark.parametrize(("name", "value", "message"), WRONG_VALUES)
def test_a_wrong_value_is_an_error_naming_the_setting(name, value, message):
    with pytest.raises(ValueError, match=re.escape(message)):
        WebServiceConfig.from_settings(Settings({name: value}))


class Idle(Spider):
    """A spider with nothing to fetch: its crawl starts and finishes at once."""

    name = "idle"


def crawler_with_the_extension(settings: dict[str, Any]) -> Crawler:
    return get_crawler(
        Idle,
        {
            "EXTENSIONS": {WebService: 500},
            "WEBSERVICE_PORT": 0,
            "TELNETCONSOLE_ENABLED": False,
            "REMOTE_CONTROL_ENABLED": False,
            **settings,
        },
    )


@pytest.mark.parametrize(("name", "value", "message"), WRONG_VALUES)
@pytest_twisted.ensureDeferred
async def test_a_wrong_value_disables_the_service_and_the_crawl_goes_on(
    name, value, message, caplog
):
    crawler = crawler_with_the_extension({name: value})
    with caplog.at_level(logging.ERROR):
        await crawler.crawl()
    assert f"Web service disabled: {message}" in caplog.text
    assert not any(isinstance(ext, WebService) for ext in crawler.extensions.middlewares)
    assert crawler.stats.get_value("finish_reason") == "finished"


# -- a misspelt name is a warning ------------------------------------------------------


def unknown_setting_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [r for r in caplog.records if r.getMessage().startswith("Unknown setting")]


@pytest_twisted.ensureDeferred
async def test_a_misspelt_name_is_warned_once_with_the_closest_name(caplog):
    crawler = crawler_with_the_extension({"WEBSERVICE_TOKNE": "secret"})
    with caplog.at_level(logging.WARNING):
        await crawler.crawl()
    [record] = unknown_setting_records(caplog)
    assert record.levelno == logging.WARNING
    assert record.getMessage() == (
        "Unknown setting WEBSERVICE_TOKNE; did you mean WEBSERVICE_TOKEN?"
    )
    assert crawler.stats.get_value("finish_reason") == "finished"


def test_a_misspelt_name_is_warned_with_the_error_it_explains(caplog):
    """The warning comes before the settings are checked: it may be why they fail."""
    crawler = get_crawler(
        settings_dict={"WEBSERVICE_TLS_CERT": "cert.pem", "WEBSERVICE_TLS_KEY": "key.pem"}
    )
    with caplog.at_level(logging.WARNING), pytest.raises(NotConfigured, match="go together"):
        WebService.from_crawler(crawler)
    assert [r.getMessage() for r in unknown_setting_records(caplog)] == [
        "Unknown setting WEBSERVICE_TLS_CERT; did you mean WEBSERVICE_TLS_CERTIFICATE?"
    ]


def test_known_names_and_plugins_names_are_not_warned(caplog):
    settings = {
        **DEFAULTS,
        "WEBSERVICE_ENABLED": False,
        "WEBSERVICE_PROMETHEUS_PORT": 9100,
        "WEBSERVICE_DASHBOARD_ENABLED": True,
        "WEBSERVICE_MCP_TOKEN": "t",
    }
    with caplog.at_level(logging.WARNING), pytest.raises(NotConfigured):
        WebService.from_crawler(get_crawler(settings_dict=settings))
    assert unknown_setting_records(caplog) == []


@pytest.mark.parametrize(
    ("name", "suggestion"),
    [
        ("WEBSERVICE_PROT", "WEBSERVICE_PORT"),
        ("WEBSERVICE_HSOT", "WEBSERVICE_HOST"),
        ("WEBSERVICE_RESOURCE", "WEBSERVICE_RESOURCES"),
        ("WEBSERVICE_RESOURCES_BAS", "WEBSERVICE_RESOURCES_BASE"),
        ("WEBSERVICE_PLUGIN_STRICT", "WEBSERVICE_PLUGINS_STRICT"),
        ("WEBSERVICE_RATE_INTERVAL", "WEBSERVICE_RATES_INTERVAL"),
        ("WEBSERVICE_LOG_FILE", "WEBSERVICE_LOGFILE"),
        ("WEBSERVICE_READ_ONLY_TOKEN", "WEBSERVICE_READONLY_TOKEN"),
        ("WEBSERVICE_CORS_ORIGIN", "WEBSERVICE_CORS_ORIGINS"),
        ("WEBSERVICE_TLS_CERT", "WEBSERVICE_TLS_CERTIFICATE"),
    ],
)
def test_a_typo_gets_the_closest_name(name, suggestion):
    assert unknown_settings([name]) == [f"Unknown setting {name}; did you mean {suggestion}?"]


@pytest.mark.parametrize("name", ["WEBSERVICE_FOO", "WEBSERVICE_DASHBOARD", "WEBSERVICE_MAX_IDLE"])
def test_an_unknown_name_of_ours_with_nothing_close_is_still_warned(name):
    assert unknown_settings([name]) == [f"Unknown setting {name}; it is ignored"]


@pytest.mark.parametrize(
    "name",
    [
        "WEBSERVICE_PROMETHEUS_PORT",
        "WEBSERVICE_PROMETHEUS_ENABLED",
        "WEBSERVICE_DASHBOARD_TITLE",
        "WEBSERVICE_MCP_TOKEN",
        "WEBSERVICE_MCP_ENABLED",
        "SCRAPY_WEBSERVICE_PORT",
        "TELNETCONSOLE_PORT",
    ],
)
def test_a_plugins_namespace_and_other_settings_are_left_alone(name):
    assert unknown_settings([name]) == []
