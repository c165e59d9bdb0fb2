"""``cookiecutter-resource``: the template renders, and what it renders works at once.

The end-to-end tests do what the template's README tells a plugin author
to do: render, run the generated project's own ``ci.sh`` (a fresh virtual
environment, ``pip install``, its tests), then check that ``scrapy-ws
plugins`` in that environment lists the plugin and that a real crawl
serves its resource.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from scrapy_webservice.cli.client import WebServiceClient
from scrapy_webservice.server.plugins import ENV_DISABLE, ENV_NO_AUTOLOAD

from .processes import Crawl

cookiecutter = pytest.importorskip(
    "cookiecutter.main", reason="pip install -e '.[test]' installs cookiecutter"
).cookiecutter

ROOT = Path(__file__).resolve().parents[1]
TEMPLATE = ROOT / "cookiecutter-resource"
KINDS = ["json", "jsonrpc"]
TEMPLATE_SYNTAX = re.compile(r"\{\{|\}\}|\{%|%\}|cookiecutter\.")


def render(tmp_path: Path, **answers: str) -> Path:
    return Path(
        cookiecutter(str(TEMPLATE), no_input=True, output_dir=str(tmp_path), extra_context=answers)
    )


def files(project: Path) -> dict[str, str]:
    return {
        str(path.relative_to(project)): path.read_text()
        for path in sorted(project.rglob("*"))
        if path.is_file()
    }


@pytest.mark.parametrize("kind", KINDS)
def test_each_kind_renders_with_the_default_answers(tmp_path, kind):
    project = render(tmp_path, resource_kind=kind)
    assert project.name == "scrapy-webservice-example"
    rendered = files(project)
    assert sorted(rendered) == [
        ".gitignore",
        "README.md",
        "ci.sh",
        "pyproject.toml",
        "src/scrapy_webservice_example/__init__.py",
        "src/scrapy_webservice_example/resource.py",
        "tests/test_plugin.py",
    ]
    for name, text in rendered.items():
        assert not TEMPLATE_SYNTAX.search(text), f"template syntax left in {name}"
    assert os.access(project / "ci.sh", os.X_OK)

    # tomli on Python 3.10, where pytest depends on it
    tomllib = pytest.importorskip("tomllib" if sys.version_info >= (3, 11) else "tomli")
    metadata = tomllib.loads(rendered["pyproject.toml"])["project"]
    assert metadata["name"] == "scrapy-webservice-example"
    assert metadata["entry-points"]["scrapy_webservice"] == {
        "example": "scrapy_webservice_example"
    }
    assert "Framework :: Scrapy" in metadata["classifiers"]
    assert metadata["license"] == "BSD-3-Clause"

    # The other kind's code is not left behind.
    resource = rendered["src/scrapy_webservice_example/resource.py"]
    assert "class ExampleResource(" in resource
    if kind == "json":
        assert "JsonRpcResource" not in resource
        assert "def render_GET" in resource
    else:
        assert "render_GET" not in resource
        assert "@readonly" in resource
        assert "@control" in resource
    for name, text in rendered.items():
        if name.endswith(".py"):
            compile(text, name, "exec")
    ruff = subprocess.run(
        [sys.executable, "-m", "ruff", "check", "--no-cache", "."],
        cwd=project,
        capture_output=True,
        text=True,
        check=False,
    )
    assert ruff.returncode == 0, ruff.stdout


def test_answers_flow_into_every_name(tmp_path):
    project = render(
        tmp_path,
        plugin_name="queue-stats",
        ws_name="queue",
        resource_kind="jsonrpc",
        license="MIT",
        author="Ada",
    )
    assert project.name == "scrapy-webservice-queue-stats"
    rendered = files(project)
    assert "src/scrapy_webservice_queue_stats/resource.py" in rendered
    resource = rendered["src/scrapy_webservice_queue_stats/resource.py"]
    assert 'ws_name = "queue"' in resource
    assert "class QueueStatsResource(JsonRpcResource)" in resource
    assert 'WEBSERVICE_PLUGINS_DISABLED = ["queue-stats"]' in rendered["README.md"]
    assert "MIT, by Ada." in rendered["README.md"]


@pytest.mark.parametrize(
    ("answers", "message"),
    [
        ({"plugin_name": "Bad Name"}, "plugin_name 'Bad Name' is not valid"),
        ({"plugin_name": "-x"}, "plugin_name '-x' is not valid"),
        ({"ws_name": ""}, "ws_name is empty"),
        ({"ws_name": "a/b"}, "ws_name 'a/b' is not valid"),
        ({"ws_name": "_private"}, "ws_name '_private' is not valid"),
        ({"ws_name": "stats"}, "ws_name 'stats' is a built-in resource"),
    ],
)
def test_bad_answers_fail_with_the_hooks_message(tmp_path, answers, message):
    args = [f"{key}={value}" for key, value in answers.items()]
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "cookiecutter",
            str(TEMPLATE),
            "--no-input",
            "-o",
            str(tmp_path),
            *args,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode != 0
    assert message in result.stderr
    assert list(tmp_path.iterdir()) == [], "nothing is generated"


def build_core_wheel(directory: Path) -> Path:
    """A wheel of this clone's core (`pip wheel --no-deps`), built into ``directory``."""
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(directory), str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert built.returncode == 0, built.stderr
    [wheel] = directory.glob("scrapy_webservice-*.whl")
    return wheel


def test_the_template_is_neither_collected_nor_packaged(tmp_path):
    collected = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert "tests/test_template.py" in collected.stdout
    assert "cookiecutter-resource" not in collected.stdout
    names = zipfile.ZipFile(build_core_wheel(tmp_path)).namelist()
    assert any(name.startswith("scrapy_webservice/") for name in names)
    assert not [name for name in names if "cookiecutter" in name or "test_plugin" in name]


def plugin_env() -> dict[str, str]:
    """The environment of a user's shell: installed plugins load."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.pop(ENV_NO_AUTOLOAD, None)
    env.pop(ENV_DISABLE, None)
    return env


def a_clone(where: Path) -> Path:
    """A clone of this repository as far as ``ci.sh`` and pip see one: the core's files."""
    ignore = shutil.ignore_patterns("__pycache__", "*.egg-info", "*.pyc")
    where.mkdir()
    for name in ("pyproject.toml", "README.md", "MANIFEST.in"):
        shutil.copy2(ROOT / name, where / name)
    shutil.copytree(ROOT / "src", where / "src", ignore=ignore)
    shutil.copytree(TEMPLATE, where / TEMPLATE.name, ignore=ignore)
    return where


def run_ci(
    project: Path, env: dict[str, str], timeout: float = 600
) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["./ci.sh", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def without_the_variable() -> dict[str, str]:
    env = plugin_env()
    env.pop("SCRAPY_WEBSERVICE", None)
    return env


@pytest.mark.integration
@pytest.mark.parametrize(
    ("kind", "where"),
    [("json", "outside a clone, SCRAPY_WEBSERVICE set"), ("jsonrpc", "inside a clone")],
)
def test_scaffold_install_test_and_serve(tmp_path, crawls, slow_shop, monkeypatch, kind, where):
    if where == "inside a clone":
        # As a plugin author does: `cookiecutter cookiecutter-resource` at the clone's top.
        clone = a_clone(tmp_path / "scrapy-webservice")
        project = render(clone, resource_kind=kind, plugin_name=f"try-{kind}")
        env = without_the_variable()
        core = clone
    else:
        project = render(tmp_path, resource_kind=kind, plugin_name=f"try-{kind}")
        env = {**plugin_env(), "SCRAPY_WEBSERVICE": str(ROOT)}
        core = ROOT
    ci = run_ci(project, env)
    assert ci.returncode == 0, ci.stdout + ci.stderr
    assert f"ci.sh: installing scrapy-webservice from {core}\n" in ci.stdout
    passed = re.search(r"\b(\d+) passed\b", ci.stdout)
    assert passed is not None, ci.stdout
    assert int(passed[1]) >= 4, ci.stdout

    venv = project / ".venv" / "bin"
    # The generated in-process tests ran on both fronts (the webservice fixture's).
    collected = subprocess.run(
        [str(venv / "python"), "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    ).stdout
    assert "[twisted]" in collected, collected
    assert "[asyncio]" in collected, collected
    listing = subprocess.run(
        [str(venv / "scrapy-ws"), "--json", "plugins"],
        env=plugin_env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    [plugin] = [p for p in json.loads(listing.stdout)["plugins"] if p["name"] == f"try-{kind}"]
    assert plugin["distribution"] == f"scrapy-webservice-try-{kind}"
    assert plugin["hooks"] == ["register_resources"]

    # A crawl of this project's test site, by the new environment's Python.
    monkeypatch.delenv(ENV_NO_AUTOLOAD)
    crawl = Crawl(slow_shop, tmp_path / "items.jsonl", python=str(venv / "python"))
    crawls.append(crawl)
    crawl.wait_for(r"Web service URL and token written to")
    client = WebServiceClient.discover()
    ws_name = f"try_{kind}"
    assert ws_name in client.get("")["resources"]
    if kind == "json":
        assert set(client.get(ws_name)["items"]) == {"demo"}
    else:
        assert client.call(ws_name, "add_note", "demo", "served") == ["served"]
    client.call("crawler/engine", "close_spider", "demo")
    assert crawl.wait() == 0


@pytest.mark.integration
def test_outside_a_clone_without_the_variable_says_to_set_it(tmp_path):
    """No clone around, no SCRAPY_WEBSERVICE, no release on the index: a clear message."""
    project = render(tmp_path)
    # An index without scrapy-webservice, as PyPI is until the first release.
    ci = run_ci(project, {**without_the_variable(), "PIP_NO_INDEX": "1"}, timeout=300)
    assert ci.returncode == 1, ci.stdout + ci.stderr
    assert "installing scrapy-webservice from" not in ci.stdout
    assert "ci.sh: scrapy-webservice could not be installed from PyPI" in ci.stderr
    assert "Set SCRAPY_WEBSERVICE to a clone of" in ci.stderr
    assert "SCRAPY_WEBSERVICE=/path/to/scrapy-webservice ./ci.sh" in ci.stderr
    assert "Traceback" not in ci.stderr


@pytest.mark.parametrize("value", ["/nonexistent/scrapy-webservice", "/nonexistent/core.whl"])
def test_a_wrong_variable_is_named(tmp_path, value):
    project = render(tmp_path)
    ci = run_ci(project, {**plugin_env(), "SCRAPY_WEBSERVICE": value}, timeout=60)
    assert ci.returncode == 2
    assert f"ci.sh: SCRAPY_WEBSERVICE={value} is neither a clone" in ci.stderr
    assert not (project / ".venv").exists(), "it stops before making the environment"


@pytest.mark.integration
def test_a_wheel_of_the_core_is_installed(tmp_path):
    """SCRAPY_WEBSERVICE naming a wheel built from a clone (`pip wheel`)."""
    wheel = build_core_wheel(tmp_path / "wheels")
    project = render(tmp_path)
    # Only the core is checked here: stop ci.sh after it by making the plugin's install fail.
    (project / "pyproject.toml").write_text("not toml [")
    ci = run_ci(project, {**plugin_env(), "SCRAPY_WEBSERVICE": str(wheel)}, timeout=300)
    assert f"ci.sh: installing scrapy-webservice from {wheel}\n" in ci.stdout, ci.stderr
    listing = subprocess.run(
        [str(project / ".venv" / "bin" / "pip"), "show", "scrapy-webservice"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert "Version: 0.1.0" in listing.stdout, listing.stderr
