"""A deterministic shop site served by Twisted on 127.0.0.1.

``/`` links to listing pages ``/page/<n>`` (ten products each, and a link
to the next page); each product has its own page ``/product/<n>``. The
number of products, and a per-response delay that keeps requests in flight
long enough to watch (or pause) a crawl, are parameters.
"""

from __future__ import annotations

import argparse
import html
import sys
from typing import TYPE_CHECKING, Any, cast

from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

if TYPE_CHECKING:
    from twisted.internet.address import IPv4Address
    from twisted.python.failure import Failure

PER_PAGE = 10


class ShopSite(Resource):
    """The whole site, one resource: paths are parsed here (it is tiny)."""

    isLeaf = True

    def __init__(self, products: int = 100, delay: float = 0.0) -> None:
        super().__init__()
        self.products = products
        self.delay = delay
        self.hits = 0

    @property
    def pages(self) -> int:
        return max(1, -(-self.products // PER_PAGE))

    def render_GET(self, request: Request) -> bytes | int:
        self.hits += 1
        assert request.postpath is not None  # set by the traversal that led here
        status, body = self._page(request.postpath)
        request.setResponseCode(status)
        request.setHeader(b"Content-Type", b"text/html; charset=utf-8")
        if self.delay <= 0:
            return body
        from twisted.internet import reactor

        call = reactor.callLater(self.delay, _finish, request, body)

        def gone(_: Failure) -> None:
            if call.active():
                call.cancel()

        request.notifyFinish().addErrback(gone)
        return NOT_DONE_YET

    def _page(self, parts: list[bytes]) -> tuple[int, bytes]:
        path = [p.decode("utf-8", "replace") for p in parts if p]
        if not path:
            links = "".join(
                f'<li><a href="/page/{n}">Page {n}</a></li>' for n in range(1, self.pages + 1)
            )
            return 200, _html("Demo shop", f"<ul class='pages'>{links}</ul>")
        if len(path) == 2 and path[0] == "page" and path[1].isdigit():
            n = int(path[1])
            if 1 <= n <= self.pages:
                first = (n - 1) * PER_PAGE + 1
                last = min(n * PER_PAGE, self.products)
                items = "".join(
                    f'<li><a class="product" href="/product/{i}">Product {i}</a></li>'
                    for i in range(first, last + 1)
                )
                nxt = f'<a class="next" href="/page/{n + 1}">Next</a>' if n < self.pages else ""
                return 200, _html(f"Page {n}", f"<ul>{items}</ul>{nxt}")
        if len(path) == 2 and path[0] == "product" and path[1].isdigit():
            i = int(path[1])
            if 1 <= i <= self.products:
                body = (
                    f'<h1 class="name">Product {i}</h1>'
                    f'<p class="price">{i * 1.5:.2f}</p>'
                    f'<p class="stock">{"in stock" if i % 3 else "sold out"}</p>'
                )
                return 200, _html(f"Product {i}", body)
        return 404, _html("Not found", "<p>No such page.</p>")


def _html(title: str, body: str) -> bytes:
    return (
        f"<!doctype html><html><head><title>{html.escape(title)}</title></head>"
        f"<body>{body}</body></html>"
    ).encode()


def _finish(request: Request, body: bytes) -> None:
    request.write(body)
    request.finish()


def listen(products: int = 100, delay: float = 0.0, port: int = 0) -> tuple[Any, str]:
    """Serve the shop on 127.0.0.1; returns the listening port and the site URL."""
    from twisted.internet import reactor

    site = Site(ShopSite(products, delay))
    site.noisy = False
    # Twisted's bare ``ServerFactory`` means ServerFactory[_ProtoWithFactory] (its
    # type variable's default), which no concrete factory matches: any one works.
    listening = reactor.listenTCP(port, site, interface="127.0.0.1")  # type: ignore[arg-type]
    address = cast("IPv4Address", listening.getHost())  # IListeningPort says only IAddress
    return listening, f"http://127.0.0.1:{address.port}/"


def main(argv: list[str] | None = None) -> None:
    """Run the shop alone: prints its URL on the first line, then serves forever."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--products", type=int, default=100)
    parser.add_argument("--delay", type=float, default=0.0, help="seconds before each response")
    parser.add_argument("--port", type=int, default=0)
    args = parser.parse_args(argv)
    from twisted.internet import reactor

    _, url = listen(args.products, args.delay, args.port)
    print(url, flush=True)
    reactor.run()
    sys.exit(0)


if __name__ == "__main__":
    main()
