"""The layers hold: Scrapy's internals in one adapter, plugins on the public API only.

An AST walk over ``src/`` and every first-party plugin, so that a private
attribute read anywhere else, or a plugin importing a core module, fails
here rather than on the next Scrapy release or in a third-party author's
copy of our plugins.
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
from pathlib import Path

import pytest

import scrapy_webservice
from scrapy_webservice import Crawl, WebServiceAPI

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "scrapy_webservice"
PLUGINS = sorted(ROOT.glob("plugins/*/src"))
#: The one module allowed to read Scrapy's private attributes.
ADAPTER = SRC / "adapter" / "internals.py"


def python_files(*roots: Path) -> list[Path]:
    return sorted(path for root in roots for path in root.rglob("*.py"))


def is_private(name: str) -> bool:
    return name.startswith("_") and not (name.startswith("__") and name.endswith("__"))


#: Calls that read an attribute named by their second argument.
NAMED_READS = {"getattr", "hasattr", "setattr", "getattr_static", "attrgetter", "__getattribute__"}


def call_name(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


def private_reads(tree: ast.AST) -> list[tuple[int, str]]:
    """Reads of private names, however spelt.

    ``x._name`` (but ``self._name``/``cls._name``), ``getattr(x, "_name")``
    and its cousins, ``x.__dict__`` and ``vars(x)`` (a way around the
    first), and imports of private names or private modules.
    """
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and is_private(node.attr):
            owner = node.value
            if isinstance(owner, ast.Name) and owner.id in ("self", "cls"):
                continue
            if (
                isinstance(owner, ast.Call)
                and isinstance(owner.func, ast.Name)
                and owner.func.id == "super"
            ):
                continue
            found.append((node.lineno, f".{node.attr}"))
        elif isinstance(node, ast.Attribute) and node.attr == "__dict__":
            found.append((node.lineno, ".__dict__"))
        elif isinstance(node, ast.Call) and call_name(node) == "vars" and node.args:
            found.append((node.lineno, "vars(...)"))
        elif isinstance(node, ast.Call) and call_name(node) in NAMED_READS:
            names = [
                arg.value
                for arg in node.args
                if isinstance(arg, ast.Constant) and isinstance(arg.value, str)
            ]
            found += [(node.lineno, f"{call_name(node)}({n!r})") for n in names if is_private(n)]
        elif isinstance(node, ast.ImportFrom) and node.module != "__future__":
            found += [(node.lineno, f"import {a.name}") for a in node.names if is_private(a.name)]
            parts = (node.module or "").split(".")
            found += [(node.lineno, f"from {node.module}") for p in parts if is_private(p)][:1]
        elif isinstance(node, ast.Import):
            for alias in node.names:
                if any(is_private(part) for part in alias.name.split(".")):
                    found.append((node.lineno, f"import {alias.name}"))
    return found


@pytest.mark.parametrize(
    "path",
    [p for p in python_files(SRC, *PLUGINS) if p != ADAPTER],
    ids=lambda p: str(p.relative_to(ROOT)),
)
def test_no_private_attribute_is_read_outside_the_adapter(path):
    found = private_reads(ast.parse(path.read_text(encoding="utf-8")))
    assert not found, f"{path.relative_to(ROOT)} reads private names: {found}"


def test_the_check_finds_what_it_looks_for():
    code = (
        "engine._slot\n"
        "getattr(engine, '_slot', None)\n"
        "from .x import _helper\n"
        "self._mine\n"
        "obj.__class__\n"
        "vars(engine)['slot']\n"
        "engine.__dict__\n"
        "inspect.getattr_static(engine, '_slot')\n"
        "operator.attrgetter('_slot')\n"
        "from scrapy.core._private import thing\n"
        "import pkg._internal\n"
    )
    assert [name for _, name in sorted(private_reads(ast.parse(code)))] == [
        "._slot",
        "getattr('_slot')",
        "import _helper",
        "vars(...)",
        ".__dict__",
        "getattr_static('_slot')",
        "attrgetter('_slot')",
        "from scrapy.core._private",
        "import pkg._internal",
    ]


def imports(tree: ast.AST) -> list[tuple[int, str, int]]:
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.lineno, node.module or "", node.level))
    return found


@pytest.mark.parametrize("path", python_files(*PLUGINS), ids=lambda p: str(p.relative_to(ROOT)))
def test_plugins_import_only_the_public_api(path):
    allowed = {"scrapy_webservice", "scrapy_webservice.cli.client"}
    wrong = [
        (line, module)
        for line, module, level in imports(ast.parse(path.read_text(encoding="utf-8")))
        if level == 0
        and (module == "scrapy_webservice" or module.startswith("scrapy_webservice."))
        and module not in allowed
    ]
    assert not wrong, f"{path.relative_to(ROOT)} imports core modules: {wrong}"


@pytest.mark.parametrize(
    "path", python_files(SRC / "resources"), ids=lambda p: str(p.relative_to(ROOT))
)
def test_builtin_resources_use_only_the_public_api(path):
    """Our own resources are written as a plugin's would be: ``from .. import`` only."""
    wrong = [
        (line, module)
        for line, module, level in imports(ast.parse(path.read_text(encoding="utf-8")))
        if (level == 2 and module) or (level == 0 and module.startswith("scrapy_webservice"))
    ]
    assert not wrong, f"{path.relative_to(ROOT)} imports core modules: {wrong}"


def test_every_export_resolves():
    assert sorted(scrapy_webservice.__all__) == sorted(
        ["__version__", *scrapy_webservice._EXPORTS]
    )
    for name in scrapy_webservice._EXPORTS:
        module = importlib.import_module(f"scrapy_webservice.{scrapy_webservice._EXPORTS[name]}")
        assert getattr(scrapy_webservice, name) is getattr(module, name)


def public_members(cls: type) -> set[str]:
    return {name for name, _ in inspect.getmembers(cls) if not name.startswith("_")}


def test_docs_list_exactly_the_api():
    """docs/plugins.md "What plugins may use" names every export and every API member."""
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = text.split("## What plugins may use", 1)[1].split("\n## ", 1)[0]
    documented = set(re.findall(r"`([A-Za-z_][\w.]*)", section))
    names = {n.rsplit(".", 1)[-1].split("(")[0] for n in documented}
    missing = (
        set(scrapy_webservice._EXPORTS) | public_members(WebServiceAPI) | public_members(Crawl)
    ) - names
    assert not missing, f"not documented in docs/plugins.md: {sorted(missing)}"


def loaded_modules(code: str) -> set[str]:
    import json
    import subprocess
    import sys

    report = "import json, sys; print(json.dumps(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", f"{code}\n{report}"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    return set(json.loads(out.splitlines()[-1]))


def test_a_crawl_loads_neither_the_cli_nor_the_testing_code():
    # As in a crawl, the reactor is installed first (Scrapy before 2.19's
    # get_crawler refuses to run without one).
    modules = loaded_modules(
        "from scrapy.utils.reactor import install_reactor\n"
        "install_reactor('twisted.internet.asyncioreactor.AsyncioSelectorReactor')\n"
        "from scrapy.utils.test import get_crawler\n"
        "from scrapy_webservice import Addon, WebService\n"
        "from scrapy_webservice.server.service import Service\n"
        "from scrapy_webservice.public.settings import WebServiceConfig\n"
        "crawler = get_crawler(settings_dict={'WEBSERVICE_PLUGINS_AUTOLOAD': False})\n"
        "service = Service(WebServiceConfig.from_settings(crawler.settings))\n"
        "service.bind(crawler)\n"
        "service.build_root(crawler)\n"
    )
    heavy = {"rich", "shtab", "scrapy_webservice.cli", "scrapy_webservice.testing", "pytest"}
    assert not heavy & modules
    assert "scrapy_webservice.resources.crawler" in modules  # the check did build the root


def test_the_pytest_plugin_imports_nothing_heavy():
    modules = loaded_modules("import scrapy_webservice.testing")
    assert not {"scrapy", "twisted", "twisted.web.server", "rich"} & modules
    modules = loaded_modules("import scrapy_webservice")
    assert not {"scrapy", "twisted", "pluggy"} & modules


def first_cell_names(table_text: str) -> set[str]:
    names = set()
    for line in table_text.splitlines():
        if line.startswith("| `"):
            cell = line.split("|")[1]
            names |= {n.split("(")[0] for n in re.findall(r"`([A-Za-z_][\w.()]*)", cell)}
    return names


def test_docs_name_nothing_the_api_lacks():
    text = (ROOT / "docs" / "plugins.md").read_text(encoding="utf-8")
    section = text.split("## What plugins may use", 1)[1].split("\n## ", 1)[0]
    exports, rest = section.split("**The API**", 1)
    api_table, crawl_table = rest.split("**A `Crawl`**", 1)
    assert len(first_cell_names(api_table)) > 10  # the tables were read at all
    assert len(first_cell_names(crawl_table)) > 10
    assert first_cell_names(exports) <= set(scrapy_webservice._EXPORTS)
    assert first_cell_names(api_table) <= public_members(WebServiceAPI)
    assert first_cell_names(crawl_table) <= public_members(Crawl) | {
        "id",
        "spider_name",
        "downloader",
        "crawler",
    }
