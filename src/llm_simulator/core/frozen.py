"""Cheaper construction of the frozen, slotted dataclasses built on every request.

A frozen dataclass's generated ``__init__`` stores every field through
``object.__setattr__(self, name, value)`` (its own ``__setattr__`` refuses): a global
lookup, an attribute lookup and a call through the slot wrapper per field. For the
request types built once or more per request (``HttpRequest`` with 9 fields,
``GenerationRequest`` with 20) that is about twice the cost of setting the slots through
their member descriptors, which is what ``fast_init`` makes the ``__init__`` do instead.
Nothing else changes: the instances stay frozen (assignment raises
``FrozenInstanceError``), and the signature, defaults, default factories, keyword-only
fields and ``__post_init__`` are the dataclass's own.
"""

from __future__ import annotations

import dataclasses
from typing import Any, TypeVar

T = TypeVar("T")


class _Factory:
    """Stands for "not given" for a field with a default factory (the factory runs per instance)."""

    def __repr__(self) -> str:
        return "<factory>"  # as the dataclass's own signature shows it


_FACTORY = _Factory()


def fast_init(cls: type[T]) -> type[T]:
    """Give the frozen, slotted dataclass ``cls`` an ``__init__`` that sets its slots directly.

    Apply it above ``@dataclass(frozen=True, slots=True)`` (it needs the slotted class the
    dataclass decorator returns). Fields with ``init=False`` are not supported (none of the
    request types has one).
    """
    params = getattr(cls, "__dataclass_params__", None)
    if params is None or not params.frozen or "__slots__" not in cls.__dict__:
        raise TypeError(f"{cls.__name__} is not a frozen, slotted dataclass")
    namespace: dict[str, Any] = {"_FACTORY": _FACTORY}
    positional: list[str] = []
    keyword: list[str] = []
    body: list[str] = []
    for field in dataclasses.fields(cls):  # type: ignore[arg-type]
        name = field.name
        if not field.init:
            raise TypeError(f"{cls.__name__}.{name}: init=False fields are not supported")
        # The slot's member descriptor: its __set__ stores the value without __setattr__.
        namespace[f"_set_{name}"] = cls.__dict__[name].__set__
        if field.default is not dataclasses.MISSING:
            namespace[f"_default_{name}"] = field.default
            param = f"{name}=_default_{name}"
        elif field.default_factory is not dataclasses.MISSING:
            namespace[f"_factory_{name}"] = field.default_factory
            param = f"{name}=_FACTORY"
            body.append(f" if {name} is _FACTORY: {name} = _factory_{name}()")
        else:
            param = name
        (keyword if field.kw_only else positional).append(param)
        body.append(f" _set_{name}(self, {name})")
    if hasattr(cls, "__post_init__"):
        body.append(" self.__post_init__()")
    signature = ", ".join(["self", *positional, *(["*", *keyword] if keyword else [])])
    source = f"def __init__({signature}):\n" + "\n".join(body or [" pass"]) + "\n"
    exec(source, namespace)
    init = namespace["__init__"]
    init.__qualname__ = f"{cls.__qualname__}.__init__"
    init.__module__ = cls.__module__
    init.__doc__ = cls.__init__.__doc__
    init.__annotations__ = dict(cls.__init__.__annotations__)  # the signature shows them
    cls.__init__ = init  # type: ignore[method-assign]
    return cls
