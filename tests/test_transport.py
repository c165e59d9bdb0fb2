"""Transport options: HTTPS with the user's certificate, and a Unix socket, with real clients."""

from __future__ import annotations

import datetime
import http.client
import ipaddress
import json
import os
import ssl
import stat
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet import threads

from scrapy_webservice.cli.client import WebServiceClient, WebServiceError
from scrapy_webservice.public.settings import WebServiceConfig

from .processes import scrapy_ws


def self_signed(directory: Path) -> tuple[Path, Path]:
    """A certificate for 127.0.0.1 and localhost, and its key, as PEM files."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.datetime.now(datetime.timezone.utc)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    cert_path, key_path = directory / "cert.pem", directory / "key.pem"
    cert_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    key_path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_path.chmod(0o600)
    return cert_path, key_path


def https_get(port: int, path: str, token: str | None, cafile: Path) -> tuple[int, bytes]:
    context = ssl.create_default_context(cafile=str(cafile))
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        conn.request("GET", path, headers=headers)
        response = conn.getresponse()
        return response.status, response.read()
    finally:
        conn.close()


@pytest_twisted.ensureDeferred
async def test_https_with_the_users_certificate(serve, tmp_path):
    cert, key = self_signed(tmp_path)
    served = serve(WEBSERVICE_TLS_CERTIFICATE=str(cert), WEBSERVICE_TLS_KEY=str(key))
    assert served.url.startswith("https://127.0.0.1:")
    port = served.service.port.getHost().port
    status, body = await threads.deferToThread(https_get, port, "/", served.token, cert)
    assert status == 200
    assert "crawler" in json.loads(body)["resources"]
    status, _ = await threads.deferToThread(https_get, port, "/stats", None, cert)
    assert status == 401
    # Plain HTTP on the TLS port gets nowhere.
    plain = WebServiceClient(f"http://127.0.0.1:{port}/", served.token, timeout=5)
    with pytest.raises(WebServiceError):
        await threads.deferToThread(plain.get, "")
    # A client that does not trust the certificate refuses it.
    untrusted = WebServiceClient(served.url, served.token, timeout=5)
    with pytest.raises(WebServiceError, match="CERTIFICATE_VERIFY_FAILED"):
        await threads.deferToThread(untrusted.get, "")


def alpn_get(port: int, token: str, cafile: Path) -> tuple[int, str | None]:
    """One HTTPS request on a new connection offering ALPN: status and protocol chosen."""
    context = ssl.create_default_context(cafile=str(cafile))
    context.set_alpn_protocols(["http/1.1"])
    conn = http.client.HTTPSConnection("127.0.0.1", port, context=context, timeout=10)
    try:
        conn.request("GET", "/", headers={"Authorization": f"Bearer {token}"})
        assert isinstance(conn.sock, ssl.SSLSocket)
        protocol = conn.sock.selected_alpn_protocol()
        return conn.getresponse().status, protocol
    finally:
        conn.close()


@pytest_twisted.ensureDeferred
async def test_https_serves_every_connection_and_negotiates_http_1_1(serve, tmp_path):
    """ALPN is set once on the TLS context: Twisted below 26.4 set it again on each
    connection, which pyOpenSSL 26.2+ refuses after the first (twisted/twisted#12500)."""
    cert, key = self_signed(tmp_path)
    served = serve(WEBSERVICE_TLS_CERTIFICATE=str(cert), WEBSERVICE_TLS_KEY=str(key))
    port = served.service.port.getHost().port
    for _ in range(3):
        answer = await threads.deferToThread(alpn_get, port, served.token, cert)
        assert answer == (200, "http/1.1")


@pytest_twisted.ensureDeferred
async def test_scrapy_ws_over_https_trusts_ssl_cert_file(serve, tmp_path, monkeypatch):
    cert, key = self_signed(tmp_path)
    serve(
        WEBSERVICE_TLS_CERTIFICATE=str(cert),
        WEBSERVICE_TLS_KEY=str(key),
        WEBSERVICE_DISCOVERY_DIR=None,  # the per-user directory scrapy-ws reads
    )
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    result = await threads.deferToThread(scrapy_ws, "list-resources")
    assert result.returncode == 0, result.stderr
    assert "enginestatus" in result.stdout.split()


def test_a_bad_certificate_is_a_clear_error(tmp_path, caplog, webservice):
    bad = tmp_path / "bad.pem"
    bad.write_text("not a certificate")
    served = webservice(
        WEBSERVICE_TLS_CERTIFICATE=str(bad), WEBSERVICE_TLS_KEY=str(bad), must_start=False
    )
    assert served.service.port is None
    assert "Web service not started: cannot load the TLS certificate" in caplog.text


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ({"WEBSERVICE_TLS_CERTIFICATE": "c.pem"}, "go together"),
        ({"WEBSERVICE_TLS_KEY": "k.pem"}, "go together"),
        (
            {
                "WEBSERVICE_TLS_CERTIFICATE": "c",
                "WEBSERVICE_TLS_KEY": "k",
                "WEBSERVICE_UNIX_SOCKET": "/tmp/s",
            },
            "do not go together",
        ),
        ({"WEBSERVICE_RESPONSE_TIMEOUT": 0}, "must be positive"),
    ],
)
def test_transport_settings_that_cannot_work_are_refused(settings, message):
    from scrapy.settings import Settings

    with pytest.raises(ValueError, match=message):
        WebServiceConfig.from_settings(Settings(settings))


class UnixHTTPConnection(http.client.HTTPConnection):
    def __init__(self, path: str) -> None:
        super().__init__("localhost", timeout=10)
        self.path = path

    def connect(self) -> None:
        import socket

        self.sock = socket.socket(socket.AF_UNIX)
        self.sock.connect(self.path)


def unix_get(path: str, resource: str, token: str | None) -> int:
    conn = UnixHTTPConnection(path)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        conn.request("GET", resource, headers=headers)
        return conn.getresponse().status
    finally:
        conn.close()


@pytest_twisted.ensureDeferred
async def test_unix_socket_only_for_this_user_and_still_the_token(serve, tmp_path, monkeypatch):
    path = tmp_path / "ws.sock"
    served = serve(WEBSERVICE_UNIX_SOCKET=str(path), WEBSERVICE_DISCOVERY_DIR=None)
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o600
    assert served.url.startswith("http+unix://")
    assert await threads.deferToThread(unix_get, str(path), "/stats", None) == 401
    assert await threads.deferToThread(unix_get, str(path), "/", served.token) == 200
    # The Python client and scrapy-ws reach it through the URL of the discovery file.
    client = WebServiceClient(served.url, served.token)
    assert "crawler" in (await threads.deferToThread(client.get, ""))["resources"]
    result = await threads.deferToThread(scrapy_ws, "--json", "list-running")
    assert (result.returncode, json.loads(result.stdout or "null")) == (0, []), result.stderr
    await served.service.stop()
    assert not path.exists(), "the socket file is removed when the service stops"


@pytest_twisted.ensureDeferred
async def test_a_unix_socket_another_service_serves_is_refused_and_left_to_it(
    webservice, tmp_path, caplog
):
    path = tmp_path / "ws.sock"
    first = webservice(WEBSERVICE_UNIX_SOCKET=str(path), WEBSERVICE_DISCOVERY_DIR=None)
    second = webservice(
        WEBSERVICE_UNIX_SOCKET=str(path), WEBSERVICE_DISCOVERY_DIR=None, must_start=False
    )
    assert second.service.port is None
    [error] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert error.startswith(f"Web service not started: cannot listen on the Unix socket {path}")
    assert "another crawl" in error
    assert await threads.deferToThread(unix_get, str(path), "/", first.token) == 200


def test_the_asyncio_front_never_removes_a_file_that_is_not_a_socket(webservice, tmp_path, caplog):
    # (Newer Twisted keeps such a file too, twisted/twisted#12785; older ones removed it.)
    path = tmp_path / "notes.txt"
    path.write_text("a user's file, at the path by mistake")
    served = webservice(
        WEBSERVICE_UNIX_SOCKET=str(path),
        WEBSERVICE_DISCOVERY_DIR=None,
        front="asyncio",
        must_start=False,
    )
    assert served.service.port is None
    assert path.read_text() == "a user's file, at the path by mistake"
    [error] = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert "not a socket" in error
