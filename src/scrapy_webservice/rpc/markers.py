"""Declarations on JSON-RPC targets: what each method needs, what is data.

Exposure is declared, never probed: a target offers its public methods
(each ``@readonly`` or ``@control``; unmarked ones count as control), and
only attributes declared with ``@data`` (or named in a resource's
``data_attributes``) are answered as values by ``GET``.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from typing import Any, TypeVar

__all__ = ["Access", "control", "data", "is_data", "readonly", "readonly_mark"]

F = TypeVar("F", bound=Callable[..., Any])

_READONLY = "__webservice_readonly__"
_DATA = "__webservice_data__"


class Access(enum.IntEnum):
    """What a request may do, from its token."""

    NONE = 0
    READ = 1  #: read resources and call read-only methods
    CONTROL = 2  #: everything


def readonly(func: F) -> F:
    """Mark a method of a JSON-RPC target as safe for the read-only token.

    A read-only method may also be called by ``GET`` on its own path, with
    its params in the query string.
    """
    setattr(func, _READONLY, True)
    return func


def control(func: F) -> F:
    """Mark a method as a control method (the default; this documents intent)."""
    setattr(func, _READONLY, False)
    return func


def readonly_mark(func: Any) -> bool | None:
    """``True``/``False`` for a marked method, ``None`` for an unmarked one."""
    mark = getattr(func, _READONLY, None)
    return None if mark is None else bool(mark)


def data(func: Callable[[Any], Any] | property) -> property:
    """Declare a property of a JSON-RPC target as data: ``GET`` on its path answers its value.

    Use it on a method (it becomes a property) or on top of ``@property``.
    Data is read-only: it is answered to both tokens.
    """
    prop = func if isinstance(func, property) else property(func)
    if prop.fget is None:
        raise TypeError("@data needs a property with a getter")
    setattr(prop.fget, _DATA, True)
    return prop


def is_data(static: Any) -> bool:
    """Whether a class attribute (found with ``inspect.getattr_static``) was declared ``@data``."""
    return isinstance(static, property) and bool(getattr(static.fget, _DATA, False))
