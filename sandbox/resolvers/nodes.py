"""QueryRoot.node / nodes for the records the sandbox holds."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sandbox.graphql.registry import query
from sandbox.resolvers.common import global_id_number

# Extension modules add the records they keep: kind -> fn(store, number) -> node or None.
NODE_FINDERS: dict[str, Callable[[Any, int], Any]] = {}


def find_node(store, value: str):
    kind, number = global_id_number(value)
    if kind in NODE_FINDERS:
        return NODE_FINDERS[kind](store, number)
    if kind == "Customer":
        return store.customers.get(number)
    if kind == "Order":
        return store.orders.get(number)
    if kind == "MailingAddress":
        for customer in store.customers.values():
            for address in customer.addresses:
                if address.id == number:
                    return address
    return None


@query("node")
def resolve_node(root, info, id: str):
    return _checked(info, find_node(info.context.store, id))


@query("nodes")
def resolve_nodes(root, info, ids: list[str]):
    if len(ids) > 250:
        from graphql import GraphQLError

        raise GraphQLError(
            f"The input array size of {len(ids)} is greater than the maximum allowed of 250.",
            extensions={"code": "MAX_INPUT_SIZE_EXCEEDED"},
        )
    return [_checked(info, find_node(info.context.store, value)) for value in ids]


def _checked(info, found):
    """Node reads obey the same scopes as the typed roots."""
    from sandbox.graphql.errors import access_denied
    from sandbox.store import Customer, Order

    scopes = info.context.scopes
    if isinstance(found, Customer) and not scopes & {"read_customers", "write_customers"}:
        raise access_denied("node", ("read_customers",))
    if isinstance(found, Order) and not scopes & {"read_orders", "write_orders"}:
        raise access_denied("node", ("read_orders",))
    return found
