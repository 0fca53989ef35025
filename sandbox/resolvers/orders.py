"""Order reads: orders, order, Order / LineItem fields."""

from __future__ import annotations

from typing import Any

from sandbox.graphql.paging import Pager, connection, list_connection
from sandbox.graphql.registry import attributes, graphql_type, query, resolver
from sandbox.resolvers.common import global_id_number
from sandbox.search import FieldSpec, compile_query
from sandbox.seed import format_money, format_time
from sandbox.store import ID_SPACE, Order

READ_ORDERS = ("read_orders", "write_orders")
READ_CUSTOMERS = ("read_customers", "write_customers")

graphql_type(Order, "Order")

ORDER_SEARCH_FIELDS: dict[str, FieldSpec] = {
    "id": FieldSpec("id", lambda o: o.id),
    "created_at": FieldSpec("time", lambda o: o.created_at),
    "processed_at": FieldSpec("time", lambda o: o.processed_at),
    "updated_at": FieldSpec("time", lambda o: o.updated_at),
    "customer_id": FieldSpec("id", lambda o: o.customer_id),
    "email": FieldSpec("text", lambda o: o.email),
    "name": FieldSpec("text", lambda o: o.name),
    "financial_status": FieldSpec("text", lambda o: o.financial_status),
    "status": FieldSpec("text", lambda o: "cancelled" if o.cancelled_at else "open"),
    "test": FieldSpec("bool", lambda o: o.test),
}

SORT_VALUES = {
    "CREATED_AT": lambda o: o.created_at,
    "PROCESSED_AT": lambda o: o.processed_at,
    "UPDATED_AT": lambda o: o.updated_at,
}


def order_free_text(order: Order) -> str:
    return f"{order.name} {order.email or ''}".lower()


def order_pager_over(orders: list[Order], sort_key: str, text: str | None) -> Pager:
    """Page a list of orders in `sort_key` order (ID for keys the sandbox does not rank)."""
    search = compile_query(text, ORDER_SEARCH_FIELDS, order_free_text)
    value_of = SORT_VALUES.get(sort_key)
    by_id = {order.id: order for order in orders}
    if value_of is None:
        index = sorted(by_id)
        return Pager(
            index=index,
            item_of=by_id.get,
            cursor_of=lambda o: (o.id, str(o.id)),
            key_of_cursor=lambda cur: int(cur["last_id"]),
            predicate=search.predicate,
        )
    index = sorted(value_of(o) * ID_SPACE + o.id for o in orders)
    return Pager(
        index=index,
        item_of=lambda key: by_id.get(key % ID_SPACE),
        cursor_of=lambda o: (o.id, value_of(o)),
        key_of_cursor=lambda cur: int(cur.get("last_value") or 0) * ID_SPACE + int(cur["last_id"]),
        predicate=search.predicate,
    )


@query("orders", scopes=READ_ORDERS)
def resolve_orders(
    root, info, sortKey="PROCESSED_AT", reverse=False, query=None, savedSearchId=None, **page: Any
):
    store = info.context.store
    search = compile_query(query, ORDER_SEARCH_FIELDS, order_free_text)
    value_of = SORT_VALUES.get(sortKey)
    get = store.orders.get
    if value_of is None:  # ID, and keys the sandbox does not rank
        pager = Pager(
            index=store.lazy_index("orders.ID", lambda: sorted(store.orders)),
            item_of=get,
            cursor_of=lambda o: (o.id, str(o.id)),
            key_of_cursor=lambda cur: int(cur["last_id"]),
            predicate=search.predicate,
        )
    else:
        pager = Pager(
            index=store.lazy_index(
                f"orders.{sortKey}",
                lambda: sorted(value_of(o) * ID_SPACE + o.id for o in store.orders.values()),
            ),
            item_of=lambda key: get(key % ID_SPACE),
            cursor_of=lambda o: (o.id, value_of(o)),
            key_of_cursor=lambda cur: (
                int(cur.get("last_value") or 0) * ID_SPACE + int(cur["last_id"])
            ),
            predicate=search.predicate,
        )
    return connection(pager, reverse=reverse, bulk=info.context.bulk, **page)


@query("order", scopes=READ_ORDERS)
def resolve_order(root, info, id: str) -> Order | None:
    _, number = global_id_number(id, "Order")
    return info.context.store.orders.get(number)


def _money_bag(order: Order) -> dict:
    money = {"amount": format_money(order.total_minor), "currencyCode": order.currency}
    return {"shopMoney": money, "presentmentMoney": money}


@resolver("Order", "customer", scopes=READ_CUSTOMERS)
def resolve_order_customer(order: Order, info):
    return info.context.store.customers.get(order.customer_id) if order.customer_id else None


@resolver("Order", "lineItems")
def resolve_line_items(order: Order, info, reverse=False, **page: Any) -> dict:
    items = [_line_item(item) for item in order.line_items]
    return list_connection(
        items,
        cursor_of=lambda i: (i["_id"], str(i["_id"])),
        reverse=reverse,
        bulk=info.context.bulk,
        **page,
    )


def _line_item(item) -> dict:
    title = item.title or (f"Product {item.product_id}" if item.product_id else "Custom item")
    product = None
    if item.product_id is not None:
        product = {
            "__typename": "Product",
            "id": f"gid://shopify/Product/{item.product_id}",
            "legacyResourceId": str(item.product_id),
            "tags": list(item.product_tags),
            "title": title,
        }
    return {
        "__typename": "LineItem",
        "_id": item.id,
        "id": f"gid://shopify/LineItem/{item.id}",
        "quantity": item.quantity,
        "currentQuantity": item.quantity,
        "title": title,
        "name": title,
        "sku": None,
        "variant": None,
        "variantTitle": None,
        "product": product,
    }


attributes(
    "Order",
    {
        "id": lambda o: f"gid://shopify/Order/{o.id}",
        "legacyResourceId": lambda o: str(o.id),
        "name": lambda o: o.name,
        "email": lambda o: o.email,
        "createdAt": lambda o: format_time(o.created_at),
        "processedAt": lambda o: format_time(o.processed_at),
        "updatedAt": lambda o: format_time(o.updated_at),
        "cancelledAt": lambda o: format_time(o.cancelled_at),
        "currencyCode": lambda o: o.currency,
        "presentmentCurrencyCode": lambda o: o.currency,
        "totalPriceSet": _money_bag,
        "currentTotalPriceSet": _money_bag,
        "subtotalPriceSet": _money_bag,
        "totalPrice": lambda o: format_money(o.total_minor),
        "displayFinancialStatus": lambda o: o.financial_status,
        "test": lambda o: o.test,
        "closed": lambda o: o.cancelled_at is not None,
        "cancelReason": lambda o: "CUSTOMER" if o.cancelled_at else None,
    },
)
