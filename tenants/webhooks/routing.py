"""The routing table from a webhook topic to the service that applies it.

Apps register their handlers when Django starts (from their AppConfig.ready()):

    @webhook_handler("customers/update")
    def apply_customer_update(*, shop, payload, delivery) -> None: ...

A handler runs inside the shop's tenant scope, must be idempotent (a delivery can be retried) and
must ignore anything older than what the mirror holds (deliveries arrive out of order).
"""

from collections.abc import Callable
from typing import Any

WebhookHandler = Callable[..., None]

_ROUTES: dict[str, WebhookHandler] = {}


def webhook_handler(topic: str) -> Callable[[WebhookHandler], WebhookHandler]:
    def register(func: WebhookHandler) -> WebhookHandler:
        existing = _ROUTES.get(topic)
        if existing is not None and existing is not func:
            raise RuntimeError(f"webhook topic {topic!r} already routed to {existing.__qualname__}")
        _ROUTES[topic] = func
        return func

    return register


def handler_for(topic: str) -> WebhookHandler | None:
    return _ROUTES.get(topic)


def routed_topics() -> list[str]:
    return sorted(_ROUTES)


def describe_routes() -> dict[str, Any]:
    return {
        topic: f"{func.__module__}.{func.__qualname__}" for topic, func in sorted(_ROUTES.items())
    }
