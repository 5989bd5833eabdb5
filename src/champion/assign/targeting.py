"""Targeting: which requests may enter an experiment, from their attributes.

Every condition must hold. An attribute that is absent or None fails every operator except
``exists``; values are compared as given, with no coercion (``"1"`` is not ``1``), and a
comparison between types that do not order (a str against a number) fails the condition
instead of raising, so a malformed request falls back to the champion.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from numbers import Real
from typing import Any

from pydantic import ValidationError

from champion.errors import InvalidArgument
from champion.spec.models import Condition

__all__ = ["Targeting", "as_conditions", "pydantic_problems"]

_ORDER: dict[str, Callable[[Any, Any], bool]] = {
    "gt": operator.gt,
    "gte": operator.ge,
    "lt": operator.lt,
    "lte": operator.le,
}


def pydantic_problems(error: ValidationError) -> str:
    """A pydantic error on one line per field: ``share: Input should be less than 1``."""
    return "; ".join(
        f"{'.'.join(str(p) for p in e['loc']) or 'value'}: {e['msg']}" for e in error.errors()
    )


def as_conditions(conditions: object) -> tuple[Condition, ...]:
    """Conditions from spec objects or plain mappings (``{"attribute", "op", "value"}``)."""
    if conditions is None:
        return ()
    if isinstance(conditions, Mapping | str) or not isinstance(conditions, Sequence):
        raise InvalidArgument(
            "targeting", conditions, "must be a list of conditions {attribute, op, value}"
        )
    out = []
    for i, c in enumerate(conditions):
        if isinstance(c, Condition):
            out.append(c)
        elif isinstance(c, Mapping):
            try:
                out.append(Condition.model_validate(dict(c)))
            except ValidationError as e:
                raise InvalidArgument(f"targeting[{i}]", dict(c), pydantic_problems(e)) from e
        else:
            raise InvalidArgument(f"targeting[{i}]", c, "must be a Condition or a mapping")
    return tuple(out)


def _test(i: int, c: Condition) -> Callable[[Any], bool]:
    """A one-argument test on a present (non-None) attribute value."""
    field = f"targeting[{i}].value"
    value = c.value
    if c.op in ("in", "not_in"):
        if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence | set):
            raise InvalidArgument(field, value, f"op '{c.op}' needs a list, e.g. [DE, FR]")
        try:
            members: frozenset[Any] | tuple[Any, ...] = frozenset(value)
        except TypeError:
            members = tuple(value)

        def member(x: Any) -> bool:
            try:
                return x in members
            except TypeError:  # an unhashable attribute value
                return False

        return member if c.op == "in" else lambda x: not member(x)
    if c.op in _ORDER:
        if isinstance(value, bool) or not isinstance(value, Real | str):
            raise InvalidArgument(field, value, f"op '{c.op}' needs a number or a str")
        compare = _ORDER[c.op]

        def ordered(x: Any) -> bool:
            try:
                return bool(compare(x, value))
            except TypeError:
                return False

        return ordered
    if value is None:
        raise InvalidArgument(
            field, value, f"op '{c.op}' needs a value; to test presence use op 'exists'"
        )
    if c.op == "eq":
        return lambda x: x == value
    return lambda x: x != value


class Targeting:
    """Compiled conditions; ``matches(attributes)`` is True when all of them hold.

    >>> t = Targeting([{"attribute": "country", "op": "in", "value": ["DE", "FR"]},
    ...                {"attribute": "age", "op": "gte", "value": 18}])
    >>> t.matches({"country": "DE", "age": 30}), t.matches({"country": "DE"})
    (True, False)
    """

    __slots__ = ("_absent", "_present", "conditions")

    def __init__(self, conditions: object = ()) -> None:
        self.conditions = as_conditions(conditions)
        present: list[tuple[str, Callable[[Any], bool]]] = []
        absent: list[str] = []
        for i, c in enumerate(self.conditions):
            if c.op == "exists":
                if c.value not in (None, True, False):
                    raise InvalidArgument(
                        f"targeting[{i}].value", c.value, "op 'exists' takes true, false or nothing"
                    )
                if c.value is False:
                    absent.append(c.attribute)
                else:
                    present.append((c.attribute, lambda _x: True))
            else:
                present.append((c.attribute, _test(i, c)))
        self._present = tuple(present)
        self._absent = tuple(absent)

    def __bool__(self) -> bool:
        return bool(self.conditions)

    def matches(self, attributes: Mapping[str, Any] | None) -> bool:
        attrs = attributes or {}
        for name, test in self._present:
            x = attrs.get(name)
            if x is None or not test(x):
                return False
        return all(attrs.get(name) is None for name in self._absent)
