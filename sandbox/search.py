"""Shopify's search syntax for `query:` arguments, compiled to a Python predicate.

Supported: `field:value`, comparators `:<`, `:>`, `:<=`, `:>=`, quoted values ('...' or "..."),
`field:*` (has a value), `value*` prefixes, implicit AND, `AND`, `OR`, `NOT` / `-` and parentheses;
free text matches names, email and phone. Fields the resource does not know are ignored (they
match everything), as Shopify does; `Query.warnings` lists them for `extensions.search`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from sandbox.store import SandboxError

TOKEN = re.compile(
    r"""\s*(?:
      (?P<open>\()|(?P<close>\))|
      (?P<term>-?(?:[A-Za-z_][\w.]*:(?:<=|>=|<|>|=)?)?(?:'[^']*'|"[^"]*"|[^\s()'"]+)?)
    )""",
    re.VERBOSE,
)


@dataclass
class Term:
    field: str | None  # None = free text
    comparator: str  # ':', '<', '>', '<=', '>='
    value: str


@dataclass
class Node:
    op: str  # 'and', 'or', 'not', 'term'
    children: list[Node] = field(default_factory=list)
    term: Term | None = None


class SearchSyntaxError(SandboxError):
    pass


def tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if text[position:].strip() == "":
            break
        match = TOKEN.match(text, position)
        if not match or match.end() == position:
            raise SearchSyntaxError(
                f"cannot read the search query at position {position}: {text!r}"
            )
        position = match.end()
        if match.group("open"):
            tokens.append(("(", "("))
        elif match.group("close"):
            tokens.append((")", ")"))
        elif match.group("term"):
            tokens.append(("term", match.group("term")))
    return tokens


def parse(text: str | None) -> Node | None:
    if not text or not text.strip():
        return None
    tokens = tokenize(text)
    position = 0

    def peek() -> tuple[str, str] | None:
        return tokens[position] if position < len(tokens) else None

    def parse_or() -> Node:
        nonlocal position
        children = [parse_and()]
        while (token := peek()) and token == ("term", "OR"):
            position += 1
            children.append(parse_and())
        return children[0] if len(children) == 1 else Node("or", children)

    def parse_and() -> Node:
        nonlocal position
        children = [parse_unary()]
        while (token := peek()) and token[0] != ")" and token != ("term", "OR"):
            if token == ("term", "AND"):
                position += 1
                continue
            children.append(parse_unary())
        return children[0] if len(children) == 1 else Node("and", children)

    def parse_unary() -> Node:
        nonlocal position
        token = peek()
        if token is None:
            return Node("and")  # dangling operator: matches everything
        position += 1
        kind, value = token
        if kind == "(":
            inner = parse_or()
            if peek() and peek()[0] == ")":
                position += 1
            return inner
        if kind == ")":
            return Node("and")
        if value == "NOT":
            return Node("not", [parse_unary()])
        if value == "-" and peek() and peek()[0] == "(":
            return Node("not", [parse_unary()])
        if value.startswith("-") and len(value) > 1:
            return Node("not", [term_node(value[1:])])
        return term_node(value)

    tree = parse_or()
    return tree


def term_node(text: str) -> Node:
    match = re.match(r"([A-Za-z_][\w.]*):(<=|>=|<|>|=)?(.*)$", text, re.S)
    if match:
        name, comparator, value = match.group(1), match.group(2) or ":", match.group(3)
        if comparator == "=":
            comparator = ":"
        return Node("term", term=Term(name.lower(), comparator, unquote(value)))
    return Node("term", term=Term(None, ":", unquote(text)))


def unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


# ------------------------------------------------------------------ values
def parse_moment(value: str) -> tuple[int, int]:
    """A search date/time -> [start_ms, end_ms) it covers (a date covers the whole day)."""
    text = value.strip()
    if text.lower() == "now":
        now = int(datetime.now(UTC).timestamp() * 1000)
        return now, now + 1
    try:
        if re.fullmatch(r"\d{4}", text):
            start = datetime(int(text), 1, 1, tzinfo=UTC)
            end = datetime(int(text) + 1, 1, 1, tzinfo=UTC)
        elif re.fullmatch(r"\d{4}-\d{2}-\d{2}", text):
            start = datetime.fromisoformat(text).replace(tzinfo=UTC)
            end = start + timedelta(days=1)
        else:
            start = datetime.fromisoformat(text)
            if start.tzinfo is None:
                start = start.replace(tzinfo=UTC)
            end = start + timedelta(seconds=1)
    except ValueError:
        raise SearchSyntaxError(f"not a date or time in the search query: {value!r}") from None
    return int(start.timestamp() * 1000), int(end.timestamp() * 1000)


def compare(actual: Any, comparator: str, low: Any, high: Any | None = None) -> bool:
    """`high` is the exclusive end of the value's span for ':' on dates."""
    if actual is None:
        return False
    if comparator == ":":
        return low <= actual < high if high is not None else actual == low
    if comparator == ">":
        return actual >= high if high is not None else actual > low
    if comparator == ">=":
        return actual >= low
    if comparator == "<":
        return actual < low
    if comparator == "<=":
        return actual < high if high is not None else actual <= low
    return False


# ------------------------------------------------------------------ compile
@dataclass
class FieldSpec:
    kind: str  # id, time, text, enum, tags, number, money, bool, prefix
    getter: Callable[[Any], Any]


Predicate = Callable[[Any], bool]


@dataclass
class Query:
    text: str | None
    tree: Node | None
    predicate: Predicate | None
    warnings: list[dict[str, str]]

    def bounds(self, name: str) -> tuple[int | None, int | None]:
        """[low, high) in the field's own units, from top-level AND terms on `name` (time/id)."""
        low: int | None = None
        high: int | None = None
        terms: list[Node] = []
        if self.tree is not None:
            terms = self.tree.children if self.tree.op == "and" else [self.tree]
        for node in terms:
            if node.op != "term" or node.term.field != name:
                continue
            term = node.term
            try:
                start, end = (
                    parse_moment(term.value) if name.endswith("_at") else _id_span(term.value)
                )
            except SandboxError:
                continue
            if term.comparator in (":",):
                low, high = _max(low, start), _min(high, end)
            elif term.comparator == ">":
                low = _max(low, end)
            elif term.comparator == ">=":
                low = _max(low, start)
            elif term.comparator == "<":
                high = _min(high, start)
            elif term.comparator == "<=":
                high = _min(high, end)
        return low, high


def _id_span(value: str) -> tuple[int, int]:
    number = _parse_id(value)
    return number, number + 1


def _max(a, b):
    return b if a is None else max(a, b)


def _min(a, b):
    return b if a is None else min(a, b)


def _parse_id(value: str) -> int:
    match = re.search(r"(\d+)$", value.strip())
    if not match:
        raise SearchSyntaxError(f"not an id in the search query: {value!r}")
    return int(match.group(1))


def compile_query(
    text: str | None, fields: dict[str, FieldSpec], free_text: Callable[[Any], str]
) -> Query:
    tree = parse(text)
    warnings: list[dict[str, str]] = []
    if tree is None:
        return Query(text, None, None, warnings)

    def build(node: Node) -> Predicate | None:
        if node.op == "and":
            parts = [p for p in (build(child) for child in node.children) if p is not None]
            if not parts:
                return None
            return parts[0] if len(parts) == 1 else (lambda item: all(p(item) for p in parts))
        if node.op == "or":
            parts = [build(child) for child in node.children]
            if any(p is None for p in parts):
                return None  # an ignored alternative matches everything
            return lambda item: any(p(item) for p in parts)
        if node.op == "not":
            inner = build(node.children[0])
            if inner is None:
                return None
            return lambda item: not inner(item)
        return build_term(node.term)

    def build_term(term: Term) -> Predicate | None:
        if term.field is None:
            words = [w.lower() for w in term.value.split() if w]
            if not words:
                return None
            return lambda item: all(word.rstrip("*") in free_text(item) for word in words)
        spec = fields.get(term.field)
        if spec is None:
            warnings.append(
                {
                    "field": term.field,
                    "message": "Invalid search field for this query.",
                    "code": "invalid_field",
                }
            )
            return None
        return term_predicate(spec, term)

    predicate = build(tree)
    return Query(text, tree, predicate, warnings)


def term_predicate(spec: FieldSpec, term: Term) -> Predicate:
    get = spec.getter
    value = term.value
    comparator = term.comparator
    if value == "*" and comparator == ":":
        if spec.kind == "tags":
            return lambda item: bool(get(item))
        return lambda item: get(item) not in (None, "", ())
    if spec.kind == "time":
        start, end = parse_moment(value)
        return lambda item: compare(get(item), comparator, start, end)
    if spec.kind == "id":
        number = _parse_id(value)
        return lambda item: compare(get(item), comparator, number)
    if spec.kind in ("number", "money"):
        try:
            number = Decimal(value)
        except InvalidOperation:
            raise SearchSyntaxError(
                f"not a number in the search query: {term.field}:{value}"
            ) from None
        if spec.kind == "money":
            number = number * 100
        return lambda item: compare(get(item), comparator, number)
    if spec.kind == "bool":
        wanted = value.lower() in ("true", "1", "yes")
        return lambda item: bool(get(item)) == wanted
    if spec.kind == "tags":
        wanted = value.lower()
        if wanted.endswith("*"):
            stem = wanted[:-1]
            return lambda item: any(tag.lower().startswith(stem) for tag in get(item))
        return lambda item: any(tag.lower() == wanted for tag in get(item))
    if spec.kind == "phone":
        wanted_digits = re.sub(r"\D", "", value)

        def phone_matches(item: Any) -> bool:
            actual = re.sub(r"\D", "", get(item) or "")
            return (
                bool(actual)
                and bool(wanted_digits)
                and (
                    actual == wanted_digits
                    or actual.endswith(wanted_digits)
                    or wanted_digits.endswith(actual)
                )
            )

        return phone_matches
    if spec.kind == "tags_not":
        wanted = value.lower()
        return lambda item: all(tag.lower() != wanted for tag in get(item))
    # text / enum: case-insensitive equality, `value*` as a prefix; a getter may return a tuple.
    wanted = value.lower()
    prefix = wanted.endswith("*")
    stem = wanted.rstrip("*")

    def matches(item: Any) -> bool:
        actual = get(item)
        options = actual if isinstance(actual, tuple) else (actual,)
        for option in options:
            if option is None:
                continue
            option = str(option).lower()
            if option == wanted or (prefix and option.startswith(stem)):
                return True
        return False

    return matches
