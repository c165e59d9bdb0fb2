"""Params checked against a method's annotations, and the JSON Schema of each.

One walk over an annotation gives both the check a call's params get and
the schema ``rpc.discover`` advertises (:func:`params_of`), so what is
advertised is exactly what is checked. Longer than this package's other
modules for that reason: splitting the walk from either of its two uses
would put the rules of one type in two places.
"""

from __future__ import annotations

import functools
import inspect
import json
import logging
import types
import typing
from collections.abc import (
    Callable,
    Collection,
    Iterable,
    Mapping,
    MutableMapping,
    MutableSequence,
    Sequence,
)
from typing import Any

from .messages import INVALID_PARAMS, JsonRpcError

__all__ = ["Params", "params_of"]

logger = logging.getLogger(__name__)


# -- annotations: one walk gives both the JSON Schema and the check ------------------

#: A check takes a JSON-decoded value and raises _Mismatch when it does not fit.
_Check = Callable[[Any], None]

_NOUNS = {
    "null": "null",
    "boolean": "a boolean",
    "integer": "an integer",
    "number": "a number",
    "string": "a string",
    "array": "an array",
    "object": "an object",
}


class _Mismatch(Exception):
    """A value that does not fit; the path to it is added on the way out."""

    def __init__(self, tail: str) -> None:
        super().__init__(tail)
        self.tail = tail  # "must be an integer, got a string"
        self.path: list[Any] = []  # innermost first

    def message(self, name: str) -> str:
        where = "".join(f"[{_clip(repr(step))}]" for step in reversed(self.path))
        return f"Invalid params: {name!r}{where} {self.tail}"


def _kind(value: Any) -> str:
    """The JSON type of a decoded value (a Python type name when it is not JSON)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def _got(value: Any) -> str:
    kind = _kind(value)
    return _NOUNS.get(kind) or f"a {kind}"


def _clip(text: str, limit: int = 60) -> str:
    return text if len(text) <= limit else text[:limit] + "..."


def _shown(value: Any) -> str:
    """A value in a message: JSON when it is a scalar, else its type."""
    if value is None or isinstance(value, (str, int, float)):
        try:
            return _clip(json.dumps(value))
        except ValueError:  # an integer too long to print
            pass
    return _got(value)


class _Node:
    """What one annotation compiles to.

    ``schema`` is its JSON Schema, ``check`` raises :class:`_Mismatch` on a
    value that the schema refuses (``None``: the schema accepts anything),
    ``kinds`` are the JSON types it may accept (unions use them to pick the
    member whose error to report), ``noun`` names it in messages, and
    ``exact`` says that ``check`` looks at nothing but the JSON type.
    """

    __slots__ = ("check", "exact", "kinds", "noun", "schema")

    def __init__(
        self,
        schema: dict[str, Any],
        check: _Check | None,
        kinds: frozenset[str] | None,
        noun: str,
        exact: bool = False,
    ) -> None:
        self.schema = schema
        self.check = check
        self.kinds = kinds
        self.noun = noun
        self.exact = exact


def _any() -> _Node:
    return _Node({}, None, None, "anything")


def _check_str(value: Any) -> None:
    if not isinstance(value, str):
        raise _Mismatch(f"must be a string, got {_got(value)}")


def _check_int(value: Any) -> None:
    if not isinstance(value, int) or isinstance(value, bool):
        raise _Mismatch(f"must be an integer, got {_got(value)}")


def _check_number(value: Any) -> None:
    if not isinstance(value, (int, float)) or isinstance(value, bool):
        raise _Mismatch(f"must be a number, got {_got(value)}")


def _check_bool(value: Any) -> None:
    if not isinstance(value, bool):
        raise _Mismatch(f"must be a boolean, got {_got(value)}")


def _check_null(value: Any) -> None:
    if value is not None:
        raise _Mismatch(f"must be null, got {_got(value)}")


def _check_list(value: Any) -> None:
    if not isinstance(value, list):
        raise _Mismatch(f"must be an array, got {_got(value)}")


def _check_dict(value: Any) -> None:
    if not isinstance(value, dict):
        raise _Mismatch(f"must be an object, got {_got(value)}")


_SCALARS: dict[Any, tuple[str, _Check, frozenset[str]]] = {
    str: ("string", _check_str, frozenset({"string"})),
    int: ("integer", _check_int, frozenset({"integer"})),
    float: ("number", _check_number, frozenset({"integer", "number"})),
    bool: ("boolean", _check_bool, frozenset({"boolean"})),
    type(None): ("null", _check_null, frozenset({"null"})),
}
#: Annotations of JSON arrays (decoded as a list); ``typing.List`` and the other
#: aliases are reached through ``typing.get_origin``.
_ARRAYS = frozenset({list, Sequence, MutableSequence, Collection, Iterable})
#: Annotations of JSON objects (decoded as a dict).
_OBJECTS = frozenset({dict, Mapping, MutableMapping})


def _compile(annotation: Any, seen: tuple[type, ...] = ()) -> _Node:
    """The schema and the check of an annotation, in one walk.

    An annotation it does not understand gives ``{}`` and no check, so that
    the schema never promises a check that is not made, nor the reverse.
    """
    try:
        return _compile_unsafe(annotation, seen)
    except Exception:  # an annotation object that breaks introspection
        logger.debug("Cannot compile the annotation %r", annotation, exc_info=True)
        return _any()


def _compile_unsafe(annotation: Any, seen: tuple[type, ...]) -> _Node:
    if annotation is None:  # "-> None" evaluates to None, not NoneType
        annotation = type(None)
    if annotation is Any or annotation is object or annotation is inspect.Parameter.empty:
        return _any()
    try:
        scalar = _SCALARS.get(annotation)
    except TypeError:  # unhashable (Annotated with unhashable metadata)
        scalar = None
    if scalar is not None:
        name, check, kinds = scalar
        return _Node({"type": name}, check, kinds, _NOUNS[name], exact=True)
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Annotated:
        return _compile(args[0], seen)
    supertype = getattr(annotation, "__supertype__", None)  # a NewType
    if supertype is not None:
        return _compile(supertype, seen)
    if origin is typing.Union or origin is types.UnionType:
        return _union([_compile(arg, seen) for arg in args])
    if origin is typing.Literal:
        return _literal(args)
    base = origin if origin is not None else annotation
    if base is tuple:
        return _tuple(annotation, args, seen)
    if _member(base, _ARRAYS):
        if not args:
            return _Node({"type": "array"}, _check_list, frozenset({"array"}), "an array", True)
        return _array(_compile(args[0], seen))
    if _member(base, _OBJECTS):
        return _object(args, seen)
    if _is_typeddict(annotation):
        return _typeddict(annotation, seen)
    return _any()


def _member(value: Any, group: frozenset[Any]) -> bool:
    try:
        return value in group
    except TypeError:
        return False


def _array(item: _Node, length: int | None = None) -> _Node:
    schema: dict[str, Any] = {"type": "array", "items": item.schema}
    if length is not None:
        schema["minItems"] = schema["maxItems"] = length
    item_check = item.check
    if item_check is None and length is None:
        return _Node(schema, _check_list, frozenset({"array"}), "an array", True)

    def check(value: Any) -> None:
        if not isinstance(value, list):
            raise _Mismatch(f"must be an array, got {_got(value)}")
        if length is not None and len(value) != length:
            items = "item" if length == 1 else "items"
            raise _Mismatch(f"must be an array of {length} {items}, got {len(value)}")
        if item_check is None:
            return
        index = 0
        try:
            for index, element in enumerate(value):  # noqa: B007 -- read in the handler
                item_check(element)
        except _Mismatch as exc:
            exc.path.append(index)
            raise

    return _Node(schema, check, frozenset({"array"}), "an array")


def _tuple(annotation: Any, args: tuple[Any, ...], seen: tuple[type, ...]) -> _Node:
    if annotation is tuple or annotation is typing.Tuple:  # noqa: UP006
        return _Node({"type": "array"}, _check_list, frozenset({"array"}), "an array", True)
    if len(args) == 2 and args[1] is Ellipsis:  # tuple[T, ...]
        return _array(_compile(args[0], seen))
    if not args:  # tuple[()]
        return _Node(
            {"type": "array", "maxItems": 0}, _check_empty, frozenset({"array"}), "an empty array"
        )
    if all(arg == args[0] for arg in args):  # tuple[T, T]: a fixed length, one item type
        return _array(_compile(args[0], seen), len(args))
    # tuple[A, B] needs "prefixItems" (draft 2020-12) or "items": [...] (draft 7), which
    # mean different things to each draft: not described, not checked.
    return _any()


def _check_empty(value: Any) -> None:
    if not isinstance(value, list):
        raise _Mismatch(f"must be an array, got {_got(value)}")
    if value:
        raise _Mismatch(f"must be an empty array, got {len(value)} items")


def _object(args: tuple[Any, ...], seen: tuple[type, ...]) -> _Node:
    if len(args) != 2:
        return _Node({"type": "object"}, _check_dict, frozenset({"object"}), "an object", True)
    key, value_annotation = args
    if key is not str and key is not Any:
        # JSON keys are strings: other key types are not described, nor checked.
        return _Node({"type": "object"}, _check_dict, frozenset({"object"}), "an object", True)
    value = _compile(value_annotation, seen)
    schema = {"type": "object", "additionalProperties": value.schema}
    value_check = value.check
    if value_check is None:
        return _Node(schema, _check_dict, frozenset({"object"}), "an object", True)

    def check(obj: Any) -> None:
        if not isinstance(obj, dict):
            raise _Mismatch(f"must be an object, got {_got(obj)}")
        key = None
        try:
            for key, element in obj.items():  # noqa: B007 -- read in the handler
                value_check(element)
        except _Mismatch as exc:
            exc.path.append(key)
            raise

    return _Node(schema, check, frozenset({"object"}), "an object")


def _union(members: list[_Node]) -> _Node:
    schema = {"anyOf": [member.schema for member in members]}
    if any(member.check is None for member in members):
        return _Node(schema, None, None, "anything")
    kinds = frozenset().union(*(typing.cast(frozenset, member.kinds) for member in members))
    noun = " or ".join(dict.fromkeys(member.noun for member in members))
    if all(member.exact for member in members):

        def check_kind(value: Any) -> None:
            if _kind(value) not in kinds:
                raise _Mismatch(f"must be {noun}, got {_got(value)}")

        return _Node(schema, check_kind, kinds, noun, exact=True)
    checks = [(member.kinds, member.check) for member in members]

    def check(value: Any) -> None:
        kind = _kind(value)
        errors: list[_Mismatch] = []
        for member_kinds, member_check in checks:
            if kind in member_kinds:  # type: ignore[operator]
                try:
                    member_check(value)  # type: ignore[misc]
                except _Mismatch as exc:
                    errors.append(exc)
                else:
                    return
        if not errors:
            raise _Mismatch(f"must be {noun}, got {_got(value)}")
        # The member that got furthest into the value says best what is wrong.
        raise max(errors, key=lambda error: len(error.path))

    return _Node(schema, check, kinds, noun)


def _literal(values: tuple[Any, ...]) -> _Node:
    if not values or any(type(v) not in (str, int, bool, type(None)) for v in values):
        return _any()  # an Enum member, bytes: not JSON
    unique = list(dict.fromkeys((type(v), v) for v in values))
    literals = [v for _, v in unique]
    allowed = frozenset(unique)
    shown = [_clip(json.dumps(v)) for v in literals]
    if len(literals) == 1:
        schema: dict[str, Any] = {"const": literals[0]}
        noun = shown[0]
    else:
        schema = {"enum": literals}
        noun = "one of " + ", ".join(shown)

    def check(value: Any) -> None:
        try:
            ok = (type(value), value) in allowed
        except TypeError:  # an array or an object
            ok = False
        if not ok:
            raise _Mismatch(f"must be {noun}, got {_shown(value)}")

    return _Node(schema, check, frozenset(_kind(v) for v in literals), noun)


def _is_typeddict(annotation: Any) -> bool:
    return (
        isinstance(annotation, type)
        and issubclass(annotation, dict)
        and hasattr(annotation, "__required_keys__")
        and hasattr(annotation, "__total__")
    )


def _typeddict(annotation: type, seen: tuple[type, ...]) -> _Node:
    if annotation in seen:  # a recursive TypedDict: described and checked once
        return _any()
    hints = typing.get_type_hints(annotation)
    fields = {key: _compile(hint, (*seen, annotation)) for key, hint in hints.items()}
    required = [key for key in hints if key in annotation.__required_keys__]  # type: ignore[attr-defined]
    schema: dict[str, Any] = {
        "type": "object",
        "title": annotation.__name__,
        "properties": {key: node.schema for key, node in fields.items()},
        "additionalProperties": False,
    }
    if required:
        schema["required"] = required
    checks = {key: node.check for key, node in fields.items()}

    def check(value: Any) -> None:
        if not isinstance(value, dict):
            raise _Mismatch(f"must be an object, got {_got(value)}")
        for key in required:
            if key not in value:
                raise _Mismatch(f"is missing the key {key!r}")
        for key, element in value.items():
            try:
                field_check = checks[key]
            except KeyError:
                raise _Mismatch(f"has an unexpected key {_clip(repr(key))}") from None
            if field_check is not None:
                try:
                    field_check(element)
                except _Mismatch as exc:
                    exc.path.append(key)
                    raise

    return _Node(schema, check, frozenset({"object"}), "an object")


# -- signatures: compiled once per function ----------------------------------------


class Params:
    """A function's signature, compiled: checks params fast, describes them."""

    def __init__(self, sig: inspect.Signature, reserved: frozenset[str] = frozenset()) -> None:
        self.sig = sig
        #: The name a bound method's first parameter had (``self``): never a
        #: keyword, not even into ``**kwargs`` (the call would fail on it).
        self.reserved = reserved
        #: (parameter, its compiled annotation) of each named parameter, in order.
        self.entries: list[tuple[inspect.Parameter, _Node]] = []
        self.checks: dict[str, _Check | None] = {}
        positional: list[tuple[str, _Check | None]] = []
        keyword: dict[str, tuple[int | None, _Check | None]] = {}
        required: list[tuple[str, int | None, bool]] = []
        self.var_positional = self.var_keyword = False
        for param in sig.parameters.values():
            if param.kind is param.VAR_POSITIONAL:
                self.var_positional = True
                continue
            if param.kind is param.VAR_KEYWORD:
                self.var_keyword = True
                continue
            node = _compile(param.annotation)
            self.entries.append((param, node))
            self.checks[param.name] = node.check
            index = None
            if param.kind in (param.POSITIONAL_ONLY, param.POSITIONAL_OR_KEYWORD):
                index = len(positional)
                positional.append((param.name, node.check))
            by_keyword = param.kind is not param.POSITIONAL_ONLY
            if by_keyword:
                keyword[param.name] = (index, node.check)
            if param.default is param.empty:
                required.append((param.name, index, by_keyword))
        self.positional = tuple(positional)
        self.positional_only = frozenset(n for n, _ in positional if n not in keyword)
        self.keyword = keyword
        self.keyword_checks = tuple(
            (name, check) for name, (_, check) in keyword.items() if check is not None
        )
        self.required = tuple(required)
        self.result = (
            _compile(sig.return_annotation) if sig.return_annotation is not sig.empty else None
        )

    def check(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        """Raise -32602 when the params cannot fit; like ``sig.bind``, only faster."""
        if not args and not kwargs and not self.required:
            return None  # a call without params, of a method that needs none
        count = len(args)
        if self.reserved and not self.reserved.isdisjoint(kwargs):
            name = next(iter(self.reserved.intersection(kwargs)))
            raise JsonRpcError(INVALID_PARAMS, f"Invalid params: {name!r} is not a parameter")
        if count > len(self.positional) and not self.var_positional:
            return self._check_slowly(args, kwargs)
        keyword = self.keyword
        for key in kwargs:
            entry = keyword.get(key)
            if entry is None:
                # Signature.bind refuses a positional-only name even with **kwargs.
                if not self.var_keyword or key in self.positional_only:
                    return self._check_slowly(args, kwargs)
            elif entry[0] is not None and entry[0] < count:  # given twice
                return self._check_slowly(args, kwargs)
        for name, index, by_keyword in self.required:
            if not ((index is not None and index < count) or (by_keyword and name in kwargs)):
                return self._check_slowly(args, kwargs)
        for (name, check), value in zip(self.positional, args, strict=False):
            if check is not None:
                try:
                    check(value)
                except _Mismatch as exc:
                    raise JsonRpcError(INVALID_PARAMS, exc.message(name)) from None
        if kwargs:
            for name, check in self.keyword_checks:
                if name in kwargs:
                    try:
                        check(kwargs[name])
                    except _Mismatch as exc:
                        raise JsonRpcError(INVALID_PARAMS, exc.message(name)) from None
        return None

    def _check_slowly(self, args: Sequence[Any], kwargs: Mapping[str, Any]) -> None:
        """What is wrong, in Python's words ("missing a required argument: 'x'")."""
        try:
            bound = self.sig.bind(*args, **kwargs)
        except TypeError as exc:
            raise JsonRpcError(INVALID_PARAMS, f"Invalid params: {exc}") from None
        for name, value in bound.arguments.items():
            check = self.checks.get(name)
            if check is not None:
                try:
                    check(value)
                except _Mismatch as exc:
                    raise JsonRpcError(INVALID_PARAMS, exc.message(name)) from None


def params_of(func: Callable[..., Any]) -> Params | None:
    """The compiled signature of ``func``, computed once per function.

    Targets are often made per request (a facade over the live crawlers), so
    their bound methods are new objects each time: the cache is keyed by the
    underlying function, and a bound method drops its first parameter.
    """
    if type(func) is types.MethodType:
        function = func.__func__
        try:
            return _bound_params(function)
        except TypeError:  # unhashable
            return _bound_params.__wrapped__(function)
    try:
        return _function_params(func)
    except TypeError:  # an unhashable callable object: no cache for it
        return _function_params.__wrapped__(func)


@functools.lru_cache(maxsize=1024)
def _function_params(func: Callable[..., Any]) -> Params | None:
    sig = _signature(func)
    return None if sig is None else Params(sig)


@functools.lru_cache(maxsize=1024)
def _bound_params(function: Callable[..., Any]) -> Params | None:
    sig = _signature(function)
    if sig is None:
        return None
    if not sig.parameters:
        return Params(sig)
    first, *rest = sig.parameters.values()
    return Params(sig.replace(parameters=rest), reserved=frozenset({first.name}))


def _signature(func: Callable[..., Any]) -> inspect.Signature | None:
    """The signature with its string annotations evaluated, each on its own.

    ``from __future__ import annotations`` makes every annotation a string;
    one that cannot be evaluated (a name only imported for type checkers)
    stays a string, which describes and checks nothing, without losing the
    others.
    """
    try:
        return inspect.signature(func, eval_str=True)
    except Exception:  # no signature at all, or an annotation that cannot be evaluated
        logger.debug("Evaluating the annotations of %r failed", func, exc_info=True)
    try:
        sig = inspect.signature(func)
    except (TypeError, ValueError):
        return None
    namespace = getattr(inspect.unwrap(func), "__globals__", None)
    if namespace is None:
        return sig

    def resolve(annotation: Any) -> Any:
        if not isinstance(annotation, str):
            return annotation
        try:
            # What inspect.signature(eval_str=True) does, one annotation at a time.
            return eval(annotation, namespace)  # noqa: S307
        except Exception:
            return annotation

    return sig.replace(
        parameters=[
            param.replace(annotation=resolve(param.annotation))
            for param in sig.parameters.values()
        ],
        return_annotation=resolve(sig.return_annotation),
    )
