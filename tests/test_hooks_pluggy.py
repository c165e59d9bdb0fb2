"""Hooks run through pluggy's own call loop, with every implementation in its own guard.

Wrappers (new and old style), ``tryfirst``/``trylast`` and ``firstresult``
behave as pluggy documents; an implementation that raises is logged,
listed, and counted as ``None``, and the others still run.
"""

from __future__ import annotations

import types
from typing import Any

import pytest
import pytest_twisted
from scrapy.settings import Settings

from scrapy_webservice import JsonResource, WebServiceAPI, hookimpl
from scrapy_webservice.server.plugins import Plugins


class Thing:
    pass


def plugin(name: str, **hooks: Any) -> types.SimpleNamespace:
    return types.SimpleNamespace(__name__=name, **hooks)


def make(*objects: Any, strict: bool = False) -> Plugins:
    plugins = Plugins(strict=strict)
    for obj in objects:
        assert plugins.register(obj), plugins.failures
    return plugins


@pytest_twisted.ensureDeferred
async def test_a_new_style_wrapper_on_service_started_runs(webservice):
    seen: list[Any] = []

    @hookimpl(wrapper=True)
    def service_started(service):
        seen.append(("before", service))
        result = yield
        seen.append(("after", result))
        return result

    @hookimpl
    def plain_started(service):
        seen.append(("plain", service.url))

    wrapped = plugin("wrapping", service_started=service_started)
    plain = plugin("plain", service_started=hookimpl(specname="service_started")(plain_started))
    served = webservice(plain, wrapped)
    assert [step for step, _ in seen] == ["before", "plain", "after"]
    assert isinstance(seen[0][1], WebServiceAPI)
    assert seen[1][1] == served.url
    assert seen[2][1] == []  # the plain implementation returned None


def test_firstresult_stops_at_the_first_answer():
    calls: list[str] = []

    def answer(name: str, value: Any):
        def json_default(obj):
            calls.append(name)
            return value

        return plugin(name, json_default=hookimpl(json_default))

    # pluggy calls the last registered first.
    plugins = make(answer("late", {"from": "late"}), answer("early", {"from": "early"}))
    assert plugins.json_default(Thing()) == {"from": "early"}
    assert calls == ["early"]
    calls.clear()
    plugins = make(answer("late", {"from": "late"}), answer("early", None))
    assert plugins.json_default(Thing()) == {"from": "late"}
    assert calls == ["early", "late"]


def test_tryfirst_is_pluggys_order():
    order: list[str] = []

    def named(name: str, **opts: Any):
        def register_resources(settings):
            order.append(name)

        return plugin(name, register_resources=hookimpl(**opts)(register_resources))

    plugins = make(named("first", tryfirst=True), named("middle"), named("last", trylast=True))
    plugins.resource_layers(Settings())
    assert order == ["first", "middle", "last"]


def test_a_raising_implementation_is_none_for_the_wrapper_and_the_others_run(caplog):
    seen: dict[str, Any] = {}

    @hookimpl(wrapper=True)
    def register_resources(settings):
        seen["results"] = yield
        return seen["results"]

    def broken(settings):
        raise RuntimeError("boom in a hook")

    def good(settings):
        return {"scrapy_webservice.resources.health.HealthResource": 5}

    plugins = make(
        plugin("wrapper", register_resources=register_resources),
        plugin("good", register_resources=hookimpl(good)),
        plugin("broken", register_resources=hookimpl(broken)),
    )
    layers = plugins.resource_layers(Settings())
    assert [layer.source for layer in layers] == ["plugin good"]
    assert seen["results"] == [good(None)]
    [failure] = plugins.failures
    assert (failure.name, failure.stage) == ("broken", "register_resources")
    assert "boom in a hook" in failure.error
    assert "Web service plugin broken" in caplog.text


def test_a_raising_wrapper_passes_the_result_through():
    @hookimpl(wrapper=True)
    def json_default(obj):
        yield
        raise RuntimeError("a broken wrapper")

    @hookimpl(hookwrapper=True)
    def old_style(obj):
        outcome = yield
        assert outcome.get_result() == "known"

    plugins = make(
        plugin("answer", json_default=hookimpl(lambda obj: "known")),
        plugin("old", json_default=hookimpl(hookwrapper=True, specname="json_default")(old_style)),
        plugin("broken", json_default=json_default),
    )
    assert plugins.json_default(Thing()) == "known"
    assert [(f.name, f.stage) for f in plugins.failures] == [("broken", "json_default")]


def test_a_wrapper_that_fails_before_yielding_is_skipped():
    @hookimpl(wrapper=True)
    def json_default(obj):
        raise RuntimeError("before yield")
        yield  # pragma: no cover

    plugins = make(
        plugin("answer", json_default=hookimpl(lambda obj: 42)),
        plugin("broken", json_default=json_default),
    )
    assert plugins.json_default(Thing()) == 42
    assert plugins.failures[0].name == "broken"


def test_the_listing_names_the_plugins_and_their_hooks():
    plugins = make(plugin("one", json_default=hookimpl(lambda obj: None)))
    [info] = plugins.listing()["plugins"]
    assert (info["name"], info["hooks"]) == ("one", ["json_default"])


class UsesTheApiAtBuild(JsonResource):
    """A resource whose own ``__init__`` reads the API: bound before it is built."""

    ws_name = "early"

    def __init__(self, crawler):
        super().__init__(crawler)
        self.version_at_build = self.api.version

    def render_GET(self, txrequest):
        return {"version": self.version_at_build, "resources": self.api.resources()}


class BuiltFromCrawler(JsonResource):
    ws_name = "fromcrawler"

    def __init__(self, crawler, note: str):
        super().__init__(crawler)
        self.note = note

    @classmethod
    def from_crawler(cls, crawler):
        return cls(crawler, note=f"built for pid {cls_api(crawler).pid}")

    def render_GET(self, txrequest):
        return {"note": self.note}


def cls_api(crawler):
    from scrapy_webservice import api

    return api(crawler)


@pytest_twisted.ensureDeferred
async def test_resources_reach_the_api_from_their_constructors(webservice):
    import os

    served = webservice(WEBSERVICE_RESOURCES={UsesTheApiAtBuild: 10, BuiltFromCrawler: 11})
    early = (await served.get("early")).json
    assert early["version"] == served.api.version
    assert "early" in early["resources"]
    assert "fromcrawler" in early["resources"]
    assert (await served.get("fromcrawler")).json == {"note": f"built for pid {os.getpid()}"}


def test_a_wrapper_that_is_not_a_generator_fails_at_registration():
    @hookimpl(wrapper=True)
    def json_default(obj):
        return "not a generator"

    plugins = Plugins()
    assert not plugins.register(plugin("flat", json_default=json_default))
    [failure] = plugins.failures
    assert (failure.name, failure.stage) == ("flat", "register")
    assert "generator" in failure.error


def test_a_hook_failing_with_new_messages_is_listed_once(caplog):
    def json_default(obj):
        raise ValueError(f"cannot encode {obj!r}")

    plugins = make(plugin("noisy", json_default=hookimpl(json_default)))
    for n in range(200):
        with pytest.raises(TypeError):
            plugins.json_default(n)
    assert len(plugins.failures) == 1
    assert caplog.text.count("Web service plugin noisy") == 1


def test_one_dict_returned_by_two_plugins_is_the_first_ones():
    shared = {"scrapy_webservice.resources.health.HealthResource": 5}
    plugins = make(
        plugin("b", register_resources=hookimpl(lambda settings: shared)),
        plugin("a", register_resources=hookimpl(lambda settings: shared)),
    )
    sources = [layer.source for layer in plugins.resource_layers(Settings())]
    assert sorted(sources) == ["plugin a", "plugin b"]


def test_pluggys_own_listing_works_on_the_guarded_plugins():
    plugins = make(plugin("one", json_default=hookimpl(lambda obj: None)))
    assert len(plugins.pm.get_plugins()) == 1
    assert plugins.pm.get_name(next(iter(plugins.pm.get_plugins()))) == "one"
