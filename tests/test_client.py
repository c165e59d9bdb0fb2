"""The Python client library."""

from __future__ import annotations

import http.server
import threading

import pytest

from scrapy_webservice.cli.client import WebServiceError, get_json


class _Recorder(http.server.BaseHTTPRequestHandler):
    seen: list[str | None] = []  # noqa: RUF012
    target = ""

    def do_GET(self):
        if self.path == "/redirect":
            self.send_response(302)
            self.send_header("Location", self.target)
            self.end_headers()
            return
        type(self).seen.append(self.headers.get("Authorization"))
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args):
        pass


@pytest.fixture
def recorder():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Recorder)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    _Recorder.seen = []
    yield server
    server.shutdown()
    server.server_close()


def test_redirects_are_refused_so_the_token_stays_home(recorder):
    port = recorder.server_address[1]
    _Recorder.target = f"http://localhost:{port}/elsewhere"
    with pytest.raises(WebServiceError) as info:
        get_json(f"http://127.0.0.1:{port}/redirect", token="secret")
    assert info.value.status == 302
    assert _Recorder.seen == []
    assert get_json(f"http://127.0.0.1:{port}/direct", token="secret") == {}
    assert _Recorder.seen == ["Bearer secret"]
