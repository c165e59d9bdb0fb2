"""The JSON-RPC 2.0 layer on its own: every example of section 7 of the spec, and more."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest

from scrapy_webservice.rpc import dispatch as jsonrpc
from scrapy_webservice.rpc import messages
from scrapy_webservice.rpc.dispatch import Method
from scrapy_webservice.rpc.messages import JsonRpcError


def subtract(minuend: int, subtrahend: int) -> int:
    return minuend - subtrahend


def update(*args: Any) -> None:
    pass


def foobar() -> None:
    pass


def notify_hello(*args: Any) -> None:
    pass


def get_data() -> list[Any]:
    return ["hello", 5]


def sum_(*args: int) -> int:
    return sum(args)


SPEC_METHODS = {
    "subtract": Method("subtract", subtract, readonly=True),
    "update": Method("update", update),
    "foobar": Method("foobar", foobar),
    "notify_hello": Method("notify_hello", notify_hello),
    "get_data": Method("get_data", get_data, readonly=True),
    "sum": Method("sum", sum_, readonly=True),
}


def run(coro: Any) -> Any:
    """Drive a coroutine that awaits nothing but bare yields (no event loop needed).

    pytest-twisted runs the asyncio loop for the reactor, so ``asyncio.run``
    is not available inside tests.
    """
    try:
        while True:
            coro.send(None)
    except StopIteration as stop:
        return stop.value


def call(body: str | bytes, methods: dict[str, Method] | None = None, **kwargs: Any) -> Any:
    text = run(jsonrpc.handle(body, methods or SPEC_METHODS, **kwargs))
    return None if text is None else json.loads(text)


# --- section 7, one example each --------------------------------------------


def test_positional_parameters():
    assert call('{"jsonrpc": "2.0", "method": "subtract", "params": [42, 23], "id": 1}') == {
        "jsonrpc": "2.0",
        "result": 19,
        "id": 1,
    }
    assert call('{"jsonrpc": "2.0", "method": "subtract", "params": [23, 42], "id": 2}') == {
        "jsonrpc": "2.0",
        "result": -19,
        "id": 2,
    }


def test_named_parameters():
    body = (
        '{"jsonrpc": "2.0", "method": "subtract",'
        ' "params": {"subtrahend": 23, "minuend": 42}, "id": 3}'
    )
    assert call(body) == {"jsonrpc": "2.0", "result": 19, "id": 3}
    body = (
        '{"jsonrpc": "2.0", "method": "subtract",'
        ' "params": {"minuend": 42, "subtrahend": 23}, "id": 4}'
    )
    assert call(body) == {"jsonrpc": "2.0", "result": 19, "id": 4}


def test_notifications_get_no_answer():
    assert call('{"jsonrpc": "2.0", "method": "update", "params": [1,2,3,4,5]}') is None
    assert call('{"jsonrpc": "2.0", "method": "foobar"}') is None


def test_non_existent_method():
    assert call('{"jsonrpc": "2.0", "method": "foobaz", "id": "1"}') == {
        "jsonrpc": "2.0",
        "error": {"code": -32601, "message": "Method not found: 'foobaz'"},
        "id": "1",
    }


def test_invalid_json():
    answer = call('{"jsonrpc": "2.0", "method": "foobar, "params": "bar", "baz]')
    assert answer["error"]["code"] == -32700
    assert answer["id"] is None


def test_invalid_request_object():
    answer = call('{"jsonrpc": "2.0", "method": 1, "params": "bar"}')
    assert answer["error"]["code"] == -32600
    assert answer["id"] is None


def test_batch_invalid_json():
    answer = call(
        '[{"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},'
        '{"jsonrpc": "2.0", "method"]'
    )
    assert answer["error"]["code"] == -32700
    assert answer["id"] is None


def test_empty_array():
    answer = call("[]")
    assert answer["error"]["code"] == -32600
    assert answer["id"] is None


def test_invalid_batch_but_not_empty():
    answer = call("[1]")
    assert isinstance(answer, list)
    assert len(answer) == 1
    assert answer[0]["error"]["code"] == -32600
    assert answer[0]["id"] is None


def test_invalid_batch():
    answer = call("[1,2,3]")
    assert [a["error"]["code"] for a in answer] == [-32600] * 3
    assert all(a["id"] is None for a in answer)


def test_batch():
    answer = call(
        """[
        {"jsonrpc": "2.0", "method": "sum", "params": [1,2,4], "id": "1"},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]},
        {"jsonrpc": "2.0", "method": "subtract", "params": [42,23], "id": "2"},
        {"foo": "boo"},
        {"jsonrpc": "2.0", "method": "foo.get", "params": {"name": "myself"}, "id": "5"},
        {"jsonrpc": "2.0", "method": "get_data", "id": "9"}
    ]"""
    )
    by_id = {a["id"]: a for a in answer}
    assert len(answer) == 5
    assert by_id["1"]["result"] == 7
    assert by_id["2"]["result"] == 19
    assert by_id[None]["error"]["code"] == -32600
    assert by_id["5"]["error"]["code"] == -32601
    assert by_id["9"]["result"] == ["hello", 5]


def test_batch_all_notifications():
    body = """[
        {"jsonrpc": "2.0", "method": "notify_sum", "params": [1,2,4]},
        {"jsonrpc": "2.0", "method": "notify_hello", "params": [7]}
    ]"""
    assert call(body) is None


# --- beyond the examples ------------------------------------------------------


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ([1], "missing a required argument"),
        ([1, 2, 3], "too many positional arguments"),
        ({"minuend": 1, "subtrahend": 2, "nope": 3}, "unexpected keyword argument"),
        (["a", 2], "'minuend' must be an integer, got a string"),
        ([True, 2], "'minuend' must be an integer, got a boolean"),
    ],
)
def test_invalid_params_are_checked_before_the_call(params, fragment):
    called = []

    def strict(minuend: int, subtrahend: int) -> int:
        called.append(True)
        return minuend - subtrahend

    answer = call(
        json.dumps({"jsonrpc": "2.0", "method": "m", "params": params, "id": 7}),
        {"m": Method("m", strict)},
    )
    assert answer["error"]["code"] == -32602
    assert fragment in answer["error"]["message"]
    assert called == []


def test_params_must_be_array_or_object():
    answer = call('{"jsonrpc": "2.0", "method": "sum", "params": 3, "id": 1}')
    assert answer["error"]["code"] == -32600


@pytest.mark.parametrize("request_id", [True, [1], {"a": 1}])
def test_invalid_ids_are_refused(request_id):
    answer = call(json.dumps({"jsonrpc": "2.0", "method": "sum", "id": request_id}))
    assert answer["error"]["code"] == -32600
    assert answer["id"] is None


def test_wrong_version_is_invalid():
    answer = call('{"jsonrpc": "1.0", "method": "sum", "id": 1}')
    assert answer["error"]["code"] == -32600
    assert answer["id"] == 1


def test_null_id_is_a_call_not_a_notification():
    assert call('{"jsonrpc": "2.0", "method": "sum", "params": [1], "id": null}') == {
        "jsonrpc": "2.0",
        "result": 1,
        "id": None,
    }


def test_application_error_keeps_its_code_and_data():
    def lookup(name: str) -> None:
        raise JsonRpcError(messages.NOT_FOUND, f"No spider {name}", {"name": name})

    answer = call(
        '{"jsonrpc": "2.0", "method": "lookup", "params": ["x"], "id": 1}',
        {"lookup": Method("lookup", lookup)},
    )
    assert answer["error"] == {"code": -32001, "message": "No spider x", "data": {"name": "x"}}


def test_internal_error_hides_the_traceback_unless_debug(caplog):
    def broken() -> None:
        raise KeyError("secret detail")

    methods = {"broken": Method("broken", broken)}
    body = '{"jsonrpc": "2.0", "method": "broken", "id": 1}'
    answer = call(body, methods)
    assert answer["error"]["code"] == -32603
    assert "data" not in answer["error"]
    assert "secret detail" not in json.dumps(answer)
    assert "secret detail" in caplog.text  # but the server logs it
    debug_answer = call(body, methods, debug=True)
    assert "Traceback" in debug_answer["error"]["data"]


def test_result_that_is_not_json_is_an_internal_error():
    answer = call(
        '{"jsonrpc": "2.0", "method": "obj", "id": 1}', {"obj": Method("obj", lambda: object())}
    )
    assert answer["error"]["code"] == -32603


def test_coroutine_methods_are_awaited():
    async def later(x: int) -> int:
        await asyncio.sleep(0)
        return x * 2

    answer = call(
        '{"jsonrpc": "2.0", "method": "later", "params": [21], "id": 1}',
        {"later": Method("later", later)},
    )
    assert answer["result"] == 42


def test_batch_limit():
    body = json.dumps([{"jsonrpc": "2.0", "method": "sum", "id": i} for i in range(5)])
    answer = call(body, max_batch_size=4)
    assert answer["error"]["code"] == -32600
    assert "limit of 4" in answer["error"]["message"]
    assert len(call(body, max_batch_size=5)) == 5


def test_control_methods_need_control_access_and_are_audited():
    audited = []
    body = '{"jsonrpc": "2.0", "method": "update", "params": [1], "id": 1}'
    denied = call(body, allow_control=False, audit=lambda m, p: audited.append(m.name))
    assert denied["error"]["code"] == messages.FORBIDDEN
    assert audited == []
    allowed = call(body, audit=lambda m, p: audited.append((m.name, p)))
    assert allowed["result"] is None
    assert audited == [("update", [1])]
    readonly_ok = call(
        '{"jsonrpc": "2.0", "method": "sum", "params": [1], "id": 1}', allow_control=False
    )
    assert readonly_ok["result"] == 1


@pytest.mark.parametrize(
    "body",
    [b"\xff\xfe\x00garbage", b"[" * 100000 + b"]" * 100000, b"1" * 5000, b""],
)
def test_hostile_bodies_are_parse_errors(body):
    answer = call(body)
    assert answer["error"]["code"] == -32700


def test_rpc_discover_describes_methods_as_openrpc():
    def stop(spider: str, reason: str = "closed") -> dict[str, Any]:
        """Stop a spider.

        More words."""
        return {}

    answer = call(
        '{"jsonrpc": "2.0", "method": "rpc.discover", "id": 1}',
        {"stop": Method("stop", stop), "subtract": SPEC_METHODS["subtract"]},
        title="crawler/engine",
    )
    doc = answer["result"]
    assert doc["openrpc"].startswith("1.")
    assert doc["info"]["title"] == "crawler/engine"
    stop_doc, subtract_doc = doc["methods"]
    assert stop_doc["name"] == "stop"
    assert stop_doc["summary"] == "Stop a spider."
    assert stop_doc["x-readonly"] is False
    assert stop_doc["params"] == [
        {"name": "spider", "required": True, "schema": {"type": "string"}},
        {"name": "reason", "required": False, "schema": {"type": "string", "default": "closed"}},
    ]
    assert subtract_doc["x-readonly"] is True
    assert subtract_doc["result"]["schema"] == {"type": "integer"}


def test_module_is_pure():
    """The protocol must not import Twisted or Scrapy (it is read and tested alone)."""
    import ast
    import inspect

    tree = ast.parse(inspect.getsource(jsonrpc))
    imported = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            imported.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            imported.add(node.module.split(".")[0])
    assert not imported & {"twisted", "scrapy", "scrapy_webservice"}


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_non_json_constants_are_parse_errors(constant):
    answer = call(f'{{"jsonrpc": "2.0", "method": "sum", "params": [{constant}], "id": 1}}')
    assert answer["error"]["code"] == -32700


def test_read_only_caller_gets_forbidden_before_params_are_checked():
    answer = call(
        '{"jsonrpc": "2.0", "method": "subtract_control", "params": ["x"], "id": 1}',
        {"subtract_control": Method("subtract_control", subtract)},
        allow_control=False,
    )
    assert answer["error"]["code"] == messages.FORBIDDEN


def test_a_failing_method_lookup_fails_only_its_own_call():
    class Exploding(dict):
        def get(self, name, default=None):
            if name == "boom":
                raise RuntimeError("descriptor failed")
            return super().get(name, default)

    answer = call(
        '[{"jsonrpc": "2.0", "method": "boom", "id": 1},'
        ' {"jsonrpc": "2.0", "method": "sum", "params": [2], "id": 2}]',
        Exploding(SPEC_METHODS),
    )
    assert answer[0]["error"]["code"] == -32603
    assert answer[1]["result"] == 2


def test_rpc_discover_says_null_for_none_results():
    def nothing() -> None:
        """Returns nothing."""

    [method] = jsonrpc.discover([Method("nothing", nothing)], title="t")["methods"]
    assert method["result"]["schema"] == {"type": "null"}
