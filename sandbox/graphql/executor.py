"""Run one GraphQL request the way Shopify's Admin API does.

parse -> validate against Shopify's schema (errors in Shopify's shape, no `extensions`) ->
coerce variables (INVALID_VARIABLE) -> requested cost (MAX_COST_EXCEEDED over the store's limit)
-> leaky bucket (THROTTLED in an HTTP 200 body, `actualQueryCost: null`) -> execute with the
registered resolvers -> actual cost, refund the difference -> `extensions.cost` on the answer.
"""

from __future__ import annotations

import threading
from typing import Any

from graphql import (
    FragmentDefinitionNode,
    GraphQLError,
    OperationDefinitionNode,
    execute,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values

from sandbox.graphql.context import RequestContext
from sandbox.graphql.cost import CostCalculator
from sandbox.graphql.errors import (
    access_denied,
    parse_error,
    translate_validation_errors,
    variable_error,
)
from sandbox.graphql.registry import RESOLVERS, SCOPES, TYPE_NAMES
from sandbox.throttle import LeakyBucket

RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"
_schema_lock = threading.Lock()


def admin_schema():
    from tenants.shopify.schema import admin_schema as build

    with _schema_lock:
        return build()


def field_resolver(source: Any, info, **arguments: Any) -> Any:
    key = (info.parent_type.name, info.field_name)
    scopes = SCOPES.get(key)
    if scopes is not None and not (info.context.scopes & set(scopes)):
        raise access_denied(info.field_name, scopes)
    func = RESOLVERS.get(key)
    if func is not None:
        return func(source, info, **arguments)
    if isinstance(source, dict):
        return source.get(info.field_name)
    if source is None:
        return None
    raise GraphQLError(
        f"The sandbox does not implement {info.parent_type.name}.{info.field_name}",
        extensions={"code": "SANDBOX_NOT_IMPLEMENTED"},
    )


def type_resolver(value: Any, info, abstract_type) -> str | None:
    if isinstance(value, dict):
        return value.get("__typename")
    return TYPE_NAMES.get(type(value))


def bucket_for(context: RequestContext) -> LeakyBucket:
    store = context.store
    key = (context.api_key, store.domain)
    buckets = context.sandbox.extras.setdefault("buckets", {})
    with context.sandbox.lock:
        bucket = buckets.get(key)
        if bucket is None or (bucket.size, bucket.restore_rate) != (
            store.config.bucket_size,
            store.config.restore_rate,
        ):
            bucket = buckets[key] = LeakyBucket(store.config.bucket_size, store.config.restore_rate)
        return bucket


def cost_extension(requested: int, actual: int | None, bucket: LeakyBucket) -> dict:
    return {
        "requestedQueryCost": requested,
        "actualQueryCost": actual,
        "throttleStatus": bucket.status(),
    }


def run_graphql(
    context: RequestContext,
    query: Any,
    variables: Any = None,
    operation_name: Any = None,
    *,
    charge: bool = True,
) -> dict:
    """The JSON body Shopify would answer (always with HTTP 200) for this request."""
    schema = admin_schema()
    if not isinstance(query, str) or not query.strip():
        return {
            "errors": [
                {"message": "No query string was present", "extensions": {"code": "BAD_REQUEST"}}
            ]
        }
    if variables is not None and not isinstance(variables, dict):
        return {
            "errors": [
                {
                    "message": "Variables must be a JSON object",
                    "extensions": {"code": "BAD_REQUEST"},
                }
            ]
        }
    try:
        document = parse(query)
    except GraphQLError as error:
        return {"errors": [parse_error(error)]}
    errors = validate(schema, document)
    if errors:
        return {"errors": translate_validation_errors(schema, document, errors)}
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if operation_name:
        operations = [o for o in operations if o.name and o.name.value == operation_name]
        if not operations:
            return {
                "errors": [
                    {
                        "message": f'No operation named "{operation_name}"',
                        "extensions": {"code": "BAD_REQUEST"},
                    }
                ]
            }
    elif len(operations) > 1:
        return {
            "errors": [
                {
                    "message": "An operation name is required when sending multiple operations.",
                    "extensions": {"code": "BAD_REQUEST"},
                }
            ]
        }
    operation = operations[0]
    coerced = get_variable_values(schema, operation.variable_definitions or [], variables or {})
    if isinstance(coerced, list):
        return {
            "errors": [_variable_problem(operation, variables or {}, error) for error in coerced]
        }

    fragments = {
        d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
    }
    calculator = CostCalculator(schema, fragments, coerced)
    requested = calculator.operation_cost(operation)
    bucket = bucket_for(context)
    if charge:
        limit = context.store.config.max_query_cost
        if requested > limit:
            return {
                "errors": [
                    {
                        "message": (
                            f"Query cost is {requested}, which exceeds the single query max cost limit ({limit}).\n\n"
                            "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
                            "cost of a query is calculated.\n\n"
                            "To query larger amounts of data with fewer limits, bulk operations should be used instead.\n"
                            "See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
                        ),
                        "extensions": {
                            "code": "MAX_COST_EXCEEDED",
                            "cost": requested,
                            "maxCost": limit,
                            "documentation": RATE_LIMIT_DOCS,
                        },
                    }
                ],
                "extensions": {"cost": cost_extension(requested, None, bucket)},
            }
        if not bucket.take(requested):
            return {
                "errors": [
                    {
                        "message": "Throttled",
                        "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS},
                    }
                ],
                "extensions": {"cost": cost_extension(requested, None, bucket)},
            }

    result = execute(
        schema,
        document,
        context_value=context,
        variable_values=variables or {},
        operation_name=operation_name,
        field_resolver=field_resolver,
        type_resolver=type_resolver,
    )
    actual = min(
        requested,
        calculator.operation_cost(operation, result.data if result.data is not None else {}),
    )
    if operation.operation.value == "mutation" and context.failed_mutations:
        actual = min(actual, 10 * max(1, len(context.failed_mutations)))
    if charge:
        bucket.refund(requested - actual)
    body: dict[str, Any] = {}
    if result.errors:
        body["errors"] = [_format_error(error) for error in result.errors]
    body["data"] = result.data
    extensions = {"cost": cost_extension(requested, actual, bucket)}
    extensions.update(context.extensions)
    body["extensions"] = extensions
    return body


def _format_error(error: GraphQLError) -> dict:
    formatted = error.formatted
    original = error.original_error
    if original is not None and not isinstance(original, GraphQLError):
        # A bug in a resolver: say so plainly, as Shopify's INTERNAL_SERVER_ERROR does.
        formatted["message"] = f"Internal error: {type(original).__name__}: {original}"
        formatted["extensions"] = {"code": "INTERNAL_SERVER_ERROR"}
    return formatted


def _variable_problem(
    operation: OperationDefinitionNode, variables: dict, error: GraphQLError
) -> dict:
    import re

    match = re.search(r"Variable '\$(\w+)'", error.message)
    name = match.group(1) if match else None
    for definition in operation.variable_definitions or []:
        if definition.variable.name.value == name:
            explanation = error.message
            if "was not provided" in explanation or "must not be null" in explanation:
                explanation = "Expected value to not be null"
            elif ";" in explanation:
                explanation = explanation.split(";", 1)[1].strip()
            return variable_error(definition, variables.get(name), explanation)
    return {"message": error.message, "extensions": {"code": "INVALID_VARIABLE"}}
