"""OpenRPC: the document ``rpc.discover`` returns, made from the methods' annotations."""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from .validation import params_of

__all__ = ["OPENRPC_VERSION", "describe"]

OPENRPC_VERSION = "1.3.2"


class Method(Protocol):
    """What the document reads of a method (:class:`.dispatch.Method`)."""

    @property
    def name(self) -> str: ...

    @property
    def func(self) -> Callable[..., Any]: ...

    @property
    def readonly(self) -> bool: ...

    @property
    def description(self) -> str: ...


def describe(methods: Iterable[Method], title: str, version: str) -> dict[str, Any]:
    described = []
    for method in sorted(methods, key=lambda m: m.name):
        compiled = params_of(method.func)
        params = []
        result_schema: dict[str, Any] = {}
        if compiled is not None:
            for param, node in compiled.entries:
                schema = copy.deepcopy(node.schema)
                if param.default is not param.empty and _is_json_scalar(param.default):
                    schema["default"] = param.default
                params.append(
                    {
                        "name": param.name,
                        "required": param.default is param.empty,
                        "schema": schema,
                    }
                )
            if compiled.result is not None:
                result_schema = copy.deepcopy(compiled.result.schema)
        doc = method.description
        described.append(
            {
                "name": method.name,
                "summary": doc.splitlines()[0] if doc else method.name,
                "description": doc,
                "params": params,
                "result": {"name": "result", "schema": result_schema},
                "x-readonly": method.readonly,
            }
        )
    return {
        "openrpc": OPENRPC_VERSION,
        "info": {"title": title or "JSON-RPC resource", "version": version},
        "methods": described,
    }


def _is_json_scalar(value: Any) -> bool:
    if isinstance(value, float):
        return math.isfinite(value)
    return value is None or isinstance(value, (str, int, bool))
