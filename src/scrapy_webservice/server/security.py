"""Who may do what: tokens, and the Host and Origin checks.

Kept apart from the HTTP plumbing so that the rules can be read (and
reviewed) in one place. Nothing here touches the reactor. The discovery
file, which the client reads too, is :mod:`scrapy_webservice.rpc.discovery`.
"""

from __future__ import annotations

import contextlib
import functools
import hmac
import ipaddress
import re
import secrets
from collections.abc import Iterable, Sequence

from ..rpc.markers import Access

__all__ = [
    "TokenChecker",
    "generate_token",
    "host_allowed",
    "host_field_problem",
    "parse_host",
]


def generate_token() -> str:
    """A fresh random token: 256 bits, URL-safe, never starting with ``-``.

    A leading ``-`` would make ``scrapy-ws --token TOKEN`` read the token
    as an option.
    """
    while True:
        token = secrets.token_urlsafe(32)
        if not token.startswith("-"):
            return token


class TokenChecker:
    """Maps an ``Authorization`` header to an :class:`Access` level.

    Both tokens are always compared, in constant time, so that the answer
    takes as long for a wrong token as for either right one.
    """

    def __init__(self, token: str | None, readonly_token: str | None, enabled: bool = True):
        self.enabled = enabled
        self._token = (token or "").encode()
        self._readonly_token = (readonly_token or "").encode()

    def access(self, authorization: bytes | None) -> Access:
        if not self.enabled:
            return Access.CONTROL
        presented = _bearer(authorization)
        if presented is None:
            return Access.NONE
        full = bool(self._token) and hmac.compare_digest(presented, self._token)
        read = bool(self._readonly_token) and hmac.compare_digest(presented, self._readonly_token)
        if full:
            return Access.CONTROL
        if read:
            return Access.READ
        return Access.NONE


def _bearer(authorization: bytes | None) -> bytes | None:
    if not authorization:
        return None
    if authorization.startswith(b"Bearer "):  # how every client writes it
        return authorization[7:].strip() or None
    scheme, _, value = authorization.strip().partition(b" ")
    if scheme.lower() != b"bearer" or not value.strip():
        return None
    return value.strip()


def split_host(host_header: str) -> str:
    """The host name of a ``WEBSERVICE_ALLOWED_HOSTS`` entry, without port or brackets.

    Lenient, for what a user writes in the settings (``::1`` without
    brackets included); requests' ``Host`` values go through :func:`parse_host`.
    """
    host = host_header.strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


# RFC 3986 3.2.2: reg-name = *( unreserved / pct-encoded / sub-delims ),
# which IPv4 addresses also match; an empty one is refused (RFC 9110 4.2.1).
_REG_NAME = re.compile(rb"(?:[A-Za-z0-9\-._~!$&'()*+,;=]|%[0-9A-Fa-f]{2})+")
# RFC 3986 3.2.2: IPvFuture = "v" 1*HEXDIG "." 1*( unreserved / sub-delims / ":" )
_IP_FUTURE = re.compile(rb"[vV][0-9A-Fa-f]+\.[A-Za-z0-9\-._~!$&'()*+,;=:]+")
_PORT = re.compile(rb"[0-9]{1,5}")


def parse_host(value: bytes) -> tuple[str, int | None]:
    """The host name and port of one ``Host`` field value; ``ValueError`` if malformed.

    The syntax is RFC 9110 7.2's ``uri-host [ ":" port ]`` with RFC 3986's
    host: a bracketed IPv6 address (or IPvFuture), or a reg-name (which
    covers IPv4 addresses). Stricter than the grammar where HTTP is: an
    empty host is refused (RFC 9110 4.2.1), and so is an empty port or one
    over 65535. The name comes back lower-cased, without brackets or a
    trailing dot, ready to compare with the allowed hosts.
    """
    if value.startswith(b"["):
        end = value.find(b"]")
        if end < 0:
            raise ValueError("an IPv6 address lacks its closing ']'")
        literal, rest = value[1:end], value[end + 1 :]
        if _IP_FUTURE.fullmatch(literal):
            name = literal.decode("ascii").lower()
        elif b"%" in literal:
            # RFC 6874's zone identifiers are for links, not for HTTP hosts.
            raise ValueError("an IPv6 zone identifier is not allowed")
        else:
            try:
                name = str(ipaddress.IPv6Address(literal.decode("ascii")))
            except (UnicodeDecodeError, ValueError):
                raise ValueError("not an IPv6 address between '[' and ']'") from None
        if rest and not rest.startswith(b":"):
            raise ValueError("only ':' and a port may follow ']'")
    else:
        literal, colon, port_part = value.partition(b":")
        if not literal:
            raise ValueError("the host is empty")
        if not _REG_NAME.fullmatch(literal):
            raise ValueError("the host holds a character that no host name has")
        name = literal.decode("ascii").lower()
        rest = colon + port_part
    port = None
    if rest:
        digits = rest[1:]
        if not _PORT.fullmatch(digits) or int(digits) > 65535:
            raise ValueError("the port must be a number from 0 to 65535")
        port = int(digits)
    return name.rstrip("."), port


def host_field_problem(values: Sequence[bytes] | None) -> str | None:
    """Why a request's ``Host`` field lines are not valid HTTP, or ``None`` if they are.

    RFC 9112 3.2: a server answers 400 to a request with no ``Host``, with
    more than one, or with one whose value is not valid.
    """
    if not values:
        return "Bad request: no Host header (RFC 9112 3.2)"
    if len(values) > 1:
        return "Bad request: more than one Host header (RFC 9112 3.2)"
    try:
        parse_host(values[0])
    except ValueError as exc:
        return f"Bad request: malformed Host header: {exc} (RFC 9110 7.2)"
    return None


def host_allowed(host_header: bytes | None, allowed: Iterable[str]) -> bool:
    """Whether a request's ``Host`` names this service (defeats DNS rebinding).

    A page on ``http://evil.example`` that rebinds its name to 127.0.0.1 still
    sends ``Host: evil.example``, which is not in the list. A malformed
    ``Host`` is never allowed, not even by ``*``.
    """
    if not host_header:
        return False
    try:
        name, _ = parse_host(host_header)
    except ValueError:
        return False
    allowed_names = _host_names(tuple(allowed))
    return "*" in allowed_names or name in allowed_names


def host_is_address(host_header: bytes, address: str) -> bool:
    """Whether ``Host`` names ``address``, the one a connection arrived on.

    A service bound to every interface is reached by each of the machine's
    addresses (a pod's IP, say), which no list made before it started can
    name; the address a connection arrived on is this machine's own, so a
    rebinding page cannot make a browser send it as ``Host`` for its name.
    """
    try:
        name, _ = parse_host(host_header)
    except ValueError:
        return False
    return _canonical(name) == _canonical(_unmapped(address))


def _unmapped(address: str) -> str:
    """``::ffff:10.0.0.5`` (an IPv4 client of a dual-stack socket) as ``10.0.0.5``."""
    try:
        mapped = ipaddress.IPv6Address(address).ipv4_mapped
    except ValueError:
        return address
    return str(mapped) if mapped is not None else address


@functools.lru_cache(maxsize=64)
def _host_names(allowed: tuple[str, ...]) -> frozenset[str]:
    """The allowed names, normalised once (this runs on every request)."""
    return frozenset(_canonical(split_host(a)) if a != "*" else "*" for a in allowed)


def _canonical(name: str) -> str:
    """An IPv6 address in the form :func:`parse_host` gives; other names as they are."""
    try:
        return str(ipaddress.IPv6Address(name))
    except ValueError:
        return name


def origin_allowed(
    origin: bytes,
    host_header: bytes | None,
    cors_origins: Iterable[str],
    scheme: str = "http",
) -> bool:
    """Whether a browser's ``Origin`` may talk to us: same origin, or configured.

    Same origin means the scheme the service speaks (``https`` with TLS)
    and the ``Host`` the browser sent.
    """
    try:
        origin_text = origin.decode("ascii").rstrip("/").lower()
    except UnicodeDecodeError:
        return False
    if host_header:
        with contextlib.suppress(UnicodeDecodeError):
            if origin_text == f"{scheme}://" + host_header.decode("ascii").lower():
                return True
    return any(origin_text == o.rstrip("/").lower() or o == "*" for o in cors_origins)
