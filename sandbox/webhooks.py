"""Webhook subscriptions and signed delivery with Shopify's retry behaviour.

`WebhookHub` holds every shop's API-created subscriptions and a delivery worker thread:
- `emit(shop, topic, payload)` queues one delivery per subscription of that topic (one merchant
  action = one `X-Shopify-Event-Id`, each delivery its own `X-Shopify-Webhook-Id`);
- a delivery that answers non-2xx or times out is retried 8 times over about 4 hours with
  exponential backoff, always with the original body; `time_factor` compresses that schedule
  (tests use e.g. 0.0001). After the last failure the subscription is removed, as Shopify does
  for subscriptions created through the Admin API;
- faults for tests (`set_faults`): drop, duplicate or reorder the next N deliveries;
- every attempt is written to a bounded delivery log (inspected through the control API).
"""

from __future__ import annotations

import base64
import hashlib
import heapq
import hmac
import itertools
import json
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import deque
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

API_VERSION = "2025-01"
RETRIES = 8
RETRY_WINDOW_SECONDS = 4 * 3600
# Exponential backoff: each wait doubles and the eight waits add up to four hours.
RETRY_DELAYS = [RETRY_WINDOW_SECONDS * 2**i / (2**RETRIES - 1) for i in range(RETRIES)]

# GraphQL enum -> topic string; the few whose string is not the generic `a_b/c` form are listed.
_SPECIAL_TOPICS = {
    "CUSTOMER_TAGS_ADDED": "customer.tags_added",
    "CUSTOMER_TAGS_REMOVED": "customer.tags_removed",
    "CUSTOMER_JOINED_SEGMENT": "customer.joined_segment",
    "CUSTOMER_LEFT_SEGMENT": "customer.left_segment",
    "CUSTOMERS_EMAIL_MARKETING_CONSENT_UPDATE": "customers_email_marketing_consent/update",
    "CUSTOMERS_MARKETING_CONSENT_UPDATE": "customers_marketing_consent/update",
    "CUSTOMERS_PURCHASING_SUMMARY": "customers/purchasing_summary",
    "CUSTOMER_ACCOUNT_SETTINGS_UPDATE": "customer_account_settings/update",
    "APP_SCOPES_UPDATE": "app/scopes_update",
    "ORDERS_PARTIALLY_FULFILLED": "orders/partially_fulfilled",
    "ORDERS_RISK_ASSESSMENT_CHANGED": "orders/risk_assessment_changed",
    "ORDERS_SHOPIFY_PROTECT_ELIGIBILITY_CHANGED": "orders/shopify_protect_eligibility_changed",
}
_VERBS = ("_CREATE", "_UPDATE", "_UPDATED", "_DELETE", "_FINISH", "_CANCELLED", "_UNINSTALLED",
          "_PAID", "_FULFILLED", "_EDITED", "_ENABLE", "_DISABLE", "_MERGE", "_REVOKE")  # fmt: skip
# The mandatory privacy topics are not subscribable through the API (configured in the app).
COMPLIANCE_TOPICS = ("customers/data_request", "customers/redact", "shop/redact")


def topic_string(enum_value: str) -> str:
    """`CUSTOMERS_CREATE` -> `customers/create`, `CUSTOMER_TAGS_ADDED` -> `customer.tags_added`."""
    if enum_value in _SPECIAL_TOPICS:
        return _SPECIAL_TOPICS[enum_value]
    for verb in _VERBS:
        if enum_value.endswith(verb):
            return f"{enum_value[: -len(verb)].lower()}/{verb[1:].lower()}"
    resource, _, action = enum_value.rpartition("_")
    return f"{resource.lower()}/{action.lower()}"


def topic_enum(topic: str) -> str:
    return topic.replace("/", "_").replace(".", "_").upper()


def sign(body: bytes, secret: str) -> str:
    """`X-Shopify-Hmac-Sha256`: base64 of HMAC-SHA256 over the raw body, keyed by the app secret."""
    return base64.b64encode(hmac.new(secret.encode(), body, hashlib.sha256).digest()).decode()


def _encode(payload: dict) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode()


def utc_now_iso() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Subscription:
    id: int
    shop: str
    topic: str  # topic string, e.g. customers/update
    callback_url: str
    format: str = "JSON"
    include_fields: list[str] = field(default_factory=list)
    metafield_namespaces: list[str] = field(default_factory=list)
    filter: str | None = None
    created_at: str = field(default_factory=utc_now_iso)
    updated_at: str = field(default_factory=utc_now_iso)

    @property
    def gid(self) -> str:
        return f"gid://shopify/WebhookSubscription/{self.id}"


@dataclass
class Delivery:
    webhook_id: str
    event_id: str
    shop: str
    topic: str
    url: str
    body: bytes
    triggered_at: str
    subscription_id: int | None
    attempt: int = 0


@dataclass
class Faults:
    drop: int = 0
    duplicate: int = 0
    reorder: int = 0  # hold this many deliveries, then release them newest first
    held: list[Delivery] = field(default_factory=list)


class WebhookHub:
    def __init__(
        self,
        *,
        secret: str,
        api_version: str = API_VERSION,
        time_factor: float = 1.0,
        timeout: float = 5.0,
        log_size: int = 10_000,
    ):
        self.secret = secret
        self.api_version = api_version
        self.time_factor = time_factor
        self.timeout = timeout
        self._subscriptions: dict[int, Subscription] = {}
        self._topics: dict[str, dict[str, int]] = {}  # shop -> topic -> subscriptions
        self._ids = itertools.count(1_000_001)
        self._sequence = itertools.count()
        self._queue: list[tuple[float, int, Delivery]] = []
        self._condition = threading.Condition()
        self._in_flight: list[str] = []  # shops of the deliveries being attempted
        self._faults = Faults()
        self.log: deque[dict[str, Any]] = deque(maxlen=log_size)
        self.compliance_url: str | None = None
        self._stopped = False
        self._worker = threading.Thread(target=self._run, name="sandbox-webhooks", daemon=True)
        self._worker.start()

    # Subscriptions -------------------------------------------------------------------------
    def subscribe(self, *, shop: str, topic: str, callback_url: str, **options) -> Subscription:
        with self._condition:
            subscription = Subscription(
                id=next(self._ids), shop=shop, topic=topic, callback_url=callback_url, **options
            )
            self._subscriptions[subscription.id] = subscription
            self._reindex()
            return subscription

    def unsubscribe(self, *, shop: str, subscription_id: int) -> bool:
        with self._condition:
            subscription = self._subscriptions.get(subscription_id)
            if subscription is None or subscription.shop != shop:
                return False
            del self._subscriptions[subscription_id]
            self._reindex()
            return True

    def subscription(self, *, shop: str, subscription_id: int) -> Subscription | None:
        subscription = self._subscriptions.get(subscription_id)
        return subscription if subscription is not None and subscription.shop == shop else None

    def subscriptions(self, shop: str) -> list[Subscription]:
        with self._condition:
            return sorted(
                (s for s in self._subscriptions.values() if s.shop == shop),
                key=lambda s: (s.created_at, s.id),
            )

    def forget_shop(self, shop: str, *, drop_pending: bool = True) -> None:
        """An uninstalled app loses its subscriptions; a deleted store also its pending deliveries."""
        with self._condition:
            for subscription in [s for s in self._subscriptions.values() if s.shop == shop]:
                del self._subscriptions[subscription.id]
            self._reindex()
            if not drop_pending:
                return
            self._queue = [entry for entry in self._queue if entry[2].shop != shop]
            heapq.heapify(self._queue)
            self._faults.held = [d for d in self._faults.held if d.shop != shop]
            self._condition.notify_all()

    def is_subscribed(self, shop: str, topic: str) -> bool:
        return bool(self._topics.get(shop, {}).get(topic))

    def has_subscriptions(self, shop: str) -> bool:
        """Cheap enough to ask on every store write."""
        return bool(self._topics.get(shop))

    def _reindex(self) -> None:
        topics: dict[str, dict[str, int]] = {}
        for subscription in self._subscriptions.values():
            per_shop = topics.setdefault(subscription.shop, {})
            per_shop[subscription.topic] = per_shop.get(subscription.topic, 0) + 1
        self._topics = topics

    # Emitting ------------------------------------------------------------------------------
    def emit(self, shop: str, topic: str, payload: dict, *, event_id: str | None = None) -> list:
        """Queue `payload` for every subscription of `topic` in `shop`; returns the deliveries."""
        targets = [s for s in self.subscriptions(shop) if s.topic == topic]
        return self._queue_all(shop, topic, payload, targets, event_id)

    def emit_to(self, shop: str, topic: str, payload: dict, url: str) -> list:
        """Deliver to an address outside the subscriptions (the app's compliance webhook URL)."""
        return self._queue_all(shop, topic, payload, [url], None)

    def _queue_all(self, shop, topic, payload, targets, event_id) -> list:
        if not targets:
            return []
        event_id = event_id or str(uuid.uuid4())
        triggered_at = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        full_body = _encode(payload)
        deliveries = []
        for target in targets:
            if isinstance(target, Subscription):
                url, subscription_id = target.callback_url, target.id
                body = full_body
                if target.include_fields:  # Shopify sends only these top-level fields
                    wanted = set(target.include_fields)
                    body = _encode({k: v for k, v in payload.items() if k in wanted})
            else:
                url, subscription_id, body = target, None, full_body
            deliveries.append(
                Delivery(
                    webhook_id=str(uuid.uuid4()),
                    event_id=event_id,
                    shop=shop,
                    topic=topic,
                    url=url,
                    body=body,
                    triggered_at=triggered_at,
                    subscription_id=subscription_id,
                )
            )
        with self._condition:
            for delivery in deliveries:
                self._apply_faults(delivery)
            self._condition.notify_all()
        return deliveries

    def _apply_faults(self, delivery: Delivery) -> None:
        faults = self._faults
        if faults.drop > 0:
            faults.drop -= 1
            self._record(delivery, outcome="dropped", status=None, error="fault: dropped")
            return
        copies = 1
        if faults.duplicate > 0:
            faults.duplicate -= 1
            copies = 2
        for _ in range(copies):
            if faults.reorder > 0:
                faults.held.append(delivery)
                if len(faults.held) >= faults.reorder:
                    self._release_held()
            else:
                self._push(delivery, 0.0)

    def _release_held(self) -> None:
        held, self._faults.held, self._faults.reorder = self._faults.held, [], 0
        for delivery in reversed(held):
            self._push(delivery, 0.0)

    def _push(self, delivery: Delivery, delay: float) -> None:
        due = time.monotonic() + delay
        heapq.heappush(self._queue, (due, next(self._sequence), delivery))

    # Faults --------------------------------------------------------------------------------
    def set_faults(self, *, drop: int = 0, duplicate: int = 0, reorder: int = 0) -> None:
        """Drop / send twice the next N deliveries; or hold the next N and release them reversed."""
        with self._condition:
            if self._faults.held:
                self._release_held()
            self._faults = Faults(drop=drop, duplicate=duplicate, reorder=reorder)
            self._condition.notify_all()

    def flush_held(self) -> None:
        with self._condition:
            self._release_held()
            self._condition.notify_all()

    # Worker --------------------------------------------------------------------------------
    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopped and (
                    not self._queue or self._queue[0][0] > time.monotonic()
                ):
                    wait = self._queue[0][0] - time.monotonic() if self._queue else None
                    self._condition.wait(timeout=wait)
                if self._stopped:
                    return
                _, _, delivery = heapq.heappop(self._queue)
                self._in_flight.append(delivery.shop)
            try:
                self._attempt(delivery)
            finally:
                with self._condition:
                    self._in_flight.remove(delivery.shop)
                    self._condition.notify_all()

    def _attempt(self, delivery: Delivery) -> None:
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "Shopify-Captain-Hook",
            "X-Shopify-Hmac-Sha256": sign(delivery.body, self.secret),
            "X-Shopify-Topic": delivery.topic,
            "X-Shopify-Shop-Domain": delivery.shop,
            "X-Shopify-Webhook-Id": delivery.webhook_id,
            "X-Shopify-Event-Id": delivery.event_id,
            "X-Shopify-Triggered-At": delivery.triggered_at,
            "X-Shopify-API-Version": self.api_version,
        }
        request = urllib.request.Request(delivery.url, data=delivery.body, headers=headers)
        status, error = None, None
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status = response.status
        except urllib.error.HTTPError as exc:
            status, error = exc.code, f"HTTP {exc.code}"
        except (OSError, urllib.error.URLError) as exc:
            error = f"{type(exc).__name__}: {exc}"
        if status is not None and 200 <= status < 300:
            self._record(delivery, outcome="delivered", status=status, error=None)
            return
        if delivery.attempt < RETRIES:
            self._record(delivery, outcome="retrying", status=status, error=error)
            delay = RETRY_DELAYS[delivery.attempt] * self.time_factor
            delivery.attempt += 1
            with self._condition:
                self._push(delivery, delay)
            return
        self._record(delivery, outcome="failed", status=status, error=error)
        if delivery.subscription_id is not None:
            with self._condition:
                self._subscriptions.pop(delivery.subscription_id, None)
                self._reindex()

    def _record(self, delivery: Delivery, *, outcome: str, status, error) -> None:
        self.log.append(
            {
                "webhook_id": delivery.webhook_id,
                "event_id": delivery.event_id,
                "shop": delivery.shop,
                "topic": delivery.topic,
                "url": delivery.url,
                "attempt": delivery.attempt,
                "outcome": outcome,
                "status": status,
                "error": error,
                "at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ"),
                "body": json.loads(delivery.body),
            }
        )

    # Inspection ----------------------------------------------------------------------------
    def deliveries(self, *, shop: str | None = None, topic: str | None = None) -> list[dict]:
        return [
            entry
            for entry in list(self.log)
            if (shop is None or entry["shop"] == shop)
            and (topic is None or entry["topic"] == topic)
        ]

    def wait_idle(self, timeout: float = 10.0, *, shop: str | None = None) -> bool:
        """Block until nothing (of `shop`, if given) is queued, held, retrying or in flight."""
        deadline = time.monotonic() + timeout

        def busy() -> bool:
            pending = [entry[2].shop for entry in self._queue] + self._in_flight
            pending += [delivery.shop for delivery in self._faults.held]
            return any(shop is None or owner == shop for owner in pending)

        with self._condition:
            while busy():
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                self._condition.wait(timeout=remaining)
            return True

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify_all()
        self._worker.join(timeout=5)
