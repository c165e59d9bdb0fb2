"""The Twisted front's listening: the site on metered TCP, TLS over it, or a Unix socket.

The site (:mod:`.site`) answers requests; this module only puts it on a
socket, each connection metered for the service's share of the reactor
(:mod:`.metered`). The asyncio front does the same for Scrapy without a
reactor (:mod:`.asyncio_front`).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from twisted.internet import error as twisted_error
from twisted.protocols.tls import TLSMemoryBIOFactory

from . import metered
from .listening import ListenError, cannot_listen

if TYPE_CHECKING:
    from twisted.internet.interfaces import IListeningPort

    from ..public.settings import WebServiceConfig
    from .budget import AddressLimits, ReactorBudget
    from .site import WebServiceSite

__all__ = ["listen"]


def listen(
    site: WebServiceSite,
    config: WebServiceConfig,
    budget: ReactorBudget,
    limits: AddressLimits,
) -> IListeningPort:
    """Listen where ``config`` says; raises :class:`.ListenError` saying why it cannot."""
    site.budget = budget
    if config.unix_socket:
        return _listen_unix(site, config.unix_socket, budget, limits)
    factory: Any = site
    if config.tls_certificate:
        factory = _TLSFactory(_tls_options(site, config), False, site)
    try:
        return metered.listen_tcp(config.port_range, config.host, factory, budget, limits)
    except twisted_error.CannotListenError as exc:
        raise cannot_listen(config.host, config.port_range, exc.socketError) from exc


def _tls_options(site: WebServiceSite, config: WebServiceConfig) -> Any:
    from twisted.internet import ssl

    certificate, key = config.tls_certificate, config.tls_key
    try:
        # Called with a certificate only; the config has checked that a key comes with it.
        assert certificate is not None
        assert key is not None
        pem = Path(key).read_bytes() + b"\n" + Path(certificate).read_bytes()
        loaded = ssl.PrivateCertificate.loadPEM(pem)
        # ALPN set once, on the context, before any connection is made from it.
        return ssl.CertificateOptions(
            privateKey=loaded.privateKey.original,
            certificate=loaded.original,
            acceptableProtocols=site.acceptableProtocols(),
        )
    except Exception as exc:  # OSError, or OpenSSL's own errors for a bad file
        raise ListenError(
            f"cannot load the TLS certificate {certificate!r} and key {key!r}: {exc!r}"
        ) from exc


def _listen_unix(
    site: WebServiceSite, path: str, budget: ReactorBudget, limits: AddressLimits
) -> IListeningPort:
    try:
        # 0600 from the start: only this user may connect; the token is checked too.
        return metered.listen_unix(path, site, budget, limits)
    except twisted_error.CannotListenError as exc:
        raise ListenError(
            f"cannot listen on the Unix socket {path}: {exc.socketError};"
            " is another crawl using it?"
        ) from exc


class _TLSFactory(TLSMemoryBIOFactory):
    """TLS whose protocol negotiation (ALPN) is set once, by the context factory.

    Twisted below 26.4 sets the wrapped site's ALPN protocols on the shared
    OpenSSL context again for every connection, which pyOpenSSL 26.2 and
    newer refuse once a connection was made from that context ("Context has
    already been used to create a Connection", twisted/twisted#12500): every
    HTTPS connection but the first would fail. The context factory already
    carries the same protocols (``acceptableProtocols``), so the per-connection
    step is skipped; newer Twisted has no such step and ignores this.
    """

    def _applyProtocolNegotiation(self, connection: Any) -> None:
        return None

    def buildProtocol(self, addr: Any) -> Any:
        """TLS over the site's channel, or nothing when the site refuses the connection."""
        channel = self.wrappedFactory.buildProtocol(addr)
        if channel is None:
            return None
        return self.protocol(self, channel)
