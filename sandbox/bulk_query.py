"""Checking and planning a bulk query (`bulkOperationRunQuery(query:)`) like Shopify does.

Shopify's rules for the inner query (shopify-admin-api.md §4): a valid query on QueryRoot with at
least one connection, at most 5 connections, nested connections at most 2 levels deep, no
top-level `node`/`nodes`, no connection inside a list field, and a parent of a nested connection
must select `id` (its lines point at it through `__parentId`). `first`/`after`/`pageInfo` are
accepted and ignored. A bad query gets a `BulkOperationUserError` with code `INVALID` on
`["query"]`; the rule texts are Shopify's wording as far as it is known (not recorded).

`plan_bulk_query` turns the checked document into a `FieldPlan` tree the exporter walks.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    GraphQLError,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    OperationType,
    get_named_type,
    parse,
    validate,
)
from graphql.utilities import value_from_ast_untyped

MAX_CONNECTIONS = 5
MAX_NESTING = 2
IGNORED_CONNECTION_ARGUMENTS = {"first", "last", "after", "before"}


class BulkQueryError(ValueError):
    """The inner query breaks a bulk rule; the message is the userError's."""


@dataclass
class FieldPlan:
    """One selected field: how to fetch it and what to select below it."""

    response_key: str
    name: str
    arguments: dict[str, Any]
    parent_type: GraphQLObjectType
    return_type: Any  # the GraphQL output type, wrappers included
    connection: bool = False  # a Connection: its nodes go on their own lines
    children: list[FieldPlan] = field(default_factory=list)
    fragments_on: str | None = None  # set for fields selected through `... on Type`

    @property
    def named_type(self):
        return get_named_type(self.return_type)

    def node_type(self) -> GraphQLObjectType:
        """For a connection: the node type of its edges."""
        return get_named_type(self.named_type.fields["nodes"].type)


def is_connection_type(graphql_type) -> bool:
    named = get_named_type(graphql_type)
    return (
        isinstance(named, GraphQLObjectType)
        and named.name.endswith("Connection")
        and "edges" in named.fields
        and "pageInfo" in named.fields
    )


def _unwrap_list(graphql_type) -> bool:
    while isinstance(graphql_type, GraphQLNonNull):
        graphql_type = graphql_type.of_type
    return isinstance(graphql_type, GraphQLList)


def plan_bulk_query(schema: GraphQLSchema, query: str) -> list[FieldPlan]:
    """Validate `query` as Shopify does for a bulk query and return its top-level field plans."""
    try:
        document = parse(query)
    except GraphQLError as exc:
        raise BulkQueryError(f"Invalid bulk query: {exc.message}") from exc
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1:
        raise BulkQueryError("Invalid bulk query: the document must contain exactly one operation")
    operation = operations[0]
    if operation.operation != OperationType.QUERY:
        raise BulkQueryError(
            "Invalid bulk query: bulkOperationRunQuery only accepts queries; "
            "use bulkOperationRunMutation for mutations"
        )
    if operation.variable_definitions:
        raise BulkQueryError("Invalid bulk query: bulk queries cannot use variables")
    errors = validate(schema, document)
    if errors:
        raise BulkQueryError(f"Invalid bulk query: {errors[0].message}")
    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    planner = _Planner(schema, fragments)
    roots = planner.selection(schema.query_type, operation.selection_set, depth=0, in_list=False)
    for root in roots:
        if root.name in ("node", "nodes"):
            raise BulkQueryError("Bulk queries cannot contain a top level `node` or `nodes` field.")
    if planner.connections == 0:
        raise BulkQueryError("Bulk queries must contain at least one connection.")
    if planner.connections > MAX_CONNECTIONS:
        raise BulkQueryError(
            f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."
        )
    return roots


class _Planner:
    def __init__(self, schema: GraphQLSchema, fragments: dict[str, FragmentDefinitionNode]):
        self.schema = schema
        self.fragments = fragments
        self.connections = 0

    def selection(self, parent_type, selection_set, *, depth: int, in_list: bool, on=None):
        plans: list[FieldPlan] = []
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                plan = self.field(parent_type, selection, depth=depth, in_list=in_list)
                if plan is not None:
                    plan.fragments_on = on
                    plans.append(plan)
                continue
            if isinstance(selection, InlineFragmentNode):
                fragment_type, sub = selection.type_condition, selection.selection_set
            else:
                fragment = self.fragments[selection.name.value]
                fragment_type, sub = fragment.type_condition, fragment.selection_set
            target = self.schema.type_map[fragment_type.name.value] if fragment_type else None
            concrete = target if isinstance(target, GraphQLObjectType) else parent_type
            condition = target.name if target is not None and target is not parent_type else on
            plans += self.selection(concrete, sub, depth=depth, in_list=in_list, on=condition)
        return plans

    def field(self, parent_type, node: FieldNode, *, depth: int, in_list: bool):
        name = node.name.value
        if name == "__typename":
            return FieldPlan(node.alias.value if node.alias else name, name, {}, parent_type, None)
        definition = parent_type.fields[name]
        arguments = {
            argument.name.value: value_from_ast_untyped(argument.value)
            for argument in node.arguments
        }
        plan = FieldPlan(
            response_key=node.alias.value if node.alias else name,
            name=name,
            arguments=arguments,
            parent_type=parent_type,
            return_type=definition.type,
        )
        if node.selection_set is None:
            return plan
        if is_connection_type(definition.type):
            return self.connection(plan, node, depth=depth, in_list=in_list)
        child_in_list = in_list or _unwrap_list(definition.type)
        plan.children = self.selection(
            get_named_type(definition.type), node.selection_set, depth=depth, in_list=child_in_list
        )
        return plan

    def connection(self, plan: FieldPlan, node: FieldNode, *, depth: int, in_list: bool):
        if in_list:
            raise BulkQueryError(
                "Queries that contain a connection field within a list field are not currently supported."
            )
        if depth + 1 > MAX_NESTING:
            raise BulkQueryError(
                f"Bulk queries cannot contain connections with a nesting depth greater than {MAX_NESTING}."
            )
        self.connections += 1
        plan.connection = True
        plan.arguments = {
            key: value
            for key, value in plan.arguments.items()
            if key not in IGNORED_CONNECTION_ARGUMENTS
        }
        connection_type = get_named_type(plan.return_type)
        node_type = get_named_type(connection_type.fields["nodes"].type)
        children: list[FieldPlan] = []
        for selection in node.selection_set.selections:
            if not isinstance(selection, FieldNode):
                raise BulkQueryError("Invalid bulk query: select connection nodes through edges")
            part = selection.name.value
            if part == "pageInfo" or part == "__typename":
                continue
            if part == "nodes":
                children += self.selection(
                    node_type, selection.selection_set, depth=depth + 1, in_list=False
                )
            elif part == "edges":
                for edge_part in selection.selection_set.selections:
                    if isinstance(edge_part, FieldNode) and edge_part.name.value == "node":
                        children += self.selection(
                            node_type, edge_part.selection_set, depth=depth + 1, in_list=False
                        )
        if any(child.connection for child in children) and not any(
            child.name == "id" and child.response_key == "id" for child in children
        ):
            nested = ", ".join(child.name for child in children if child.connection)
            raise BulkQueryError(
                "The parent 'node' field for a nested connection must select the 'id' field "
                f"without an alias and must be of 'ID' return type. Connection fields without 'id': {nested}."
            )
        plan.children = children
        return plan
