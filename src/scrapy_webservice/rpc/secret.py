"""``Secret``: a token that no answer of the service can carry.

The encoder refuses this type, so an object that holds a token (the
service's configuration, say) fails to encode instead of leaking it, and
its ``repr`` shows no character of it, so neither does a log line or a
traceback in a debug answer.
"""

from __future__ import annotations

import hmac
from typing import NoReturn

__all__ = ["MAX_SECRET_FILE", "Secret", "read_secret_file"]


class Secret:
    """A secret string; ``reveal()`` is the one way to read it."""

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not isinstance(value, str) or not value:
            raise ValueError("a secret must be a non-empty string")
        self._value = value

    def reveal(self) -> str:
        """The secret itself: for comparing and for the owner-only discovery file."""
        return self._value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other.reveal().encode())

    def __hash__(self) -> int:
        return hash((Secret, len(self._value)))

    def __repr__(self) -> str:
        return "Secret('***')"

    __str__ = __repr__

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret is not pickled")


#: A token file longer than this is not a token.
MAX_SECRET_FILE = 4096


def read_secret_file(name: str, path: str) -> Secret:
    """The token in ``path`` (a mounted secret), surrounding whitespace stripped.

    One reader for the service's ``WEBSERVICE_TOKEN_FILE`` and scrapy-ws's
    ``--token-file``, which often read the same file. A ``ValueError``
    names ``name`` (the setting or option) and the file, never its content,
    when it cannot be a token.
    """
    try:
        with open(path, "rb") as file:
            raw = file.read(MAX_SECRET_FILE + 1)
    except OSError as exc:
        raise ValueError(f"{name}: cannot read {path}: {exc.strerror or exc}") from None
    if len(raw) > MAX_SECRET_FILE:
        raise ValueError(f"{name}: {path} is longer than {MAX_SECRET_FILE} bytes: not a token")
    try:
        token = raw.decode("utf-8").strip()
    except UnicodeDecodeError:
        raise ValueError(f"{name}: {path} is not UTF-8 text") from None
    if not token:
        raise ValueError(f"{name}: {path} is empty")
    if any(c.isspace() or not c.isprintable() for c in token):
        raise ValueError(f"{name}: {path} holds more than one word: a token has no spaces")
    return Secret(token)
