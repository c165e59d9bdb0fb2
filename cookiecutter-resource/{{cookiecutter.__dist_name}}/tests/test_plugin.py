"""The plugin is installed and listed, served over HTTP with a token, and in a real crawl.

The ``webservice`` and ``webservice_crawl`` fixtures come with
scrapy-webservice (a pytest plugin): the first serves the resource in this
process, the second runs ``scrapy crawl`` of a small local shop with only
this plugin loaded.
"""

import json
import subprocess
import sys

import pytest_twisted

import {{ cookiecutter.__package }}

PLUGIN = "{{ cookiecutter.plugin_name }}"
WS_NAME = "{{ cookiecutter.ws_name }}"
RESOURCE = "{{ cookiecutter.__package }}.resource.{{ cookiecutter.__camel_name }}Resource"


def test_the_plugin_is_installed_and_listed():
    listing = subprocess.run(
        [sys.executable, "-m", "scrapy_webservice.cli", "--json", "plugins"],
        capture_output=True,
        text=True,
        check=True,
    )
    plugins = {p["name"]: p for p in json.loads(listing.stdout)["plugins"]}
    assert plugins[PLUGIN]["distribution"] == "{{ cookiecutter.__dist_name }}"
    assert plugins[PLUGIN]["resources"] == [RESOURCE]


@pytest_twisted.ensureDeferred
async def test_the_resource_needs_the_token(webservice):
    served = webservice({{ cookiecutter.__package }})
    assert (await served.get(WS_NAME, token=None)).status == 401
    root = await served.get("")
    assert WS_NAME in root.json["resources"]
{%- if cookiecutter.resource_kind == "json" %}


@pytest_twisted.ensureDeferred
async def test_get_answers_json(webservice):
    served = webservice({{ cookiecutter.__package }})
    reply = await served.get(WS_NAME)
    assert reply.status == 200
    assert reply.headers["content-type"] == "application/json"
    assert reply.json["items"] == {}  # no spider runs in this process


def test_a_real_crawl_serves_the_resource(webservice_crawl):
    crawl = webservice_crawl(plugins=[PLUGIN])
    client = crawl.client
    assert WS_NAME in client.get("")["resources"]
    assert set(client.get(WS_NAME)["items"]) == {"demo"}
    client.call("crawler/engine", "close_spider", "demo")
    assert crawl.wait() == 0
{%- else %}


@pytest_twisted.ensureDeferred
async def test_wrong_calls_get_json_rpc_errors(webservice):
    served = webservice({{ cookiecutter.__package }})
    missing_param = await served.rpc(WS_NAME, "item_count", [])
    assert missing_param.json["error"]["code"] == -32602  # invalid params
    wrong_type = await served.rpc(WS_NAME, "add_note", ["demo", 42])
    assert wrong_type.json["error"]["code"] == -32602
    not_running = await served.rpc(WS_NAME, "item_count", ["nope"])
    assert not_running.json["error"]["code"] == -32001
    unknown = await served.rpc(WS_NAME, "no_such_method")
    assert unknown.json["error"]["code"] == -32601


@pytest_twisted.ensureDeferred
async def test_the_read_only_token_cannot_call_the_control_method(webservice):
    served = webservice({{ cookiecutter.__package }}, WEBSERVICE_READONLY_TOKEN="r" * 32)
    reply = await served.rpc(WS_NAME, "add_note", ["demo", "hello"], token="r" * 32)
    assert reply.json["error"]["code"] == -32003


def test_a_real_crawl_serves_each_method(webservice_crawl):
    crawl = webservice_crawl(plugins=[PLUGIN])
    client = crawl.client
    assert WS_NAME in client.get("")["resources"]
    assert isinstance(client.call(WS_NAME, "item_count", "demo"), int)
    assert client.call(WS_NAME, "add_note", "demo", "checked by a test") == ["checked by a test"]
    notes = client.call("stats", "get_value", "{{ cookiecutter.ws_name }}/notes", None, "demo")
    assert notes == ["checked by a test"]
    client.call("crawler/engine", "close_spider", "demo")
    assert crawl.wait() == 0
{%- endif %}
