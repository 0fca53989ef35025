"""Text -> AST with lark (grammar.lark), then the registry checks (check.py).

`parse_query` is the one entry point: it returns a checked `Query` or raises
`SegmentQueryError` listing every problem with its position, so a bad query never reaches
the database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedInput, UnexpectedToken, VisitError

from segments.query import ast
from segments.query.ast import Literal, LiteralKind, Operator, Span
from segments.query.errors import QueryErrorDetail, SegmentQueryError

MAX_QUERY_LENGTH = 20_000

_VALUE_TERMINALS = {
    "STRING",
    "NUMBER",
    "DATE",
    "DATETIME",
    "OFFSET",
    "LEGACY_DATE",
    "NAMED_DATE",
    "BOOLEAN",
}
_EXPECTED_NAMES = {
    "NAME": "an attribute name",
    "OPERATOR": "an operator (=, !=, >, >=, <, <=)",
    "_AND": "AND",
    "_OR": "OR",
    "NOT": "NOT",
    "_BETWEEN": "BETWEEN",
    "_CONTAINS": "CONTAINS",
    "_MATCHES": "MATCHES",
    "_IS": "IS",
    "_NULL": "NULL",
    "_IN": "IN",
    "LPAR": "(",
    "RPAR": ")",
    "COMMA": ",",
    "COLON": ":",
    "$END": "the end of the query",
}
_LEGACY = re.compile(r"(\d+)_(day|week|month|year)s?_ago", re.IGNORECASE)


@cache
def _lark() -> Lark:
    grammar = (Path(__file__).parent / "grammar.lark").read_text()
    return Lark(grammar, parser="lalr", lexer="contextual", propagate_positions=True)


def _span_of_token(token: Token) -> Span:
    return Span(token.line, token.column, token.end_line, token.end_column)


def _span_of_meta(meta) -> Span:
    if getattr(meta, "empty", True):
        return ast.NO_SPAN
    return Span(meta.line, meta.column, meta.end_line, meta.end_column)


def _unescape(quoted: str) -> str:
    return re.sub(r"\\(.)", r"\1", quoted[1:-1])


def _literal(token: Token) -> Literal:
    span, source = _span_of_token(token), str(token)
    kind = token.type
    if kind == "STRING":
        return Literal(LiteralKind.STRING, _unescape(source), span, source)
    if kind == "LEGACY_DATE":
        amount, unit = _LEGACY.fullmatch(source).groups()
        return Literal(LiteralKind.OFFSET, f"-{int(amount)}{unit[0].lower()}", span, source)
    if kind == "NAMED_DATE":
        return Literal(LiteralKind.NAMED_DATE, source.lower(), span, source)
    if kind == "BOOLEAN":
        return Literal(LiteralKind.BOOLEAN, source.lower(), span, source)
    if kind == "OFFSET":
        sign, amount, unit = source[0], int(source[1:-1]), source[-1]
        return Literal(LiteralKind.OFFSET, f"{sign}{amount}{unit}", span, source)
    return Literal(LiteralKind(kind.lower()), source, span, source)


class _ToAst(Transformer):
    """Builds ast nodes from lark's tree; every value token becomes a Literal."""

    def __default_token__(self, token: Token):
        return _literal(token) if token.type in _VALUE_TERMINALS else token

    def start(self, children):
        return children[0]

    def or_expr(self, children):
        return ast.Or(tuple(_flatten(ast.Or, children)))

    def and_expr(self, children):
        return ast.And(tuple(_flatten(ast.And, children)))

    @v_args(meta=True)
    def compare(self, meta, children):
        name, operator, value = children
        return _condition(meta, name, Operator(str(operator)), (value,))

    @v_args(meta=True)
    def between(self, meta, children):
        name, low, high = children
        return _condition(meta, name, Operator.BETWEEN, (low, high))

    @v_args(meta=True)
    def contains(self, meta, children):
        name, value = children[0], children[-1]
        negated = len(children) == 3
        return _condition(
            meta, name, Operator.NOT_CONTAINS if negated else Operator.CONTAINS, (value,)
        )

    @v_args(meta=True)
    def null_check(self, meta, children):
        negated = len(children) == 2
        return _condition(
            meta, children[0], Operator.IS_NOT_NULL if negated else Operator.IS_NULL, ()
        )

    @v_args(meta=True)
    def in_list(self, meta, children):
        name, rest = children[0], children[1:]
        negated = bool(rest) and isinstance(rest[0], Token) and rest[0].type == "NOT"
        values = tuple(rest[1:] if negated else rest)
        return _condition(meta, name, Operator.NOT_IN if negated else Operator.IN, values)

    @v_args(meta=True)
    def matches(self, meta, children):
        name, rest = children[0], children[1:]
        negated = bool(rest) and isinstance(rest[0], Token) and rest[0].type == "NOT"
        params = tuple(child for child in (rest[1:] if negated else rest) if child is not None)
        return ast.FunctionCondition(
            function=str(name),
            negated=negated,
            params=params,
            span=_span_of_meta(meta),
            attribute_span=_span_of_token(name),
        )

    @v_args(meta=True)
    def call(self, meta, children):
        name, args = children[0], tuple(child for child in children[1:] if child is not None)
        return name, args

    def call_arg(self, children):
        name, value = children
        return str(name), value

    @v_args(meta=True)
    def call_compare(self, meta, children):
        (name, args), operator, value = children
        return _call(meta, name, args, Operator(str(operator)), (value,))

    @v_args(meta=True)
    def call_between(self, meta, children):
        (name, args), low, high = children
        return _call(meta, name, args, Operator.BETWEEN, (low, high))


def _flatten(node_type, children):
    for child in children:
        if isinstance(child, node_type):
            yield from child.items
        else:
            yield child


def _condition(meta, name: Token, operator: Operator, values) -> ast.Condition:
    return ast.Condition(
        attribute=str(name),
        operator=operator,
        values=tuple(values),
        span=_span_of_meta(meta),
        attribute_span=_span_of_token(name),
    )


def _call(meta, name: Token, args, operator: Operator, values) -> ast.CallCondition:
    return ast.CallCondition(
        function=str(name),
        args=args,
        operator=operator,
        values=tuple(values),
        span=_span_of_meta(meta),
        attribute_span=_span_of_token(name),
    )


def _expected(terminals) -> tuple[str, ...]:
    names = {"a value" if t in _VALUE_TERMINALS else _EXPECTED_NAMES.get(t, t) for t in terminals}
    return tuple(sorted(names))


def _word_at(text: str, pos: int) -> str:
    match = re.compile(r"\S+").match(text, pos)
    return match.group(0)[:40] if match else ""


def _syntax_error(text: str, error: UnexpectedInput) -> QueryErrorDetail:
    if isinstance(error, UnexpectedCharacters):
        offending = _word_at(text, error.pos_in_stream)
        expected = _expected(error.allowed or ())
        if error.char == '"':
            message, code = "Strings are written in single quotes: 'like this'.", "double_quotes"
        elif error.char == "'":
            message, code = "This string is never closed (a ' is missing).", "unterminated_string"
        else:
            message = f"Unexpected {offending!r}; expected {' or '.join(expected)}."
            code = "unexpected_text"
        return QueryErrorDetail(
            code=code,
            message=message,
            line=error.line,
            column=error.column,
            end_line=error.line,
            end_column=error.column + max(len(offending), 1),
            text=offending,
            expected=expected,
        )
    assert isinstance(error, UnexpectedToken)
    token, expected = error.token, _expected(error.accepts or error.expected)
    if token.type == "$END":
        lines = text.split("\n")
        line, column = len(lines), len(lines[-1]) + 1
        return QueryErrorDetail(
            code="unexpected_end",
            message=f"The query ends too early; expected {' or '.join(expected)}.",
            line=line,
            column=column,
            end_line=line,
            end_column=column,
            expected=expected,
        )
    if token.type == "NAME" and "a value" in expected:
        return QueryErrorDetail(
            code="unquoted_string",
            message=f"Unexpected {str(token)!r}; strings are written in single quotes.",
            line=token.line,
            column=token.column,
            end_line=token.end_line,
            end_column=token.end_column,
            text=str(token),
            expected=expected,
            suggestion=f"'{token}'",
        )
    return QueryErrorDetail(
        code="unexpected_token",
        message=f"Unexpected {str(token)!r}; expected {' or '.join(expected)}.",
        line=token.line,
        column=token.column,
        end_line=token.end_line,
        end_column=token.end_column,
        text=str(token),
        expected=expected,
    )


def parse_syntax(text: str) -> ast.Node:
    """The unchecked AST of `text`; raises SegmentQueryError on a syntax error."""
    if not isinstance(text, str) or not text.strip():
        raise SegmentQueryError([QueryErrorDetail("empty", "The query is empty.", 1, 1, 1, 1)])
    if len(text) > MAX_QUERY_LENGTH:
        raise SegmentQueryError(
            [
                QueryErrorDetail(
                    "too_long",
                    f"The query is longer than {MAX_QUERY_LENGTH} characters.",
                    1,
                    1,
                    1,
                    1,
                )
            ]
        )
    try:
        tree = _lark().parse(text)
        return _ToAst().transform(tree)
    except UnexpectedInput as error:
        raise SegmentQueryError([_syntax_error(text, error)]) from None
    except VisitError as error:  # pragma: no cover - a bug in _ToAst, not user input
        raise error.orig_exc from error


@dataclass(frozen=True)
class Query:
    """A checked query: its AST, canonical text and the attributes it reads."""

    root: ast.Node

    @property
    def text(self) -> str:
        from segments.query.normalise import to_text

        return to_text(self.root)

    @property
    def attributes(self) -> frozenset[str]:
        names = set()
        for clause in ast.clauses(self.root):
            names.add(
                clause.function if not isinstance(clause, ast.Condition) else clause.attribute
            )
        return frozenset(names)


def parse_query(text: str, *, context=None) -> Query:
    """Parse and check `text`; `context` (check.CheckContext) adds the known shops and groups."""
    from segments.query.check import check

    return Query(check(parse_syntax(text), context=context))
