"""The flat layout's documented module paths still work for a release, with a warning."""

from __future__ import annotations

import importlib
import sys

import pytest

from scrapy_webservice.moved import MOVED

#: A documented name of each old module (docs/ before the layers).
DOCUMENTED = {
    "scrapy_webservice.client": ["WebServiceClient", "client_from_options", "fleet_from_options"],
    "scrapy_webservice.extension": ["WebService"],
    "scrapy_webservice.hookspecs": ["register_resources"],
    "scrapy_webservice.jsonrpc": ["JsonRpcError", "NOT_FOUND", "Dispatcher"],
    "scrapy_webservice.resource": ["HttpError", "RawBody"],
    "scrapy_webservice.settings": ["markdown_table"],
}


def fresh_import(name: str):
    sys.modules.pop(name, None)
    return importlib.import_module(name)


def test_every_moved_module_is_covered():
    assert set(DOCUMENTED) == set(MOVED)


@pytest.mark.parametrize("old", sorted(MOVED))
def test_an_old_path_warns_and_hands_out_the_new_modules_names(old):
    with pytest.warns(
        DeprecationWarning, match=rf"{old} is deprecated: import from {MOVED[old][0]}"
    ):
        shim = fresh_import(old)
    for name in DOCUMENTED[old]:
        homes = [importlib.import_module(new) for new in MOVED[old]]
        home = next(module for module in homes if hasattr(module, name))
        assert getattr(shim, name) is getattr(home, name)
    with pytest.raises(AttributeError, match=rf"module '{old}' has no attribute 'nothing_here'"):
        shim.nothing_here  # noqa: B018


def test_from_import_and_load_object_take_the_old_path():
    from scrapy.utils.misc import load_object

    with pytest.warns(DeprecationWarning, match="scrapy_webservice.extension is deprecated"):
        fresh_import("scrapy_webservice.extension")
    # What EXTENSIONS = {"scrapy_webservice.extension.WebService": 500} loads.
    from scrapy_webservice import WebService

    assert load_object("scrapy_webservice.extension.WebService") is WebService
    with pytest.warns(DeprecationWarning, match="scrapy_webservice.client is deprecated"):
        fresh_import("scrapy_webservice.client")
    from scrapy_webservice.client import WebServiceClient  # what docs/client.md showed

    assert WebServiceClient.__module__ == "scrapy_webservice.cli.client"
