"""Streaming ingest of Shopify bulk-operation JSONL straight into the mirror, batch by batch.

The full sync uses this on SQLite (the demo); on PostgreSQL it stages the whole export first
(customers.staging) and uses only `late_children_apply` from here.

Lines are read one at a time; a parent line (Customer, Order) is followed by its children
(MailingAddress, LineItem) carrying `__parentId`. Parents are collected into batches of
`batch_size` and written set-based (customers.writer), so memory stays bounded by one batch
whatever the export size. Each batch commits together with the caller's checkpoint (how many
lines are now in the mirror), so a crash loses at most one batch and a rerun skips what is done.
"""

import json
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from django.db import transaction

from customers import writer
from customers.mapping import (
    address_from_graphql,
    customer_from_graphql,
    gid_id,
    gid_type,
    order_from_graphql,
    reduce_line_items_graphql,
)
from customers.models import CustomerAddress, Order
from customers.normalize import tags_normalize
from customers.partitions import mirror_writes_wait

try:  # orjson parses bulk lines several times faster; json is the fallback.
    import orjson

    _loads = orjson.loads
except ImportError:  # pragma: no cover - depends on the environment
    _loads = json.loads

logger = logging.getLogger(__name__)

PARENT_TYPES = {"Customer", "Order"}


@dataclass
class IngestStats:
    read: int = 0
    created: int = 0
    updated: int = 0
    skipped: int = 0


FlushCallback = Callable[[int, IngestStats], None]


class BulkIngest:
    """Feed it bulk lines with `consume`; it writes batches and reports each flush.

    `on_flush(lines_done, batch_stats)` runs inside the batch's transaction: record the
    checkpoint there so the mirror and the checkpoint never disagree.
    """

    def __init__(
        self,
        *,
        shop_id: int,
        sync_run_id: int | None = None,
        shop_country: str = "",
        batch_size: int = 5000,
        on_flush: FlushCallback | None = None,
    ) -> None:
        self.shop_id = shop_id
        self.sync_run_id = sync_run_id
        self.shop_country = shop_country
        self.batch_size = batch_size
        self.on_flush = on_flush
        self.total = IngestStats()
        self._pending: tuple[str, dict[str, Any], list[dict[str, Any]]] | None = None
        self._customers: list[dict[str, Any]] = []
        self._addresses: dict[int, list[dict[str, Any]]] = {}
        self._orders: list[dict[str, Any]] = []
        self._late: list[dict[str, Any]] = []

    def consume(self, lines: Iterable[bytes | str], *, skip: int = 0) -> IngestStats:
        """Ingest every line after the first `skip` (already in the mirror); returns the totals."""
        index = 0
        for index, raw in enumerate(lines, start=1):
            if index <= skip:
                continue
            if not raw.strip():
                continue
            node = _loads(raw)
            parent_gid = node.get("__parentId")
            if parent_gid is None:
                self._finish_pending()
                if self._batched() >= self.batch_size:
                    self._flush(lines_done=index - 1)
                kind = gid_type(node["id"])
                if kind not in PARENT_TYPES:
                    raise ValueError(f"line {index}: unexpected top-level object {node['id']!r}")
                self._pending = (kind, node, [])
            elif self._pending is not None and self._pending[1]["id"] == parent_gid:
                self._pending[2].append(node)
            else:
                self._late.append(node)
        self._finish_pending()
        self._flush(lines_done=max(index, skip))
        return self.total

    # --- batching --------------------------------------------------------------------------

    def _batched(self) -> int:
        return len(self._customers) + len(self._orders)

    def _finish_pending(self) -> None:
        if self._pending is None:
            return
        kind, node, children = self._pending
        self._pending = None
        if kind == "Customer":
            addresses = [
                address_from_graphql(c) for c in children if gid_type(c["id"]) == "MailingAddress"
            ]
            if not children and node.get("addresses") is not None:
                addresses = None  # inline list on the node itself
            row, addresses = customer_from_graphql(
                node, addresses=addresses, shop_country=self.shop_country
            )
            self._customers.append(row)
            self._addresses[row["shopify_id"]] = addresses
        else:
            self._orders.append(order_from_graphql(node, line_items=children or None))

    def _flush(self, *, lines_done: int) -> None:
        batch = IngestStats()
        with transaction.atomic():
            mirror_writes_wait(shop_id=self.shop_id)  # rows of a shop without partitions
            for rows, upsert in (
                (self._customers, self._write_customers),
                (self._orders, self._write_orders),
            ):
                if rows:
                    result = upsert(rows)
                    batch.read += len(rows)
                    batch.created += result.created
                    batch.updated += result.updated
                    batch.skipped += len(result.skipped)
            if self._late:
                late_children_apply(shop_id=self.shop_id, children=self._late)
            if self.on_flush is not None:
                self.on_flush(lines_done, batch)
        self._customers, self._addresses, self._orders, self._late = [], {}, [], []
        for name in ("read", "created", "updated", "skipped"):
            setattr(self.total, name, getattr(self.total, name) + getattr(batch, name))

    def _write_customers(self, rows: list[dict[str, Any]]) -> writer.UpsertResult:
        return writer.customers_upsert(
            shop_id=self.shop_id,
            rows=rows,
            addresses=self._addresses,
            sync_run_id=self.sync_run_id,
        )

    def _write_orders(self, rows: list[dict[str, Any]]) -> writer.UpsertResult:
        return writer.orders_upsert(shop_id=self.shop_id, rows=rows, sync_run_id=self.sync_run_id)


def late_children_apply(*, shop_id: int, children: list[dict[str, Any]]) -> None:
    """Children whose parent was written earlier (not contiguous in the file): add addresses,
    merge line items into their order's product ids and tags."""
    addresses = [c for c in children if gid_type(c["id"]) == "MailingAddress"]
    items = [c for c in children if gid_type(c["id"]) == "LineItem"]
    logger.info("bulk ingest: %d children arrived after their parent's batch", len(children))
    owners = writer.customer_local_ids(
        shop_id=shop_id, shopify_ids={gid_id(a["__parentId"]) for a in addresses}
    )
    CustomerAddress.all_shops.bulk_create(
        CustomerAddress(
            shop_id=shop_id,
            customer_id=owners[gid_id(a["__parentId"])],
            **address_from_graphql(a),
        )
        for a in addresses
        if gid_id(a["__parentId"]) in owners
    )
    by_order: dict[int, list[dict[str, Any]]] = {}
    for item in items:
        by_order.setdefault(gid_id(item["__parentId"]), []).append(item)
    for order in Order.all_shops.filter(shop_id=shop_id, shopify_id__in=by_order):
        ids, tags = reduce_line_items_graphql(by_order[order.shopify_id])
        order.product_ids = sorted(set(order.product_ids) | set(ids))
        order.product_tags = sorted(set(order.product_tags) | set(tags))
        order.product_tags_normalized = tags_normalize(order.product_tags)
        order.save(update_fields=["product_ids", "product_tags", "product_tags_normalized"])
