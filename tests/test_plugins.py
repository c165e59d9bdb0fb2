"""The plugin manager and the merge of plugin resources, with plugins built in the test.

No entry point is loaded here: each test registers explicit plugin objects,
as plugin authors' tests do, so what is installed never leaks in.
"""

from __future__ import annotations

import logging
import types
from typing import Any

import pytest
import pytest_twisted
from scrapy.settings import Settings

from scrapy_webservice import JsonResource, hookimpl
from scrapy_webservice.public.settings import WebServiceConfig
from scrapy_webservice.server.plugins import ENV_DISABLE, ENV_NO_AUTOLOAD, Plugins
from scrapy_webservice.testing import ServedService

STATS = "scrapy_webservice.resources.stats.StatsResource"


class Weather(JsonResource):
    ws_name = "weather"

    def render_GET(self, txrequest):
        return {"sky": Sky("blue")}


class OtherWeather(JsonResource):
    ws_name = "weather"


class Sky:
    def __init__(self, colour: str) -> None:
        self.colour = colour


def plugin(name: str, **hooks: Any) -> types.SimpleNamespace:
    """A plugin object whose attributes are hook implementations."""
    return types.SimpleNamespace(__name__=name, **{k: hookimpl(v) for k, v in hooks.items()})


def weather_plugin(order: int | None = 10) -> types.SimpleNamespace:
    def register_resources(settings):
        return {Weather: order}

    def json_default(obj):
        return {"colour": obj.colour} if isinstance(obj, Sky) else None

    return plugin("weather", register_resources=register_resources, json_default=json_default)


def make_plugins(*objects: Any, strict: bool = False) -> Plugins:
    plugins = Plugins(strict=strict)
    for obj in objects:
        plugins.register(obj)
    return plugins


async def names(served: ServedService) -> list[str]:
    return (await served.get("")).json["resources"]


@pytest_twisted.ensureDeferred
async def test_plugin_resource_is_served_with_its_json_default(webservice):
    served = webservice(weather_plugin())
    assert "weather" in (await served.get("")).json["resources"]
    assert (await served.get("weather")).json == {"sky": {"colour": "blue"}}
    listing = (await served.get("plugins")).json
    [info] = listing["plugins"]
    assert info["name"] == "weather"
    assert info["hooks"] == ["json_default", "register_resources"]
    assert info["resources"] == [f"{__name__}.Weather"]
    assert listing["failures"] == []


@pytest_twisted.ensureDeferred
async def test_merge_order_base_then_plugins_then_settings(webservice):
    # a plugin drops a built-in ...
    drop_stats = plugin("nostats", register_resources=lambda settings: {STATS: None})
    assert "stats" not in await names(webservice(drop_stats))
    # ... and the project's settings have the last word over plugins
    served = webservice(drop_stats, WEBSERVICE_RESOURCES={STATS: 1})
    assert "stats" in await names(served)
    served = webservice(weather_plugin(), WEBSERVICE_RESOURCES={Weather: None})
    assert "weather" not in await names(served)
    # orders sort across layers
    served = webservice(weather_plugin(order=0))
    assert (await names(served))[0] == "weather"


@pytest_twisted.ensureDeferred
async def test_plugins_see_the_settings(webservice):
    def register_resources(settings):
        return {Weather: 5} if settings.getbool("WEATHER_ON") else None

    switchable = plugin("switchable", register_resources=register_resources)
    assert "weather" not in await names(webservice(switchable))
    assert "weather" in await names(webservice(switchable, WEATHER_ON=True))


def test_clash_names_both_resources_and_plugins(webservice, caplog):
    clash = plugin("clash", register_resources=lambda settings: {OtherWeather: 20})
    with caplog.at_level(logging.ERROR):
        served = webservice(weather_plugin(), clash, must_start=False)
    assert served.service.port is None
    message = caplog.text
    assert "two resources are named 'weather'" in message
    assert f"{__name__}.Weather (from plugin weather)" in message
    assert f"{__name__}.OtherWeather (from plugin clash)" in message


@pytest_twisted.ensureDeferred
async def test_a_raising_hook_is_isolated(webservice, caplog):
    def register_resources(settings):
        raise RuntimeError("boom at hook time")

    def json_default(obj):
        raise ValueError("boom while encoding")

    broken = plugin("broken", register_resources=register_resources, json_default=json_default)
    with caplog.at_level(logging.ERROR):
        served = webservice(weather_plugin(), broken)
    assert "weather" in await names(served)
    # the broken json_default runs first (registered last) and is skipped
    assert (await served.get("weather")).json == {"sky": {"colour": "blue"}}
    failures = (await served.get("plugins")).json["failures"]
    stages = {(f["name"], f["stage"]) for f in failures}
    assert ("broken", "register_resources") in stages
    assert ("broken", "json_default") in stages
    assert "Web service plugin broken failed at register_resources" in caplog.text
    assert "RuntimeError: boom at hook time" in caplog.text


@pytest_twisted.ensureDeferred
async def test_a_resource_that_fails_to_build_is_a_plugin_failure(webservice):
    class Unbuildable(JsonResource):
        ws_name = "unbuildable"

        def __init__(self, crawler):
            raise OSError("no disk")

    bad = plugin("bad", register_resources=lambda settings: {Unbuildable: 1})
    served = webservice(bad, weather_plugin())
    assert "unbuildable" not in await names(served)
    assert "weather" in await names(served)
    [failure] = served.service.plugins.failures
    assert failure.name == "bad"
    assert failure.stage.startswith("resource ")
    assert "OSError: no disk" in failure.error


def test_non_dict_contribution_is_a_failure():
    plugins = make_plugins(plugin("odd", register_resources=lambda settings: ["not", "a", "dict"]))
    assert plugins.resource_layers(Settings()) == []
    assert plugins.failures[0].stage == "register_resources"


def test_invalid_hook_implementation_is_refused_at_registration():
    def register_resources(settings, unknown_argument):
        return {}

    plugins = Plugins()
    assert not plugins.register(plugin("invalid", register_resources=register_resources))
    assert "invalid" not in plugins.loaded
    assert plugins.failures[0].stage == "register"


def test_unknown_hook_name_is_refused():
    plugins = Plugins()
    typo = types.SimpleNamespace(__name__="typo", register_resource=hookimpl(lambda: {}))
    assert not plugins.register(typo)
    assert "unknown hook" in plugins.failures[0].error


def test_strict_mode_re_raises():
    def register_resources(settings):
        raise RuntimeError("strict boom")

    plugins = make_plugins(plugin("broken", register_resources=register_resources), strict=True)
    with pytest.raises(RuntimeError, match="strict boom"):
        plugins.resource_layers(Settings())


@pytest_twisted.ensureDeferred
async def test_lifecycle_hooks_are_told(webservice):
    seen: list[tuple[str, Any]] = []
    watcher = plugin(
        "watcher",
        service_started=lambda service: seen.append(("started", service.url)),
        service_stopped=lambda service: seen.append(("stopped", service.url)),
    )
    served = webservice(watcher)
    assert seen == [("started", served.url)]
    await served.service.stop()
    assert seen == [("started", served.url), ("stopped", None)]


def test_lifecycle_stopped_is_told_when_start_fails(webservice):
    seen = []
    watcher = plugin("watcher", service_stopped=lambda service: seen.append("stopped"))
    clash = plugin("clash", register_resources=lambda settings: {Weather: 1, OtherWeather: 2})
    webservice(watcher, clash, must_start=False)
    assert seen == ["stopped"]


def test_project_plugin_modules_from_settings(monkeypatch, tmp_path):
    package = tmp_path / "myproject_ws"
    package.mkdir()
    (package / "__init__.py").write_text(
        "from scrapy_webservice import hookimpl\n"
        "@hookimpl\n"
        "def register_resources(settings):\n"
        "    return {'scrapy_webservice.resources.health.HealthResource': 99}\n"
    )
    monkeypatch.syspath_prepend(str(tmp_path))
    config = WebServiceConfig.from_settings(
        Settings(
            {
                "WEBSERVICE_PLUGINS": ["myproject_ws", "missing_module_ws"],
                "WEBSERVICE_PLUGINS_AUTOLOAD": False,
            }
        )
    )
    plugins = Plugins.from_config(config)
    assert list(plugins.loaded) == ["myproject_ws"]
    assert plugins.loaded["myproject_ws"].hooks == ["register_resources"]
    [failure] = plugins.failures
    assert (failure.name, failure.stage) == ("missing_module_ws", "import")


@pytest.mark.parametrize(
    ("settings", "environ", "loaded"),
    [
        ({}, {}, ["a", "b"]),
        ({"WEBSERVICE_PLUGINS_DISABLED": ["a"]}, {}, ["b"]),
        ({}, {ENV_DISABLE: "b, a"}, []),
        ({"WEBSERVICE_PLUGINS_ONLY": ["b"]}, {}, ["b"]),
    ],
)
def test_disable_and_only(monkeypatch, tmp_path, settings, environ, loaded):
    for name in ("a", "b"):
        (tmp_path / f"plug_{name}.py").write_text(
            "from scrapy_webservice import hookimpl\n"
            "@hookimpl\n"
            "def register_resources(settings):\n"
            "    return None\n"
        )
    monkeypatch.syspath_prepend(str(tmp_path))
    settings = {"WEBSERVICE_PLUGINS": ["plug_a", "plug_b"], **settings}
    for key in ("WEBSERVICE_PLUGINS_DISABLED", "WEBSERVICE_PLUGINS_ONLY"):
        if key in settings:
            settings[key] = [f"plug_{n}" for n in settings[key]]
    environ = {k: ", ".join(f"plug_{n.strip()}" for n in v.split(",")) for k, v in environ.items()}
    # Only these two modules: what is installed on the machine must not leak in.
    environ[ENV_NO_AUTOLOAD] = "1"
    plugins = Plugins.from_config(WebServiceConfig.from_settings(Settings(settings)), environ)
    assert list(plugins.loaded) == [f"plug_{n}" for n in loaded]


class Odd:
    pass


class OddResource(JsonResource):
    ws_name = "odd"

    def render_GET(self, txrequest):
        return {"odd": Odd()}


class LaterOddResource(JsonResource):
    ws_name = "laterodd"

    async def render_GET(self, txrequest):
        return {"odd": Odd()}


@pytest_twisted.ensureDeferred
async def test_json_default_returning_junk_is_a_500_not_a_hang(webservice):
    junk = plugin("junk", json_default=lambda obj: Odd() if isinstance(obj, Odd) else None)
    served = webservice(junk, WEBSERVICE_RESOURCES={OddResource: 1, LaterOddResource: 2})
    for path in ("odd", "laterodd"):
        reply = await served.get(path)
        assert reply.status == 500, path
        assert reply.json["error"]["message"] == "Internal error: the result is not JSON"


@pytest_twisted.ensureDeferred
async def test_a_hook_failing_on_every_request_is_listed_once(webservice, caplog):
    def json_default(obj):
        raise ValueError("always")

    noisy = plugin("noisy", json_default=json_default)
    served = webservice(noisy, WEBSERVICE_RESOURCES={OddResource: 1})
    with caplog.at_level(logging.ERROR):
        for _ in range(3):
            assert (await served.get("odd")).status == 500
    assert len(served.service.plugins.failures) == 1
    assert caplog.text.count("Web service plugin noisy failed at json_default") == 1


@pytest_twisted.ensureDeferred
async def test_strict_mode_does_not_break_requests_or_leave_the_port_open(webservice):
    def json_default(obj):
        raise ValueError("strict at request time")

    def service_stopped(service):
        raise RuntimeError("strict at stop")

    strict = plugin("strict", json_default=json_default, service_stopped=service_stopped)
    served = webservice(
        strict, WEBSERVICE_PLUGINS_STRICT=True, WEBSERVICE_RESOURCES={OddResource: 1}
    )
    assert (await served.get("odd")).status == 500
    port = served.service.port
    await served.service.stop()
    assert not port.connected


def test_a_plugin_named_twice_stays_registered():
    weather = weather_plugin()
    plugins = Plugins()
    assert plugins.register(weather, "weather")
    assert plugins.register(weather, "weather-again")
    assert plugins.failures == []
    assert plugins.pm.get_plugin("weather") is not None
    assert [layer.source for layer in plugins.resource_layers(Settings())] == ["plugin weather"]
