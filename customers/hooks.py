"""Extension points other apps plug into (registered from their AppConfig.ready()).

- `mirror_changed`: called after the mirror of a shop changed and committed, as

      hook(shop_id=int, customer_ids=list[int] | None, reason=str, changed=frozenset[str] | None)

  `customer_ids`: the local ids of the customers whose rows (or orders) changed; None when
  anything may have changed (a full sync, a very large delta). `reason`: "full_sync",
  "reconcile", "delta", "webhook". `changed`: the names of `customers.Customer` model fields
  whose values may have changed (including "addresses", the address list), plus the literal
  "orders" (`ORDERS_CHANGED`) when order rows changed (and "order_products",
  `ORDER_PRODUCTS_CHANGED`, when the products of the customer's live orders may have), or "duplicates" (`DUPLICATES_CHANGED`,
  reason "duplicates") when the merges app decided a candidate of these customers; None when any
  field may have changed.
  Bookkeeping columns (`mirrored_at`, `last_seen_sync_run_id`) are never named. Webhook and
  delta changes reach the hooks batched: customers.outbox drains them per shop, with the union
  of `changed` and the reason of the change that queued the drain ("webhook" or "delta").
  A consumer that reads none of the named fields can skip its refresh. Hooks must accept
  further keyword arguments (`**kwargs`) so the interface can grow. Duplicate detection and
  segment refresh register here and enqueue their own tasks; the mirror does not know them.
  `mirror_changed_notify` defers the calls to the commit of the current transaction, so a hook
  never sees (or queues work for) a rolled-back change. The outbox drain instead calls
  `mirror_changed_deliver` inside the transaction that consumes the outbox rows (the change
  itself is already committed): with django-q2's ORM broker the hooks' task INSERTs commit
  together with the consumption, so a worker dying anywhere in the drain loses nothing. Hooks
  therefore only enqueue (cheap, idempotent: hearing a change twice is harmless).
- `customer_erasers`: called inside the redaction transaction with the customers being erased,
  so every app deletes what it derived from their personal data (match explanations, snapshots).
  An eraser that raises aborts the redaction, which is then retried: erasure is all or nothing.
- `customer_exporters`: called for customers/data_request; each returns a JSON-able section
  (`{"segments": [...]}`) that is added to the customer's export.
- `customer_detail_sections`: called by `GET /api/v1/customers/{id}/`; each returns a few
  JSON-able sections (`{"segments": [...], "groups": [...]}`) with ids and names only, in a
  fixed number of queries whatever the customer's memberships (no query per row).
- `customer_audiences`: named sets of customers another app can resolve to ids, e.g. "segment"
  (its current members in one shop), so account invites can go to a segment without the mirror
  importing segments. A resolver raises UnknownAudience for an id the agency does not have.
"""

import logging
from collections.abc import Callable, Iterable, Sequence

from django.db import transaction

logger = logging.getLogger(__name__)

# (*, shop_id, customer_ids: list[int] | None, reason: str, changed: frozenset[str] | None, **_)
MirrorChangedHook = Callable[..., None]

# The `changed` entry for order rows (every other entry is a Customer field name).
ORDERS_CHANGED = "orders"
# Added to "orders" when the products of a customer's live orders may have changed: an order with
# products created, revived or deleted, its line items' products changed, it became (or stopped
# being) a test order, or it moved to another customer (duplicate detection compares them).
ORDER_PRODUCTS_CHANGED = "order_products"
# The `changed` entry when a reviewer decided a duplicate candidate (merges): no mirror row
# changed, but the members' duplicate review status did (segments' `duplicate_status`).
DUPLICATES_CHANGED = "duplicates"
# Customer fields an order change can move (derived from orders, or Shopify's own totals).
AGGREGATE_FIELDS = frozenset(
    {
        "number_of_orders",
        "amount_spent",
        "amount_spent_currency",
        "first_order_at",
        "last_order_at",
    }
)
# What an order change may change (an order row, its customer's aggregates).
ORDER_CHANGED = frozenset({ORDERS_CHANGED, *AGGREGATE_FIELDS})
CustomerEraser = Callable[..., None]  # (*, shop_id, customer_ids: list[int])

_MIRROR_CHANGED: list[MirrorChangedHook] = []
CustomerExporter = Callable[..., dict]  # (*, shop_id, customer_id: int) -> {section: data}
_ERASERS: list[CustomerEraser] = []
_EXPORTERS: list[CustomerExporter] = []
CustomerDetailSection = Callable[..., dict]  # (*, shop_id, customer_id: int) -> {section: data}
_DETAIL_SECTIONS: list[CustomerDetailSection] = []


def on_mirror_changed(func: MirrorChangedHook) -> MirrorChangedHook:
    if func not in _MIRROR_CHANGED:
        _MIRROR_CHANGED.append(func)
    return func


def customer_eraser(func: CustomerEraser) -> CustomerEraser:
    if func not in _ERASERS:
        _ERASERS.append(func)
    return func


def customer_exporter(func: CustomerExporter) -> CustomerExporter:
    if func not in _EXPORTERS:
        _EXPORTERS.append(func)
    return func


class UnknownAudience(LookupError):
    """No such audience for this agency and shop (or no app provides that kind)."""


AudienceResolver = Callable[..., list[int]]  # (*, shop_id, agency_id, ref: int) -> customer ids
_AUDIENCES: dict[str, AudienceResolver] = {}


def customer_audience(kind: str, func: AudienceResolver) -> AudienceResolver:
    _AUDIENCES[kind] = func
    return func


def audience_customer_ids(*, kind: str, shop_id: int, agency_id: int, ref: int) -> list[int]:
    resolver = _AUDIENCES.get(kind)
    if resolver is None:
        raise UnknownAudience(f"no installed app provides {kind} audiences")
    return list(resolver(shop_id=shop_id, agency_id=agency_id, ref=ref))


def customer_detail_section(func: CustomerDetailSection) -> CustomerDetailSection:
    if func not in _DETAIL_SECTIONS:
        _DETAIL_SECTIONS.append(func)
    return func


def customer_detail_sections(*, shop_id: int, customer_id: int) -> dict:
    sections: dict = {}
    for section in list(_DETAIL_SECTIONS):
        sections.update(section(shop_id=shop_id, customer_id=customer_id))
    return sections


def customer_export_sections(*, shop_id: int, customer_id: int) -> dict:
    sections: dict = {}
    for exporter in list(_EXPORTERS):
        sections.update(exporter(shop_id=shop_id, customer_id=customer_id))
    return sections


def mirror_changed_notify(
    *,
    shop_id: int,
    customer_ids: Sequence[int] | None,
    reason: str,
    changed: Iterable[str] | None = None,
) -> None:
    """Run every hook once the current transaction commits (at once outside a transaction).

    One failing hook is logged and does not stop the others. A rolled-back transaction runs none.
    """
    ids = list(customer_ids) if customer_ids is not None else None
    fields = frozenset(changed) if changed is not None else None
    transaction.on_commit(
        lambda: _mirror_changed_run(
            shop_id=shop_id, customer_ids=ids, reason=reason, changed=fields
        )
    )


def mirror_changed_deliver(
    *,
    shop_id: int,
    customer_ids: Sequence[int] | None,
    reason: str,
    changed: Iterable[str] | None = None,
) -> None:
    """Call every hook now, in the caller's transaction (the outbox drain's).

    A hook that raises propagates: the caller rolls back, so the change stays in the outbox and
    is heard again by the drain's retry. Hooks already called may hear it twice then (with a
    broker outside the database); with the ORM broker their enqueues rolled back too.
    """
    ids = list(customer_ids) if customer_ids is not None else None
    fields = frozenset(changed) if changed is not None else None
    for hook in list(_MIRROR_CHANGED):
        hook(shop_id=shop_id, customer_ids=ids, reason=reason, changed=fields)


def _mirror_changed_run(
    *, shop_id: int, customer_ids: list[int] | None, reason: str, changed: frozenset[str] | None
) -> None:
    for hook in list(_MIRROR_CHANGED):
        try:
            hook(shop_id=shop_id, customer_ids=customer_ids, reason=reason, changed=changed)
        except Exception:
            logger.exception(
                "mirror_changed hook %s failed for shop %s", hook.__qualname__, shop_id
            )


def customers_erase_derived(*, shop_id: int, customer_ids: Sequence[int]) -> None:
    for eraser in list(_ERASERS):
        eraser(shop_id=shop_id, customer_ids=list(customer_ids))


def registered() -> dict[str, list[str]]:
    name = lambda f: f"{f.__module__}.{f.__qualname__}"  # noqa: E731
    return {
        "mirror_changed": [name(f) for f in _MIRROR_CHANGED],
        "customer_erasers": [name(f) for f in _ERASERS],
        "customer_exporters": [name(f) for f in _EXPORTERS],
        "customer_detail_sections": [name(f) for f in _DETAIL_SECTIONS],
        "customer_audiences": [f"{kind}: {name(f)}" for kind, f in _AUDIENCES.items()],
    }
