"""``core.frozen.fast_init``: the same construction as the dataclass's own ``__init__``, cheaper."""

from __future__ import annotations

import dataclasses
import inspect
from dataclasses import dataclass, field
from typing import Any

import pytest

from llm_simulator.core.frozen import fast_init
from llm_simulator.core.types import Endpoint, GenerationRequest, Message


class _Fields:
    a: int
    b: str = "b"
    c: list[int] = field(default_factory=list)
    d: int = field(default=4, kw_only=True)


# The same fields, as the dataclass builds them and with fast_init on top (two classes: the
# slotted dataclass is a new class each time).
_Plain: Any = dataclass(frozen=True, slots=True)(type("_Plain", (), dict(vars(_Fields))))
_Fast: Any = fast_init(dataclass(frozen=True, slots=True)(type("_Fast", (), dict(vars(_Fields)))))


@fast_init
@dataclass(frozen=True, slots=True)
class _Checked:
    a: int

    def __post_init__(self) -> None:
        if self.a < 0:
            raise ValueError("negative")


def _values(obj: object) -> tuple[object, ...]:
    return tuple(getattr(obj, f.name) for f in dataclasses.fields(obj))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("args", "kwargs"),
    [((1,), {}), ((1, "x"), {}), ((1,), {"c": [2], "d": 5}), ((), {"a": 1, "b": "y", "d": 0})],
)
def test_the_same_values_as_the_generated_init(args: tuple[object, ...], kwargs: dict[str, object]) -> None:
    assert _values(_Fast(*args, **kwargs)) == _values(_Plain(*args, **kwargs))


def test_a_default_factory_runs_per_instance_and_the_signature_is_kept() -> None:
    assert _Fast(1).c is not _Fast(1).c
    assert str(inspect.signature(_Fast)) == str(inspect.signature(_Plain))


def test_wrong_arguments_fail_as_before() -> None:
    with pytest.raises(TypeError):
        _Fast()
    with pytest.raises(TypeError):
        _Fast(1, "b", [], 4)  # d is keyword-only
    with pytest.raises(TypeError):
        _Fast(1, e=2)


def test_instances_stay_frozen_and_post_init_runs() -> None:
    fast = _Fast(1)
    with pytest.raises(dataclasses.FrozenInstanceError):
        fast.a = 2
    assert dataclasses.replace(fast, b="z") == _Fast(1, "z")
    with pytest.raises(ValueError, match="negative"):
        _Checked(-1)


def test_the_request_types_use_it() -> None:
    request = GenerationRequest("m", Endpoint.CHAT, (Message("user", "hi"),), 3, max_tokens=5)
    assert (request.n, request.stop, request.max_tokens, request.messages[0].name) == (1, (), 5, None)
    with pytest.raises(dataclasses.FrozenInstanceError):
        request.n = 2  # type: ignore[misc]


def test_only_frozen_slotted_dataclasses_are_accepted() -> None:
    @dataclass
    class Mutable:
        a: int

    with pytest.raises(TypeError, match="frozen, slotted"):
        fast_init(Mutable)
