"""Property-based tests of the JSON-RPC layer: whatever arrives, a well-formed answer.

Random bytes, random JSON, deep nesting, huge numbers, wrong types and
almost-valid requests all get either no answer (notifications only) or
JSON-RPC 2.0 responses with a known error code; nothing raises, nothing
leaks a traceback, and the read-only caller never reaches a control method.
"""

from __future__ import annotations

import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from scrapy_webservice.rpc import dispatch as jsonrpc
from scrapy_webservice.rpc import messages
from scrapy_webservice.rpc.dispatch import Method

from .test_jsonrpc import run

CONTROL_CALLS: list[Any] = []


def add(a: int, b: int = 0) -> int:
    return a + b


def echo(value: Any) -> Any:
    return value


def boom() -> None:
    raise RuntimeError("secret internals")


def stop(spider: str) -> str:
    CONTROL_CALLS.append(spider)
    return spider


METHODS = {
    "add": Method("add", add, readonly=True),
    "echo": Method("echo", echo, readonly=True),
    "boom": Method("boom", boom, readonly=True),
    "stop": Method("stop", stop, readonly=False),
}
CODES = {
    messages.PARSE_ERROR,
    messages.INVALID_REQUEST,
    messages.METHOD_NOT_FOUND,
    messages.INVALID_PARAMS,
    messages.INTERNAL_ERROR,
    messages.FORBIDDEN,
}
FUZZ = settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**40), max_value=10**40)
    | st.floats(allow_nan=False)
    | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=5)
        | st.dictionaries(st.text(max_size=10), children, max_size=5)
    ),
    max_leaves=30,
)
requests = st.fixed_dictionaries(
    {},
    optional={
        "jsonrpc": st.sampled_from(["2.0", "1.0", 2.0, None]) | json_values,
        "method": st.sampled_from([*METHODS, "rpc.discover", "nope", "__class__", "_x"])
        | json_values,
        "params": st.lists(json_values, max_size=3)
        | st.dictionaries(st.sampled_from(["a", "b", "value", "spider", "x"]), json_values)
        | json_values,
        "id": st.integers() | st.text(max_size=8) | st.none() | json_values,
    },
)
bodies = (
    st.binary(max_size=300)
    | st.text(max_size=300).map(str.encode)
    | json_values.map(lambda v: json.dumps(v).encode())
    | requests.map(lambda r: json.dumps(r).encode())
    | st.lists(requests, max_size=8).map(lambda r: json.dumps(r).encode())
    | st.integers(min_value=1, max_value=50_000).map(lambda n: b"[" * n + b"]" * n)
    | st.integers(min_value=1, max_value=50_000).map(lambda n: b'{"a":' * n + b"1" + b"}" * n)
)


def check_response(response: Any) -> None:
    assert isinstance(response, dict), response
    assert response["jsonrpc"] == "2.0"
    assert "id" in response
    assert ("result" in response) != ("error" in response), response
    if "error" in response:
        error = response["error"]
        assert error["code"] in CODES, error
        assert isinstance(error["message"], str)
        assert "Traceback" not in json.dumps(error)
        assert "secret internals" not in json.dumps(error)


@FUZZ
@given(body=bodies)
def test_any_body_gets_well_formed_answers_and_never_raises(body):
    CONTROL_CALLS.clear()
    text = run(jsonrpc.handle(body, METHODS, title="fuzz", allow_control=False, max_batch_size=5))
    assert CONTROL_CALLS == [], "a read-only caller reached a control method"
    if text is None:
        return  # only notifications: no answer, as the spec says
    answer = json.loads(text)
    if isinstance(answer, list):
        assert answer, "an empty batch answer is never sent"
        for response in answer:
            check_response(response)
    else:
        check_response(answer)


@FUZZ
@given(
    a=st.integers(min_value=-(10**40), max_value=10**40),
    b=st.integers() | st.floats(allow_nan=False, allow_infinity=False),
)
def test_valid_calls_get_their_result_or_invalid_params(a, b):
    body = json.dumps({"jsonrpc": "2.0", "method": "add", "params": [a, b], "id": 1})
    answer = json.loads(run(jsonrpc.handle(body, METHODS, title="fuzz")))
    if isinstance(b, int):
        assert answer["result"] == a + b
    else:
        assert answer["error"]["code"] == messages.INVALID_PARAMS
