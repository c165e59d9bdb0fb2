"""The documentation keeps up with the code (datasette keeps such tests for its hooks)."""

from __future__ import annotations

import inspect
import re
from pathlib import Path

import pytest

from scrapy_webservice import hookspecs
from scrapy_webservice.settings import DEFAULTS

ROOT = Path(__file__).parent.parent
HOOKS = sorted(
    name
    for name, obj in vars(hookspecs).items()
    if inspect.isfunction(obj) and hasattr(obj, f"{hookspecs.PROJECT_NAME}_spec")
)


def test_there_are_hooks():
    assert HOOKS == ["json_default", "register_resources", "service_started", "service_stopped"]


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_documented(hook):
    assert f"### {hook}(" in (ROOT / "docs" / "plugins.md").read_text()
    assert getattr(hookspecs, hook).__doc__, "the docstring is the reference"


@pytest.mark.parametrize("hook", HOOKS)
def test_hook_is_exercised_by_a_test(hook):
    sources = [p.read_text() for p in (ROOT / "tests").rglob("*.py") if p.name != "test_docs.py"]
    pattern = re.compile(rf"(def {hook}\(|\b{hook}=)")
    assert any(pattern.search(text) for text in sources), f"no test implements {hook}"


def settings_in_code() -> set[str]:
    names = set()
    for path in (ROOT / "src" / "scrapy_webservice").rglob("*.py"):
        names.update(re.findall(r"\bWEBSERVICE_[A-Z_]+\b", path.read_text()))
    return names


def settings_in_readme_table() -> set[str]:
    return set(
        re.findall(r"^\| `(WEBSERVICE_[A-Z_]+)` \|", (ROOT / "README.md").read_text(), re.M)
    )


def test_every_setting_the_code_names_has_a_default():
    assert settings_in_code() <= set(DEFAULTS)


def test_settings_table_matches_the_defaults():
    assert settings_in_readme_table() == set(DEFAULTS)
