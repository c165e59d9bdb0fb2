"""Sphinx configuration of the scrapy-webservice documentation site.

Build it with ``docs/build.sh`` (or ``.venv/bin/sphinx-build -W --keep-going
-b html docs docs/_build/html``): every warning is an error, so a broken
reference or an example that no longer parses fails the build.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

DOCS = Path(__file__).parent
# The package is installed (editable) in the build's environment; this makes
# a build from a plain checkout document the checkout, not an older install.
sys.path.insert(0, str(DOCS.parent / "src"))

from scrapy_webservice import __version__  # noqa: E402

project = "scrapy-webservice"
author = "scrapy-webservice developers"
copyright = "scrapy-webservice developers"  # noqa: A001
version = release = __version__

extensions = [
    "myst_parser",
    "sphinx.ext.autodoc",
    "sphinxarg.ext",
]

source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
root_doc = "index"
exclude_patterns = ["_build", "build.sh", "README.md"]

# MyST: ``{eval-rst}`` blocks, ``:::`` fences, and #anchors for every heading
# down to ###, so pages can link to each other's sections.
myst_enable_extensions = ["colon_fence", "deflist"]
myst_heading_anchors = 3

autodoc_member_order = "bysource"
autodoc_typehints = "signature"
autodoc_preserve_defaults = True

html_theme = "furo"
html_title = f"scrapy-webservice {release}"

# Option names such as ``--port`` stay two hyphens in generated text (the
# argparse help), not an en dash.
smartquotes = False


#: The repository, for links from included files to files outside ``docs/``.
SOURCE = "https://github.com/scrapy-webservice/scrapy-webservice/blob/main/"
_RELATIVE_LINK = re.compile(r"\]\((?![a-z][a-z0-9+.-]*:|#)([^)\s]+)\)")


def _plugin_readme_links(app, relative_path, parent_docname, content):
    """Point the links of an included plugin README where they lead from the site.

    First-party plugins' READMEs (``plugins/<name>/README.md``) are pages of
    the site as they are, so that they have one source; their links to the
    main README become links to the site's home page, and links to other
    files of the repository become links to the repository.
    """
    parts = Path(relative_path).parts
    if len(parts) < 3 or parts[-3] != "plugins" or parts[-1] != "README.md":
        return
    plugin_dir = "/".join(parts[-3:-1])

    def replace(match: re.Match[str]) -> str:
        target = match.group(1)
        if target == "../../README.md":
            return "](index.md)"
        return f"]({SOURCE}{plugin_dir}/{target})"

    content[0] = _RELATIVE_LINK.sub(replace, content[0])


def setup(app):
    app.connect("include-read", _plugin_readme_links)
