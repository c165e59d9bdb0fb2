"""Merging the resource layers."""

from __future__ import annotations

import logging

import pytest
from scrapy.settings import Settings
from scrapy.utils.test import get_crawler

from scrapy_webservice import JsonResource
from scrapy_webservice.public.settings import WebServiceConfig
from scrapy_webservice.resources import StatsResource
from scrapy_webservice.server.registry import Layer, RegistryError, build_resources, merge_layers

STATS = "scrapy_webservice.resources.stats.StatsResource"


class Alpha(JsonResource):
    ws_name = "alpha"


class Beta(JsonResource):
    ws_name = "beta"


class AlsoAlpha(JsonResource):
    ws_name = "alpha"


class Broken(JsonResource):
    ws_name = "broken"

    def __init__(self, crawler):
        raise RuntimeError("cannot build")


HERE = __name__


def keys(layers):
    return [entry.key for entry in merge_layers(layers)]


def test_class_and_dotted_path_are_one_key():
    layers = [Layer("base", {StatsResource: 1}), Layer("settings", {STATS: None})]
    assert keys(layers) == []
    layers = [Layer("base", {STATS: 1}), Layer("settings", {StatsResource: None})]
    assert keys(layers) == []
    # the package re-export is the same class as the module path
    layers = [Layer("base", {"scrapy_webservice.resources.StatsResource": 1})]
    assert keys(layers) == [STATS]


def test_later_layers_override_and_orders_sort():
    layers = [
        Layer("base", {f"{HERE}.Alpha": 1, f"{HERE}.Beta": 2}),
        Layer("plugin", {Alpha: 5}),
        Layer("settings", {Beta: 3}),
    ]
    assert keys(layers) == [f"{HERE}.Beta", f"{HERE}.Alpha"]


def test_equal_orders_keep_first_mention_order():
    assert keys([Layer("x", {Beta: 0, Alpha: 0})]) == [f"{HERE}.Beta", f"{HERE}.Alpha"]


def test_unloadable_resource_is_logged_and_skipped(caplog):
    with caplog.at_level(logging.ERROR):
        result = keys([Layer("settings", {"no.such.Module": 1, Alpha: 2})])
    assert result == [f"{HERE}.Alpha"]
    assert "settings: cannot load resource 'no.such.Module'" in caplog.text


def test_unloadable_resource_dropped_later_is_not_an_error(caplog):
    with caplog.at_level(logging.ERROR):
        assert (
            keys([Layer("a", {"no.such.Module": 1}), Layer("b", {"no.such.Module": None})]) == []
        )
    assert "cannot load" not in caplog.text


def config(**settings) -> WebServiceConfig:
    return WebServiceConfig.from_settings(Settings(settings))


def test_build_mounts_in_order_and_skips_broken(caplog):
    crawler = get_crawler()
    cfg = config(WEBSERVICE_RESOURCES_BASE={}, WEBSERVICE_RESOURCES={Beta: 2, Alpha: 1, Broken: 0})
    with caplog.at_level(logging.ERROR):
        resources = build_resources(cfg, crawler)
    assert [r.ws_name for r in resources] == ["alpha", "beta"]
    assert all(r.crawler is crawler for r in resources)
    assert "Broken" in caplog.text
    assert "failed to build" in caplog.text


def test_two_resources_with_one_name_is_an_error_naming_both():
    cfg = config(WEBSERVICE_RESOURCES_BASE={Alpha: 1}, WEBSERVICE_RESOURCES={AlsoAlpha: 2})
    with pytest.raises(RegistryError) as info:
        build_resources(cfg, get_crawler())
    message = str(info.value)
    assert f"{HERE}.Alpha (from WEBSERVICE_RESOURCES_BASE)" in message
    assert f"{HERE}.AlsoAlpha (from WEBSERVICE_RESOURCES)" in message


def test_builtins_are_mounted_by_default():
    names = [r.ws_name for r in build_resources(config(), get_crawler())]
    assert sorted(names) == [
        "crawler",
        "enginestatus",
        "events",
        "health",
        "log",
        "memory",
        "plugins",
        "stalls",
        "stats",
    ]


def test_none_in_settings_drops_a_builtin():
    cfg = config(WEBSERVICE_RESOURCES={STATS: None})
    names = [r.ws_name for r in build_resources(cfg, get_crawler())]
    assert "stats" not in names
    assert "crawler" in names
