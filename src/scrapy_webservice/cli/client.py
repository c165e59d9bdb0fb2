"""A small Python client for the web service, on the standard library only.

``jsonrpc_client_call`` keeps the seed's name and shape; :class:`WebServiceClient`
adds the token, base URL and discovery-file lookup that ``scrapy-ws`` needs.

A client made from a discovery file (:meth:`WebServiceClient.from_discovery`)
checks, before it sends the token anywhere, that the service at the file's
URL is the file's process (``GET /health`` answers its pid): a port that
another program took over after a crash never receives the token.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import socket
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

from ..rpc.discovery import default_discovery_dir, read_discovery_files
from ..rpc.messages import JsonRpcError
from ..rpc.secret import read_secret_file

__all__ = [
    "AmbiguousService",
    "JsonRpcError",
    "ServerEvent",
    "ServiceGone",
    "ServiceNotFound",
    "WebServiceClient",
    "WebServiceError",
    "client_from_options",
    "default_discovery_dir",
    "describe_service",
    "find_services",
    "get_json",
    "iter_events",
    "jsonrpc_client_call",
    "read_token_option",
]

DEFAULT_TIMEOUT = 10.0
UNIX_SCHEME = "http+unix"
#: Seconds to wait for the next event line; the service sends a keep-alive
#: comment every 15 s, so a longer silence means it is gone.
EVENTS_TIMEOUT = 45.0


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The service never redirects; following one could hand the token to another host."""

    def redirect_request(
        self, req: Any, fp: Any, code: int, msg: str, headers: Any, newurl: str
    ) -> NoReturn:
        raise urllib.error.HTTPError(newurl, code, f"refused redirect to {newurl}", headers, fp)


class _UnixConnection(http.client.HTTPConnection):
    """HTTP over a Unix socket; the URL's host is the socket's percent-encoded path."""

    def __init__(self, host: str, **kwargs: Any) -> None:
        super().__init__("localhost", **kwargs)
        self.socket_path = urllib.parse.unquote(host)

    def connect(self) -> None:
        sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sock.settimeout(self.timeout)
        try:
            sock.connect(self.socket_path)
        except OSError:
            sock.close()
            raise
        self.sock = sock


class _UnixSocketHandler(urllib.request.AbstractHTTPHandler):
    """Opens ``http+unix://%2Fpath%2Fto%2Fsocket/resource`` URLs (requests-unixsocket's form)."""

    def unix_open(self, request: urllib.request.Request) -> Any:
        return self.do_open(_UnixConnection, request)

    def unix_request(self, request: urllib.request.Request) -> urllib.request.Request:
        # The socket path is no host name: say "localhost", which the service allows.
        request.add_unredirected_header("Host", "localhost")
        return self.do_request_(request)


setattr(_UnixSocketHandler, f"{UNIX_SCHEME}_open", _UnixSocketHandler.unix_open)
setattr(_UnixSocketHandler, f"{UNIX_SCHEME}_request", _UnixSocketHandler.unix_request)

# Loopback services must never be reached through an HTTP proxy from the environment.
_opener = urllib.request.build_opener(
    urllib.request.ProxyHandler({}), _NoRedirect(), _UnixSocketHandler()
)
_ids = itertools.count(1)


class WebServiceError(Exception):
    """The service answered with an HTTP error, or could not be reached."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


class ServiceNotFound(WebServiceError):
    """No running service was found in the discovery directory."""


class ServiceGone(WebServiceError):
    """The discovered URL is no longer served by the process of its discovery file.

    Raised before any token is sent: the process is gone (or restarted) and
    the port now belongs to another program, or to another service.
    """


class AmbiguousService(WebServiceError):
    """Several running services match, and nothing says which one to use.

    ``candidates`` holds their discovery information (``url``, ``pid``,
    ``started``; never shown with the token), newest first.
    """

    def __init__(self, message: str, candidates: list[dict[str, Any]]) -> None:
        super().__init__(message)
        self.candidates = candidates


def describe_service(info: dict[str, Any]) -> str:
    """``http://127.0.0.1:6080/ (pid 42)``: how messages name a discovered service."""
    pid = info.get("pid")
    return f"{info.get('url')} (pid {pid})" if pid is not None else str(info.get("url"))


def _open(
    url: str,
    *,
    token: str | None,
    body: bytes | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    headers: dict[str, str] | None = None,
) -> Any:
    all_headers = {"Accept": "application/json", **(headers or {})}
    if token:
        all_headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        all_headers["Content-Type"] = "application/json"
    request = urllib.request.Request(  # noqa: S310 (http URLs given by the user)
        url, data=body, headers=all_headers, method="POST" if body is not None else "GET"
    )
    try:
        return _opener.open(request, timeout=timeout)
    except urllib.error.HTTPError as exc:
        raise WebServiceError(_error_message(exc), status=exc.code) from None
    except (urllib.error.URLError, OSError) as exc:
        raise _unreachable(url, exc) from None


def _unreachable(url: str, exc: BaseException) -> WebServiceError:
    reason = getattr(exc, "reason", exc)
    return WebServiceError(f"cannot reach the web service at {url}: {reason}")


def _request(
    url: str, *, token: str | None, body: bytes | None = None, timeout: float = DEFAULT_TIMEOUT
) -> Any:
    with _open(url, token=token, body=body, timeout=timeout) as response:
        try:
            raw = response.read()
        except OSError as exc:
            raise _unreachable(url, exc) from None
        status = response.status
    if not raw:
        return None
    try:
        return json.loads(raw)
    except ValueError:
        # The service answered (``status``): this is no "cannot reach" error.
        raise WebServiceError(f"the answer from {url} is not JSON", status=status) from None


def _error_message(exc: urllib.error.HTTPError) -> str:
    try:
        payload = json.loads(exc.read())
        message = payload["error"]["message"]
    except (ValueError, KeyError, TypeError):
        message = exc.reason
    return f"HTTP {exc.code}: {message}"


def _join(base: str, path: str) -> str:
    """``base`` + ``path``; not ``urljoin``, which ignores schemes it does not know."""
    return (base if base.endswith("/") else base + "/") + path.lstrip("/")


def get_json(url: str, token: str | None = None, timeout: float = DEFAULT_TIMEOUT) -> Any:
    """``GET`` a JSON resource and return the decoded value."""
    return _request(url, token=token, timeout=timeout)


def jsonrpc_client_call(
    url: str,
    method: str,
    /,
    *args: Any,
    token: str | None = None,
    timeout: float = DEFAULT_TIMEOUT,
    **kwargs: Any,
) -> Any:
    """Call ``method`` of the JSON-RPC resource at ``url`` and return its result.

    Positional or named params, not both (JSON-RPC allows one form per call);
    ``url`` and ``method`` are positional only, so a param may be named
    ``method`` or ``url`` (``crawler/scheduler.enqueue`` has a ``method``).
    Raises :class:`JsonRpcError` when the service answers with an error.
    """
    if args and kwargs:
        raise TypeError("JSON-RPC takes positional or named params, not both")
    payload = {
        "jsonrpc": "2.0",
        "method": method,
        "params": kwargs or list(args),
        "id": next(_ids),
    }
    answer = _request(url, token=token, body=json.dumps(payload).encode(), timeout=timeout)
    if not isinstance(answer, dict):
        raise WebServiceError(f"unexpected JSON-RPC answer from {url}: {answer!r}")
    if "error" in answer:
        error = answer["error"] or {}
        raise JsonRpcError(error.get("code", 0), error.get("message"), error.get("data"))
    return answer.get("result")


@dataclass(frozen=True)
class ServerEvent:
    """One event of the ``/events`` stream."""

    id: int | None
    name: str
    data: dict[str, Any] = field(default_factory=dict)


def iter_events(
    url: str,
    token: str | None = None,
    *,
    spiders: Iterable[str] = (),
    names: Iterable[str] = (),
    level: str | None = None,
    last_event_id: int | None = None,
    timeout: float = EVENTS_TIMEOUT,
) -> Iterator[ServerEvent]:
    """The events of the service at ``url``, as they come, until it ends the stream.

    ``spiders`` and ``names`` filter on the server; ``level`` (``"INFO"``...)
    asks for ``log`` events from that level up (ERROR when not given);
    ``last_event_id`` asks for the kept events after it first (``0``: all
    that are kept).
    """
    query = {}
    if spiders:
        query["spider"] = ",".join(spiders)
    if names:
        query["events"] = ",".join(names)
    if level is not None:
        query["level"] = level
    full = _join(url, "events")
    if query:
        full += "?" + urllib.parse.urlencode(query)
    headers = {"Accept": "text/event-stream"}
    if last_event_id is not None:
        headers["Last-Event-ID"] = str(last_event_id)
    with _open(full, token=token, timeout=timeout, headers=headers) as response:
        try:
            yield from parse_event_stream(response)
        except OSError as exc:
            raise _unreachable(full, exc) from None


def parse_event_stream(lines: Iterable[bytes]) -> Iterator[ServerEvent]:
    """Server-Sent Events from the lines of a ``text/event-stream`` body."""
    event_id: int | None = None
    name = "message"
    data: list[str] = []
    for raw in lines:
        line = raw.decode("utf-8").rstrip("\r\n")
        if not line:
            if data:
                yield ServerEvent(event_id, name, json.loads("\n".join(data)))
            event_id, name, data = None, "message", []
            continue
        if line.startswith(":"):
            continue
        key, _, value = line.partition(":")
        value = value[1:] if value.startswith(" ") else value
        if key == "id":
            event_id = int(value) if value.isdigit() else None
        elif key == "event":
            name = value
        elif key == "data":
            data.append(value)


def find_services(directory: Path | None = None) -> list[dict[str, Any]]:
    """Running services of this user, newest first, from their discovery files.

    Files of processes that are gone are removed on the way.
    """
    return read_discovery_files(directory or default_discovery_dir())


def no_service_found(directory: Path | None = None, pid: int | None = None) -> ServiceNotFound:
    """The error for an empty discovery directory (or no service of ``pid`` there)."""
    where = directory or default_discovery_dir()
    whose = f" for process {pid}" if pid is not None else ""
    return ServiceNotFound(
        f"no running web service found{whose} in {where}; start a crawl with the web"
        " service on, or pass --url and --token"
    )


class WebServiceClient:
    """The service at ``url``, with its token: ``get(path)`` and ``call(path, method, ...)``.

    With ``pid``, the client first checks that ``GET /health`` (public, no
    token) answers that process id, and raises :class:`ServiceGone` before
    sending the token if it does not; :meth:`from_discovery` passes the pid
    of the discovery file.
    """

    def __init__(
        self,
        url: str,
        token: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        *,
        pid: int | None = None,
    ):
        self.url = url if url.endswith("/") else url + "/"
        self.token = token
        self.timeout = timeout
        #: The process the service must be (checked through ``/health``), or ``None``.
        self.pid = pid
        self._checked = pid is None

    @classmethod
    def from_discovery(
        cls,
        info: dict[str, Any],
        *,
        timeout: float = DEFAULT_TIMEOUT,
        token: str | None = None,
    ) -> WebServiceClient:
        """A client of the service that a discovery file describes (an item of
        :func:`find_services`); ``token`` replaces the file's (a read-only one, say)."""
        pid = info.get("pid")
        return cls(
            info["url"],
            token or info.get("token"),
            timeout,
            pid=pid if isinstance(pid, int) else None,
        )

    @classmethod
    def discover(
        cls,
        directory: Path | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        pid: int | None = None,
        token: str | None = None,
    ) -> WebServiceClient:
        """The running service of this user (or that of ``pid``), found without flags.

        Raises :class:`ServiceNotFound` when there is none, and
        :class:`AmbiguousService` when there are several and ``pid`` does not
        say which: never silently the newest.
        """
        services = find_services(directory)
        if pid is not None:
            services = [info for info in services if info.get("pid") == pid]
        if not services:
            raise no_service_found(directory, pid)
        if len(services) > 1:
            names = ", ".join(describe_service(info) for info in services)
            raise AmbiguousService(
                f"{len(services)} web services are running ({names}); say which by pid",
                services,
            )
        return cls.from_discovery(services[0], timeout=timeout, token=token)

    @property
    def name(self) -> str:
        """The URL, and the process when known: how messages name this service."""
        return describe_service({"url": self.url, "pid": self.pid})

    def check_identity(self) -> None:
        """Make sure the service is process :attr:`pid` before a token goes out.

        Done once per client, with a tokenless ``GET /health``. Raises
        :class:`ServiceGone` when another program (or another service)
        answers, and the usual unreachable :class:`WebServiceError` when
        nothing does.
        """
        if self._checked:
            return
        url = self.resource_url("health")
        try:
            health = _request(url, token=None, timeout=self.timeout)
        except WebServiceError as exc:
            if exc.status is None:
                raise
            health = f"HTTP {exc.status}"
        answered = health.get("pid") if isinstance(health, dict) else None
        if answered != self.pid:
            what = f"process {answered}" if answered is not None else f"{health!r}"[:80]
            raise ServiceGone(
                f"the web service of process {self.pid} is gone from {self.url}:"
                f" {url} answers {what}; the token was not sent (the crawl has ended,"
                " or pass --url and --token)"
            )
        self._checked = True

    def resource_url(self, path: str) -> str:
        return _join(self.url, path)

    def get(self, path: str = "") -> Any:
        self.check_identity()
        return get_json(self.resource_url(path), token=self.token, timeout=self.timeout)

    def get_raw(self, path: str = "") -> tuple[str, bytes]:
        """``GET`` any resource: its content type and body as they are (CSV, metrics...)."""
        self.check_identity()
        url = self.resource_url(path)
        headers = {"Accept": "*/*"}
        with _open(url, token=self.token, timeout=self.timeout, headers=headers) as response:
            try:
                body = response.read()
            except OSError as exc:
                raise _unreachable(url, exc) from None
            return response.headers.get("Content-Type", ""), body

    def events(self, **options: Any) -> Iterator[ServerEvent]:
        """The ``/events`` stream; see :func:`iter_events` for the options."""
        self.check_identity()
        return iter_events(self.url, self.token, **options)

    def call(self, path: str, method: str, /, *args: Any, **kwargs: Any) -> Any:
        self.check_identity()
        return jsonrpc_client_call(
            self.resource_url(path),
            method,
            *args,
            token=self.token,
            timeout=self.timeout,
            **kwargs,
        )


def read_token_option(option: str, path: str) -> str:
    """The token of a ``--token-file``-like option, by the service's own rules for its files."""
    try:
        return read_secret_file(option, path).reveal()
    except ValueError as exc:
        raise WebServiceError(str(exc)) from None


def client_from_options(options: argparse.Namespace) -> WebServiceClient:
    """The client that ``scrapy-ws``'s global options name, for command-line plugins.

    ``--url`` (or ``--host``/``--port``), ``--token`` (or ``--token-file``),
    ``--pid``, ``--timeout``: the same service ``scrapy-ws``'s own commands would
    talk to. Raises :class:`ServiceNotFound` when no service is found, and
    :class:`AmbiguousService` when several run and ``--pid`` does not pick one.
    """
    url = getattr(options, "url", None)
    host = getattr(options, "host", None)
    port = getattr(options, "port", None)
    token = getattr(options, "token", None)
    token_file = getattr(options, "token_file", None)
    if token_file and not token:
        token = read_token_option("--token-file", token_file)
    timeout = getattr(options, "timeout", None) or DEFAULT_TIMEOUT
    if url or host or port:
        path = getattr(options, "path", None)
        url = url or f"http://{host or '127.0.0.1'}:{port or 6080}/"
        url = url.rstrip("/") + "/" + (path.strip("/") + "/" if path else "")
        return WebServiceClient(url, token, timeout=timeout)
    return WebServiceClient.discover(
        timeout=timeout, pid=getattr(options, "pid", None), token=token
    )
