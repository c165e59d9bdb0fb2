"""Scrapy's own consoles, which the :class:`~scrapy_webservice.Addon` switches off.

Scrapy turns on, by default, its telnet console and (from Scrapy 2.19) its
RemoteControl extension, whose ``POST /execute`` runs Python sent over HTTP.
Both run arbitrary code in the crawl. This service replaces them without
running code, so the add-on sets them off at add-on priority: a project that
sets them itself (``settings.py``, a spider's ``custom_settings``, ``-s``)
keeps its choice. Projects that enable the ``WebService`` extension through
``EXTENSIONS`` set the two settings themselves.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from scrapy.settings import SETTINGS_PRIORITIES, default_settings

if TYPE_CHECKING:
    from scrapy.settings import BaseSettings

__all__ = ["CONSOLES", "log_still_off", "switch_off", "switched_off"]

logger = logging.getLogger(__name__)

#: Each console's setting and its name in the log. RemoteControl exists from Scrapy 2.19.
CONSOLES = {
    "TELNETCONSOLE_ENABLED": "telnet console",
    "REMOTE_CONTROL_ENABLED": "RemoteControl",
}
ADDON_PRIORITY = SETTINGS_PRIORITIES["addon"]


def known(name: str) -> bool:
    """Whether the installed Scrapy has this console."""
    return hasattr(default_settings, name)


def switch_off(settings: BaseSettings) -> list[str]:
    """Set each console off at add-on priority; the settings this switched off.

    A setting the project, a spider or the command line set (a higher
    priority) is left as it is; so is a console this Scrapy lacks (setting
    its name would be harmless, but the log would name a console that is not
    there).
    """
    switched: list[str] = []
    for name in CONSOLES:
        if not known(name):
            continue
        was_on = settings.getbool(name)
        settings.set(name, False, "addon")
        if was_on and not settings.getbool(name):
            switched.append(name)
    return switched


def switched_off(settings: BaseSettings) -> list[str]:
    """The consoles that are off because an add-on set them so (for a later log line)."""
    return [
        name
        for name in CONSOLES
        if known(name)
        and settings.getpriority(name) == ADDON_PRIORITY
        and not settings.getbool(name)
    ]


def _names(names: list[str]) -> str:
    return " and ".join(CONSOLES[name] for name in names)


def _settings(names: list[str]) -> str:
    return " / ".join(names)


def log_switched_off(names: list[str], crawler: Any = None) -> None:
    """The add-on's one INFO line: what it switched off, why, and how to keep them."""
    if not names:
        return
    they, them = ("they run", "them") if len(names) > 1 else ("it runs", "it")
    logger.info(
        "scrapy-webservice switched off Scrapy's %s (%s arbitrary Python);"
        " set %s in your settings to keep %s",
        _names(names),
        they,
        _settings(names),
        them,
        extra={"crawler": crawler},
    )


def log_still_off(settings: BaseSettings, crawler: Any = None) -> None:
    """After the service failed to start: the consoles the add-on switched off stay off."""
    names = switched_off(settings)
    if not names:
        return
    logger.warning(
        "Scrapy's %s stay%s off (switched off by scrapy-webservice's add-on):"
        " this crawl has no console; set %s = True in your settings to use %s",
        _names(names),
        "" if len(names) > 1 else "s",
        _settings(names),
        "them" if len(names) > 1 else "it",
        extra={"crawler": crawler},
    )
