"""GraphQL and HTTP for bulk operations: bulkOperationRunQuery, bulkOperationCancel,
currentBulkOperation, node(id: BulkOperation gid), and the `/_bulk/<token>.jsonl` download.

Also tells the exporter (`sandbox.bulk`) how to stream the store: the top-level `customers` and
`orders` connections walk a snapshot of the id index with the same search filter as normal
requests, and the nested connections Clientele exports (Customer.addressesV2, Customer.orders,
Order.lineItems) read the parent record's own lists.
"""

from __future__ import annotations

import os
import shutil

from sandbox import bulk
from sandbox.graphql.executor import admin_schema
from sandbox.graphql.registry import mutation, on_shutdown, query, route
from sandbox.http import HttpError, Request, Response
from sandbox.resolvers import nodes
from sandbox.resolvers.customers import customer_pager
from sandbox.resolvers.orders import ORDER_SEARCH_FIELDS, _line_item, order_free_text
from sandbox.search import compile_query

CHUNK = 1 << 20


@mutation("bulkOperationRunQuery")
def resolve_bulk_operation_run_query(root, info, query):
    operation, errors = bulk.start(info.context, query, schema=admin_schema())
    if errors:
        info.context.failed_mutations.add("bulkOperationRunQuery")
    return {
        "bulkOperation": operation.as_graphql() if operation is not None else None,
        "userErrors": errors,
    }


@mutation("bulkOperationCancel")
def resolve_bulk_operation_cancel(root, info, id):
    number = _operation_number(id)
    operation, errors = (
        bulk.cancel(info.context.store, number)
        if number is not None
        else (None, [{"field": ["id"], "message": "Bulk operation does not exist"}])
    )
    if errors:
        info.context.failed_mutations.add("bulkOperationCancel")
    return {
        "bulkOperation": operation.as_graphql() if operation is not None else None,
        "userErrors": errors,
    }


@query("currentBulkOperation")
def resolve_current_bulk_operation(root, info, type="QUERY"):
    operation = bulk.current_operation(info.context.store, type)
    return operation.as_graphql() if operation is not None else None


def _operation_number(value) -> int | None:
    prefix = "gid://shopify/BulkOperation/"
    if isinstance(value, str) and value.startswith(prefix) and value[len(prefix) :].isdigit():
        return int(value[len(prefix) :])
    return None


def find_operation(store, number: int):
    operation = bulk.operations(store).get(number)
    return operation.as_graphql() if operation is not None else None


nodes.NODE_FINDERS["BulkOperation"] = find_operation


# ------------------------------------------------------------------ streaming the store
def stream_customers(store, arguments: dict):
    pager = customer_pager(store, arguments.get("sortKey") or "ID", arguments.get("query"))
    with store.lock:
        index = list(pager.index)  # a snapshot: writes during the export do not disturb it
    low = 0 if pager.low is None else _bisect(index, pager.low)
    high = len(index) if pager.high is None else _bisect(index, pager.high)
    keys = index[low:high]
    del index
    if arguments.get("reverse"):
        keys.reverse()
    item_of, predicate = pager.item_of, pager.predicate
    for key in keys:
        customer = item_of(key)
        if customer is not None and (predicate is None or predicate(customer)):
            yield customer


def stream_orders(store, arguments: dict):
    search = compile_query(arguments.get("query"), ORDER_SEARCH_FIELDS, order_free_text)
    with store.lock:
        keys = list(store.lazy_index("orders.ID", lambda: sorted(store.orders)))
    if arguments.get("reverse"):
        keys.reverse()
    get, predicate = store.orders.get, search.predicate
    for key in keys:
        order = get(key)
        if order is not None and (predicate is None or predicate(order)):
            yield order


def _bisect(index, key) -> int:
    import bisect as bisect_module

    return bisect_module.bisect_left(index, key)


bulk.ROOT_STREAMS["customers"] = stream_customers
bulk.ROOT_STREAMS["orders"] = stream_orders
bulk.NESTED_SOURCES[("Customer", "addressesV2")] = lambda customer: list(customer.addresses)
bulk.NESTED_SOURCES[("Customer", "orders")] = lambda customer: list(customer.orders)
bulk.NESTED_SOURCES[("Order", "lineItems")] = lambda order: [
    _line_item(item) for item in order.line_items
]


# ------------------------------------------------------------------ download
@route("GET", "/_bulk/")
def download(request: Request) -> Response:
    name = request.path[len("/_bulk/") :]
    token = name[: -len(".jsonl")] if name.endswith(".jsonl") else None
    path = bulk.result_files(request.sandbox).get(token or "")
    if path is None or not os.path.exists(path):
        raise HttpError(404, "no such bulk operation result (the link is wrong or expired)")

    def chunks():
        with open(path, "rb") as handle:
            while block := handle.read(CHUNK):
                yield block

    return Response(
        200,
        chunks(),
        {
            "Content-Type": "application/jsonl",
            "Content-Disposition": f'attachment; filename="{name}"',
        },
    )


@on_shutdown
def remove_results(server) -> None:
    directory = server.sandbox.extras.pop("bulk_dir", None)
    server.sandbox.extras.pop("bulk_files", None)
    if directory is not None:
        shutil.rmtree(directory, ignore_errors=True)
