"""Reading the WEBSERVICE_* settings."""

from __future__ import annotations

import pytest
from scrapy.settings import Settings

from scrapy_webservice.settings import DEFAULTS, WebServiceConfig


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
