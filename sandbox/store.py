"""The sandbox's in-memory Shopify stores: customers, addresses, orders, shop settings.

Memory matters (one store must hold 1,000,000 customers and 3,000,000 orders in a few GiB), so
records use __slots__, timestamps are integer epoch milliseconds, money is integer minor units,
ids are plain ints (the gid is built on the way out) and repeated strings (tags, codes, states)
are interned.

Every write goes through a `Store` method, which takes the store's lock, bumps `updatedAt`, keeps
the paging indexes sorted and, after the lock is released, tells the observers
(`Sandbox.observers`) what changed so webhooks can be emitted. Reads that must be consistent
take `store.lock` (re-entrant); long scans (bulk exports) take `store.customer_ids_snapshot()`
and fetch each customer with `store.customers.get(id)`, which is safe without the lock.
"""

from __future__ import annotations

import bisect
import secrets
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# Composite UPDATED_AT index key: updated_ms * ID_SPACE + id (ids stay below 10**16).
ID_SPACE = 10**16

CUSTOMER_STATES = ("DISABLED", "INVITED", "ENABLED", "DECLINED")
EMAIL_MARKETING_STATES = (
    "NOT_SUBSCRIBED",
    "PENDING",
    "SUBSCRIBED",
    "UNSUBSCRIBED",
    "REDACTED",
    "INVALID",
)
SMS_MARKETING_STATES = ("NOT_SUBSCRIBED", "PENDING", "SUBSCRIBED", "UNSUBSCRIBED", "REDACTED")
OPT_IN_LEVELS = ("SINGLE_OPT_IN", "CONFIRMED_OPT_IN", "UNKNOWN")
ACCOUNTS_VERSIONS = ("CLASSIC", "NEW_CUSTOMER_ACCOUNTS")
DEFAULT_SCOPES = (
    "read_customers",
    "write_customers",
    "read_orders",
    "read_customer_merge",
    "write_customer_merge",
)


class SandboxError(ValueError):
    """Bad input to the store (the control API answers it with 400 and the message)."""


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def intern(value: str | None) -> str | None:
    return sys.intern(value) if value else value


_tag_tuples: dict[tuple[str, ...], tuple[str, ...]] = {}
# Raw tag lists seen before -> their normalised tuple (tag sets repeat across millions of rows).
_tag_inputs: dict[tuple, tuple[str, ...]] = {}
_TAG_INPUT_CACHE_LIMIT = 200_000


def normalise_tags(tags: Iterable[str] | str | None) -> tuple[str, ...]:
    """Shopify's tag rules: split on commas, trim, drop blanks, de-dup and sort case-insensitively."""
    if tags is None:
        return ()
    if isinstance(tags, str):
        tags = [tags]
    key = tuple(tags) if isinstance(tags, list | tuple) else None
    if key is not None:
        cached = _tag_inputs.get(key)
        if cached is not None:
            return cached
    result = _normalise_tags(tags)
    if key is not None and len(_tag_inputs) < _TAG_INPUT_CACHE_LIMIT:
        _tag_inputs[key] = result
    return result


def _normalise_tags(tags: Iterable[str]) -> tuple[str, ...]:
    seen: dict[str, str] = {}
    for raw in tags:
        if not isinstance(raw, str):
            raise SandboxError(f"tags must be strings, got {raw!r}")
        for part in raw.split(","):
            tag = part.strip()
            if tag and tag.lower() not in seen:
                seen[tag.lower()] = tag
    result = tuple(sys.intern(tag) for tag in sorted(seen.values(), key=str.lower))
    # Many customers share a tag set: keep one tuple per distinct set.
    return _tag_tuples.setdefault(result, result)


class MergeBlockers:
    """Facts that block a merge in Shopify (never served under this name)."""

    __slots__ = (
        "company_contact",
        "gift_cards",
        "merge_in_progress",
        "multipass_identifier",
        "payment_methods",
        "pending_data_request",
        "redacted",
        "store_credit_accounts",
        "subscription_contracts",
    )

    FIELDS = {
        "giftCards": "gift_cards",
        "storeCreditAccounts": "store_credit_accounts",
        "subscriptionContracts": "subscription_contracts",
        "companyContact": "company_contact",
        "paymentMethods": "payment_methods",
        "multipassIdentifier": "multipass_identifier",
        "pendingDataRequest": "pending_data_request",
        "redacted": "redacted",
        "mergeInProgress": "merge_in_progress",
    }

    def __init__(self) -> None:
        self.gift_cards = 0
        self.store_credit_accounts = 0
        self.subscription_contracts = 0
        self.company_contact = False
        self.payment_methods = 0
        self.multipass_identifier: str | None = None
        self.pending_data_request = False
        self.redacted = False
        self.merge_in_progress: str | None = None  # the merge job id while one runs

    def update(self, values: dict[str, Any]) -> None:
        for key, value in values.items():
            attr = self.FIELDS.get(key)
            if attr is None:
                raise SandboxError(f"unknown merge blocker {key!r}; known: {sorted(self.FIELDS)}")
            setattr(self, attr, value)

    def as_dict(self) -> dict[str, Any]:
        return {key: getattr(self, attr) for key, attr in self.FIELDS.items()}

    def any(self) -> bool:
        return any(getattr(self, attr) for attr in self.__slots__)


class Address:
    __slots__ = (
        "address1",
        "address2",
        "city",
        "company",
        "country_code",
        "first_name",
        "id",
        "last_name",
        "phone",
        "province_code",
        "zip",
    )

    def __init__(self, id: int, **values: Any) -> None:
        self.id = id
        get = values.get
        self.address1 = get("address1")
        self.address2 = get("address2")
        self.city = get("city")
        self.company = get("company")
        self.country_code = get("country_code")
        self.first_name = get("first_name")
        self.last_name = get("last_name")
        self.phone = get("phone")
        self.province_code = get("province_code")
        self.zip = get("zip")

    def key(self) -> tuple:
        """What makes two addresses 'the same address' for de-duplication."""
        return (
            self.address1,
            self.address2,
            self.city,
            self.company,
            self.country_code,
            self.first_name,
            self.last_name,
            self.phone,
            self.province_code,
            self.zip,
        )


class LineItem:
    __slots__ = ("id", "product_id", "product_tags", "quantity", "title")

    def __init__(
        self, id: int, quantity: int, product_id: int | None, product_tags: tuple, title: str | None
    ) -> None:
        self.id = id
        self.quantity = quantity
        self.product_id = product_id
        self.product_tags = product_tags
        self.title = title


class Order:
    __slots__ = (
        "cancelled_at",
        "created_at",
        "currency",
        "customer_id",
        "email",
        "financial_status",
        "id",
        "line_items",
        "name",
        "processed_at",
        "test",
        "total_minor",
        "updated_at",
    )

    def __init__(self, id: int) -> None:
        self.id = id
        self.name = ""
        self.customer_id: int | None = None
        self.email: str | None = None
        self.created_at = 0
        self.processed_at = 0
        self.updated_at = 0
        self.cancelled_at: int | None = None
        self.total_minor = 0
        self.currency = "USD"
        self.financial_status: str | None = "PAID"
        self.line_items: tuple[LineItem, ...] = ()
        self.test = False


class Customer:
    __slots__ = (
        "addresses",
        "blockers",
        "created_at",
        "data_sale_opt_out",
        "default_address_id",
        "email",
        "email_consent_updated_at",
        "email_marketing_state",
        "email_opt_in_level",
        "first_name",
        "id",
        "last_abandoned_checkout_at",
        "last_name",
        "locale",
        "note",
        "orders",
        "phone",
        "sms_consent_updated_at",
        "sms_marketing_state",
        "sms_opt_in_level",
        "state",
        "tags",
        "tax_exempt",
        "updated_at",
        "verified_email",
    )

    def __init__(self, id: int) -> None:
        self.id = id
        self.first_name: str | None = None
        self.last_name: str | None = None
        self.email: str | None = None
        self.phone: str | None = None
        self.state = "DISABLED"
        self.tags: tuple[str, ...] = ()
        self.note: str | None = None
        self.locale = "en"
        self.verified_email = True
        self.tax_exempt = False
        self.data_sale_opt_out = False
        self.created_at = 0
        self.updated_at = 0
        self.email_marketing_state: str | None = None
        self.email_opt_in_level: str | None = None
        self.email_consent_updated_at: int | None = None
        self.sms_marketing_state: str | None = None
        self.sms_opt_in_level: str | None = None
        self.sms_consent_updated_at: int | None = None
        self.addresses: list[Address] = []
        self.default_address_id: int | None = None
        self.orders: list[Order] = []
        self.last_abandoned_checkout_at: int | None = None
        self.blockers: MergeBlockers | None = None

    # Derived values, computed the way Shopify does (cancelled orders excluded).
    def counted_orders(self) -> list[Order]:
        return [order for order in self.orders if order.cancelled_at is None and not order.test]

    def number_of_orders(self) -> int:
        return len(self.counted_orders())

    def amount_spent_minor(self) -> int:
        return sum(order.total_minor for order in self.counted_orders())

    def last_order(self) -> Order | None:
        orders = self.counted_orders()
        return max(orders, key=lambda order: (order.created_at, order.id)) if orders else None

    def default_address(self) -> Address | None:
        for address in self.addresses:
            if address.id == self.default_address_id:
                return address
        return self.addresses[0] if self.addresses else None

    def display_name(self) -> str:
        name = " ".join(part for part in (self.first_name, self.last_name) if part)
        return name or self.email or self.phone or ""

    def merge_blockers(self) -> MergeBlockers:
        if self.blockers is None:
            self.blockers = MergeBlockers()
        return self.blockers


@dataclass
class Change:
    """What an observer is told after a write: kind is e.g. 'customer.created'."""

    kind: str
    store: Store
    customer: Customer | None = None
    order: Order | None = None
    customer_id: int | None = None
    fields: tuple[str, ...] = ()
    event_id: str = field(default_factory=lambda: secrets.token_hex(8))
    extra: dict[str, Any] = field(default_factory=dict)


def _before(customer: Customer) -> dict[str, Any]:
    """What observers compare against on 'customer.updated' (tag and state webhooks)."""
    return {"tags": customer.tags, "state": customer.state}


CHANGE_KINDS = (
    "customer.created",
    "customer.updated",
    "customer.deleted",
    "order.created",
    "order.updated",
    "order.cancelled",
    "order.deleted",
    "store.created",
    "store.deleted",
)

Observer = Callable[[Change], None]


@dataclass
class StoreConfig:
    """Per-store knobs the control API can change."""

    bucket_size: float = 2000.0
    restore_rate: float = 100.0
    max_query_cost: int = 1000
    auto_approve: bool = True
    # Scopes the merchant grants at install; None = whatever the app asks for.
    granted_scopes: tuple[str, ...] | None = None


class Store:
    """One Shopify store. Every write method takes `lock` and tells the observers afterwards."""

    def __init__(
        self,
        sandbox: Sandbox,
        *,
        domain: str,
        name: str,
        currency: str = "USD",
        iana_timezone: str = "UTC",
        country: str = "US",
        customer_accounts_version: str = "CLASSIC",
        shop_id: int,
    ) -> None:
        if customer_accounts_version not in ACCOUNTS_VERSIONS:
            raise SandboxError(
                f"customer_accounts_version must be one of {ACCOUNTS_VERSIONS}, got {customer_accounts_version!r}"
            )
        self.sandbox = sandbox
        self.domain = domain
        self.name = name
        self.currency = intern(currency)
        self.iana_timezone = iana_timezone
        self.country = country
        self.customer_accounts_version = customer_accounts_version
        self.id = shop_id
        self.email = f"owner@{domain}"
        self.config = StoreConfig()
        self.lock = threading.RLock()
        self.customers: dict[int, Customer] = {}
        self.orders: dict[int, Order] = {}
        # Paging indexes, kept sorted: customer ids, and updated_ms * ID_SPACE + id.
        self.ids_index: list[int] = []
        self.updated_index: list[int] = []
        # Bumped on every customer write; lazily built indexes are cached per generation.
        self.generation = 0
        self._lazy_indexes: dict[str, tuple[int, list]] = {}
        self._last_updated_ms = 0
        self._order_number = 1000
        # Anything extensions keep per store (bulk operations, webhook subscriptions, jobs...).
        self.extras: dict[str, Any] = {}

    # ---------------------------------------------------------------- helpers
    def _stamp(self) -> int:
        """A strictly increasing updated_at, so the UPDATED_AT order is total."""
        stamp = max(now_ms(), self._last_updated_ms + 1)
        self._last_updated_ms = stamp
        return stamp

    def _index_add(self, customer: Customer) -> None:
        ids = self.ids_index
        if not ids or ids[-1] < customer.id:
            ids.append(customer.id)
        else:
            bisect.insort(ids, customer.id)
        key = customer.updated_at * ID_SPACE + customer.id
        if not self.updated_index or self.updated_index[-1] < key:
            self.updated_index.append(key)
        else:
            bisect.insort(self.updated_index, key)
        self.generation += 1

    def _index_remove(self, customer: Customer) -> None:
        position = bisect.bisect_left(self.ids_index, customer.id)
        if position < len(self.ids_index) and self.ids_index[position] == customer.id:
            del self.ids_index[position]
        self._updated_remove(customer)
        self.generation += 1

    def _updated_remove(self, customer: Customer) -> None:
        key = customer.updated_at * ID_SPACE + customer.id
        position = bisect.bisect_left(self.updated_index, key)
        if position < len(self.updated_index) and self.updated_index[position] == key:
            del self.updated_index[position]

    def _touch(self, customer: Customer) -> None:
        self._updated_remove(customer)
        customer.updated_at = self._stamp()
        self.updated_index.append(customer.updated_at * ID_SPACE + customer.id)
        self.generation += 1

    def lazy_index(self, name: str, build: Callable[[], list]) -> list:
        """A sorted index rebuilt only when customers changed since it was built."""
        cached = self._lazy_indexes.get(name)
        if cached is not None and cached[0] == self.generation:
            return cached[1]
        index = build()
        self._lazy_indexes[name] = (self.generation, index)
        return index

    def _notify(self, changes: list[Change]) -> None:
        for change in changes:
            self.sandbox.notify(change)

    def customer_ids_snapshot(self) -> list[int]:
        with self.lock:
            return list(self.ids_index)

    def get_customer(self, customer_id: int) -> Customer | None:
        return self.customers.get(customer_id)

    # ---------------------------------------------------------------- customers
    def create_customer(self, values: dict[str, Any], *, notify: bool = True) -> Customer:
        """Create from a seed-format (Shopify-shaped) dict; `id` optional. Returns the customer."""
        from sandbox.seed import apply_customer_values, parse_gid

        with self.lock:
            customer_id = parse_gid(values.get("id"), "Customer") if values.get("id") else None
            if customer_id is None:
                customer_id = self.sandbox.next_id()
            else:
                if customer_id in self.customers:
                    raise SandboxError(f"customer {customer_id} already exists in {self.domain}")
                self.sandbox.reserve_id(customer_id)
            customer = Customer(customer_id)
            stamp = self._stamp()
            customer.created_at = stamp
            customer.updated_at = stamp
            apply_customer_values(self, customer, values, creating=True)
            if customer.updated_at > self._last_updated_ms:
                self._last_updated_ms = customer.updated_at
            self.customers[customer_id] = customer
            self._index_add(customer)
            changes = [Change("customer.created", self, customer=customer, customer_id=customer_id)]
            changes += [
                Change(
                    "order.created", self, customer=customer, order=order, customer_id=customer_id
                )
                for order in customer.orders
            ]
        if notify:
            self._notify(changes)
        return customer

    def update_customer(self, customer_id: int, values: dict[str, Any]) -> Customer:
        from sandbox.seed import apply_customer_values

        with self.lock:
            customer = self.require_customer(customer_id)
            if "id" in values:
                values = {key: value for key, value in values.items() if key != "id"}
            before = _before(customer)
            apply_customer_values(self, customer, values, creating=False)
            self._touch(customer)
            change = Change(
                "customer.updated",
                self,
                customer=customer,
                customer_id=customer_id,
                fields=tuple(values),
                extra={"before": before},
            )
        self._notify([change])
        return customer

    def mutate_customer(
        self, customer_id: int, mutate: Callable[[Customer], Any], *, fields: tuple[str, ...] = ()
    ) -> Customer:
        """Apply `mutate(customer)` under the lock, bump updatedAt, notify 'customer.updated'."""
        with self.lock:
            customer = self.require_customer(customer_id)
            before = _before(customer)
            mutate(customer)
            self._touch(customer)
            change = Change(
                "customer.updated",
                self,
                customer=customer,
                customer_id=customer_id,
                fields=fields,
                extra={"before": before},
            )
        self._notify([change])
        return customer

    def delete_customer(self, customer_id: int, *, reason: str = "deleted") -> Customer:
        with self.lock:
            customer = self.require_customer(customer_id)
            del self.customers[customer_id]
            self._index_remove(customer)
            for order in customer.orders:
                order.customer_id = None
            change = Change(
                "customer.deleted",
                self,
                customer=customer,
                customer_id=customer_id,
                extra={"reason": reason},
            )
        self._notify([change])
        return customer

    def require_customer(self, customer_id: int) -> Customer:
        customer = self.customers.get(customer_id)
        if customer is None:
            raise SandboxError(f"customer {customer_id} does not exist in {self.domain}")
        return customer

    def new_address(self, values: dict[str, Any]) -> Address:
        return Address(self.sandbox.next_id(), **values)

    # ---------------------------------------------------------------- orders
    def next_order_name(self) -> str:
        self._order_number += 1
        return f"#{self._order_number}"

    def place_order(self, customer_id: int | None, values: dict[str, Any]) -> Order:
        """Place an order (seed-format order dict) for a customer; bumps the customer's updatedAt."""
        from sandbox.seed import build_order

        with self.lock:
            customer = self.require_customer(customer_id) if customer_id is not None else None
            order = build_order(self, values, customer=customer, placing=True)
            self.orders[order.id] = order
            self.generation += 1
            changes = [
                Change(
                    "order.created", self, customer=customer, order=order, customer_id=customer_id
                )
            ]
            if customer is not None:
                customer.orders.append(order)
                changes.append(self._order_totals_changed(customer))
        self._notify(changes)
        return order

    def _order_totals_changed(self, customer: Customer) -> Change:
        """An order of the customer was placed, cancelled or deleted: its totals moved."""
        self._touch(customer)
        return Change(
            "customer.updated",
            self,
            customer=customer,
            customer_id=customer.id,
            fields=("numberOfOrders", "amountSpent", "lastOrder"),
        )

    def cancel_order(self, order_id: int) -> Order:
        with self.lock:
            order = self.orders.get(order_id)
            if order is None:
                raise SandboxError(f"order {order_id} does not exist in {self.domain}")
            if order.cancelled_at is not None:
                raise SandboxError(f"order {order_id} is already cancelled")
            order.cancelled_at = order.updated_at = now_ms()
            self.generation += 1
            changes = [Change("order.cancelled", self, order=order, customer_id=order.customer_id)]
            customer = self.customers.get(order.customer_id) if order.customer_id else None
            if customer is not None:
                changes.append(self._order_totals_changed(customer))
        self._notify(changes)
        return order

    def delete_order(self, order_id: int) -> Order:
        """The merchant deletes an order: it leaves the store and its customer's history."""
        with self.lock:
            order = self.orders.pop(order_id, None)
            if order is None:
                raise SandboxError(f"order {order_id} does not exist in {self.domain}")
            self.generation += 1
            changes = [Change("order.deleted", self, order=order, customer_id=order.customer_id)]
            customer = self.customers.get(order.customer_id) if order.customer_id else None
            if customer is not None:
                customer.orders = [kept for kept in customer.orders if kept.id != order_id]
                changes.append(self._order_totals_changed(customer))
        self._notify(changes)
        return order

    def orders_sorted(self) -> list[Order]:
        return self.lazy_index(
            "orders", lambda: sorted(self.orders.values(), key=lambda order: order.id)
        )

    def counts(self) -> dict[str, int]:
        return {"customers": len(self.customers), "orders": len(self.orders)}


class Sandbox:
    """Every store the server holds, the app credentials, issued tokens and pending OAuth codes.

    Lock order: a store's lock first, then the sandbox's (never the other way round).
    """

    def __init__(self, *, api_key: str, api_secret: str, first_id: int = 1_000_000_001) -> None:
        self.api_key = api_key
        self.api_secret = api_secret
        self.lock = threading.RLock()
        self.stores: dict[str, Store] = {}
        self.observers: list[Observer] = []
        self._next_id = first_id
        self._deferred_max: int | None = None
        # token -> (domain, api_key, frozenset of scopes)
        self.tokens: dict[str, tuple[str, str, frozenset[str]]] = {}
        # code -> (domain, api_key, scopes, issued_ms)
        self.oauth_codes: dict[str, tuple[str, str, tuple[str, ...], int]] = {}
        self.extras: dict[str, Any] = {}

    # ids are global (like Shopify's) and only grow.
    def next_id(self) -> int:
        with self.lock:
            if self._deferred_max is not None and self._deferred_max >= self._next_id:
                self._next_id = self._deferred_max + 1
            value = self._next_id
            self._next_id += 1
            return value

    def reserve_id(self, value: int) -> None:
        if self._deferred_max is not None:  # a bulk load holds the lock and reserves at the end
            if value > self._deferred_max:
                self._deferred_max = value
            return
        if value < self._next_id:  # the common case, no lock needed
            return
        with self.lock:
            if value >= self._next_id:
                self._next_id = value + 1

    def notify(self, change: Change) -> None:
        for observer in list(self.observers):
            observer(change)

    def create_store(
        self,
        *,
        domain: str,
        name: str | None = None,
        currency: str = "USD",
        iana_timezone: str = "UTC",
        country: str = "US",
        customer_accounts_version: str = "CLASSIC",
    ) -> Store:
        domain = validate_domain(domain)
        with self.lock:
            if domain in self.stores:
                raise SandboxError(f"store {domain} already exists")
            store = Store(
                self,
                domain=domain,
                name=name or domain.split(".")[0],
                currency=currency,
                iana_timezone=iana_timezone,
                country=country,
                customer_accounts_version=customer_accounts_version,
                shop_id=self.next_id(),
            )
            self.stores[domain] = store
        self.notify(Change("store.created", store))
        return store

    def delete_store(self, domain: str) -> None:
        with self.lock:
            store = self.stores.pop(domain, None)
            if store is None:
                raise SandboxError(f"store {domain} does not exist")
            self.tokens = {
                token: grant for token, grant in self.tokens.items() if grant[0] != domain
            }
        self.notify(Change("store.deleted", store))

    def store(self, domain: str) -> Store | None:
        return self.stores.get(domain)

    def issue_token(self, domain: str, scopes: Iterable[str], *, api_key: str | None = None) -> str:
        if domain not in self.stores:
            raise SandboxError(f"store {domain} does not exist")
        token = "shpat_" + secrets.token_hex(16)
        with self.lock:
            self.tokens[token] = (domain, api_key or self.api_key, frozenset(expand_scopes(scopes)))
        return token

    def revoke_tokens(self, domain: str) -> int:
        with self.lock:
            before = len(self.tokens)
            self.tokens = {
                token: grant for token, grant in self.tokens.items() if grant[0] != domain
            }
            return before - len(self.tokens)


def expand_scopes(scopes: Iterable[str]) -> set[str]:
    """`write_x` implies `read_x`, as in Shopify."""
    result = set()
    for scope in scopes:
        scope = scope.strip()
        if not scope:
            continue
        result.add(scope)
        if scope.startswith("write_"):
            result.add("read_" + scope[len("write_") :])
    return result


def compact_scopes(scopes: Iterable[str]) -> list[str]:
    """What Shopify reports as granted: implied `read_x` scopes left out when `write_x` is there."""
    scopes = {scope.strip() for scope in scopes if scope.strip()}
    return sorted(
        scope
        for scope in scopes
        if not (scope.startswith("read_") and "write_" + scope[len("read_") :] in scopes)
    )


def validate_domain(domain: str) -> str:
    import re

    domain = (domain or "").strip().lower()
    if not re.fullmatch(r"[a-z0-9][a-z0-9-]*\.myshopify\.com", domain):
        raise SandboxError(f"shop domain must look like name.myshopify.com, got {domain!r}")
    return domain
