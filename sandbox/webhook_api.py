"""GraphQL: webhookSubscriptionCreate / webhookSubscriptionDelete / webhookSubscription(s).

Answers follow the recorded 2026-04 conformance captures (shopify-recorded-behaviour.md §13):
blank address -> "Address can't be blank", unsupported protocol, Shopify domains refused, unknown
id -> "Webhook subscription does not exist", omitted filter -> null, omitted lists -> [].
One deliberate difference: plain `http://` callback URLs are accepted, because every receiver in
tests and the demo listens on http://127.0.0.1 (Shopify only delivers to https).
A topic needs the access scope that guards its data (e.g. read_orders for ORDERS_CREATE).
"""

from __future__ import annotations

from urllib.parse import urlsplit

from sandbox.graphql.paging import list_connection
from sandbox.graphql.registry import mutation, query
from sandbox.webhook_events import hub_for
from sandbox.webhooks import API_VERSION, Subscription, topic_enum, topic_string

TOPIC_SCOPES = {
    "CUSTOMERS_": ("read_customers",),
    "CUSTOMER_": ("read_customers",),
    "CUSTOMERS_MERGE": ("read_customer_merge",),
    "ORDERS_": ("read_orders",),
}
SHOPIFY_DOMAINS = ("shopify.com", "myshopify.com", "shopify.io", "shopifycloud.com")


def required_scopes(topic: str) -> tuple[str, ...]:
    if topic in TOPIC_SCOPES:
        return TOPIC_SCOPES[topic]
    for prefix, scopes in TOPIC_SCOPES.items():
        if prefix.endswith("_") and topic.startswith(prefix):
            return scopes
    return ()


def subscription_node(subscription: Subscription) -> dict:
    return {
        "__typename": "WebhookSubscription",
        "id": subscription.gid,
        "legacyResourceId": str(subscription.id),
        "topic": topic_enum(subscription.topic),
        "format": subscription.format,
        "callbackUrl": subscription.callback_url,
        "endpoint": {
            "__typename": "WebhookHttpEndpoint",
            "callbackUrl": subscription.callback_url,
        },
        "includeFields": list(subscription.include_fields),
        "metafieldNamespaces": list(subscription.metafield_namespaces),
        "filter": subscription.filter,
        "createdAt": subscription.created_at,
        "updatedAt": subscription.updated_at,
        "apiVersion": {"handle": API_VERSION, "displayName": API_VERSION, "supported": True},
    }


def address_problem(url: str) -> str | None:
    if not url:
        return "Address can't be blank"
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        scheme = parts.scheme or url.split(":", 1)[0]
        return f"Address protocol {scheme}:// is not supported"
    host = (parts.hostname or "").lower()
    if not host:
        return "Address is invalid"
    if any(host == domain or host.endswith("." + domain) for domain in SHOPIFY_DOMAINS):
        return "Address cannot be a Shopify or an internal domain"
    return None


def _subscription_id(value: str) -> int | None:
    prefix = "gid://shopify/WebhookSubscription/"
    if isinstance(value, str) and value.startswith(prefix) and value[len(prefix) :].isdigit():
        return int(value[len(prefix) :])
    return None


@mutation("webhookSubscriptionCreate")
def resolve_webhook_subscription_create(root, info, topic, webhookSubscription):
    context = info.context
    hub = hub_for(context.sandbox)
    shop = context.store.domain
    values = webhookSubscription or {}
    url = (values.get("callbackUrl") or "").strip()
    problem = address_problem(url)
    errors = []
    if problem:
        errors.append({"field": ["webhookSubscription", "callbackUrl"], "message": problem})
    scopes = required_scopes(topic)
    if scopes and not (context.scopes & set(scopes)):
        errors.append(
            {
                "field": ["topic"],
                "message": f"Access denied for topic {topic}. Required access: `{scopes[0]}` access scope.",
            }
        )
    topic_name = topic_string(topic)
    if not errors and any(
        s.topic == topic_name and s.callback_url == url for s in hub.subscriptions(shop)
    ):
        errors.append(
            {
                "field": ["webhookSubscription", "callbackUrl"],
                "message": "Address for this topic has already been taken",
            }
        )
    if errors:
        context.failed_mutations.add("webhookSubscriptionCreate")
        return {"webhookSubscription": None, "userErrors": errors}
    subscription = hub.subscribe(
        shop=shop,
        topic=topic_name,
        callback_url=url,
        format=values.get("format") or "JSON",
        include_fields=list(values.get("includeFields") or []),
        metafield_namespaces=list(values.get("metafieldNamespaces") or []),
        filter=values.get("filter"),
    )
    return {"webhookSubscription": subscription_node(subscription), "userErrors": []}


@mutation("webhookSubscriptionDelete")
def resolve_webhook_subscription_delete(root, info, id):
    context = info.context
    number = _subscription_id(id)
    hub = hub_for(context.sandbox)
    if number is None or not hub.unsubscribe(shop=context.store.domain, subscription_id=number):
        context.failed_mutations.add("webhookSubscriptionDelete")
        return {
            "deletedWebhookSubscriptionId": None,
            "userErrors": [{"field": ["id"], "message": "Webhook subscription does not exist"}],
        }
    return {"deletedWebhookSubscriptionId": id, "userErrors": []}


@query("webhookSubscription")
def resolve_webhook_subscription(root, info, id):
    number = _subscription_id(id)
    if number is None:
        return None
    hub = hub_for(info.context.sandbox)
    subscription = hub.subscription(shop=info.context.store.domain, subscription_id=number)
    return subscription_node(subscription) if subscription is not None else None


@query("webhookSubscriptions")
def resolve_webhook_subscriptions(
    root,
    info,
    sortKey="CREATED_AT",
    reverse=False,
    callbackUrl=None,
    format=None,
    topics=None,
    query=None,
    **page,
):
    hub = hub_for(info.context.sandbox)
    items = hub.subscriptions(info.context.store.domain)
    if sortKey == "ID":
        items.sort(key=lambda s: s.id)
    if callbackUrl:
        items = [s for s in items if s.callback_url == callbackUrl]
    if format:
        items = [s for s in items if s.format == format]
    if topics:
        wanted = {topic_string(topic) for topic in topics}
        items = [s for s in items if s.topic in wanted]
    nodes = [subscription_node(s) for s in items]
    by_id = {node["id"]: s for node, s in zip(nodes, items, strict=True)}

    def cursor_of(node):
        subscription = by_id[node["id"]]
        value = subscription.created_at if sortKey != "ID" else str(subscription.id)
        return subscription.id, value

    return list_connection(
        nodes, cursor_of=cursor_of, reverse=reverse, bulk=info.context.bulk, **page
    )
