"""Extension points of the sandbox: GraphQL resolvers, scopes, costs, HTTP routes, installers.

Other modules register here at import time; `sandbox.extensions.EXTENSIONS` lists the modules the
server imports. A resolver has graphql-core's signature `fn(source, info, **arguments)`;
`info.context` is a `sandbox.graphql.context.RequestContext` (store, sandbox, scopes, bulk).

    from sandbox.graphql.registry import mutation, query, resolver

    @query("segments", scopes=("read_customers",))
    def resolve_segments(root, info, **args): ...

    @mutation("tagsAdd", scopes=("write_customers",))
    def resolve_tags_add(root, info, id, tags): ...

    @resolver("Customer", "mergeable", scopes=("read_customer_merge",))
    def resolve_mergeable(customer, info): ...

Returned values: a dict is read by key (GraphQL field name), a store record (`Customer`, `Order`,
`Address`) by the resolvers registered for its type, anything else by a registered resolver.
Fields of a store type with no resolver answer a GraphQL error naming the missing field.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

Resolver = Callable[..., Any]

# (GraphQL type, field) -> resolver
RESOLVERS: dict[tuple[str, str], Resolver] = {}
# (GraphQL type, field) -> scopes of which the token must hold at least one
SCOPES: dict[tuple[str, str], tuple[str, ...]] = {}
# (GraphQL type, field) -> fixed cost of the field itself (Shopify's manual costs)
COSTS: dict[tuple[str, str], int] = {}
# Python class -> GraphQL type name (for interfaces/unions such as Node)
TYPE_NAMES: dict[type, str] = {}


def resolver(
    type_name: str,
    field_name: str,
    *,
    scopes: tuple[str, ...] | None = None,
    cost: int | None = None,
) -> Callable[[Resolver], Resolver]:
    def register(func: Resolver) -> Resolver:
        key = (type_name, field_name)
        existing = RESOLVERS.get(key)
        if (
            existing is not None
            and existing is not func
            and existing.__qualname__ != func.__qualname__
        ):
            raise RuntimeError(
                f"{type_name}.{field_name} already resolved by {existing.__qualname__}"
            )
        RESOLVERS[key] = func
        if scopes:
            SCOPES[key] = tuple(scopes)
        if cost is not None:
            COSTS[key] = cost
        return func

    return register


def query(field_name: str, **options: Any) -> Callable[[Resolver], Resolver]:
    return resolver("QueryRoot", field_name, **options)


def mutation(field_name: str, **options: Any) -> Callable[[Resolver], Resolver]:
    return resolver("Mutation", field_name, **options)


def attributes(type_name: str, getters: dict[str, Callable[[Any], Any]]) -> None:
    """Register many plain fields at once: {graphql field: getter(source) -> value}."""
    for field_name, getter in getters.items():
        RESOLVERS[(type_name, field_name)] = _plain(getter)


def _plain(getter: Callable[[Any], Any]) -> Resolver:
    def resolve(source: Any, info: Any, **arguments: Any) -> Any:
        return getter(source)

    return resolve


def require_scopes(type_name: str, field_name: str, *scopes: str) -> None:
    SCOPES[(type_name, field_name)] = tuple(scopes)


def field_cost(type_name: str, field_name: str, cost: int) -> None:
    COSTS[(type_name, field_name)] = cost


def graphql_type(cls: type, name: str) -> None:
    TYPE_NAMES[cls] = name


# ---------------------------------------------------------------- HTTP routes
@dataclass(frozen=True)
class Route:
    method: str
    prefix: str
    handler: Callable[..., Any]  # handler(request) -> Response (sandbox.http)


ROUTES: list[Route] = []


def route(method: str, prefix: str) -> Callable[[Callable], Callable]:
    """Serve `method` requests whose path starts with `prefix` (longest prefix wins)."""

    def register(handler: Callable) -> Callable:
        ROUTES.append(Route(method.upper(), prefix, handler))
        ROUTES.sort(key=lambda r: len(r.prefix), reverse=True)
        return handler

    return register


# ---------------------------------------------------------------- installers
# Called with each new Sandbox (to add observers, start delivery threads...).
INSTALLERS: list[Callable[[Any], None]] = []
# Called with each running server when it stops (to stop threads).
SHUTDOWN_HOOKS: list[Callable[[Any], None]] = []


def on_install(func: Callable[[Any], None]) -> Callable[[Any], None]:
    if func not in INSTALLERS:
        INSTALLERS.append(func)
    return func


def on_shutdown(func: Callable[[Any], None]) -> Callable[[Any], None]:
    if func not in SHUTDOWN_HOOKS:
        SHUTDOWN_HOOKS.append(func)
    return func
