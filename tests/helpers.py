"""Plain HTTP helpers for tests: a real client, with every header under control."""

from __future__ import annotations

import http.client as http_client
import json
import urllib.parse
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)

    @property
    def json(self) -> Any:
        return json.loads(self.body)


def http(
    url: str,
    method: str = "GET",
    body: bytes | str | None = None,
    headers: dict[str, str] | None = None,
    token: str | None = None,
    timeout: float = 10,
) -> Reply:
    """One request with http.client: no proxies, no retries, headers as given."""
    parts = urllib.parse.urlsplit(url)
    conn = http_client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    all_headers = dict(headers or {})
    if token is not None:
        all_headers.setdefault("Authorization", f"Bearer {token}")
    if isinstance(body, str):
        body = body.encode()
    path = parts.path or "/"
    if parts.query:
        path += "?" + parts.query
    try:
        conn.request(method, path, body=body, headers=all_headers)
        response = conn.getresponse()
        data = response.read()
        return Reply(response.status, data, {k.lower(): v for k, v in response.getheaders()})
    finally:
        conn.close()


def rpc(
    url: str, method: str, params: Any = None, token: str | None = None, request_id: Any = 1
) -> Reply:
    payload: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": request_id}
    if params is not None:
        payload["params"] = params
    return http(
        url,
        "POST",
        json.dumps(payload),
        headers={"Content-Type": "application/json"},
        token=token,
    )
