"""The services of a fleet, as Prometheus's service discovery knows them.

Beyond one machine the list of services comes from an engine that already
keeps it, never from a registry of our own: Prometheus discovers every
crawl (file_sd, kubernetes_sd, consul_sd...) to scrape its ``/metrics``, so
its active targets are the fleet. A target's scrape URL without the
metrics path is the service's URL; its health (``up``/``down``) says which
crawls are gone, and those are shown as down, never hidden.
"""

from __future__ import annotations

import base64
import json
import os
import ssl
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass
from typing import Any

from .client import DEFAULT_TIMEOUT, WebServiceError, read_token_option

__all__ = [
    "ENV_PROMETHEUS",
    "ENV_PROMETHEUS_PASSWORD",
    "METRICS_PATH",
    "Prometheus",
]

#: ``--prometheus``'s environment variable.
ENV_PROMETHEUS = "SCRAPY_WS_PROMETHEUS"
#: The password of ``--prometheus-user`` (never on a command line, which ``ps`` shows).
ENV_PROMETHEUS_PASSWORD = "SCRAPY_WS_PROMETHEUS_PASSWORD"  # noqa: S105 (a variable name)
#: Where the Prometheus plugin serves the metrics, under a service's URL.
METRICS_PATH = "metrics"


@dataclass
class Prometheus:
    """A Prometheus server's HTTP API, with what it takes to reach it.

    ``token`` is a bearer token, ``user`` and ``password`` basic auth (a
    Prometheus behind a proxy), ``ca_file`` the certificates to trust for
    HTTPS besides the system's.
    """

    url: str
    job: str | None = None
    token: str | None = None
    user: str | None = None
    password: str | None = None
    ca_file: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def _get(self, path: str, **query: str) -> Any:
        url = self.url.rstrip("/") + "/api/v1/" + path
        if query:
            url += "?" + urllib.parse.urlencode(query)
        headers = {"Accept": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        elif self.user is not None:
            pair = f"{self.user}:{self.password or ''}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode("ascii")
        context = ssl.create_default_context(cafile=self.ca_file) if self.ca_file else None
        request = urllib.request.Request(url, headers=headers)  # noqa: S310 (the user's URL)
        try:
            with urllib.request.urlopen(  # noqa: S310
                request, timeout=self.timeout, context=context
            ) as response:
                answer = json.load(response)
        except urllib.error.HTTPError as exc:
            raise WebServiceError(
                f"Prometheus at {self.url} answered {exc.code} for {path}", status=exc.code
            ) from None
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise WebServiceError(f"cannot ask Prometheus at {self.url}: {reason}") from None
        if not isinstance(answer, dict) or answer.get("status") != "success":
            raise WebServiceError(f"Prometheus at {self.url} did not answer {path}: {answer!r}")
        return answer.get("data")

    def services(self, token: str | None) -> list[dict[str, Any]]:
        """The fleet's services: one per active target of the scrape job(s), down ones too.

        Each is ``{url, token, instance, job, health, error}``, like a
        discovery file's record without a pid (a remote process cannot be
        checked by pid); sorted by instance.
        """
        data = self._get("targets", state="active")
        services = []
        for target in data.get("activeTargets", []):
            job = target.get("scrapePool") or target.get("labels", {}).get("job")
            if self.job is not None and job != self.job:
                continue
            scrape = target.get("scrapeUrl")
            if not isinstance(scrape, str):
                continue
            services.append(
                {
                    "url": service_url(scrape),
                    "token": token,
                    "instance": target.get("labels", {}).get("instance") or scrape,
                    "job": job,
                    "health": target.get("health", "unknown"),
                    "error": target.get("lastError") or None,
                }
            )
        return sorted(services, key=lambda service: (service["instance"], service["url"]))


def service_url(scrape_url: str) -> str:
    """``http://10.0.0.5:6080/metrics?x`` → ``http://10.0.0.5:6080/``: the service's root."""
    parts = urllib.parse.urlsplit(scrape_url)
    path = parts.path
    if path.rstrip("/").endswith("/" + METRICS_PATH):
        path = path.rstrip("/")[: -len(METRICS_PATH)]
    path = path if path.endswith("/") else path + "/"
    return urllib.parse.urlunsplit((parts.scheme, parts.netloc, path, "", ""))


def prometheus_from_options(options: Any) -> Prometheus | None:
    """The Prometheus that ``--prometheus`` (or ``SCRAPY_WS_PROMETHEUS``) names, if any."""
    url = getattr(options, "prometheus", None) or os.environ.get(ENV_PROMETHEUS)
    if not url:
        return None
    token = None
    token_file = getattr(options, "prometheus_token_file", None)
    if token_file:
        token = read_token_option("--prometheus-token-file", token_file)
    return Prometheus(
        url,
        job=getattr(options, "prometheus_job", None),
        token=token,
        user=getattr(options, "prometheus_user", None),
        password=os.environ.get(ENV_PROMETHEUS_PASSWORD),
        ca_file=getattr(options, "prometheus_ca", None),
        timeout=getattr(options, "timeout", None) or DEFAULT_TIMEOUT,
    )
