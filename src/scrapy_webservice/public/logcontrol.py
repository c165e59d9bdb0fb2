"""The crawl's log level, read and changed while it runs.

What the log produces is decided in two places: a logger's level (records
below it are never made) and the level of Scrapy's root handler, which is
``LOG_LEVEL``. Scrapy leaves the root logger at ``NOTSET`` and lets its
handler do the filtering. Changing the level therefore sets both: the
root logger to the new crawl-wide level, so other loggers stop making
records nobody will write, and Scrapy's handler to the lowest level any
logger was given, so a logger tuned below the crawl-wide level is written.
"""

from __future__ import annotations

import logging
from typing import Any

from scrapy.utils.log import get_scrapy_root_handler

from ..rpc import messages as jsonrpc
from ..rpc.errors import WebServiceAPIError
from .events import EventBus, LogEventHandler

__all__ = ["LEVELS", "BadLogLevel", "LogControl", "NoSuchLogger", "level_number"]

#: The levels a client may name, lowest first.
LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL")


class BadLogLevel(WebServiceAPIError):
    code = jsonrpc.INVALID_PARAMS
    status = 400


class NoSuchLogger(WebServiceAPIError, LookupError):
    """No logger of this name exists (loggers are never made from a client's name)."""

    code = jsonrpc.NOT_FOUND
    status = 404


def level_number(level: Any) -> int:
    """``"INFO"`` (any case) as ``logging.INFO``; anything else is a :class:`BadLogLevel`."""
    if isinstance(level, str) and level.upper() in LEVELS:
        return int(logging.getLevelName(level.upper()))
    raise BadLogLevel(f"level must be one of {', '.join(LEVELS)}, got {str(level)[:50]!r}")


class LogControl:
    """The process's log levels, and the handler that turns records into ``log`` events."""

    def __init__(self, bus: EventBus) -> None:
        self.handler = LogEventHandler(bus, floor=self.produced)
        #: Levels given to single loggers through :meth:`set_level`.
        self._tuned: dict[str, int] = {}

    def produced(self) -> int:
        """The lowest level the log writes (Scrapy's handler; the root logger without one)."""
        handler = get_scrapy_root_handler()
        if handler is not None:
            return handler.level
        return logging.getLogger().getEffectiveLevel()

    def level(self, name: str | None = None) -> dict[str, Any]:
        """The level the log writes, crawl-wide or for one logger."""
        root = logging.getLogger()
        number = max(self.produced(), root.level) if name is None else self._effective(name)
        return {"logger": name, "level": logging.getLevelName(number)}

    def set_level(self, level: str, name: str | None = None) -> dict[str, Any]:
        """Write records from ``level`` up, crawl-wide (``name=None``) or for one logger."""
        number = level_number(level)
        root = logging.getLogger()
        crawl_wide = max(self.produced(), root.level)
        if name is None:
            crawl_wide = number
        else:
            self._logger(name).setLevel(number)
            self._tuned[name] = number
        root.setLevel(crawl_wide)
        handler = get_scrapy_root_handler()
        if handler is not None:
            handler.setLevel(min([crawl_wide, *self._tuned.values()]))
        return self.level(name)

    def _effective(self, name: str) -> int:
        return max(self.produced(), self._logger(name).getEffectiveLevel())

    @staticmethod
    def _logger(name: str) -> logging.Logger:
        # Only loggers that exist: a placeholder of the tree or a client's
        # made-up name would become a new logger, kept for the process's life.
        logger = logging.root.manager.loggerDict.get(name) if isinstance(name, str) else None
        if not isinstance(logger, logging.Logger):
            raise NoSuchLogger(f"No logger named {str(name)[:100]!r}")
        return logger
