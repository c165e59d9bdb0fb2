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
import scrapy_webservice.cli
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
    allowed = {"scrapy_webservice", "scrapy_webservice.cli"}
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
    assert sorted(scrapy_webservice.cli.__all__) == sorted(scrapy_webservice.cli._EXPORTS)
    for package in (scrapy_webservice, scrapy_webservice.cli):
        for name, where in package._EXPORTS.items():
            module = importlib.import_module(f"{package.__name__}.{where}")
            assert getattr(package, name) is getattr(module, name)


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


# -- the layers: a plain import graph, no circle, each package importing only below ----------

#: Each layer (a subpackage) and the layers it may import; nothing imports upwards.
#: The package's top (``scrapy_webservice``'s exports, ``testing``, ``demo``, the
#: deprecated old paths) stands above them all. docs/architecture.md, "The layers".
LAYERS: dict[str, set[str]] = {
    "rpc": set(),
    "adapter": {"rpc"},
    "public": {"rpc", "adapter"},
    "resources": {"public", "rpc"},
    "server": {"public", "rpc", "adapter"},
    "cli": {"rpc"},
}
#: ``scrapy-ws plugins`` lists what a service would load, and ``scrapy-ws demo``
#: runs a demo crawl: the two commands that run the service's own code in
#: the command's process, each importing it inside the command.
CLI_RUNS_THE_SERVICE = {
    ("scrapy_webservice.cli.program", "scrapy_webservice.server.plugins"),
    ("scrapy_webservice.cli.program", "scrapy_webservice.public.settings"),
    ("scrapy_webservice.cli.program", "scrapy_webservice.demo.run"),
}


#: Packages whose names load on first use, and the module (under each) defining each name.
FACADES = {
    "scrapy_webservice": scrapy_webservice._EXPORTS,
    "scrapy_webservice.cli": scrapy_webservice.cli._EXPORTS,
}


def module_name(path: Path) -> tuple[str, bool]:
    parts = list(path.relative_to(SRC.parent).with_suffix("").parts)
    package = parts[-1] == "__init__"
    return ".".join(parts[:-1] if package else parts), package


def import_graph() -> dict[str, set[str]]:
    """Each core module and the core modules it imports, however and wherever.

    Imports inside functions and under ``TYPE_CHECKING`` count: a plain
    graph. ``from .. import Name`` of an export counts as an import of the
    module that defines it (the top package loads it on first use), and
    ``__version__`` as none.
    """
    modules = {module_name(path): path for path in python_files(SRC)}
    names = {name for name, _ in modules}
    graph: dict[str, set[str]] = {}
    for (name, package), path in modules.items():
        edges = graph.setdefault(name, set())
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                targets = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    here = name.split(".") if package else name.split(".")[:-1]
                    here = here[: len(here) - node.level + 1]
                    base = ".".join([*here, *([node.module] if node.module else [])])
                targets = []
                for alias in node.names:
                    if f"{base}.{alias.name}" in names:
                        targets.append(f"{base}.{alias.name}")
                    elif alias.name in FACADES.get(base, {}):
                        targets.append(f"{base}.{FACADES[base][alias.name]}")
                    elif not (base == "scrapy_webservice" and alias.name == "__version__"):
                        targets.append(base)
            else:
                continue
            edges |= {target for target in targets if target in names and target != name}
    return graph


def circles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one module (Tarjan's)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in sorted(graph.get(node, ())):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 2 and parts[1] in LAYERS else None


def test_no_import_circle():
    assert circles(import_graph()) == []


def against_layers(graph: dict[str, set[str]]) -> list[str]:
    """The imports that go up, or across to a layer not listed below."""
    wrong = []
    for module, targets in sorted(graph.items()):
        layer = layer_of(module)
        if layer is None:
            continue  # the top: it may import anything
        for target in sorted(targets):
            below = layer_of(target)
            if below == layer or (module, target) in CLI_RUNS_THE_SERVICE:
                continue
            if below is None or below not in LAYERS[layer]:
                wrong.append(f"{module} -> {target}")
    return wrong


def test_each_layer_imports_only_the_layers_below():
    wrong = against_layers(import_graph())
    assert not wrong, "imports against the layers:\n" + "\n".join(wrong)


def test_the_graph_checks_find_what_they_look_for():
    assert circles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert circles({"a": {"b"}, "b": set()}) == []
    up = {
        "scrapy_webservice.public.api": {"scrapy_webservice.server.service"},
        "scrapy_webservice.cli.client": {"scrapy_webservice.rpc.discovery"},
        "scrapy_webservice.rpc.errors": {"scrapy_webservice.testing"},
    }
    assert against_layers(up) == [
        "scrapy_webservice.public.api -> scrapy_webservice.server.service",
        "scrapy_webservice.rpc.errors -> scrapy_webservice.testing",
    ]
    graph = import_graph()
    # Relative, function-local and TYPE_CHECKING imports are all seen.
    assert "scrapy_webservice.public.api" in graph["scrapy_webservice.server.service"]
    assert "scrapy_webservice.public.rpc_resource" in graph["scrapy_webservice.resources.stats"]
    assert "scrapy_webservice.demo.run" in graph["scrapy_webservice.cli.program"]


# -- the fronts: the core imports neither the reactor nor a front ----------------------------

#: The Twisted front (its site and metered ports) and the one module that picks the
#: loop (adapter/loop.py, which asks Scrapy whether there is a reactor first).
MAY_IMPORT_THE_REACTOR = {
    "scrapy_webservice.server.site",
    "scrapy_webservice.server.metered",
    "scrapy_webservice.adapter.loop",
}
#: The two HTTP fronts; only the service's lifecycle chooses one.
FRONTS = {
    "scrapy_webservice.server.site",
    "scrapy_webservice.server.metered",
    "scrapy_webservice.server.twisted_front",
    "scrapy_webservice.server.asyncio_front",
    "scrapy_webservice.server.asyncio_connection",
    "scrapy_webservice.server.exchange",
}


def reactor_imports(tree: ast.AST) -> list[int]:
    """The lines that import ``twisted.internet.reactor``, however spelt."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [node.lineno for a in node.names if a.name == "twisted.internet.reactor"]
        elif isinstance(node, ast.ImportFrom) and (
            node.module == "twisted.internet.reactor"
            or (node.module == "twisted.internet" and any(a.name == "reactor" for a in node.names))
        ):
            found.append(node.lineno)
    return found


def core_modules() -> dict[str, Path]:
    """The layers' modules (not the top: ``testing``, ``demo``, the old paths)."""
    modules = {module_name(path)[0]: path for path in python_files(SRC)}
    return {name: path for name, path in modules.items() if layer_of(name) is not None}


def test_the_core_imports_no_reactor_and_no_front():
    wrong = [
        f"{name}:{line} imports the reactor"
        for name, path in sorted(core_modules().items())
        if name not in MAY_IMPORT_THE_REACTOR
        for line in reactor_imports(ast.parse(path.read_text(encoding="utf-8")))
    ]
    graph = import_graph()
    wrong += [
        f"{name} imports the front {front}"
        for name in sorted(core_modules())
        for front in sorted(graph[name] & FRONTS)
        if name not in FRONTS and name != "scrapy_webservice.server.service"
    ]
    assert not wrong, "\n".join(wrong)
    assert reactor_imports(ast.parse("from twisted.internet import reactor\n")) == [1]
    assert reactor_imports(ast.parse("import twisted.internet.reactor as r\n")) == [1]


def test_every_core_module_imports_under_scrapys_reactorless_hook():
    """Scrapy's hook of ``TWISTED_REACTOR_ENABLED = False``: importing the reactor fails."""
    pytest.importorskip("scrapy.utils.reactorless", reason="Scrapy 2.15+ has the mode")
    import json
    import subprocess
    import sys

    names = sorted(name for name in core_modules() if not name.endswith(".__main__"))
    code = (
        "import importlib, json, sys\n"
        "from scrapy.utils.reactorless import install_reactor_import_hook\n"
        "install_reactor_import_hook()\n"
        f"for name in {names!r}:\n"
        "    importlib.import_module(name)\n"
        "print(json.dumps('twisted.internet.reactor' in sys.modules))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.splitlines()[-1]) is False
    assert len(names) > 40  # the core's modules were found at all
