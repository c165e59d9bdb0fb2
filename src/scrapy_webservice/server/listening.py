"""What the service holds of a front that listens, and how either front says it cannot.

Both fronts bind the first free port of ``WEBSERVICE_PORT``'s range, and
both fail the same two ways: every port taken (the service says which
range, and what to set), or a setting that names something unusable (a
certificate that does not load, a Unix socket another crawl serves).
"""

from __future__ import annotations

from typing import Any, Protocol

__all__ = ["ListenError", "Listening", "cannot_listen", "port_candidates"]


class Listening(Protocol):
    """What the service uses of where it listens: a Twisted port, or the asyncio front."""

    def getHost(self) -> Any: ...

    def stopListening(self) -> Any: ...


class ListenError(Exception):
    """A front cannot listen where the settings say; the message says why and what to change."""


def port_candidates(portrange: list[int]) -> list[int]:
    """The ports to try in order: ``[]`` (any free port) is ``[0]``."""
    return [0] if not portrange else list(range(portrange[0], portrange[-1] + 1))


def cannot_listen(host: str, portrange: list[int], reason: object) -> ListenError:
    """The error for a ``WEBSERVICE_PORT`` range with no free port, on either front."""
    return ListenError(
        f"cannot listen on {host or '*'} {_where(portrange)}: {reason};"
        " set WEBSERVICE_PORT to a free range, or 0 for any free port"
    )


def _where(ports: list[int]) -> str:
    """``WEBSERVICE_PORT``'s range, for an error message."""
    if not ports:
        return "any port"
    if ports[0] == ports[-1]:
        return f"port {ports[0]}"
    return f"any port of {ports[0]}-{ports[-1]}"
