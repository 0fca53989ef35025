"""The routing table from a webhook topic to the service that applies it.

Apps register their handlers when Django starts (from their AppConfig.ready()):

    @webhook_handler("customers/update")
    def apply_customer_update(*, shop, payload, delivery) -> None: ...

A handler runs inside the shop's tenant scope and inside the delivery's transaction (its writes
and the delivery's status commit together), must be idempotent (a delivery can be retried) and
must ignore anything older than what the mirror holds (deliveries arrive out of order).

A handler that needs Shopify (a partial payload re-read through GraphQL) registers a `prepare`
step: it runs first, in the shop scope but outside any transaction, so no row lock or open
transaction waits on the network. Its result reaches the handler as `prepared`:

    @webhook_handler("customers/update", prepare=customer_read)
    def apply_customer_update(*, shop, payload, delivery, prepared) -> None: ...

`prepare` only reads; it may run more than once for one delivery (retries, two workers).
"""

from collections.abc import Callable
from typing import Any

WebhookHandler = Callable[..., None]

WebhookPreparer = Callable[..., Any]

_ROUTES: dict[str, WebhookHandler] = {}
_PREPARERS: dict[str, tuple[WebhookHandler, WebhookPreparer]] = {}


def webhook_handler(
    topic: str, *, prepare: WebhookPreparer | None = None
) -> Callable[[WebhookHandler], WebhookHandler]:
    def register(func: WebhookHandler) -> WebhookHandler:
        existing = _ROUTES.get(topic)
        if existing is not None and existing is not func:
            raise RuntimeError(f"webhook topic {topic!r} already routed to {existing.__qualname__}")
        _ROUTES[topic] = func
        if prepare is not None:
            _PREPARERS[topic] = (func, prepare)
        return func

    return register


def handler_for(topic: str) -> WebhookHandler | None:
    return _ROUTES.get(topic)


def preparer_for(topic: str) -> WebhookPreparer | None:
    """The topic's prepare step, while the handler registered with it is the one routed."""
    handler, prepare = _PREPARERS.get(topic, (None, None))
    return prepare if handler is not None and _ROUTES.get(topic) is handler else None


def routed_topics() -> list[str]:
    return sorted(_ROUTES)


def describe_routes() -> dict[str, Any]:
    return {
        topic: f"{func.__module__}.{func.__qualname__}" for topic, func in sorted(_ROUTES.items())
    }
