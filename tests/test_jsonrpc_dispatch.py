"""The Dispatcher: params checked against what ``rpc.discover`` advertises, and the fast path.

The schemas of ``rpc.discover`` and the checks made before a call come from
one walk over the annotations; the property tests below hold a real JSON
Schema validator to that: for generated annotations and generated JSON
values, it and the dispatcher accept exactly the same values.
"""

from __future__ import annotations

import asyncio
import functools
import inspect
import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Annotated, Any, Literal, NewType, Optional, TypedDict, Union

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from jsonschema import Draft7Validator, Draft202012Validator, ValidationError, validators

from scrapy_webservice.rpc import dispatch as jsonrpc
from scrapy_webservice.rpc import messages
from scrapy_webservice.rpc.dispatch import Dispatcher, Method
from scrapy_webservice.rpc.messages import JsonRpcError

from .test_jsonrpc import run

if TYPE_CHECKING:
    from decimal import Decimal  # only for type checkers: not resolvable at run time


def request(method: str, params: Any = None, id: Any = 1) -> str:
    body: dict[str, Any] = {"jsonrpc": "2.0", "method": method, "id": id}
    if params is not None:
        body["params"] = params
    return json.dumps(body)


def answer_of(dispatcher: Dispatcher, body: str, **kwargs: Any) -> Any:
    text = dispatcher.handle(body, **kwargs)
    if inspect.isawaitable(text):
        text = run(text)
    return None if text is None else json.loads(text)


def invalid_params(func: Any, params: Any) -> str:
    """The -32602 message for calling ``func`` with ``params``; the call must not happen."""
    called = []

    @functools.wraps(func)  # the signature and annotations of func
    def spy(*args: Any, **kwargs: Any) -> None:
        called.append(True)

    answer = answer_of(Dispatcher([Method("m", spy)]), request("m", params))
    assert answer["error"]["code"] == messages.INVALID_PARAMS, answer
    assert called == []
    return answer["error"]["message"]


def schema_of(func: Any, name: str) -> dict[str, Any]:
    [method] = Dispatcher([Method("m", func)]).describe()["methods"]
    return {p["name"]: p["schema"] for p in method["params"]}[name]


# -- the issue's example and its kin -----------------------------------------------


def total(values: list[int]) -> int:
    return sum(values)


def test_list_items_are_checked_with_the_path_to_the_wrong_one():
    assert schema_of(total, "values") == {"type": "array", "items": {"type": "integer"}}
    assert invalid_params(total, [["a", {}]]) == (
        "Invalid params: 'values'[0] must be an integer, got a string"
    )
    assert invalid_params(total, {"values": [1, 2, {}]}) == (
        "Invalid params: 'values'[2] must be an integer, got an object"
    )
    answer = answer_of(Dispatcher([Method("total", total)]), request("total", [[1, 2, 3]]))
    assert answer["result"] == 6


def rows(table: list[dict[str, int]]) -> None:
    pass


def test_nested_lists_of_objects():
    assert schema_of(rows, "table") == {
        "type": "array",
        "items": {"type": "object", "additionalProperties": {"type": "integer"}},
    }
    assert invalid_params(rows, [[{"a": 1}, {"b": 2, "c": "3"}]]) == (
        "Invalid params: 'table'[1]['c'] must be an integer, got a string"
    )
    assert invalid_params(rows, [[{"a": 1}, []]]) == (
        "Invalid params: 'table'[1] must be an object, got an array"
    )


def maybe(limit: Optional[int] = None, name: str | None = None) -> None:  # noqa: UP045
    pass


def test_optional():
    assert schema_of(maybe, "limit") == {
        "anyOf": [{"type": "integer"}, {"type": "null"}],
        "default": None,
    }
    assert invalid_params(maybe, ["3"]) == (
        "Invalid params: 'limit' must be an integer or null, got a string"
    )
    assert invalid_params(maybe, {"name": 3}) == (
        "Invalid params: 'name' must be a string or null, got an integer"
    )
    dispatcher = Dispatcher([Method("maybe", maybe)])
    for params in ([None, None], [3, "x"], {"name": None}, []):
        assert answer_of(dispatcher, request("maybe", params)) == {
            "jsonrpc": "2.0",
            "result": None,
            "id": 1,
        }


def speed(mode: Literal["fast", "slow"], exact: Literal[True] = True) -> None:
    pass


def test_literal():
    assert schema_of(speed, "mode") == {"enum": ["fast", "slow"]}
    assert schema_of(speed, "exact") == {"const": True, "default": True}
    assert invalid_params(speed, ["medium"]) == (
        'Invalid params: \'mode\' must be one of "fast", "slow", got "medium"'
    )
    assert invalid_params(speed, [["fast"]]) == (
        'Invalid params: \'mode\' must be one of "fast", "slow", got an array'
    )
    assert invalid_params(speed, ["fast", 1]) == "Invalid params: 'exact' must be true, got 1"


def numbers(count: int, ratio: float, flags: list[int]) -> None:
    pass


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ([True, 1.5, []], "'count' must be an integer, got a boolean"),
        ([1, False, []], "'ratio' must be a number, got a boolean"),
        ([1, 1, [1, True]], "'flags'[1] must be an integer, got a boolean"),
        ([1.0, 1, []], "'count' must be an integer, got a number"),
    ],
)
def test_a_boolean_is_not_a_number(params, message):
    assert invalid_params(numbers, params) == f"Invalid params: {message}"


def test_a_float_param_takes_an_integer():
    dispatcher = Dispatcher([Method("numbers", numbers)])
    assert answer_of(dispatcher, request("numbers", [1, 2, [3]]))["result"] is None


class Point(TypedDict):
    x: int
    y: float


class Shape(TypedDict, total=False):
    name: str
    points: list[Point]


def draw(shape: Shape) -> None:
    pass


def test_typeddict():
    assert schema_of(draw, "shape") == {
        "type": "object",
        "title": "Shape",
        "properties": {
            "name": {"type": "string"},
            "points": {
                "type": "array",
                "items": {
                    "type": "object",
                    "title": "Point",
                    "properties": {"x": {"type": "integer"}, "y": {"type": "number"}},
                    "additionalProperties": False,
                    "required": ["x", "y"],
                },
            },
        },
        "additionalProperties": False,
    }
    assert invalid_params(draw, [{"points": [{"x": 1, "y": 2}, {"x": 1}]}]) == (
        "Invalid params: 'shape'['points'][1] is missing the key 'y'"
    )
    assert invalid_params(draw, [{"name": "a", "colour": "red"}]) == (
        "Invalid params: 'shape' has an unexpected key 'colour'"
    )
    assert invalid_params(draw, [{"points": [{"x": 1, "y": "2"}]}]) == (
        "Invalid params: 'shape'['points'][0]['y'] must be a number, got a string"
    )


Meters = NewType("Meters", float)


def shapes(
    pair: tuple[int, int],
    many: tuple[str, ...],
    mixed: tuple[int, str],
    items: Sequence[int],
    table: Mapping[str, bool],
    length: Annotated[Meters, "a length"],
) -> None:
    pass


def test_tuples_abstract_types_annotated_and_newtype():
    assert schema_of(shapes, "pair") == {
        "type": "array",
        "items": {"type": "integer"},
        "minItems": 2,
        "maxItems": 2,
    }
    assert schema_of(shapes, "many") == {"type": "array", "items": {"type": "string"}}
    # Describing tuple[int, str] needs keywords that differ between JSON Schema drafts.
    assert schema_of(shapes, "mixed") == {}
    assert schema_of(shapes, "items") == {"type": "array", "items": {"type": "integer"}}
    assert schema_of(shapes, "table") == {
        "type": "object",
        "additionalProperties": {"type": "boolean"},
    }
    assert schema_of(shapes, "length") == {"type": "number"}
    good = [[1, 2], ["a"], "anything", [1], {"a": True}, 2.5]
    assert answer_of(Dispatcher([Method("m", shapes)]), request("m", good))["result"] is None
    for index, value, message in [
        (0, [1, 2, 3], "'pair' must be an array of 2 items, got 3"),
        (1, ["a", 1], "'many'[1] must be a string, got an integer"),
        (3, "12", "'items' must be an array, got a string"),
        (4, {"a": 1}, "'table'['a'] must be a boolean, got an integer"),
        (5, "far", "'length' must be a number, got a string"),
    ]:
        params = list(good)
        params[index] = value
        assert invalid_params(shapes, params) == f"Invalid params: {message}"


class Opaque:
    pass


def unknown(a: Opaque, b: set[int], c: bytes, d: Any, e, f: dict[int, str]) -> Opaque:
    return Opaque()


def test_what_is_not_understood_is_described_as_anything_and_not_checked():
    [method] = Dispatcher([Method("m", unknown)]).describe()["methods"]
    assert [p["schema"] for p in method["params"]] == [{}, {}, {}, {}, {}, {"type": "object"}]
    assert method["result"]["schema"] == {}
    dispatcher = Dispatcher([Method("m", unknown)])
    dispatcher.validate("m", [[1], "x", None, {"a": [1]}, 3.5, {"1": 1}])
    with pytest.raises(JsonRpcError, match=r"'f' must be an object, got an array"):
        dispatcher.validate("m", [1, 2, 3, 4, 5, []])


def half_known(count: int, amount: Decimal, label: str = "x") -> None:
    pass


def test_an_annotation_that_cannot_be_evaluated_loses_only_its_own_check():
    # Under "from __future__ import annotations" (this module) every annotation
    # is a string; Decimal is only imported for type checkers.
    [method] = Dispatcher([Method("m", half_known)]).describe()["methods"]
    assert [p["schema"] for p in method["params"]] == [
        {"type": "integer"},
        {},
        {"type": "string", "default": "x"},
    ]
    assert invalid_params(half_known, [1, "anything", 2]) == (
        "Invalid params: 'label' must be a string, got an integer"
    )


# -- the Dispatcher's API ------------------------------------------------------------


class Target:
    def __init__(self) -> None:
        self.calls: list[str] = []

    def ping(self, name: str) -> str:
        """Answer at once."""
        self.calls.append(f"ping {name}")
        return name

    async def later(self, name: str) -> str:
        """Answer after a yield to the event loop."""
        await asyncio.sleep(0)
        self.calls.append(f"later {name}")
        return name.upper()


def table(target: Target) -> dict[str, Method]:
    return {
        "ping": Method("ping", target.ping, readonly=True),
        "later": Method("later", target.later, readonly=True),
    }


def test_a_synchronous_method_is_answered_without_a_coroutine():
    dispatcher = Dispatcher(table(Target()))
    text = dispatcher.handle(request("ping", ["x"]))
    assert isinstance(text, str)
    assert json.loads(text) == {"jsonrpc": "2.0", "result": "x", "id": 1}
    batch = json.dumps([json.loads(request("ping", ["a"], id=i)) for i in range(3)])
    assert isinstance(dispatcher.handle(batch), str)
    errors = dispatcher.handle(request("ping", [1]))
    assert isinstance(errors, str)
    assert (
        dispatcher.handle(json.dumps({"jsonrpc": "2.0", "method": "ping", "params": ["n"]}))
        is None
    )


def test_a_coroutine_method_makes_the_answer_awaitable():
    dispatcher = Dispatcher(table(Target()))
    pending = dispatcher.handle(request("later", ["x"]))
    assert inspect.isawaitable(pending)
    assert json.loads(run(pending)) == {"jsonrpc": "2.0", "result": "X", "id": 1}


def test_a_batch_runs_in_order_when_one_call_has_to_be_awaited():
    target = Target()
    dispatcher = Dispatcher(table(target))
    body = json.dumps(
        [
            json.loads(request("ping", ["a"], id=1)),
            json.loads(request("later", ["b"], id=2)),
            {"jsonrpc": "2.0", "method": "later", "params": ["c"]},
            json.loads(request("ping", [3], id=4)),
            json.loads(request("ping", ["d"], id=5)),
        ]
    )
    pending = dispatcher.handle(body)
    assert inspect.isawaitable(pending)
    assert target.calls == ["ping a"]  # the rest waits for "later b"
    answers = json.loads(run(pending))
    assert target.calls == ["ping a", "later b", "later c", "ping d"]
    assert [(a["id"], a.get("result"), a.get("error", {}).get("code")) for a in answers] == [
        (1, "a", None),
        (2, "B", None),
        (4, None, messages.INVALID_PARAMS),
        (5, "d", None),
    ]


def test_adapt_result_may_make_a_result_awaitable():
    async def wrapped(value: Any) -> Any:
        return {"adapted": value}

    dispatcher = Dispatcher(table(Target()))
    pending = dispatcher.handle(request("ping", ["x"]), adapt_result=wrapped)
    assert inspect.isawaitable(pending)
    assert json.loads(run(pending))["result"] == {"adapted": "x"}


class NoSuchThing(LookupError):
    pass


def map_no_such_thing(exc: Exception) -> JsonRpcError | None:
    if isinstance(exc, NoSuchThing):
        return JsonRpcError(messages.NOT_FOUND, f"No such thing: {exc.args[0]}")
    return None


def test_map_error_turns_domain_errors_into_json_rpc_errors(caplog):
    def find(name: str) -> None:
        raise NoSuchThing(name)

    async def find_later(name: str) -> None:
        raise NoSuchThing(name)

    def broken() -> None:
        raise ValueError("secret internals")

    def already(name: str) -> None:
        raise JsonRpcError(messages.SERVER_ERROR, "kept as raised")

    dispatcher = Dispatcher(
        [
            Method("find", find),
            Method("find_later", find_later),
            Method("broken", broken),
            Method("already", already),
        ]
    )
    for name in ("find", "find_later"):
        answer = answer_of(dispatcher, request(name, ["x"]), map_error=map_no_such_thing)
        assert answer["error"] == {"code": messages.NOT_FOUND, "message": "No such thing: x"}
    unmapped = answer_of(dispatcher, request("broken"), map_error=map_no_such_thing)
    assert unmapped["error"] == {"code": -32603, "message": "Internal error: ValueError"}
    assert "secret internals" in caplog.text
    seen: list[Exception] = []

    def record(exc: Exception) -> None:
        seen.append(exc)

    kept = answer_of(dispatcher, request("already", ["x"]), map_error=record)
    assert kept["error"] == {"code": messages.SERVER_ERROR, "message": "kept as raised"}
    assert seen == []  # a JsonRpcError needs no mapping

    def failing_map(exc: Exception) -> None:
        raise RuntimeError("the mapper broke")

    answer = answer_of(dispatcher, request("find", ["x"]), map_error=failing_map)
    assert answer["error"]["code"] == messages.INTERNAL_ERROR
    assert answer["error"]["message"] == "Internal error: NoSuchThing"


def test_validate():
    dispatcher = Dispatcher([Method("total", total)])
    dispatcher.validate("total", [[1, 2]])
    dispatcher.validate(dispatcher.methods["total"], (), {"values": []})
    with pytest.raises(JsonRpcError) as excinfo:
        dispatcher.validate("total", [["a"]])
    assert excinfo.value.code == messages.INVALID_PARAMS
    assert excinfo.value.message == "Invalid params: 'values'[0] must be an integer, got a string"
    with pytest.raises(JsonRpcError, match="missing a required argument: 'values'"):
        dispatcher.validate("total")
    with pytest.raises(JsonRpcError) as excinfo:
        dispatcher.validate("nope", [])
    assert excinfo.value.code == messages.METHOD_NOT_FOUND
    dispatcher.validate("rpc.discover")


def test_describe_is_built_once_and_is_what_rpc_discover_answers():
    dispatcher = Dispatcher(iter([Method("total", total), Method("rows", rows)]), title="t")
    document = dispatcher.describe()
    assert dispatcher.describe() is document
    assert document == jsonrpc.discover(
        [Method("total", total), Method("rows", rows)], title="t", version="0"
    )
    assert [m["name"] for m in document["methods"]] == ["rows", "total"]
    assert answer_of(dispatcher, request("rpc.discover"))["result"] == document


def test_a_mapping_is_looked_up_by_name_not_listed():
    class Lazy(Mapping[str, Method]):
        def __getitem__(self, name: str) -> Method:
            if name != "total":
                raise KeyError(name)
            return Method("total", total, readonly=True)

        def __iter__(self) -> Any:
            raise AssertionError("a call must not list the methods")

        def __len__(self) -> int:
            raise AssertionError("a call must not count the methods")

    dispatcher = Dispatcher(Lazy())
    assert answer_of(dispatcher, request("total", [[1]]))["result"] == 1
    assert answer_of(dispatcher, request("other"))["error"]["code"] == messages.METHOD_NOT_FOUND


def test_signatures_are_compiled_once_per_function(monkeypatch):
    dispatcher = Dispatcher(table(Target()))
    assert answer_of(dispatcher, request("ping", ["warm"]))["result"] == "warm"
    calls: list[Any] = []
    signature = inspect.signature

    def counting(*args: Any, **kwargs: Any) -> inspect.Signature:
        calls.append(args)
        return signature(*args, **kwargs)

    monkeypatch.setattr(inspect, "signature", counting)
    # A new target, as a resource makes for each request: new bound methods.
    fresh = Dispatcher(table(Target()))
    assert answer_of(fresh, request("ping", ["x"]))["result"] == "x"
    assert answer_of(fresh, request("ping", [1]))["error"]["code"] == messages.INVALID_PARAMS
    assert calls == []


def test_a_failing_audit_stops_the_call():
    target = Target()
    dispatcher = Dispatcher([Method("ping", target.ping)])

    def audit(method: Method, params: Any) -> None:
        raise OSError("log disk full")

    answer = answer_of(dispatcher, request("ping", ["x"]), audit=audit)
    assert answer["error"] == {"code": -32603, "message": "Internal error: OSError"}
    assert target.calls == []


def test_an_error_whose_data_is_not_json_is_still_answered():
    def odd() -> None:
        raise JsonRpcError(messages.SERVER_ERROR, "odd", data=object())

    answer = answer_of(Dispatcher([Method("odd", odd)]), request("odd"))
    assert answer["error"]["code"] == messages.INTERNAL_ERROR
    assert answer["id"] == 1


def test_module_level_handle_is_still_a_coroutine():
    coroutine = jsonrpc.handle(request("total", [[2]]), {"total": Method("total", total)})
    assert inspect.iscoroutine(coroutine)
    assert json.loads(run(coroutine))["result"] == 2


# -- properties ------------------------------------------------------------------------

PROPERTIES = settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.sampled_from([0, 1, 1.0, 0.0, "a", "b", "", True, False])
    | st.text(max_size=4),
    lambda children: (
        st.lists(children, max_size=4)
        | st.dictionaries(
            st.sampled_from(["x", "y", "z"]) | st.text(max_size=3), children, max_size=4
        )
    ),
    max_leaves=12,
)
finite_floats = st.floats(allow_nan=False, allow_infinity=False)

#: (annotation, a strategy of JSON values that it accepts)
leaves = st.sampled_from(
    [
        (str, st.text(max_size=4)),
        (int, st.integers()),
        (float, finite_floats | st.integers()),
        (bool, st.booleans()),
        (type(None), st.none()),
        (None, st.none()),
        (Any, json_values),
        (bytes, json_values),  # not understood: anything goes
        (list, st.lists(json_values, max_size=3)),
        (dict, st.dictionaries(st.text(max_size=3), json_values, max_size=3)),
    ]
) | st.lists(
    st.sampled_from(["a", "b", "", 0, 1, True, False, None]),
    min_size=1,
    max_size=3,
    unique_by=lambda v: (type(v), v),
).map(lambda values: (Literal[tuple(values)], st.sampled_from(values)))


def typeddict(fields: tuple[Any, Any, bool]) -> tuple[Any, Any]:
    (x, x_values), (y, y_values), total = fields
    annotation = TypedDict("Generated", {"x": x, "y": y}, total=total)  # type: ignore[operator]  # noqa: UP013
    if total:
        return annotation, st.fixed_dictionaries({"x": x_values, "y": y_values})
    return annotation, st.fixed_dictionaries({}, optional={"x": x_values, "y": y_values})


def containers(children: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.one_of(
        children.map(lambda c: (list[c[0]], st.lists(c[1], max_size=3))),
        children.map(lambda c: (Sequence[c[0]], st.lists(c[1], max_size=3))),
        children.map(lambda c: (tuple[c[0], ...], st.lists(c[1], max_size=3))),
        children.map(lambda c: (tuple[c[0], c[0]], st.lists(c[1], min_size=2, max_size=2))),
        children.map(
            lambda c: (dict[str, c[0]], st.dictionaries(st.text(max_size=3), c[1], max_size=3))
        ),
        children.map(
            lambda c: (Mapping[str, c[0]], st.dictionaries(st.text(max_size=3), c[1], max_size=3))
        ),
        children.map(lambda c: (Optional[c[0]], st.none() | c[1])),  # noqa: UP045
        st.tuples(children, children).map(
            lambda p: (Union[p[0][0], p[1][0]], p[0][1] | p[1][1])  # noqa: UP007
        ),
        st.tuples(children, children, st.booleans()).map(typeddict),
        children.map(lambda c: (Annotated[c[0], "metadata"], c[1])),
    )


annotated = st.recursive(leaves, containers, max_leaves=6)


def _is_integer(checker: Any, instance: Any) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def _same(a: Any, b: Any) -> bool:
    return type(a) is type(b) and a == b


def _enum(validator: Any, enums: list[Any], instance: Any, schema: Any) -> Any:
    if not any(_same(instance, value) for value in enums):
        yield ValidationError(f"{instance!r} is not one of {enums!r}")


def _const(validator: Any, const: Any, instance: Any, schema: Any) -> Any:
    if not _same(instance, const):
        yield ValidationError(f"{instance!r} is not {const!r}")


def strict(cls: Any) -> Any:
    """A JSON Schema validator where an integer is written without a fraction.

    JSON Schema counts ``1.0`` as an integer; the dispatcher does not (a method
    annotated ``int`` gets an ``int``), and the docs say so. Apart from that,
    and from ``enum``/``const`` comparing values with their types (``1`` is
    not ``1.0``), this is the draft's own validator.
    """
    return validators.extend(
        cls,
        {"enum": _enum, "const": _const},
        type_checker=cls.TYPE_CHECKER.redefine("integer", _is_integer),
    )


VALIDATORS = [strict(Draft7Validator), strict(Draft202012Validator)]


def accepts(dispatcher: Dispatcher, value: Any) -> bool:
    try:
        dispatcher.validate("m", [value])
    except JsonRpcError as exc:
        error = exc
    else:
        return True
    assert error.code == messages.INVALID_PARAMS
    assert error.message.startswith("Invalid params: 'value'")
    return False


@PROPERTIES
@given(data=st.data())
def test_the_check_accepts_exactly_what_the_advertised_schema_accepts(data):
    annotation, valid_values = data.draw(annotated, label="annotation")

    def method(value):  # annotated below, with a generated annotation
        pass

    method.__annotations__ = {"value": annotation}
    dispatcher = Dispatcher([Method("m", method)])
    [param] = dispatcher.describe()["methods"][0]["params"]
    schema = param["schema"]
    json.dumps(schema)  # what rpc.discover sends must be JSON
    for validator in VALIDATORS:
        validator.check_schema(schema)
    valid = data.draw(valid_values, label="valid value")
    assert accepts(dispatcher, valid)
    assert all(v(schema).is_valid(valid) for v in VALIDATORS)
    value = data.draw(json_values, label="any value")
    verdicts = {v(schema).is_valid(value) for v in VALIDATORS}
    assert verdicts == {accepts(dispatcher, value)}


SIGNATURE_KINDS = [
    inspect.Parameter.POSITIONAL_ONLY,
    inspect.Parameter.POSITIONAL_OR_KEYWORD,
    inspect.Parameter.KEYWORD_ONLY,
]


def signature_of(shape: list[tuple[int, bool]], var_args: bool, var_kwargs: bool) -> Any:
    params = []
    defaulted = False
    for index, (kind, has_default) in enumerate(sorted(shape, key=lambda s: s[0])):
        kind_ = SIGNATURE_KINDS[kind]
        if kind_ is not inspect.Parameter.KEYWORD_ONLY:
            defaulted = defaulted or has_default
            has_default = defaulted
        if (
            kind_ is inspect.Parameter.KEYWORD_ONLY
            and var_args
            and not any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params)
        ):
            params.append(inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL))
        default = 0 if has_default else inspect.Parameter.empty
        params.append(inspect.Parameter(f"p{index}", kind_, default=default))
    if var_args and not any(p.kind is inspect.Parameter.VAR_POSITIONAL for p in params):
        params.append(inspect.Parameter("args", inspect.Parameter.VAR_POSITIONAL))
    if var_kwargs:
        params.append(inspect.Parameter("kwargs", inspect.Parameter.VAR_KEYWORD))

    def func(*args: Any, **kwargs: Any) -> None:
        pass

    func.__signature__ = inspect.Signature(params)  # type: ignore[attr-defined]
    return func


@PROPERTIES
@given(
    shape=st.lists(st.tuples(st.integers(0, 2), st.booleans()), max_size=4),
    var_args=st.booleans(),
    var_kwargs=st.booleans(),
    count=st.integers(0, 5),
    names=st.lists(st.sampled_from(["p0", "p1", "p2", "p3", "args", "extra"]), unique=True),
)
def test_params_are_bound_as_python_binds_them(shape, var_args, var_kwargs, count, names):
    func = signature_of(shape, var_args, var_kwargs)
    args, kwargs = list(range(count)), {name: 0 for name in names}
    try:
        inspect.signature(func).bind(*args, **kwargs)
    except TypeError as exc:
        expected: str | None = f"Invalid params: {exc}"
    else:
        expected = None
    try:
        Dispatcher([Method("m", func)]).validate("m", args, kwargs)
    except JsonRpcError as exc:
        message: str | None = exc.message
    else:
        message = None
    assert message == expected


def test_a_bound_methods_self_is_no_keyword():
    class Target:
        def echo(self, **options: int) -> dict:
            return options

    methods = {"echo": jsonrpc.Method("echo", Target().echo, readonly=True)}
    dispatcher = jsonrpc.Dispatcher(methods)
    answer = json.loads(
        dispatcher.handle(b'{"jsonrpc":"2.0","method":"echo","params":{"self":1},"id":1}')
    )
    assert answer["error"]["code"] == messages.INVALID_PARAMS
    assert "'self'" in answer["error"]["message"]
    ok = json.loads(
        dispatcher.handle(b'{"jsonrpc":"2.0","method":"echo","params":{"a":1},"id":2}')
    )
    assert ok["result"] == {"a": 1}
