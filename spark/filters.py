"""A small builder for Spark `_filter` expressions (SparkQL, docs/spark-protocol.md#filter-syntax).

Values are rendered as typed literals so user text can never change the shape of the
expression: strings are single-quoted with ``\\`` and ``'`` backslash-escaped; numbers,
dates, times, datetimes, booleans and ``None`` (NULL) are written bare::

    >>> str(Field("City").eq("Fargo", "Moorhead") & Field("ListPrice").bt(100000, 200000))
    "City Eq 'Fargo','Moorhead' And ListPrice Bt 100000,200000"
    >>> str(Not(Field("City").eq("O'Neill")) | Field("YearBuilt").ge(1990))
    "(Not City Eq 'O\\\\'Neill') Or YearBuilt Ge 1990"

And and Or have the same precedence in SparkQL (evaluated left to right), so a nested
junction is always parenthesised; so is a ``Not`` inside a junction, which the grammar
only accepts inside a group.

Operator/type rules of SparkQL are enforced here rather than by a 400 from the server:
character, boolean and NULL values only take ``Eq``/``Ne``; several values only with
``Eq``/``Ne``; ``Bt`` takes exactly two numbers/dates.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

__all__ = ["And", "Expr", "Field", "Not", "Or", "Raw", "literal"]

Value = str | int | float | Decimal | bool | dt.date | dt.datetime | dt.time | None

_FIELD_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
# Custom field parts are quoted with double quotes; SparkQL has no escape for them.
_CUSTOM_PART = re.compile(r'^[^"\\\r\n]+$')


def literal(value: Value) -> str:
    """Render one Python value as a SparkQL literal."""
    # bool before int: bool is a subclass of int.
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise ValueError(f"cannot filter on a non-finite number: {value!r}")
        return _plain_decimal(Decimal(repr(value)))
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise ValueError(f"cannot filter on a non-finite number: {value!r}")
        return _plain_decimal(value)
    # datetime before date: datetime is a subclass of date.
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None and value.utcoffset() == dt.timedelta(0):
            return value.replace(tzinfo=None).isoformat() + "Z"
        return value.isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    if isinstance(value, dt.time):
        return value.isoformat()
    if isinstance(value, str):
        if "\x00" in value:
            raise ValueError("filter strings cannot contain NUL characters")
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    raise TypeError(f"unsupported filter value type: {type(value).__name__}")


def _plain_decimal(value: Decimal) -> str:
    # SparkQL decimals are -?\d+\.\d+ : no exponent, and integers stay integers.
    text = format(value, "f")
    return text


def _is_character_like(value: Value) -> bool:
    return value is None or isinstance(value, str | bool)


class Expr:
    """A renderable filter expression; combine with ``&``, ``|`` and ``~``."""

    def render(self) -> str:
        raise NotImplementedError

    def __str__(self) -> str:
        return self.render()

    def __and__(self, other: Expr) -> Expr:
        return And(self, other)

    def __or__(self, other: Expr) -> Expr:
        return Or(self, other)

    def __invert__(self) -> Expr:
        return Not(self)

    def _render_operand(self) -> str:
        """How this expression looks when nested inside another one."""
        return self.render()


@dataclass(frozen=True)
class Comparison(Expr):
    field: str
    op: str
    values: tuple[Value, ...]

    def render(self) -> str:
        if self.op == "Bt":
            return f"{self.field} Bt {literal(self.values[0])},{literal(self.values[1])}"
        return f"{self.field} {self.op} " + ",".join(literal(v) for v in self.values)


@dataclass(frozen=True)
class Raw(Expr):
    """A hand-written SparkQL fragment, e.g. ``Location Eq radius('46.87 -96.79',1.0)``.

    Never build one from user input: nothing in it is escaped.
    """

    text: str

    def render(self) -> str:
        return self.text

    def _render_operand(self) -> str:
        return f"({self.text})"


class _Junction(Expr):
    keyword = ""

    def __init__(self, *operands: Expr | str) -> None:
        flat: list[Expr] = []
        for operand in operands:
            expr = Raw(operand) if isinstance(operand, str) else operand
            if not isinstance(expr, Expr):
                raise TypeError(f"not a filter expression: {operand!r}")
            # And(And(a, b), c) is And(a, b, c): keeps nesting depth (server limit) low.
            if type(expr) is type(self):
                flat.extend(expr.operands)
            else:
                flat.append(expr)
        if not flat:
            raise ValueError(f"{self.keyword} needs at least one operand")
        self.operands: tuple[Expr, ...] = tuple(flat)

    def render(self) -> str:
        if len(self.operands) == 1:
            return self.operands[0].render()
        return f" {self.keyword} ".join(op._render_operand() for op in self.operands)

    def _render_operand(self) -> str:
        if len(self.operands) == 1:
            return self.operands[0]._render_operand()
        return f"({self.render()})"

    def __eq__(self, other: object) -> bool:
        return type(other) is type(self) and other.operands == self.operands

    def __hash__(self) -> int:
        return hash((self.keyword, self.operands))

    def __repr__(self) -> str:
        return f"{self.keyword}({', '.join(map(repr, self.operands))})"


class And(_Junction):
    keyword = "And"


class Or(_Junction):
    keyword = "Or"


class Not(Expr):
    def __init__(self, operand: Expr | str) -> None:
        self.operand = Raw(operand) if isinstance(operand, str) else operand

    def render(self) -> str:
        # The grammar is `Not <expression>`, where an expression is one comparison or a group.
        if isinstance(self.operand, Comparison):
            return f"Not {self.operand.render()}"
        return f"Not ({self.operand.render()})"

    def _render_operand(self) -> str:
        return f"({self.render()})"

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Not) and other.operand == self.operand

    def __hash__(self) -> int:
        return hash(("Not", self.operand))

    def __repr__(self) -> str:
        return f"Not({self.operand!r})"


class Field:
    """A field to compare: ``Field("City")`` or ``Field.custom("Group", "Field name")``."""

    def __init__(self, name: str) -> None:
        if not _FIELD_NAME.match(name):
            raise ValueError(f"invalid filter field name: {name!r}")
        self.name = name

    @classmethod
    def custom(cls, group: str, field: str) -> Field:
        for part in (group, field):
            if not _CUSTOM_PART.match(part):
                raise ValueError(f"invalid custom field name part: {part!r}")
        instance = cls.__new__(cls)
        instance.name = f'"{group}"."{field}"'
        return instance

    def _compare(self, op: str, values: Iterable[Value]) -> Comparison:
        values = tuple(values)
        if not values:
            raise ValueError(f"{op} needs at least one value")
        for value in values:
            literal(value)  # type check early, at build time
        if op in ("Eq", "Ne"):
            return Comparison(self.name, op, values)
        if len(values) != 1:
            raise ValueError(f"{op} takes one value; several values are only allowed with Eq/Ne")
        if _is_character_like(values[0]):
            raise ValueError(f"{op} is not allowed with character, boolean or NULL values")
        return Comparison(self.name, op, values)

    def eq(self, *values: Value) -> Comparison:
        return self._compare("Eq", values)

    def ne(self, *values: Value) -> Comparison:
        return self._compare("Ne", values)

    def gt(self, value: Value) -> Comparison:
        return self._compare("Gt", (value,))

    def ge(self, value: Value) -> Comparison:
        return self._compare("Ge", (value,))

    def lt(self, value: Value) -> Comparison:
        return self._compare("Lt", (value,))

    def le(self, value: Value) -> Comparison:
        return self._compare("Le", (value,))

    def bt(self, low: Value, high: Value) -> Comparison:
        for value in (low, high):
            literal(value)
            if _is_character_like(value):
                raise ValueError("Bt is not allowed with character, boolean or NULL values")
        return Comparison(self.name, "Bt", (low, high))

    def __repr__(self) -> str:
        return f"Field({self.name!r})"
