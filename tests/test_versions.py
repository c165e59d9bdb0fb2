"""The versions noxfile.py tests are the ones pyproject.toml claims.

``nox -s oldest`` pins Scrapy, Twisted, pluggy, platformdirs and Python to
the lowest versions pyproject.toml allows; raising a bound there without
moving the pin (or the other way round) fails here, so the two cannot drift.
"""

from __future__ import annotations

import ast
from pathlib import Path
from typing import Any

from packaging.requirements import Requirement
from packaging.specifiers import SpecifierSet
from packaging.version import Version

try:
    import tomllib
except ImportError:  # Python 3.10: pytest itself depends on tomli there
    import tomli as tomllib  # type: ignore[no-redef]

ROOT = Path(__file__).parent.parent


def noxfile_constant(name: str) -> Any:
    """A module-level constant of noxfile.py, read without running the noxfile."""
    tree = ast.parse((ROOT / "noxfile.py").read_text())
    for node in tree.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            if any(isinstance(t, ast.Name) and t.id == name for t in targets):
                assert node.value is not None
                return ast.literal_eval(node.value)
    raise AssertionError(f"noxfile.py has no {name}")


def lower_bound(specifier: SpecifierSet) -> Version:
    [bound] = [Version(s.version) for s in specifier if s.operator == ">="]
    return bound


def test_oldest_session_pins_the_lowest_versions_pyproject_allows():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    requirements = {
        Requirement(line).name.lower(): Requirement(line) for line in project["dependencies"]
    }
    oldest = noxfile_constant("OLDEST")
    assert set(oldest) == {"python", "scrapy", "twisted", "pluggy", "platformdirs"}
    assert Version(oldest["python"]) == lower_bound(SpecifierSet(project["requires-python"]))
    for name, pin in oldest.items():
        if name == "python":
            continue
        requirement = requirements[name]
        assert Version(pin) == lower_bound(requirement.specifier), (name, pin, requirement)
        assert requirement.specifier.contains(pin), (name, pin, requirement)


def test_newest_session_runs_a_python_the_project_supports():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    newest = noxfile_constant("NEWEST_PYTHON")
    assert SpecifierSet(project["requires-python"]).contains(newest)
    assert Version(newest) > Version(noxfile_constant("OLDEST")["python"])
