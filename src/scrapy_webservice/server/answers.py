"""Bytes both fronts write the same way: the ``Date`` field, the bad-request answer.

A malformed request gets the same JSON 400 on the Twisted front and on the
asyncio front, written straight to the socket (no request object can be
trusted at that point) and followed by the close; every answer carries the
same fixed fields. Nothing here touches a socket or an event loop.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from typing import Any

from twisted.web.http import datetimeToString

from ..public.resource import error_body

__all__ = [
    "BAD_REQUEST",
    "FIXED_FIELDS",
    "bad_request",
    "date_field",
    "log_access",
    "says_close",
]

#: Where answered requests go when there is no ``WEBSERVICE_LOGFILE`` (at DEBUG).
access_logger = logging.getLogger("scrapy_webservice.access")

#: What a request that is not HTTP/1.1 is told, unless the parser says more.
BAD_REQUEST = "Bad request: not valid HTTP/1.1 (request line, header fields or body framing)"
#: Fields every answer carries: answers are live state, some of it for the
#: token's holder only, and JSON must never be sniffed into something else.
FIXED_FIELDS = ((b"Cache-Control", b"no-store"), (b"X-Content-Type-Options", b"nosniff"))

#: The ``Date`` field line and the second it was made in: HTTP dates have one-second
#: resolution, and formatting one cost as much as the rest of the head.
_date_line: tuple[int, bytes] = (-1, b"")


def date_field() -> bytes:
    """The ``Date: ...\\r\\n`` line for now."""
    global _date_line
    now = int(time.time())
    second, line = _date_line
    if second != now:
        line = b"Date: " + datetimeToString(now) + b"\r\n"
        _date_line = (now, line)
    return line


def says_close(values: Sequence[bytes]) -> bool:
    """Whether these ``Connection`` field lines hold the ``close`` option."""
    return any(
        token.strip().lower() == b"close" for value in values for token in value.split(b",")
    )


def bad_request(message: str | None = None) -> bytes:
    """The whole JSON 400 answer to a malformed request, ``Connection: close`` included."""
    body = error_body(400, message or BAD_REQUEST)
    head = [
        b"HTTP/1.1 400 Bad Request\r\n",
        date_field(),
        b"Content-Type: application/json\r\n",
        b"Content-Length: %d\r\n" % len(body),
        *(name + b": " + value + b"\r\n" for name, value in FIXED_FIELDS),
        b"Connection: close\r\n\r\n",
    ]
    return b"".join(head) + body


def log_access(request: Any) -> None:
    """An answered request at DEBUG on ``scrapy_webservice.access`` (no ``WEBSERVICE_LOGFILE``).

    The client's address, the request line's method and target, the status:
    never a header, so never a token.
    """
    if not access_logger.isEnabledFor(logging.DEBUG):
        return
    access_logger.debug(
        '%s "%s %s" %s',
        getattr(request.getClientAddress(), "host", "-"),
        request.method.decode("ascii", "replace"),
        request.uri.decode("utf-8", "replace"),
        request.code,
    )
