"""JSON-RPC 2.0 messages: the error codes, the error a method raises, an error response.

What the service, the client and the command line share of the protocol's
vocabulary; nothing here runs a call (:mod:`.dispatch` does).
"""

from __future__ import annotations

from typing import Any

__all__ = [
    "FORBIDDEN",
    "INTERNAL_ERROR",
    "INVALID_PARAMS",
    "INVALID_REQUEST",
    "METHOD_NOT_FOUND",
    "NOT_FOUND",
    "PARSE_ERROR",
    "SERVER_ERROR",
    "JsonRpcError",
    "error_response",
]

#: Standard error codes (section 5.1 of the specification).
PARSE_ERROR = -32700
INVALID_REQUEST = -32600
METHOD_NOT_FOUND = -32601
INVALID_PARAMS = -32602
INTERNAL_ERROR = -32603
#: Application errors of this project, in the reserved -32000..-32099 range.
SERVER_ERROR = -32000  #: an application error with no more specific code
NOT_FOUND = -32001  #: the named thing (a spider, a key) does not exist
FORBIDDEN = -32003  #: the caller's token may not call this method

MESSAGES = {
    PARSE_ERROR: "Parse error",
    INVALID_REQUEST: "Invalid Request",
    METHOD_NOT_FOUND: "Method not found",
    INVALID_PARAMS: "Invalid params",
    INTERNAL_ERROR: "Internal error",
}


class JsonRpcError(Exception):
    """An error that a JSON-RPC method raises to answer with a chosen code.

    Application code raises it with a code in ``-32000..-32099`` and a
    message meant for the caller; the client library raises the same class
    when a response carries an error, so both sides speak one type.
    """

    def __init__(self, code: int, message: str | None = None, data: Any = None) -> None:
        self.code = code
        self.message = message or MESSAGES.get(code, "Server error")
        self.data = data
        super().__init__(f"{self.message} ({self.code})")

    def to_dict(self) -> dict[str, Any]:
        error: dict[str, Any] = {"code": self.code, "message": self.message}
        if self.data is not None:
            error["data"] = self.data
        return error


def error_response(
    code: int, message: str | None = None, data: Any = None, id: Any = None
) -> dict[str, Any]:
    """A whole response object carrying an error, for errors raised outside a call."""
    return {"jsonrpc": "2.0", "error": JsonRpcError(code, message, data).to_dict(), "id": id}
