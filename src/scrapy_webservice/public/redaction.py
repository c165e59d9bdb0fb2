"""What of a value may be shown to a client: secrets by name, tokens, URL passwords.

Settings hold API keys, proxy passwords and feed URIs with credentials.
Answering them as JSON (``crawler/settings``) must not hand those out to a
read-only token, so values pass through here: a setting whose name looks
secret is answered as ``"<redacted>"`` whole, and inside any other value
the service's own tokens and the user info of every URL are replaced.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["REDACTED", "SECRET_WORDS", "Redactor"]

REDACTED = "<redacted>"
#: A setting whose name contains one of these (any case) is answered redacted.
SECRET_WORDS = ("TOKEN", "PASSWORD", "SECRET", "KEY", "AUTH", "CREDENTIAL")
#: ``scheme://user:password@host``: what is between ``//`` and ``@`` goes.
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/@\s?#]+)@")
#: A key that is a name (``Authorization``, ``api_key``), not a URI or a path.
_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_-]*")
#: Nesting deeper than this is answered redacted rather than walked.
MAX_DEPTH = 32


class Redactor:
    """Redacts values for one service: its secret words, extra names and tokens."""

    def __init__(self, names: Iterable[str] = (), secrets: Iterable[str] = ()) -> None:
        self.names = frozenset(name.upper() for name in names)
        self.secrets = tuple(sorted({s for s in secrets if s}, key=len, reverse=True))

    def secret_name(self, name: str) -> bool:
        """Whether a setting of this name is answered as ``<redacted>`` whole."""
        upper = name.upper()
        return upper in self.names or any(word in upper for word in SECRET_WORDS)

    def value(self, value: Any, name: str | None = None) -> Any:
        """``value`` with what may not be shown replaced; plain JSON types out."""
        if name is not None and self.secret_name(name):
            return REDACTED
        return self._walk(value, 0)

    def text(self, text: str) -> str:
        for secret in self.secrets:
            if secret in text:
                text = text.replace(secret, REDACTED)
        return _USERINFO.sub(lambda m: f"{m['scheme']}{REDACTED}@", text)

    def _walk(self, value: Any, depth: int) -> Any:
        if depth > MAX_DEPTH:
            return REDACTED
        if value is None or isinstance(value, (bool, int, float)):
            return value
        if isinstance(value, str):
            return self.text(value)
        if isinstance(value, Mapping) or hasattr(value, "copy_to_dict"):
            items = value.copy_to_dict() if hasattr(value, "copy_to_dict") else value
            return {
                self.text(str(key)): (
                    REDACTED
                    if isinstance(key, str) and _NAME.fullmatch(key) and self.secret_name(key)
                    else self._walk(item, depth + 1)
                )
                for key, item in items.items()
            }
        if isinstance(value, (list, tuple, set, frozenset)):
            items = sorted(value, key=repr) if isinstance(value, (set, frozenset)) else value
            return [self._walk(item, depth + 1) for item in items]
        if isinstance(value, type) or callable(value):
            module = getattr(value, "__module__", None)
            qualname = getattr(value, "__qualname__", None) or type(value).__qualname__
            return self.text(f"{module}.{qualname}" if module else qualname)
        return self.text(str(value))
