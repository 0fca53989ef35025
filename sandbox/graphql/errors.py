"""Shopify's (graphql-ruby's) wording and codes for invalid documents.

graphql-core validates against Shopify's own schema; this module rewrites its messages into the
shape Shopify answers: `{"message", "locations", "path"?, "extensions": {"code", ...}}`.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from graphql import (
    DocumentNode,
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    TypeInfo,
    TypeInfoVisitor,
    Visitor,
    visit,
)


def _locations(error: GraphQLError) -> list[dict[str, int]]:
    return [{"line": loc.line, "column": loc.column} for loc in (error.locations or [])]


def error_body(
    message: str, *, locations: list | None = None, path: list | None = None, **extensions: Any
) -> dict:
    body: dict[str, Any] = {"message": message}
    if locations:
        body["locations"] = locations
    if path is not None:
        body["path"] = path
    if extensions:
        body["extensions"] = extensions
    return body


def parse_error(error: GraphQLError) -> dict:
    location = error.locations[0] if error.locations else None
    where = f" at [{location.line}, {location.column}]" if location else ""
    description = error.message.removeprefix("Syntax Error: ")
    return error_body(
        f"Parse error: {description}{where}", locations=_locations(error), code="parseError"
    )


class _ArgumentMap(Visitor):
    """Value node id -> (field name, argument name, argument type) for literal errors."""

    def __init__(self, type_info: TypeInfo) -> None:
        super().__init__()
        self.type_info = type_info
        self.arguments: dict[int, tuple[str, str, str]] = {}
        self.paths: dict[int, list[str]] = {}
        self._field: list[str] = []
        self._operation = "query"

    def enter_operation_definition(self, node, *_):
        kind = node.operation.value
        self._operation = f"{kind} {node.name.value}" if node.name else kind
        self._field = []

    def enter_fragment_definition(self, node, *_):
        self._operation = f"fragment {node.name.value}"
        self._field = []

    def enter_field(self, node, *_):
        self._field.append(node.name.value)
        self.paths[id(node)] = [self._operation, *self._field]

    def leave_field(self, node, *_):
        self._field.pop()

    def enter_argument(self, node, *_):
        argument = self.type_info.get_argument()
        type_name = str(argument.type) if argument else "?"
        field_name = self._field[-1] if self._field else ""
        self._mark(node.value, (field_name, node.name.value, type_name))
        self.paths[id(node.value)] = [self._operation, *self._field, node.name.value]
        self.paths[id(node)] = [self._operation, *self._field]

    def _mark(self, value_node, target):
        self.arguments[id(value_node)] = target
        for child in getattr(value_node, "values", None) or []:
            self._mark(child, target)
        for child in getattr(value_node, "fields", None) or []:
            self._mark(child.value, target)


def _operation_name(document: DocumentNode) -> str:
    for definition in document.definitions:
        if isinstance(definition, OperationDefinitionNode):
            kind = definition.operation.value
            return f"{kind} {definition.name.value}" if definition.name else kind
    return "query"


def _scope(operation: str) -> str:
    return operation.split(" ", 1)[-1]


# graphql-core message -> Shopify's: (pattern, translate). `translate(groups, operation,
# node_path)` answers (message, path, code, extensions). Tried in order; the first match wins.
_Translate = Callable[[tuple, str, list | None], tuple[str, list, str, dict]]
_FIELD_RULES: list[tuple[str, _Translate]] = [
    (
        r"Cannot query field '(.+?)' on type '(.+?)'\.",
        lambda g, op, node: (
            f"Field '{g[0]}' doesn't exist on type '{g[1]}'",
            node or [op, g[0]],
            "undefinedField",
            {"typeName": g[1], "fieldName": g[0]},
        ),
    ),
    (
        r"Unknown argument '(.+?)' on field '(?:.+?\.)?(.+?)'\.",
        lambda g, op, node: (
            f"Field '{g[1]}' doesn't accept argument '{g[0]}'",
            [*node, g[0]] if node else [op, g[1], g[0]],
            "argumentNotAccepted",
            {"name": g[1], "typeName": "Field", "argumentName": g[0]},
        ),
    ),
]
_OTHER_RULES: list[tuple[str, _Translate]] = [
    (
        r"Variable '\$(.+?)' of type '(.+?)' used in position expecting type '(.+?)'\.",
        lambda g, op, node: (
            f"{'Nullability' if g[1].rstrip('!') == g[2].rstrip('!') else 'Type'} mismatch on "
            f"variable ${g[0]} and argument ({g[1]} / {g[2]})",
            [op],
            "variableMismatch",
            {"variableName": g[0], "typeName": g[1]},
        ),
    ),
    (
        r"Variable '\$(.+?)' is never used",
        lambda g, op, node: (
            f"Variable ${g[0]} is declared by {_scope(op)} but not used",
            [op],
            "variableNotUsed",
            {"variableName": g[0]},
        ),
    ),
    (
        r"Variable '\$(.+?)' is not defined",
        lambda g, op, node: (
            f"Variable ${g[0]} is used by {_scope(op)} but not declared",
            [op],
            "variableNotDefined",
            {"variableName": g[0]},
        ),
    ),
    (
        r"Field '(.+?)' of type '(.+?)' must have a selection of subfields",
        lambda g, op, node: (
            f"Field must have selections (field '{g[0]}' returns {g[1].rstrip('!')} but has no "
            f"selections. Did you mean '{g[0]} {{ ... }}'?)",
            node or [op, g[0]],
            "selectionMismatch",
            {"nodeName": f"field '{g[0]}'", "typeName": g[1].rstrip("!")},
        ),
    ),
    (
        r"Field '(.+?)' must not have a selection since type '(.+?)' has no subfields",
        lambda g, op, node: (
            f"Selections can't be made on scalars (field '{g[0]}' returns {g[1]} but has "
            "selections)",
            node or [op, g[0]],
            "selectionMismatch",
            {"nodeName": f"field '{g[0]}'", "typeName": g[1]},
        ),
    ),
    (
        r"Unknown type '(.+?)'",
        lambda g, op, node: (
            f"{g[0]} isn't a defined input type",
            [op],
            "variableRequiresValidType",
            {"typeName": g[0]},
        ),
    ),
]
_MISSING_ARGUMENT = r"Field '(.+?)' argument '(.+?)' of type '(.+?)' is required"


def _by_rule(rules, message: str, operation: str, node_path, locations) -> dict | None:
    for pattern, translate in rules:
        if match := re.match(pattern, message):
            text, path, code, extensions = translate(match.groups(), operation, node_path)
            return error_body(text, locations=locations, path=path, code=code, **extensions)
    return None


def _literal_error(error: GraphQLError, argument_map, operation: str, node_path, locations):
    """An argument written in the document with a value of the wrong type."""
    if not error.nodes or id(error.nodes[0]) not in argument_map.arguments:
        return None
    from graphql import print_ast

    field, argument, type_name = argument_map.arguments[id(error.nodes[0])]
    shown = print_ast(error.nodes[0])
    return error_body(
        f"Argument '{argument}' on Field '{field}' has an invalid value ({shown}). "
        f"Expected type '{type_name}'.",
        locations=locations,
        path=node_path or [operation, field, argument],
        code="argumentLiteralsIncompatible",
        typeName="Field",
        argumentName=argument,
    )


def translate_validation_errors(
    schema: GraphQLSchema, document: DocumentNode, errors: list[GraphQLError]
) -> list[dict]:
    type_info = TypeInfo(schema)
    argument_map = _ArgumentMap(type_info)
    visit(document, TypeInfoVisitor(type_info, argument_map))
    operation = _operation_name(document)
    result: list[dict] = []
    missing: dict[int, dict] = {}
    for error in errors:
        message = error.message
        locations = _locations(error)
        node_path = argument_map.paths.get(id(error.nodes[0])) if error.nodes else None
        if match := re.match(_MISSING_ARGUMENT, message):
            # Shopify names every missing argument of a field in one error.
            field, argument, _ = match.groups()
            node_id = id(error.nodes[0]) if error.nodes else 0
            if node_id in missing:
                body = missing[node_id]
                body["extensions"]["arguments"] += f", {argument}"
                body["message"] = (
                    f"Field '{field}' is missing required arguments: {body['extensions']['arguments']}"
                )
                continue
            body = error_body(
                f"Field '{field}' is missing required arguments: {argument}",
                locations=locations,
                path=node_path or [operation, field],
                code="missingRequiredArguments",
                className="Field",
                name=field,
                arguments=argument,
            )
            missing[node_id] = body
            result.append(body)
            continue
        body = (
            _by_rule(_FIELD_RULES, message, operation, node_path, locations)
            or _literal_error(error, argument_map, operation, node_path, locations)
            or _by_rule(_OTHER_RULES, message, operation, node_path, locations)
        )
        if body is None:
            body = error_body(
                message, locations=locations, path=[operation], code="validationError"
            )
        result.append(body)
    return result


def variable_error(definition, value: Any, explanation: str) -> dict:
    name = definition.variable.name.value
    from graphql import print_ast

    type_text = print_ast(definition.type)
    loc = definition.loc
    locations = []
    if loc is not None and loc.source is not None:
        from graphql.language import get_location

        where = get_location(loc.source, loc.start)
        locations = [{"line": where.line, "column": where.column}]
    return error_body(
        f"Variable ${name} of type {type_text} was provided invalid value",
        locations=locations,
        code="INVALID_VARIABLE",
        value=value,
        problems=[{"path": [], "explanation": explanation}],
    )


def access_denied(field: str, scopes: tuple[str, ...]) -> GraphQLError:
    # Shopify names the read scope even where a write scope would also do.
    requirement = f"`{scopes[0]}` access scope."
    return GraphQLError(
        f"Access denied for {field} field. Required access: {requirement}",
        extensions={
            "code": "ACCESS_DENIED",
            "documentation": "https://shopify.dev/api/usage/access-scopes",
            "requiredAccess": requirement,
        },
    )


def user_input_error(message: str, code: str = "BAD_REQUEST") -> GraphQLError:
    return GraphQLError(message, extensions={"code": code})
