"""Shopify's calculated query cost.

Scalars and enums cost 0, objects 1, a connection 2 plus (first|last) x the cost of one node, a
mutation field 10 plus what its payload selects (besides userErrors/job). Manual costs registered
in the registry replace a field's own cost. The *requested* cost is computed before execution from
the document; the *actual* cost walks the answer the same way, counting the nodes returned.
"""

from __future__ import annotations

from typing import Any

from graphql import (
    FieldNode,
    FragmentDefinitionNode,
    FragmentSpreadNode,
    GraphQLList,
    GraphQLNonNull,
    GraphQLObjectType,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_composite_type,
)

from sandbox.graphql.registry import COSTS

MUTATION_COST = 10
FREE_PAYLOAD_FIELDS = {"userErrors", "job"}
MISSING = object()


class CostCalculator:
    def __init__(
        self,
        schema: GraphQLSchema,
        fragments: dict[str, FragmentDefinitionNode],
        variables: dict[str, Any],
    ) -> None:
        self.schema = schema
        self.fragments = fragments
        self.variables = variables

    def operation_cost(self, operation: OperationDefinitionNode, data: Any = MISSING) -> int:
        root = (
            self.schema.mutation_type
            if operation.operation.value == "mutation"
            else self.schema.query_type
        )
        return self._selection_cost(
            operation.selection_set, root, data, mutation_root=root is self.schema.mutation_type
        )

    # -- helpers
    def _fields(
        self, selection_set: SelectionSetNode | None, parent
    ) -> list[tuple[FieldNode, Any]]:
        result: list[tuple[FieldNode, Any]] = []
        if selection_set is None:
            return result
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                result.append((selection, parent))
            elif isinstance(selection, InlineFragmentNode):
                target = parent
                if selection.type_condition is not None:
                    target = self.schema.get_type(selection.type_condition.name.value) or parent
                result.extend(self._fields(selection.selection_set, target))
            elif isinstance(selection, FragmentSpreadNode):
                fragment = self.fragments.get(selection.name.value)
                if fragment is not None:
                    target = self.schema.get_type(fragment.type_condition.name.value) or parent
                    result.extend(self._fields(fragment.selection_set, target))
        return result

    def _argument(self, node: FieldNode, name: str) -> Any:
        for argument in node.arguments or []:
            if argument.name.value == name:
                value = argument.value
                if value.kind == "variable":
                    return self.variables.get(value.name.value)
                if value.kind == "int_value":
                    return int(value.value)
                return getattr(value, "value", None)
        return None

    def _selection_cost(
        self, selection_set, parent, data: Any, *, mutation_root: bool = False
    ) -> int:
        total = 0
        for node, owner in self._fields(selection_set, parent):
            name = node.name.value
            if name.startswith("__") or (
                not isinstance(owner, GraphQLObjectType) and not hasattr(owner, "fields")
            ):
                continue
            definition = owner.fields.get(name)
            if definition is None:
                continue
            key = node.alias.value if node.alias else name
            value = MISSING
            if data is not MISSING:
                if not isinstance(data, dict) or key not in data:
                    continue  # not answered (an error above it): not charged
                value = data[key]
            total += self._field_cost(node, owner, definition, value, mutation_root=mutation_root)
        return total

    def _field_cost(
        self, node: FieldNode, owner, definition, value: Any, *, mutation_root: bool
    ) -> int:
        named = get_named_type(definition.type)
        own = COSTS.get((owner.name, node.name.value))
        if mutation_root:
            base = own if own is not None else MUTATION_COST
            if value is MISSING or isinstance(value, dict):
                payload = node.selection_set
                children = 0
                if payload is not None:
                    for child, _owner in self._fields(payload, named):
                        if child.name.value in FREE_PAYLOAD_FIELDS or child.name.value.startswith(
                            "__"
                        ):
                            continue
                        child_def = (
                            named.fields.get(child.name.value) if hasattr(named, "fields") else None
                        )
                        if child_def is None:
                            continue
                        child_key = child.alias.value if child.alias else child.name.value
                        child_value = MISSING if value is MISSING else value.get(child_key, None)
                        children += self._field_cost(
                            child, named, child_def, child_value, mutation_root=False
                        )
                return base + children
            return base
        if not is_composite_type(named):
            return own or 0
        if (
            named.name.endswith("Connection")
            and hasattr(named, "fields")
            and "pageInfo" in named.fields
        ):
            return self._connection_cost(node, named, value, own)
        is_list = _is_list(definition.type)
        own_cost = 1 if own is None else own
        if value is MISSING:
            return own_cost + self._selection_cost(node.selection_set, named, MISSING)
        if value is None:
            return own_cost
        if is_list and isinstance(value, list):
            return own_cost + sum(
                self._selection_cost(node.selection_set, named, item) for item in value
            )
        return own_cost + self._selection_cost(node.selection_set, named, value)

    def _connection_cost(self, node: FieldNode, connection, value: Any, own: int | None) -> int:
        base = 2 if own is None else own
        node_type = (
            get_named_type(connection.fields["nodes"].type)
            if "nodes" in connection.fields
            else None
        )
        # The selections made on one node (via `nodes` or `edges { node }`).
        node_selections: list[SelectionSetNode] = []
        edge_extra: list[SelectionSetNode] = []
        for child, _ in self._fields(node.selection_set, connection):
            if child.name.value == "nodes" and child.selection_set is not None:
                node_selections.append(child.selection_set)
            elif child.name.value == "edges" and child.selection_set is not None:
                edge_type = get_named_type(connection.fields["edges"].type)
                for edge_child, _ in self._fields(child.selection_set, edge_type):
                    if edge_child.name.value == "node" and edge_child.selection_set is not None:
                        node_selections.append(edge_child.selection_set)
                        node_type = node_type or get_named_type(edge_type.fields["node"].type)
                edge_extra.append(child.selection_set)
        if value is MISSING:
            size = self._argument(node, "first") or self._argument(node, "last") or 0
            per_node = 1 + sum(self._selection_cost(s, node_type, MISSING) for s in node_selections)
            return base + int(size) * per_node
        if value is None:
            return base
        items: list = []
        if isinstance(value.get("nodes"), list):
            items = value["nodes"]
        elif isinstance(value.get("edges"), list):
            items = [edge.get("node") for edge in value["edges"] if isinstance(edge, dict)]
        total = base
        for item in items:
            total += 1
            if item is None:
                continue
            for selection in node_selections:
                total += self._selection_cost(selection, node_type, item)
        return total


def _is_list(type_) -> bool:
    if isinstance(type_, GraphQLNonNull):
        type_ = type_.of_type
    return isinstance(type_, GraphQLList)
