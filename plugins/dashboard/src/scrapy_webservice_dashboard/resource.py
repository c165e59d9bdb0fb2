"""``/dashboard``: the page shell, its script, style and icon; never any data.

A browser cannot send a Bearer header when it loads a page, so these are
``public``; what they serve is the same bytes for everyone, read from the
package, and only from a fixed list of names. The page then fetches every
piece of data itself, with the token, from the service's own resources
(``enginestatus``, ``events``, JSON-RPC ``stats``, ``crawler/engine``,
``crawler/downloader``, ``crawler/scheduler``, ``memory`` and ``stalls``).
"""

from __future__ import annotations

from functools import cache
from importlib import resources
from typing import TYPE_CHECKING

from scrapy_webservice import JsonResource, RawBody

if TYPE_CHECKING:
    from twisted.web.resource import Resource
    from twisted.web.server import Request

__all__ = [
    "ASSETS",
    "CONTENT_SECURITY_POLICY",
    "PAGE",
    "AssetResource",
    "DashboardResource",
    "asset_bytes",
]

#: The page shell, served at ``/dashboard/``.
PAGE = "index.html"
#: Every file served below ``/dashboard/``, with its content type; nothing else is.
ASSETS: dict[str, str] = {
    "dashboard.js": "text/javascript; charset=utf-8",
    "dashboard.css": "text/css; charset=utf-8",
    "favicon.svg": "image/svg+xml",
}

#: Scripts and styles only from the service itself (no inline code, no other
#: origin), data only from the service, no framing, no form posts, no <base>.
CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self'",
        "connect-src 'self'",
        "frame-ancestors 'none'",
        "form-action 'none'",
        "base-uri 'none'",
    ]
)

SECURITY_HEADERS: dict[bytes, bytes] = {
    b"Content-Security-Policy": CONTENT_SECURITY_POLICY.encode("ascii"),
    b"X-Frame-Options": b"DENY",
    b"Referrer-Policy": b"no-referrer",
    b"Cross-Origin-Opener-Policy": b"same-origin",
    b"Cross-Origin-Resource-Policy": b"same-origin",
}


@cache
def asset_bytes(name: str) -> bytes:
    """The bytes of one packaged file (``PAGE`` or a name of ``ASSETS``)."""
    if name != PAGE and name not in ASSETS:
        raise KeyError(name)
    return resources.files(__package__).joinpath("static").joinpath(name).read_bytes()


def _secure(request: Request) -> None:
    for name, value in SECURITY_HEADERS.items():
        request.setHeader(name, value)


class DashboardResource(JsonResource):
    """``GET /dashboard/``: the page; ``/dashboard/<asset>``: its files."""

    ws_name = "dashboard"
    public = True

    def render_GET(self, txrequest: Request) -> RawBody:
        _secure(txrequest)
        assert txrequest.prepath is not None  # set by the traversal that led here
        if txrequest.prepath[-1:] != [b""]:
            # ``/dashboard`` → ``/dashboard/``, so that the page's relative
            # links (its files, the service's resources) resolve the same
            # behind any path prefix. The fragment (``#token=``) is kept by
            # the browser.
            location = self.ws_name.encode() + b"/"
            query = txrequest.uri.partition(b"?")[2]
            if query:
                location += b"?" + query
            txrequest.setResponseCode(302)
            txrequest.setHeader(b"Location", location)
            return RawBody(b"", "text/plain; charset=utf-8")
        return RawBody(asset_bytes(PAGE), "text/html; charset=utf-8")

    def child(self, name: str, request: Request) -> Resource | None:
        # A file has nothing below it, not even "/": ``dashboard.js/`` is a 404.
        if name not in ASSETS or request.postpath:
            return None
        return AssetResource(self.crawler, name)


class AssetResource(JsonResource):
    """One file of :data:`ASSETS`; it holds no data, so it is public too."""

    public = True
    isLeaf = True

    def __init__(self, crawler, name: str) -> None:
        super().__init__(crawler)
        self.name = name

    def render_GET(self, txrequest: Request) -> RawBody:
        _secure(txrequest)
        return RawBody(asset_bytes(self.name), ASSETS[self.name])
