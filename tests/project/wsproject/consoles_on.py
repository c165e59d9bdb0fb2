"""The test project with Scrapy's own consoles set on in its settings.py (project priority)."""

from .settings import *  # noqa: F403

TELNETCONSOLE_ENABLED = True
REMOTE_CONTROL_ENABLED = True
