"""The versions pyproject.toml claims, tested.

``nox -s oldest``: Python 3.10 with Scrapy, Twisted, pluggy and platformdirs
pinned to the lowest versions pyproject.toml allows (tests/test_versions.py
checks that these pins and its lower bounds agree); everything else as pip
resolves it on a fresh machine.

``nox -s newest``: Python 3.13 with the newest of everything, and the three
first-party plugins installed too: the core's suite must pass whatever
plugins sit in the environment.

Both run the full suite (the README's test command) but for a few tests that
do not depend on these versions and are slow (see ``VERSION_INDEPENDENT``);
the README's command in .ci/run runs those.

``nox -s adapter``: only the adapter (the one module that reads Scrapy's
internals) on the oldest and the newest Scrapy, a quick check while changing
it.

The interpreters come from pyenv when it is there (``pyenv root``), so a
fresh machine whose PATH has no ``python3.10`` still finds them.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import nox

nox.options.default_venv_backend = "venv"
nox.options.sessions = ["oldest", "newest"]

#: The lowest versions pyproject.toml allows (tests/test_versions.py keeps them equal).
OLDEST = {
    "python": "3.10",
    "scrapy": "2.13.0",
    "twisted": "23.10.0",
    "pluggy": "1.5.0",
    "platformdirs": "4.0.0",
}
NEWEST_PYTHON = "3.13"

FIRST_PARTY_PLUGINS = ["plugins/prometheus", "plugins/dashboard", "plugins/mcp"]

#: Slow tests that exercise no version-dependent code beyond what the rest of
#: the suite covers: the cookiecutter template builds its own virtual
#: environments (pip installs of the core, minutes each), and the abuse tests
#: are load tests. The README's command in .ci/run runs them in the main venv.
VERSION_INDEPENDENT = [
    "--deselect=tests/test_template.py",
    "--deselect=tests/test_abuse.py",
]


def _interpreter(version: str) -> str:
    """The newest pyenv build of ``version`` by full path, else ``pythonX.Y`` on PATH."""
    root = os.environ.get("PYENV_ROOT")
    if not root and shutil.which("pyenv"):
        found = subprocess.run(["pyenv", "root"], capture_output=True, text=True, check=False)
        root = found.stdout.strip()
    candidates = [Path(root or Path.home() / ".pyenv") / "versions"]
    builds = sorted(
        (
            build
            for versions in candidates
            if versions.is_dir()
            for build in versions.iterdir()
            if build.name.startswith(f"{version}.") and (build / "bin" / "python").exists()
        ),
        key=lambda build: [int(p) if p.isdigit() else -1 for p in build.name.split(".")],
    )
    if builds:
        return str(builds[-1] / "bin" / "python")
    return f"python{version}"


def _report_versions(session: nox.Session) -> None:
    report = (
        "import sys, importlib.metadata as m;"
        " print(sys.version.split()[0], *(f'{d} {m.version(d)}' for d in"
        " ('scrapy', 'twisted', 'pluggy', 'platformdirs', 'pyopenssl')), sep=', ')"
    )
    session.run("python", "-c", report)


def _pytest(session: nox.Session) -> None:
    session.run(
        "python", "-m", "pytest", "-p", "no:cacheprovider", *VERSION_INDEPENDENT, *session.posargs
    )


@nox.session(python=_interpreter(OLDEST["python"]))
def oldest(session: nox.Session) -> None:
    """The full suite on the oldest versions pyproject.toml allows."""
    pins = [f"{name}=={OLDEST[name]}" for name in ("scrapy", "twisted", "pluggy", "platformdirs")]
    session.install("-e", ".[test]", *pins)
    _report_versions(session)
    _pytest(session)


@nox.session(python=_interpreter(NEWEST_PYTHON))
def newest(session: nox.Session) -> None:
    """The full suite on the newest of everything, with plugins installed.

    The three first-party plugins and one scaffolded from the cookiecutter
    template: the core's suite must not depend on what else is installed.
    """
    session.install("--upgrade", "-e", ".[test]", *(f"-e{p}" for p in FIRST_PARTY_PLUGINS))
    rendered = Path(session.create_tmp()) / "scaffolded"
    session.run(
        "cookiecutter",
        "--no-input",
        "--overwrite-if-exists",
        "--output-dir",
        str(rendered),
        "cookiecutter-resource",
        "plugin_name=scaffolded",
    )
    session.install("--no-deps", "-e", str(rendered / "scrapy-webservice-scaffolded"))
    _report_versions(session)
    session.run("scrapy-ws", "plugins")
    _pytest(session)


@nox.session
@nox.parametrize("versions", ["oldest", "newest"])
def adapter(session: nox.Session, versions: str) -> None:
    """Only tests/test_adapter.py, on the oldest or the newest Scrapy and Twisted."""
    pins = {
        "oldest": [f"scrapy=={OLDEST['scrapy']}", f"twisted=={OLDEST['twisted']}"],
        "newest": ["scrapy", "twisted"],
    }
    session.install("-e", ".", *pins[versions], "pytest>=8,<10", "pytest-twisted>=1.14,<2")
    versions_used = "import scrapy, twisted; print(scrapy.__version__, twisted.__version__)"
    session.run("python", "-c", versions_used)
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_adapter.py")
