"""The errors of the public API, and the one place they become HTTP and JSON-RPC answers.

Resources and facades raise domain errors (``NoSuchSpider``); how each one
looks to a client (a JSON-RPC code, an HTTP status) is decided here, once,
for plain ``GET`` answers, ``GET`` of read-only methods and JSON-RPC calls
alike.
"""

from __future__ import annotations

from . import messages as jsonrpc

__all__ = [
    "AMBIGUOUS",
    "AmbiguousSpider",
    "HttpError",
    "NoSuchSpider",
    "WebServiceAPIError",
    "http_status",
    "rpc_error",
]


#: JSON-RPC code of a spider name that several running crawls share.
AMBIGUOUS = -32002


class HttpError(Exception):
    """Raise from ``render_GET`` to answer with an HTTP error and a JSON body."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


class WebServiceAPIError(Exception):
    """A request the API cannot serve; the message is meant for the client."""

    #: JSON-RPC code and HTTP status of this kind of error.
    code: int = jsonrpc.SERVER_ERROR
    status: int = 400

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NoSuchSpider(WebServiceAPIError, LookupError):
    """No running crawl has this spider name or crawl id."""

    code = jsonrpc.NOT_FOUND
    status = 404


class AmbiguousSpider(WebServiceAPIError, LookupError):
    """Several running crawls have this spider name: ask by crawl id."""

    code = AMBIGUOUS
    status = 409


#: HTTP status of the JSON-RPC errors that a ``GET`` may meet.
_RPC_STATUS = {
    jsonrpc.NOT_FOUND: 404,
    AMBIGUOUS: 409,
    jsonrpc.FORBIDDEN: 403,
    jsonrpc.INVALID_PARAMS: 400,
    jsonrpc.METHOD_NOT_FOUND: 404,
    jsonrpc.SERVER_ERROR: 400,
}


def rpc_error(exc: BaseException) -> jsonrpc.JsonRpcError | None:
    """The JSON-RPC error a domain exception answers; ``None`` for an unexpected one."""
    if isinstance(exc, jsonrpc.JsonRpcError):
        return exc
    if isinstance(exc, WebServiceAPIError):
        return jsonrpc.JsonRpcError(exc.code, exc.message)
    if isinstance(exc, HttpError):
        return jsonrpc.JsonRpcError(jsonrpc.SERVER_ERROR, exc.message)
    return None


def http_status(exc: BaseException) -> tuple[int, str] | None:
    """Status and message an exception answers over plain HTTP; ``None``: a 500."""
    if isinstance(exc, HttpError):
        return exc.status, exc.message
    if isinstance(exc, WebServiceAPIError):
        return exc.status, exc.message
    if isinstance(exc, jsonrpc.JsonRpcError) and exc.code in _RPC_STATUS:
        return _RPC_STATUS[exc.code], exc.message
    return None
