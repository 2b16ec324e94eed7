"""A subset of SparkQL, the ``_filter`` language (docs/spark-protocol.md#filter-syntax; sparkapi/sparkql).

Supported: ``Eq Ne Gt Ge Lt Le Bt``; ``And``/``Or`` with equal precedence, left to right; ``Not`` first in
an expression list or as a conjunction (``A Not B`` is ``A And Not B``); groups in parentheses; literals
(character with backslash escapes and ``*`` wildcards, integer, decimal, date, datetime, time, boolean,
NULL); several comma-separated values with ``Eq``/``Ne`` (``City Eq 'Fargo','Moorhead'``); the functions
``now()``, ``days(n)``, ``radius('lat lon', distance)`` and ``rectangle('lat lon,lat lon')`` (the last two
only on ``Location``).

Errors raise ``FilterError`` (code 1040; 1041 for size limits) with SparkQLErrors entries.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

MAX_EXPRESSIONS = 75
MAX_VALUES = 200
EARTH_RADIUS_MI = 3958.8
KM_PER_MI = 1.609344


class FilterError(Exception):
    def __init__(self, message: str, token: str = "", code: int = 1040) -> None:
        super().__init__(message)
        self.message = message
        self.token = token
        self.code = code

    def sparkql_errors(self, expression: str) -> list[dict[str, Any]]:
        return [{"Token": self.token, "Expression": expression, "Message": self.message, "Status": "Fatal"}]


@dataclass
class Literal:
    type: str  # character, integer, decimal, date, datetime, time, boolean, null, function
    value: Any
    text: str
    args: list[Literal] = field(default_factory=list)


@dataclass
class Condition:
    field: str
    op: str
    values: list[Literal]


@dataclass
class Negation:
    node: Any


@dataclass
class Junction:
    first: Any
    rest: list[tuple[str, Any]]  # ("And" | "Or", node); a Not conjunction is stored as ("And", Negation)


OPERATORS = {"eq": "Eq", "ne": "Ne", "gt": "Gt", "ge": "Ge", "lt": "Lt", "le": "Le", "bt": "Bt"}
CONJUNCTIONS = {"and": "And", "or": "Or", "not": "Not"}

_TOKEN = re.compile(
    r"""
    (?P<space>\s+)
  | (?P<lparen>\() | (?P<rparen>\)) | (?P<comma>,)
  | (?P<character>'(?:[^'\\]|\\.)*')
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?(?:Z|[+-]\d{2}:?\d{2})?)
  | (?P<date>\d{4}-\d{2}-\d{2})
  | (?P<time>\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?)
  | (?P<decimal>-?\d+\.\d+)
  | (?P<integer>-?\d+)
  | (?P<custom>"[^".]+"\."[^".]+")
  | (?P<word>[A-Za-z_][A-Za-z0-9_]*)
    """,
    re.VERBOSE,
)


@dataclass
class Token:
    kind: str
    text: str


def tokenize(text: str) -> list[Token]:
    tokens: list[Token] = []
    pos = 0
    while pos < len(text):
        match = _TOKEN.match(text, pos)
        if match is None:
            raise FilterError(f"Unexpected character at position {pos}", text[pos : pos + 10])
        pos = match.end()
        kind = match.lastgroup or ""
        if kind == "space":
            continue
        value = match.group()
        if kind == "word":
            lowered = value.lower()
            if lowered in OPERATORS:
                tokens.append(Token("operator", OPERATORS[lowered]))
            elif lowered in CONJUNCTIONS:
                tokens.append(Token("conjunction", CONJUNCTIONS[lowered]))
            elif lowered in {"true", "false"}:
                tokens.append(Token("boolean", lowered))
            elif lowered == "null":
                tokens.append(Token("null", value))
            else:
                tokens.append(Token("word", value))
        else:
            tokens.append(Token(kind, value))
    return tokens


FieldTypes = dict[
    str, str
]  # field name -> Character | Integer | Decimal | Date | Datetime | Boolean | Location


class Parser:
    def __init__(self, text: str, field_types: FieldTypes) -> None:
        self.text = text
        self.tokens = tokenize(text)
        self.pos = 0
        self.field_types = field_types
        self.expressions = 0

    def peek(self) -> Token | None:
        return self.tokens[self.pos] if self.pos < len(self.tokens) else None

    def take(self) -> Token:
        token = self.peek()
        if token is None:
            raise FilterError("Unexpected end of filter")
        self.pos += 1
        return token

    def parse(self) -> Any:
        if not self.tokens:
            raise FilterError("Empty filter")
        node = self.expressions_()
        if self.peek() is not None:
            raise FilterError("Unexpected token", self.peek().text)
        return node

    def expressions_(self) -> Any:
        token = self.peek()
        if token is not None and token.kind == "conjunction" and token.text == "Not":
            self.take()
            first: Any = Negation(self.expression())
        else:
            first = self.expression()
        rest: list[tuple[str, Any]] = []
        while (token := self.peek()) is not None and token.kind == "conjunction":
            self.take()
            node = self.expression()
            rest.append(("And", Negation(node)) if token.text == "Not" else (token.text, node))
        return Junction(first, rest) if rest else first

    def expression(self) -> Any:
        token = self.take()
        if token.kind == "lparen":
            node = self.expressions_()
            closing = self.take()
            if closing.kind != "rparen":
                raise FilterError("Expected ')'", closing.text)
            return node
        if token.kind not in {"word", "custom"}:
            raise FilterError("Expected a field name", token.text)
        self.expressions += 1
        if self.expressions > MAX_EXPRESSIONS:
            raise FilterError(f"More than {MAX_EXPRESSIONS} expressions", token.text, code=1041)
        name = token.text
        if token.kind == "custom":
            field_type = "Character"
        elif name in self.field_types:
            field_type = self.field_types[name]
        else:
            raise FilterError(f"Unknown or unsearchable field: {name}", name)
        operator = self.take()
        if operator.kind != "operator":
            raise FilterError("Expected an operator", operator.text)
        values = [self.value()]
        while (comma := self.peek()) is not None and comma.kind == "comma":
            self.take()
            values.append(self.value())
        if len(values) > MAX_VALUES:
            raise FilterError(f"More than {MAX_VALUES} values", name, code=1041)
        self.check(name, field_type, operator.text, values)
        return Condition(name, operator.text, values)

    def value(self) -> Literal:
        token = self.take()
        kind, text = token.kind, token.text
        if kind == "character":
            return Literal("character", re.sub(r"\\(.)", r"\1", text[1:-1]), text)
        if kind == "integer":
            return Literal("integer", int(text), text)
        if kind == "decimal":
            return Literal("decimal", Decimal(text), text)
        if kind == "date":
            return Literal("date", _parse_date(text), text)
        if kind == "datetime":
            return Literal("datetime", _parse_datetime(text), text)
        if kind == "time":
            return Literal("time", _parse_time(text), text)
        if kind == "boolean":
            return Literal("boolean", text == "true", text)
        if kind == "null":
            return Literal("null", None, text)
        if kind == "word" and (paren := self.peek()) is not None and paren.kind == "lparen":
            self.take()
            args: list[Literal] = []
            if (closing := self.peek()) is not None and closing.kind == "rparen":
                self.take()
            else:
                while True:
                    args.append(self.value())
                    separator = self.take()
                    if separator.kind == "rparen":
                        break
                    if separator.kind != "comma":
                        raise FilterError("Expected ',' or ')'", separator.text)
            return _function(text, args)
        raise FilterError("Expected a value", text)

    def check(self, name: str, field_type: str, op: str, values: list[Literal]) -> None:
        types = {value.type for value in values}
        if len(values) > 1:
            if op == "Bt":
                if len(values) != 2 or not types <= {"integer", "decimal", "date", "datetime"}:
                    raise FilterError("Bt takes two numbers, dates or datetimes", name)
            elif op not in {"Eq", "Ne"}:
                raise FilterError(f"{op} takes a single value", name)
            elif not types <= {"integer", "decimal", "character"}:
                raise FilterError("Only numbers and strings can be listed", name)
        elif op == "Bt":
            raise FilterError("Bt takes two values", name)
        if field_type == "Location":
            if op != "Eq" or types != {"function"} or values[0].value[0] not in {"radius", "rectangle"}:
                raise FilterError("Location takes Eq radius(...) or rectangle(...)", name)
            return
        if types & {"character", "boolean", "null"} and op not in {"Eq", "Ne"}:
            raise FilterError(f"{op} is not allowed with this value type", name)
        allowed = {
            "Character": {"character", "null"},
            "Integer": {"integer", "decimal", "null"},
            "Decimal": {"integer", "decimal", "null"},
            "Date": {"date", "null", "function"},
            "Datetime": {"datetime", "date", "null", "function"},
            "Boolean": {"boolean", "null"},
        }[field_type]
        if not types <= allowed:
            raise FilterError(f"Value type not valid for {name} ({field_type})", name)
        if "function" in types and any(
            v.value[0] not in {"now", "days"} for v in values if v.type == "function"
        ):
            raise FilterError("Function not valid for this field", name)


def _function(name: str, args: list[Literal]) -> Literal:
    lowered = name.lower()
    text = f"{name}({','.join(a.text for a in args)})"
    if lowered == "now" and not args:
        return Literal("function", ("now", None), text)
    if lowered == "days" and len(args) == 1 and args[0].type == "integer":
        return Literal("function", ("days", args[0].value), text)
    if lowered == "radius" and len(args) == 2 and args[0].type == "character":
        if args[1].type not in {"integer", "decimal"}:
            raise FilterError("radius() needs a distance", text)
        lat, lon = _point(args[0].value, text)
        return Literal("function", ("radius", (lat, lon, float(args[1].value))), text)
    if lowered == "rectangle" and len(args) == 1 and args[0].type == "character":
        corners = args[0].value.split(",")
        if len(corners) != 2:
            raise FilterError("rectangle() needs two corners", text)
        (lat1, lon1), (lat2, lon2) = (_point(corner, text) for corner in corners)
        return Literal(
            "function",
            ("rectangle", (min(lat1, lat2), max(lat1, lat2), min(lon1, lon2), max(lon1, lon2))),
            text,
        )
    raise FilterError(f"Unknown function or bad arguments: {name}", text)


def _point(text: str, token: str) -> tuple[float, float]:
    parts = text.split()
    try:
        lat, lon = (float(part) for part in parts)
    except ValueError:
        raise FilterError("A coordinate is 'lat lon'", token) from None
    return lat, lon


def _parse_date(text: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise FilterError("Invalid date", text) from None


def _parse_datetime(text: str) -> dt.datetime:
    try:
        value = dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise FilterError("Invalid datetime", text) from None
    return value if value.tzinfo else value.replace(tzinfo=dt.UTC)


def _parse_time(text: str) -> dt.time:
    try:
        return dt.time.fromisoformat(text)
    except ValueError:
        raise FilterError("Invalid time", text) from None


def parse(text: str, field_types: FieldTypes) -> Any:
    return Parser(text, field_types).parse()


# --- evaluation -------------------------------------------------------------------------------------------

Resolver = Callable[[str], Any]


@dataclass
class Context:
    now: dt.datetime
    distance_units: str = "mi"


def matches(node: Any, resolve: Resolver, context: Context) -> bool:
    if isinstance(node, Junction):
        result = matches(node.first, resolve, context)
        for conjunction, item in node.rest:
            value = matches(item, resolve, context)
            result = (result and value) if conjunction == "And" else (result or value)
        return result
    if isinstance(node, Negation):
        return not matches(node.node, resolve, context)
    return _condition(node, resolve, context)


def _condition(condition: Condition, resolve: Resolver, context: Context) -> bool:
    if condition.field == "Location":
        return _location(condition.values[0].value, resolve, context)
    actual = resolve(condition.field)
    values = [_literal_value(v, context) for v in condition.values]
    op = condition.op
    if op in {"Eq", "Ne"}:
        equal = any(_equals(actual, expected) for expected in values)
        return equal if op == "Eq" else not equal
    actual_cmp = _comparable(actual)
    if actual_cmp is None:
        return False
    bounds = [_comparable(v, like=actual_cmp) for v in values]
    if any(b is None for b in bounds):
        return False
    try:
        if op == "Bt":
            low, high = sorted(bounds)
            return low <= actual_cmp <= high
        bound = bounds[0]
        return {
            "Gt": actual_cmp > bound,
            "Ge": actual_cmp >= bound,
            "Lt": actual_cmp < bound,
            "Le": actual_cmp <= bound,
        }[op]
    except TypeError:
        return False


def _literal_value(literal: Literal, context: Context) -> Any:
    if literal.type != "function":
        return literal.value
    name, argument = literal.value
    if name == "now":
        return context.now
    return context.now + dt.timedelta(days=argument)


def _equals(actual: Any, expected: Any) -> bool:
    if expected is None:
        return actual is None or actual == ""
    if actual is None:
        return False
    if isinstance(expected, str):
        if not isinstance(actual, str):
            return False
        if "*" in expected:
            pattern = ".*".join(re.escape(part) for part in expected.split("*"))
            return re.fullmatch(pattern, actual, re.IGNORECASE | re.DOTALL) is not None
        return actual.casefold() == expected.casefold()
    if isinstance(expected, bool) or isinstance(actual, bool):
        return actual is expected
    left, right = _comparable(actual), _comparable(expected, like=_comparable(actual))
    return left is not None and left == right


def _comparable(value: Any, like: Any = None) -> Any:
    """Numbers as Decimal, dates as date, datetimes as aware datetime; None when not comparable."""
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, int | float | Decimal):
        try:
            return Decimal(str(value))
        except InvalidOperation:
            return None
    if isinstance(value, dt.datetime):
        return value if value.tzinfo else value.replace(tzinfo=dt.UTC)
    if isinstance(value, dt.date):
        if isinstance(like, dt.datetime):
            return dt.datetime.combine(value, dt.time(), tzinfo=dt.UTC)
        return value
    if isinstance(value, dt.time):
        return value
    if isinstance(value, str):
        for parse_one in (_try_datetime, _try_date):
            parsed = parse_one(value)
            if parsed is not None:
                return _comparable(parsed, like)
    return None


def _try_date(text: str) -> dt.date | None:
    try:
        return dt.date.fromisoformat(text) if len(text) == 10 else None
    except ValueError:
        return None


def _try_datetime(text: str) -> dt.datetime | None:
    if "T" not in text:
        return None
    try:
        return dt.datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        return None


def _location(function: tuple[str, Any], resolve: Resolver, context: Context) -> bool:
    lat, lon = resolve("Latitude"), resolve("Longitude")
    if not isinstance(lat, int | float) or not isinstance(lon, int | float):
        return False
    name, argument = function
    if name == "rectangle":
        south, north, west, east = argument
        return south <= lat <= north and west <= lon <= east
    center_lat, center_lon, distance = argument
    miles = distance * (1 / KM_PER_MI if context.distance_units == "km" else 1)
    return haversine_miles(center_lat, center_lon, lat, lon) <= miles


def haversine_miles(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lon2 - lon1)
    a = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH_RADIUS_MI * math.asin(math.sqrt(a))
