"""Shopify's (graphql-ruby's) wording and codes for invalid documents.

graphql-core validates against Shopify's own schema; this module rewrites its messages into the
shape Shopify answers: `{"message", "locations", "path"?, "extensions": {"code", ...}}`.
"""

from __future__ import annotations

import re
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
        if match := re.match(r"Cannot query field '(.+?)' on type '(.+?)'\.", message):
            field, type_name = match.groups()
            result.append(
                error_body(
                    f"Field '{field}' doesn't exist on type '{type_name}'",
                    locations=locations,
                    path=node_path or [operation, field],
                    code="undefinedField",
                    typeName=type_name,
                    fieldName=field,
                )
            )
        elif match := re.match(
            r"Field '(.+?)' argument '(.+?)' of type '(.+?)' is required", message
        ):
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
        elif match := re.match(r"Unknown argument '(.+?)' on field '(?:.+?\.)?(.+?)'\.", message):
            argument, field = match.groups()
            result.append(
                error_body(
                    f"Field '{field}' doesn't accept argument '{argument}'",
                    locations=locations,
                    path=([*node_path, argument]) if node_path else [operation, field, argument],
                    code="argumentNotAccepted",
                    name=field,
                    typeName="Field",
                    argumentName=argument,
                )
            )
        elif error.nodes and id(error.nodes[0]) in argument_map.arguments:
            field, argument, type_name = argument_map.arguments[id(error.nodes[0])]
            from graphql import print_ast

            shown = print_ast(error.nodes[0])
            result.append(
                error_body(
                    f"Argument '{argument}' on Field '{field}' has an invalid value ({shown}). Expected type '{type_name}'.",
                    locations=locations,
                    path=node_path or [operation, field, argument],
                    code="argumentLiteralsIncompatible",
                    typeName="Field",
                    argumentName=argument,
                )
            )
        elif match := re.match(
            r"Variable '\$(.+?)' of type '(.+?)' used in position expecting type '(.+?)'\.", message
        ):
            variable, given, expected = match.groups()
            kind = "Nullability" if given.rstrip("!") == expected.rstrip("!") else "Type"
            result.append(
                error_body(
                    f"{kind} mismatch on variable ${variable} and argument ({given} / {expected})",
                    locations=locations,
                    path=[operation],
                    code="variableMismatch",
                    variableName=variable,
                    typeName=given,
                )
            )
        elif match := re.match(r"Variable '\$(.+?)' is never used", message):
            result.append(
                error_body(
                    f"Variable ${match.group(1)} is declared by {operation.split(' ', 1)[-1]} but not used",
                    locations=locations,
                    path=[operation],
                    code="variableNotUsed",
                    variableName=match.group(1),
                )
            )
        elif match := re.match(r"Variable '\$(.+?)' is not defined", message):
            result.append(
                error_body(
                    f"Variable ${match.group(1)} is used by {operation.split(' ', 1)[-1]} but not declared",
                    locations=locations,
                    path=[operation],
                    code="variableNotDefined",
                    variableName=match.group(1),
                )
            )
        elif match := re.match(
            r"Field '(.+?)' of type '(.+?)' must have a selection of subfields", message
        ):
            field, type_name = match.groups()
            result.append(
                error_body(
                    f"Field must have selections (field '{field}' returns {type_name.rstrip('!')} but has no selections. Did you mean '{field} {{ ... }}'?)",
                    locations=locations,
                    path=node_path or [operation, field],
                    code="selectionMismatch",
                    nodeName=f"field '{field}'",
                    typeName=type_name.rstrip("!"),
                )
            )
        elif match := re.match(
            r"Field '(.+?)' must not have a selection since type '(.+?)' has no subfields", message
        ):
            field, type_name = match.groups()
            result.append(
                error_body(
                    f"Selections can't be made on scalars (field '{field}' returns {type_name} but has selections)",
                    locations=locations,
                    path=node_path or [operation, field],
                    code="selectionMismatch",
                    nodeName=f"field '{field}'",
                    typeName=type_name,
                )
            )
        elif match := re.match(r"Unknown type '(.+?)'", message):
            result.append(
                error_body(
                    f"{match.group(1)} isn't a defined input type",
                    locations=locations,
                    path=[operation],
                    code="variableRequiresValidType",
                    typeName=match.group(1),
                )
            )
        else:
            result.append(
                error_body(message, locations=locations, path=[operation], code="validationError")
            )
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
