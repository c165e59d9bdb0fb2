"""The checks every request passes before any resource code runs, on either front.

Host, Origin, token, body size and content type are checked here, once,
so that no resource can forget a check: a resource only ever sees requests
that passed them, with ``request.webservice_access`` telling what the
caller may do. Not even a resource's child lookup runs before the token
is checked, unless the first path segment names a resource declared public.
The Twisted site and the asyncio front both ask :class:`RequestGuard` for
the resource that answers a request; nothing here touches a socket or the
reactor.
"""

from __future__ import annotations

import functools
import inspect
import logging
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from twisted.web import server
from twisted.web.http import unquote
from twisted.web.http_headers import Headers
from twisted.web.resource import Resource, getChildForRequest

from ..public.resource import ErrorResource, JsonResource, write_error
from ..public.rpc_resource import JsonRpcResource
from ..rpc.markers import Access
from .security import (
    TokenChecker,
    host_allowed,
    host_field_problem,
    host_is_address,
    origin_allowed,
)

if TYPE_CHECKING:
    from ..public.settings import WebServiceConfig

__all__ = ["ALL_INTERFACES", "RequestGuard", "guarded_fields", "unauthorized"]

logger = logging.getLogger(__name__)

_JSON_TYPES = (b"application/json", b"application/json-rpc")
#: ``WEBSERVICE_HOST`` values that bind every interface.
ALL_INTERFACES = ("", "0.0.0.0", "::")  # noqa: S104
_SAFE_METHODS = (b"GET", b"HEAD", b"OPTIONS")
_CORS_ALLOWED_HEADERS = b"Authorization, Content-Type"
#: What ``OPTIONS *`` answers: the methods the service as a whole speaks.
SERVER_METHODS = b"GET, HEAD, POST, OPTIONS"
#: How many ``Host`` values the guard keeps its verdict on, and the longest it keeps.
_HOST_VERDICTS_KEPT = 256
_HOST_MAX_KEPT = 300
_UNKNOWN = object()


class RequestGuard:
    """The service's rules for one root resource, asked once for each request."""

    def __init__(
        self,
        root: Resource,
        config: WebServiceConfig,
        tokens: TokenChecker,
        traverse: Callable[[Any], Resource] | None = None,
    ) -> None:
        self.root = root
        #: The front's walk down the tree (``getChild``): Twisted's site has its own.
        self.traverse = traverse or functools.partial(getChildForRequest, root)
        self.config = config
        self.tokens = tokens
        self.allowed_hosts = allowed_hosts(config)
        #: Bound to every interface: the address a connection arrived on is a
        #: name of this service too.
        self.all_interfaces = not config.unix_socket and config.host in ALL_INTERFACES
        self._host_verdicts: dict[bytes, tuple[int, str] | None] = {}

    def refuses_early(self, request: Any, path: bytes) -> bool:
        """Whether the head alone refuses ``request`` (no valid token, not a public path).

        What it checked is kept on the request, so that an accepted request
        does not pay for the checks twice.
        """
        fields = request.guarded_fields = guarded_fields(request.requestHeaders)
        hosts, origins, authorization, _ = fields
        if origins is not None or (authorization is not None and len(authorization) > 1):
            return False
        if self._host_verdict(hosts) is not None:
            return False
        access = self.tokens.access(authorization[0] if authorization else None)
        request.webservice_access = access
        request.access_checked = True
        if access is not Access.NONE:
            return False
        segment = path.split(b"?", 1)[0][1:].split(b"/", 1)[0]
        return not self._public_segment(unquote(segment))

    def resource_for(self, request: Any) -> Resource:
        """The resource for ``request``, or the error that answers it.

        The checks run in this order, each before any resource code: the
        ``Host`` field's syntax (400), the ``Host`` name (403), the
        ``Origin`` (403, or a CORS preflight's 204), the body's size (413),
        a single ``Authorization`` field (400), the token (401). Only then
        is the path traversed (every ``getChild`` and ``child()``), unless
        its first segment is a static child of the root declared public.
        Then the read-only token's rights (403) and the content type of
        writes (415).
        """
        fields = getattr(request, "guarded_fields", None) or guarded_fields(request.requestHeaders)
        hosts, origins, authorization, content_types = fields
        refused = self._host_verdict(hosts)
        if refused is not None and refused[0] == 403 and self._arrived_at(request, hosts):
            refused = None
        if refused is not None:
            status, message = refused
            if status == 400:
                request.setHeader(b"Connection", b"close")
            return ErrorResource(status, message)
        asterisk = request.path == b"*"
        if origins is not None:
            origin = origins[-1]
            scheme = "https" if self.config.tls_certificate else "http"
            host = hosts[-1] if hosts else None
            if not origin_allowed(origin, host, self.config.cors_origins, scheme):
                return ErrorResource(403, "Origin not allowed: add it to WEBSERVICE_CORS_ORIGINS")
            self._add_cors_headers(request, origin)
            if request.method == b"OPTIONS" and not asterisk:
                return Preflight()
        if getattr(request, "too_large", False):
            request.setHeader(b"Connection", b"close")
            return ErrorResource(
                413,
                f"Request body over the limit of {self.config.max_request_size} bytes"
                " (WEBSERVICE_MAX_REQUEST_SIZE)",
            )
        if authorization is not None and len(authorization) > 1:
            # Which one would count is a guess; a proxy and a client may disagree.
            request.setHeader(b"Connection", b"close")
            return ErrorResource(400, "Send one Authorization header, not several")
        if getattr(request, "access_checked", False):
            access = request.webservice_access
        else:
            access = self.tokens.access(authorization[0] if authorization else None)
            request.webservice_access = access
        if access is Access.NONE and (asterisk or not self._public_path(request)):
            return unauthorized()
        if asterisk:
            return Asterisk()
        try:
            resource = self.traverse(request)
        except Exception:
            logger.exception(
                "Web service: looking up %s failed", request.uri.decode("utf-8", "replace")
            )
            return ErrorResource(500, "Internal error while looking up the resource")
        if access is Access.NONE and not declared_public(resource):
            # Below a public resource, only what is declared public too: not
            # its data, nor a 404 that would tell what exists.
            return unauthorized()
        if request.method not in _SAFE_METHODS and isinstance(resource, JsonResource):
            if access < Access.CONTROL and not isinstance(resource, JsonRpcResource):
                # JSON-RPC checks each method itself; any other state-changing
                # request needs the full token.
                method = request.method.decode("ascii", "replace")
                return ErrorResource(403, f"Forbidden: {method} needs the full token")
            content_type = content_types[-1] if content_types else None
            if content_type not in _JSON_TYPES and (
                content_type is None
                or content_type.split(b";")[0].strip().lower() not in _JSON_TYPES
            ):
                method = request.method.decode("ascii", "replace")
                return ErrorResource(415, f"{method} needs 'Content-Type: application/json'")
        return resource

    def _arrived_at(self, request: Any, hosts: Sequence[bytes] | None) -> bool:
        """Whether ``Host`` names the address this connection arrived on (all interfaces only)."""
        if not self.all_interfaces or not hosts:
            return False
        address = getattr(request.getHost(), "host", None)
        return isinstance(address, str) and host_is_address(hosts[-1], address)

    def _host_verdict(self, values: Sequence[bytes] | None) -> tuple[int, str] | None:
        """The status and message refusing these ``Host`` field lines, or ``None``.

        The verdict on a single value is kept (for a few hundred values, each
        short): a keep-alive client sends the same ``Host`` with every request,
        and parsing it twice each time was a tenth of this site's own cost.
        """
        single = values[0] if values is not None and len(values) == 1 else None
        if single is not None:
            known = self._host_verdicts.get(single, _UNKNOWN)
            if known is not _UNKNOWN:
                return known  # type: ignore[return-value]
        problem = host_field_problem(values)
        verdict: tuple[int, str] | None = None
        if problem is not None:
            verdict = (400, problem)
        elif not host_allowed(values[-1] if values else None, self.allowed_hosts):
            verdict = (403, "Host not allowed: add it to WEBSERVICE_ALLOWED_HOSTS")
        if single is not None and len(single) <= _HOST_MAX_KEPT:
            if len(self._host_verdicts) >= _HOST_VERDICTS_KEPT:
                self._host_verdicts.clear()
            self._host_verdicts[single] = verdict
        return verdict

    def _public_path(self, request: Any) -> bool:
        """Whether the first path segment names a static child of the root declared public.

        A dict lookup and a static attribute read: no resource code runs
        (not ``getChild``, not ``child()``, not even a property).
        """
        return self._public_segment(request.postpath[0] if request.postpath else b"")

    def _public_segment(self, segment: bytes) -> bool:
        """Whether ``segment`` (decoded) names a static child of the root declared public."""
        children = getattr(self.root, "children", None)
        child = children.get(segment) if isinstance(children, dict) else None
        return child is not None and declared_public(child)

    def _add_cors_headers(self, request: Any, origin: bytes) -> None:
        if not self.config.cors_origins:
            return  # same-origin request: no CORS headers are needed
        request.setHeader(b"Access-Control-Allow-Origin", origin)
        request.setHeader(b"Vary", b"Origin")
        request.setHeader(b"Access-Control-Allow-Headers", _CORS_ALLOWED_HEADERS)
        request.setHeader(b"Access-Control-Allow-Methods", b"GET, POST, OPTIONS")


class Preflight(Resource):
    """A CORS preflight (``OPTIONS`` with an ``Origin``) that the checks let through: 204."""

    isLeaf = True

    def render(self, request: Any) -> int:
        return no_content(request)


class Asterisk(Resource):
    """``OPTIONS *`` asks about the server as a whole (RFC 9110 9.3.7); only it has ``*``."""

    isLeaf = True

    def render(self, request: Any) -> bytes | int:
        if request.method == b"OPTIONS":
            request.setHeader(b"Allow", SERVER_METHODS)
            return no_content(request)
        method = request.method.decode("ascii", "replace")
        return write_error(
            request, 400, f"Bad request: {method} * (the asterisk form is only for OPTIONS)"
        )


_Fields = Sequence[bytes] | None


def guarded_fields(headers: Headers) -> tuple[_Fields, _Fields, _Fields, _Fields]:
    """The ``Host``, ``Origin``, ``Authorization`` and ``Content-Type`` field lines.

    One pass over the request's fields (names come in canonical form)
    instead of a ``getRawHeaders`` for each: the lookups encoded each name
    again, on every request.
    """
    hosts = origins = authorization = content_types = None
    for name, values in headers.getAllRawHeaders():
        if name == b"Host":
            hosts = values
        elif name == b"Authorization":
            authorization = values
        elif name == b"Content-Type":
            content_types = values
        elif name == b"Origin":
            origins = values
    return hosts, origins, authorization, content_types


def no_content(request: Any) -> int:
    """A 204 finished here: Twisted would add ``Content-Length: 0`` (RFC 9110 8.6: must not)."""
    request.setResponseCode(204)
    request.finish()
    return server.NOT_DONE_YET


UNAUTHORIZED = "Missing or wrong token: send 'Authorization: Bearer <token>'"


def unauthorized() -> ErrorResource:
    return ErrorResource(
        401,
        UNAUTHORIZED,
        headers={b"WWW-Authenticate": b'Bearer realm="scrapy-webservice"'},
    )


def declared_public(resource: object) -> bool:
    """``public = True`` on the resource or its class, read without running a descriptor."""
    return inspect.getattr_static(resource, "public", False) is True


def allowed_hosts(config: WebServiceConfig) -> tuple[str, ...]:
    hosts = list(config.allowed_hosts)
    if config.host not in ALL_INTERFACES:
        hosts.append(config.host)
    return tuple(hosts)
