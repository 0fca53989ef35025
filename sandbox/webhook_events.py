"""From store changes to webhook deliveries.

`install(sandbox)` (run for every new Sandbox) gives it a `WebhookHub` in
`sandbox.extras["webhooks"]` and an observer that turns each `sandbox.store.Change` into the
topics Shopify would send: customers/create|update|delete|enable|disable, the two consent topics,
orders/create|updated|cancelled|delete. Payloads are only built when some subscription wants the topic,
so loading a million customers costs nothing here. Merges, tag changes, bulk operations and the
privacy/app topics are emitted by their own modules through `emit()`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from sandbox import webhook_payloads as payloads
from sandbox.graphql.registry import on_install, on_shutdown
from sandbox.webhooks import WebhookHub

if TYPE_CHECKING:
    from sandbox.store import Change, Sandbox, Store

EMAIL_CONSENT_FIELDS = {"emailMarketingConsent", "defaultEmailAddress", "email"}
SMS_CONSENT_FIELDS = {"smsMarketingConsent", "defaultPhoneNumber", "phone"}
DEFAULT_SETTINGS = {"time_factor": 1.0, "timeout": 5.0}


def hub_for(sandbox: Sandbox) -> WebhookHub:
    hub = sandbox.extras.get("webhooks")
    if hub is None:
        hub = install(sandbox)
    return hub


def install(sandbox: Sandbox, **settings) -> WebhookHub:
    existing = sandbox.extras.get("webhooks")
    if existing is not None:
        return existing
    options = {**DEFAULT_SETTINGS, **sandbox.extras.get("webhook_settings", {}), **settings}
    hub = WebhookHub(secret=sandbox.api_secret, **options)
    sandbox.extras["webhooks"] = hub
    sandbox.observers.append(lambda change: on_change(hub, change))
    return hub


@on_install
def install_server(server) -> None:
    """The server's sandbox gets its hub; bulk result URLs need the server's address."""
    server.sandbox.extras["server"] = server
    install(server.sandbox)


@on_shutdown
def stop_server(server) -> None:
    hub = server.sandbox.extras.get("webhooks")
    if hub is not None:
        hub.stop()


def emit(store: Store, topic: str, build, *, event_id: str | None = None) -> list:
    """Deliver `build()` for `topic` if any subscription of `store` wants it."""
    hub = hub_for(store.sandbox)
    if not hub.is_subscribed(store.domain, topic):
        return []
    return hub.emit(store.domain, topic, build(), event_id=event_id)


def on_change(hub: WebhookHub, change: Change) -> None:
    store = change.store
    if change.kind == "store.deleted":
        forget_store(hub, change)
        return
    if store is None or not hub.has_subscriptions(store.domain):
        return
    kind, customer, event_id = change.kind, change.customer, change.event_id
    if kind == "customer.created" and customer is not None:
        emit(store, "customers/create", lambda: payloads.rest_customer(customer, store=store),
             event_id=event_id)  # fmt: skip
    elif kind == "customer.updated" and customer is not None:
        customer_updated(store, change)
    elif kind == "customer.deleted":
        customer_id = change.customer_id if change.customer_id is not None else customer.id
        emit(store, "customers/delete", lambda: payloads.rest_customer_deleted(customer_id),
             event_id=event_id)  # fmt: skip
    elif kind in ("order.created", "order.updated", "order.cancelled") and change.order:
        order = change.order
        owner = store.customers.get(order.customer_id) if order.customer_id else None

        def body():
            return payloads.rest_order(order, customer=owner, store=store)

        if kind == "order.created":
            emit(store, "orders/create", body, event_id=event_id)
        else:
            if kind == "order.cancelled":
                emit(store, "orders/cancelled", body, event_id=event_id)
            emit(store, "orders/updated", body, event_id=event_id)
    elif kind == "order.deleted" and change.order is not None:
        order_id = change.order.id
        emit(store, "orders/delete", lambda: payloads.rest_order_deleted(order_id),
             event_id=event_id)  # fmt: skip


def customer_updated(store: Store, change: Change) -> None:
    customer, event_id, fields = change.customer, change.event_id, set(change.fields)
    emit(store, "customers/update", lambda: payloads.rest_customer(customer, store=store),
         event_id=event_id)  # fmt: skip
    before = change.extra.get("before") or {}
    if before.get("state", customer.state) != customer.state or (
        "before" not in change.extra and "state" in fields
    ):
        if customer.state == "ENABLED":
            emit(store, "customers/enable", lambda: payloads.rest_customer(customer, store=store),
                 event_id=event_id)  # fmt: skip
        elif customer.state == "DISABLED":
            emit(store, "customers/disable", lambda: payloads.rest_customer(customer, store=store),
                 event_id=event_id)  # fmt: skip
    if fields & EMAIL_CONSENT_FIELDS and customer.email:
        emit(store, "customers_email_marketing_consent/update",
             lambda: payloads.email_consent_update(customer, store=store), event_id=event_id)  # fmt: skip
    if fields & SMS_CONSENT_FIELDS and customer.phone:
        emit(store, "customers_marketing_consent/update",
             lambda: payloads.sms_consent_update(customer, store=store), event_id=event_id)  # fmt: skip
    old_tags = before.get("tags")
    if old_tags is not None and old_tags != customer.tags:
        old = {tag.lower() for tag in old_tags}
        new = {tag.lower() for tag in customer.tags}
        added = [tag for tag in customer.tags if tag.lower() not in old]
        removed = [tag for tag in old_tags if tag.lower() not in new]
        occurred = customer.updated_at
        if added:
            emit(store, "customer.tags_added",
                 lambda: payloads.tags_changed(customer.id, added, occurred), event_id=event_id)  # fmt: skip
        if removed:
            emit(store, "customer.tags_removed",
                 lambda: payloads.tags_changed(customer.id, removed, occurred), event_id=event_id)  # fmt: skip


def forget_store(hub: WebhookHub, change: Change) -> None:
    if change.kind == "store.deleted" and change.store is not None:
        hub.forget_shop(change.store.domain)
