"""The documentation keeps up with the code: every example in docs/ is run here.

The pages are Markdown (docs/*.md, built by Sphinx with MyST). A fenced block
says how it is tested with an HTML comment on the line before it, which
neither Sphinx nor GitHub shows:

``<!-- test: exec -->``
    Python run as it is (settings, definitions).
``<!-- test: module NAME -->``
    Python that is (part of) module NAME; the blocks of one module are joined
    in order and the module is importable by the other examples, by the
    services below and by the crawl.
``<!-- test: settings -->``
    Python settings that configure the page's service (and the crawl);
    ``WEBSERVICE_RESOURCES`` of several blocks are merged.
``<!-- test: pytest -->``
    A test module, run by pytest in a subprocess.
``<!-- test: live -->``
    Python run while a real crawl of the demo shop runs, with its service
    found through the discovery file.
``<!-- test: skip: REASON -->``
    Not run (old code shown for comparison).

Every Python block must say one of these. An ``http`` block holding a request
(``GET /path HTTP/1.1``...) followed by an ``http`` block holding the answer
is an exchange: the request is sent to a service with the page's settings
and the answer must be the one shown (status, the headers shown, the body).
``Bearer <token>`` stands for the service's token, ``Bearer <read-only
token>`` for its read-only token. With ``<!-- test: live -->`` the request
goes to the real crawl instead; ``shape`` then compares the JSON's keys and
value types rather than values that vary (counts, URLs), ``subset`` only
requires the keys shown. JSON blocks must parse, TOML blocks must parse and
name real entry-point groups, and every ``scrapy-ws`` command line in a
shell block must be accepted by scrapy-ws's own parser.
"""

from __future__ import annotations

import ast
import contextlib
import importlib
import inspect
import io
import json
import os
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import pytest_twisted

from scrapy_webservice.cli import commands, program
from scrapy_webservice.public import hookspecs
from scrapy_webservice.public.settings import DEFAULTS, SETTINGS, markdown_table

ROOT = Path(__file__).parent.parent
DOCS = ROOT / "docs"
PAGES = sorted(DOCS.glob("*.md"))
READONLY_TOKEN = "docs-read-only-token"
HOOKS = sorted(
    name
    for name, obj in vars(hookspecs).items()
    if inspect.isfunction(obj) and hasattr(obj, f"{hookspecs.PROJECT_NAME}_spec")
)


# -- reading the pages ------------------------------------------------------------


@dataclass(frozen=True)
class Block:
    page: str
    line: int
    lang: str
    text: str
    tag: str

    @property
    def where(self) -> str:
        return f"docs/{self.page}:{self.line}"

    @property
    def words(self) -> list[str]:
        return self.tag.split()


FENCE = re.compile(r"^(?P<indent>\s*)(?P<fence>`{3,}|~{3,})(?P<lang>[^`\s]*)\s*$")
TAG = re.compile(r"^\s*<!-- test: (?P<tag>.+?) -->\s*$")


def read_blocks(path: Path) -> list[Block]:
    lines = path.read_text().splitlines()
    blocks: list[Block] = []
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        indent, fence = len(opening["indent"]), opening["fence"]
        tag_match = TAG.match(lines[i - 1]) if i else None
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and not stripped.strip(fence[0]):
                break
            line = lines[j]
            body.append(line[indent:] if not line[:indent].strip() else line.lstrip())
            j += 1
        blocks.append(
            Block(
                path.name,
                i + 2,
                opening["lang"],
                "\n".join(body) + "\n",
                tag_match["tag"] if tag_match else "",
            )
        )
        i = j + 1
    return blocks


BLOCKS = [block for page in PAGES for block in read_blocks(page)]
PYTHON = [b for b in BLOCKS if b.lang == "python"]


def block_id(block: Block) -> str:
    return f"{block.page}:{block.line}"


def tagged(kind: str) -> list[Block]:
    return [b for b in PYTHON if b.words[:1] == [kind]]


# -- the example modules ------------------------------------------------------------


def module_sources() -> dict[str, str]:
    sources: dict[str, str] = {}
    for block in tagged("module"):
        name = block.words[1]
        sources[name] = sources.get(name, "") + block.text + "\n"
    return sources


def write_modules(directory: Path) -> None:
    """Write the docs' modules as files, packages where a module has submodules."""
    sources = module_sources()
    names = set(sources)
    for name in list(sources):
        names |= {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
    for name in sorted(names):
        parts = name.split(".")
        is_package = any(other.startswith(name + ".") for other in names)
        path = directory.joinpath(*parts, "__init__.py") if is_package else None
        if path is None:
            path = directory.joinpath(*parts[:-1], parts[-1] + ".py")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(sources.get(name, ""))


@pytest.fixture(scope="module")
def modules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("docs_modules")
    write_modules(directory)
    return directory


@pytest.fixture
def importable(modules_dir: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """The docs' modules importable in this process, and forgotten afterwards."""
    monkeypatch.syspath_prepend(str(modules_dir))
    tops = {name.split(".")[0] for name in module_sources()}
    yield modules_dir
    for name in list(sys.modules):
        if name.split(".")[0] in tops:
            del sys.modules[name]


def run_python(block: Block, namespace: dict[str, Any] | None = None) -> dict[str, Any]:
    if namespace is None:
        namespace = {"__name__": f"docs_example_{block.line}"}
    code = compile(block.text, block.where, "exec")
    with contextlib.redirect_stdout(io.StringIO()):
        exec(code, namespace)  # noqa: S102 (the docs' own examples)
    return namespace


def settings_blocks(page: str) -> list[Block]:
    return [block for block in tagged("settings") if block.page == page]


def run_settings(blocks: list[Block]) -> dict[str, Any]:
    """Settings blocks run in order in one namespace: one ``settings.py`` pasted together."""
    namespace: dict[str, Any] = {"__name__": "settings"}
    for block in blocks:
        run_python(block, namespace)
    return namespace


def page_settings(page: str) -> dict[str, Any]:
    """The settings blocks of a page, as one ``settings.py`` of them pasted in order."""
    namespace = run_settings(settings_blocks(page))
    return {name: value for name, value in namespace.items() if name.isupper()}


def all_settings() -> dict[str, Any]:
    merged: dict[str, Any] = {}
    for page in sorted({b.page for b in tagged("settings")}):
        for name, value in page_settings(page).items():
            if name == "WEBSERVICE_RESOURCES":
                value = {**merged.get(name, {}), **value}
            elif name == "WEBSERVICE_PLUGINS":
                value = [*merged.get(name, []), *value]
            merged[name] = value
    return merged


# -- every block is tested --------------------------------------------------------------

KINDS = {"exec", "module", "settings", "pytest", "live", "skip:"}


@pytest.mark.parametrize("block", PYTHON, ids=block_id)
def test_python_block_says_how_it_is_tested(block):
    assert block.words, f"{block.where}: add <!-- test: ... --> before the block"
    assert block.words[0] in KINDS, f"{block.where}: unknown test tag {block.tag!r}"
    if block.words[0] == "skip:":
        assert len(block.words) > 1, f"{block.where}: say why it is skipped"
    if block.words[0] == "module":
        assert len(block.words) == 2, f"{block.where}: module NAME"
    ast.parse(block.text, block.where)


def test_the_pages_have_examples():
    kinds = {b.words[0] for b in PYTHON}
    assert kinds == KINDS
    assert len(exchanges()) > 40


@pytest.mark.parametrize("block", tagged("exec"), ids=block_id)
def test_python_example_runs(block, importable):
    run_python(block)


@pytest.mark.parametrize("block", tagged("settings"), ids=block_id)
def test_settings_example_runs_after_the_pages_earlier_ones(block, importable):
    blocks = settings_blocks(block.page)
    run_settings(blocks[: blocks.index(block) + 1])


@pytest.mark.parametrize("page", sorted({b.page for b in tagged("settings")}))
def test_a_pages_settings_compose(page):
    """Pasted in order into one settings.py, no block undoes what an earlier one set.

    A block that reassigns ``WEBSERVICE_RESOURCES`` would drop the resources
    of the blocks before it; the later blocks add to it instead.
    """
    namespace: dict[str, Any] = {"__name__": "settings"}
    mounted: dict[str, Any] = {}
    for block in settings_blocks(page):
        run_python(block, namespace)
        for name, value in namespace.get("WEBSERVICE_RESOURCES", {}).items():
            mounted.setdefault(name, (value, block.where))
    final = namespace.get("WEBSERVICE_RESOURCES", {})
    lost = {name: where for name, (_, where) in mounted.items() if name not in final}
    assert not lost, f"docs/{page}: resources dropped by a later block: {lost}"


def test_example_modules_import(importable):
    for name in module_sources():
        importlib.import_module(name)


def test_json_blocks_are_json():
    for block in BLOCKS:
        if block.lang == "json":
            json.loads(block.text)


ENTRY_POINT_GROUPS = {"scrapy_webservice", "scrapy_webservice.commands"}


@pytest.mark.parametrize("block", [b for b in BLOCKS if b.lang == "toml"], ids=block_id)
def test_toml_block_names_real_entry_points(block, importable):
    # tomli on Python 3.10, where pytest depends on it
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    data = tomllib.loads(block.text)
    groups = data.get("project", {}).get("entry-points", {})
    assert set(groups) <= ENTRY_POINT_GROUPS, f"{block.where}: unknown group"
    for entries in groups.values():
        for value in entries.values():
            module, _, attr = value.partition(":")
            if module.split(".")[0] not in {n.split(".")[0] for n in module_sources()}:
                continue  # a plugin the docs only name
            obj = importlib.import_module(module)
            if attr:
                obj = getattr(obj, attr)
            assert callable(obj) or inspect.ismodule(obj)


@pytest.mark.parametrize("block", tagged("pytest"), ids=block_id)
def test_pytest_example_passes(block, modules_dir, tmp_path):
    (tmp_path / "test_docs_example.py").write_text(block.text)
    env = {**os.environ, "PYTHONPATH": str(modules_dir)}
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--reactor=asyncio"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, f"{block.where}:\n{result.stdout}\n{result.stderr}"
    assert " passed" in result.stdout


# -- shell lines ------------------------------------------------------------------------


def command_lines() -> list[tuple[Block, list[str]]]:
    """Every ``scrapy-ws`` command of the shell and console blocks, as arguments."""
    found = []
    for block in BLOCKS:
        if block.lang not in ("sh", "console"):
            continue
        text = block.text.replace("\\\n", " ")
        for line in text.splitlines():
            if block.lang == "console":
                if not line.startswith("$ "):
                    continue
                line = line[2:]
            for segment in re.split(r"&&|;|\|", line):
                try:
                    words = shlex.split(segment, comments=True)
                except ValueError:
                    continue
                while words and "=" in words[0] and not words[0].startswith("-"):
                    words = words[1:]  # VAR=value before the command
                if not words or words[0] != "scrapy-ws":
                    continue
                args = []
                for word in words[1:]:
                    if word.startswith(">"):
                        break
                    args.append(word)
                found.append((block, args))
    return found


@pytest.mark.parametrize(
    ("block", "args"), command_lines(), ids=lambda x: x.where if isinstance(x, Block) else None
)
def test_scrapy_ws_command_line_parses(block, args):
    parser = program.build_parser()
    try:
        parsed = parser.parse_args(args)
    except SystemExit as exc:
        pytest.fail(f"{block.where}: scrapy-ws {shlex.join(args)}: exit {exc.code}")
    assert parsed.command is not None, f"{block.where}: scrapy-ws {shlex.join(args)}"


def test_exit_codes_table_is_the_clis():
    text = (DOCS / "cli.md").read_text()
    section = text[text.index("## Exit codes") :]
    section = section[: section.index("\n## ", 1)]
    documented = {int(code) for code in re.findall(r"^\| `(\d+)` \|", section, re.M)}
    constants = {
        v for k, v in vars(commands).items() if k.startswith("EXIT_") and isinstance(v, int)
    }
    assert documented == constants == set(commands.EXIT_CODES)


# -- HTTP exchanges -----------------------------------------------------------------------


@dataclass(frozen=True)
class Exchange:
    request: Block
    response: Block

    @property
    def where(self) -> str:
        return self.request.where

    def parts(self) -> tuple[str, str, dict[str, str], str]:
        head, _, body = self.request.text.partition("\n\n")
        first, *header_lines = head.splitlines()
        method, path, _ = first.split()
        headers = dict(_header(line) for line in header_lines)
        return method, path, headers, body.strip()

    def expected(self) -> tuple[int, dict[str, str], str]:
        head, _, body = self.response.text.partition("\n\n")
        first, *header_lines = head.strip().splitlines()
        status = int(first.split()[1])
        return status, dict(_header(line) for line in header_lines), body.strip()


def _header(line: str) -> tuple[str, str]:
    name, _, value = line.partition(":")
    return name.strip().lower(), value.strip()


def exchanges() -> list[Exchange]:
    found = []
    http_blocks = [b for b in BLOCKS if b.lang == "http"]
    for block, following in zip(http_blocks, [*http_blocks[1:], None], strict=True):
        if block.text.startswith("HTTP/"):
            continue
        assert following is not None, f"{block.where}: a request without its answer"
        assert following.text.startswith("HTTP/"), f"{block.where}: a request without its answer"
        assert following.page == block.page
        found.append(Exchange(block, following))
    return found


def is_live(exchange: Exchange) -> bool:
    return "live" in exchange.request.words


def json_kind(value: Any) -> str:
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, (int, float)):
        return "number"
    return {str: "string", type(None): "null", list: "array", dict: "object"}[type(value)]


def shape_problems(documented: Any, answered: Any, subset: bool, where: str = "$") -> list[str]:
    """How the answer's structure differs from the documented one (values may differ)."""
    if json_kind(documented) != json_kind(answered):
        return [f"{where}: documented {json_kind(documented)}, answered {json_kind(answered)}"]
    problems = []
    if isinstance(documented, dict):
        missing = sorted(set(documented) - set(answered))
        extra = sorted(set(answered) - set(documented))
        if missing:
            problems.append(f"{where}: documented but not answered: {missing}")
        if extra and not subset:
            problems.append(f"{where}: answered but not documented: {extra}")
        for key in set(documented) & set(answered):
            problems += shape_problems(documented[key], answered[key], subset, f"{where}.{key}")
    elif isinstance(documented, list) and documented and answered:
        problems += shape_problems(documented[0], answered[0], subset, f"{where}[0]")
    return problems


def scrapy_version_keys() -> dict[str, str]:
    """docs/resources.md's table of engine-status keys: {Scrapy 2.13-2.18's: 2.19's}."""
    lines = (DOCS / "resources.md").read_text().splitlines()
    start = lines.index("<!-- test: scrapy versions -->")
    renames = {}
    for line in lines[start + 3 :]:
        if not line.startswith("|"):
            break
        older, newer = re.findall(r"`([^`]+)`", line)[:2]
        renames[older] = newer
    assert renames, "docs/resources.md: the table of keys by Scrapy version is empty"
    return renames


VERSION_KEYS = scrapy_version_keys()


def as_documented(answered: Any) -> Any:
    """An older Scrapy's answer with the keys the docs show (2.19's), by the docs' table."""
    if isinstance(answered, dict):
        return {VERSION_KEYS.get(k, k): as_documented(v) for k, v in answered.items()}
    if isinstance(answered, list):
        return [as_documented(v) for v in answered]
    return answered


def test_engine_status_keys_by_scrapy_version():
    """The table names the keys of the installed Scrapy in the right column."""
    import scrapy
    from packaging.version import Version
    from scrapy.utils.engine import get_engine_status

    # Without an engine each expression is still listed (with the error it raised).
    expressions = [expression for expression, _ in get_engine_status(object())]
    newer = Version(scrapy.__version__) >= Version("2.19")
    for older_key, newer_key in VERSION_KEYS.items():
        assert (newer_key if newer else older_key) in expressions
        assert (older_key if newer else newer_key) not in expressions


def check_answer(exchange: Exchange, reply: Any) -> list[str]:
    status, headers, body = exchange.expected()
    where = exchange.where
    problems = []
    if reply.status != status:
        problems.append(f"{where}: status {reply.status}, documented {status}: {reply.body!r}")
        return problems
    for name, value in headers.items():
        if reply.headers.get(name) != value:
            problems.append(f"{where}: {name}: {reply.headers.get(name)!r}, documented {value!r}")
    if not body:
        if reply.body:
            problems.append(f"{where}: answered a body, documented none: {reply.body!r}")
        return problems
    if "json" not in headers.get("content-type", ""):
        if reply.body.decode().strip() != body:
            problems.append(f"{where}: answered {reply.body!r}, documented {body!r}")
        return problems
    answered, documented = json.loads(reply.body), json.loads(body)
    words = exchange.request.words
    if "shape" in words or "subset" in words:
        answered = as_documented(answered)
        problems += [
            f"{where}: {p}" for p in shape_problems(documented, answered, "subset" in words)
        ]
    elif answered != documented:
        problems.append(f"{where}: answered {json.dumps(answered)}")
    return problems


def send(exchange: Exchange, url: str, token: str | None) -> Any:
    from scrapy_webservice.testing import http

    method, path, headers, body = exchange.parts()
    if "authorization" in headers:
        headers["authorization"] = (
            headers["authorization"]
            .replace("<read-only token>", READONLY_TOKEN)
            .replace("<token>", token or "")
        )
    return http(url.rstrip("/") + path, method, body or None, headers=headers)


IN_PROCESS_PAGES = sorted({e.request.page for e in exchanges() if not is_live(e)})


@pytest.mark.parametrize("page", IN_PROCESS_PAGES)
@pytest_twisted.ensureDeferred
async def test_page_exchanges(page, webservice, importable):
    """The page's requests, in order, to a service with the page's settings and plugins."""
    from twisted.internet import threads

    settings = page_settings(page)
    plugins = [importlib.import_module(name) for name in settings.pop("WEBSERVICE_PLUGINS", [])]
    served = webservice(*plugins, WEBSERVICE_READONLY_TOKEN=READONLY_TOKEN, **settings)
    problems = []
    for exchange in exchanges():
        if exchange.request.page != page or is_live(exchange):
            continue
        reply = await threads.deferToThread(send, exchange, served.url, served.token)
        problems += check_answer(exchange, reply)
    assert not problems, "\n".join(problems)


# -- a real crawl ---------------------------------------------------------------------------


@pytest.mark.integration
def test_live_examples(webservice_crawl, modules_dir, runtime_dir, monkeypatch):
    """The live examples against a real crawl of the demo shop, found as a user finds it."""
    from scrapy_webservice.cli.client import WebServiceClient

    monkeypatch.setenv("PYTHONPATH", str(modules_dir))
    discovery = runtime_dir / "scrapy-webservice"
    settings = {
        # -s NAME=VALUE: lists as Scrapy reads them, comma-separated
        name: ",".join(value) if isinstance(value, list) else value
        for name, value in all_settings().items()
    }
    settings["WEBSERVICE_DISCOVERY_DIR"] = str(discovery)
    crawl = webservice_crawl(settings=settings, products=2000, delay=0.2)
    crawl.wait_for(r"Web service URL and token written to")
    client = WebServiceClient.discover(discovery)
    for _ in range(300):
        if client.call("stats", "get_value", "item_scraped_count", 0, "demo") >= 5:
            break
        time.sleep(0.1)
    problems = []
    monkeypatch.syspath_prepend(str(modules_dir))
    for block in tagged("live"):
        try:
            run_python(block)
        except Exception as exc:
            problems.append(f"{block.where}: {exc!r}")
    live = [e for e in exchanges() if is_live(e)]
    # Stopping the spider ends the crawl: last.
    live.sort(key=lambda e: "close_spider" in e.request.text)
    for exchange in live:
        problems += check_answer(exchange, send(exchange, client.url, client.token))
    assert not problems, "\n".join(problems)
    assert crawl.wait(60) == 0


# -- tables and references ------------------------------------------------------------------

SETTING_ROW = re.compile(r"^\| `(WEBSERVICE_[A-Z_]+)` \| (.+?) \| .+ \|$", re.M)
TABLE_HEADER = "| setting | default | meaning |"


def settings_table_text(path: Path) -> str:
    """The settings table of a page: its header line and the table lines after it."""
    lines = path.read_text().splitlines()
    assert lines.count(TABLE_HEADER) == 1, f"{path.name}: one settings table"
    start = lines.index(TABLE_HEADER)
    end = start
    while end < len(lines) and lines[end].startswith("|"):
        end += 1
    return "\n".join(lines[start:end]) + "\n"


def settings_in_code() -> set[str]:
    names = set()
    for path in (ROOT / "src" / "scrapy_webservice").rglob("*.py"):
        names.update(re.findall(r"\bWEBSERVICE_[A-Z_]+\b", path.read_text()))
    return names


def test_every_setting_the_code_names_has_a_default():
    assert settings_in_code() <= set(DEFAULTS)


def test_the_readmes_examples_name_the_demos_spiders():
    """The README's commands and calls run against the demo it starts: name its spiders."""
    from scrapy_webservice.demo import spiders

    demo_spiders = {
        obj.name for obj in vars(spiders).values() if isinstance(getattr(obj, "name", None), str)
    }
    readme = (ROOT / "README.md").read_text()
    named = set(re.findall(r'"params": \["(\w+)"', readme))
    named |= set(
        re.findall(r"scrapy-ws (?:pause|resume|stop|get-spider-stats|status) (\w+)", readme)
    )
    named |= set(re.findall(r"[?&]spider=(\w+)", readme))
    named -= {"NAME", "SPIDER"}
    assert named, "the README's examples name a spider"
    assert named <= demo_spiders, f"not spiders of the demo: {named - demo_spiders}"


@pytest.mark.parametrize("path", [DOCS / "settings.md", ROOT / "README.md"], ids=lambda p: p.name)
def test_settings_table_is_the_rendered_table(path):
    """Both tables are made from the one table in the code; paste markdown_table() here."""
    assert settings_table_text(path) == markdown_table()


def test_rendered_table_gives_every_default():
    """A default the table shows as a value is that value, as Python reads it."""
    rows = dict(SETTING_ROW.findall(markdown_table()))
    assert list(rows) == list(DEFAULTS)
    for setting in SETTINGS:
        cell = rows[setting.name]
        if setting.default_doc is not None:
            assert cell == setting.default_doc
            continue
        literal = re.fullmatch(r"`(.*)`", cell)
        assert literal is not None, f"{setting.name}: give the default as `value`"
        assert ast.literal_eval(literal[1]) == DEFAULTS[setting.name], setting.name


def test_there_are_hooks():
    assert HOOKS == ["json_default", "register_resources", "service_started", "service_stopped"]


AUTOFUNCTION_HOOK = re.compile(
    r"^\.\. autofunction:: scrapy_webservice\.public\.hookspecs\.(\w+)$", re.M
)


def test_the_hook_reference_is_generated_for_every_hook():
    documented = AUTOFUNCTION_HOOK.findall((DOCS / "plugins.md").read_text())
    assert sorted(documented) == HOOKS


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_docstring_is_the_reference(hook):
    assert getattr(hookspecs, hook).__doc__, "the docstring is the reference"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook):
    sources = [p.read_text() for p in (ROOT / "tests").rglob("*.py") if p.name != "test_docs.py"]
    pattern = re.compile(rf"(def {hook}\(|\b{hook}=)")
    assert any(pattern.search(text) for text in sources), f"no test implements {hook}"


AUTODOC = re.compile(r"^\s*\.\. auto(?:function|class|exception|data)::\s+([\w.]+)", re.M)


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.name)
def test_autodoc_targets_exist(page):
    for target in AUTODOC.findall(page.read_text()):
        module_name, _, attr = target.rpartition(".")
        assert hasattr(importlib.import_module(module_name), attr), f"{page.name}: {target}"
