"""``GET /metrics``: the crawls in the Prometheus text format (OpenMetrics on request)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, ProcessCollector
from prometheus_client.exposition import choose_encoder
from scrapy_webservice import JsonResource, RawBody

from .collector import ScrapyCollector

if TYPE_CHECKING:
    from twisted.web.server import Request

__all__ = ["MetricsResource"]


class MetricsResource(JsonResource):
    """Prometheus scrapes this with the service's token (a read-only one is enough).

    Its own registry holds only this service's collector and the process
    metrics, never ``prometheus_client``'s global registry, so two
    services in two test processes, or another library's metrics, never mix.
    """

    ws_name = "metrics"

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        self._registry: CollectorRegistry | None = None

    @property
    def registry(self) -> CollectorRegistry:
        if self._registry is None:
            registry = CollectorRegistry(auto_describe=False)
            registry.register(ScrapyCollector(self.api))
            ProcessCollector(registry=registry)
            self._registry = registry
        return self._registry

    def render_GET(self, txrequest: Request) -> RawBody:
        accept = (txrequest.getHeader(b"accept") or b"").decode("latin-1")
        encode, content_type = choose_encoder(accept)
        return RawBody(encode(self.registry), content_type)
