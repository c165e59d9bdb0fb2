"""Sessions that run parts of the suite against other versions than the main venv's.

``nox -s adapter``: the adapter (the one module that reads Scrapy's
internals) on the oldest and the newest Scrapy that pyproject.toml allows.
"""

from __future__ import annotations

import nox

nox.options.default_venv_backend = "venv"

#: The oldest Scrapy and Twisted pyproject.toml declares (Scrapy 2.13.0 does
#: not run on Twisted 26), and whatever is newest.
VERSIONS = {
    "oldest": ["scrapy==2.13.0", "twisted==23.10.0"],
    "newest": ["scrapy", "twisted"],
}


@nox.session
@nox.parametrize("versions", list(VERSIONS))
def adapter(session: nox.Session, versions: str) -> None:
    session.install("-e", ".", *VERSIONS[versions], "pytest>=8,<10", "pytest-twisted>=1.14,<2")
    versions_used = "import scrapy, twisted; print(scrapy.__version__, twisted.__version__)"
    session.run("python", "-c", versions_used)
    session.run("python", "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/test_adapter.py")
