"""Where a sync reads Shopify from: the client's bulk-operation and customer operations.

The sync services take any object with these methods, so a benchmark can feed a JSONL file
through the very same ingest path; production always uses `BulkSource` (all I/O through
tenants.shopify).
"""

from collections.abc import Iterator
from datetime import datetime
from typing import Any

BULK_QUERY_BY_PHASE = {"customers": "BULK_CUSTOMERS_QUERY", "orders": "BULK_ORDERS_QUERY"}


class BulkSource:
    def __init__(self, shop, *, poll_interval: float = 1.0) -> None:
        self.shop = shop
        self.poll_interval = poll_interval

    def start(self, phase: str) -> dict[str, Any]:
        from tenants.shopify import documents, operations

        query = documents.BULK_QUERIES[BULK_QUERY_BY_PHASE[phase]]
        return {"id": operations.bulk_query_start(self.shop, query)}

    def wait(self, operation_id: str) -> dict[str, Any]:
        from tenants.shopify import operations

        result = operations.bulk_operation_wait(
            self.shop, operation_id, poll_interval=self.poll_interval
        )
        return {"url": result.url, "objectCount": result.object_count}

    def lines(self, url: str) -> Iterator[bytes]:
        from tenants.shopify import operations

        return operations.bulk_result_lines(url)

    def customers_updated_since(self, since: datetime) -> Iterator[dict[str, Any]]:
        from tenants.shopify import operations

        return operations.customers_updated_since(self.shop, since)

    def orders_updated_since(self, since: datetime) -> Iterator[dict[str, Any]]:
        from tenants.shopify import operations

        return operations.orders_updated_since(self.shop, since)


class FileSource:
    """A bulk export already on disk (benchmarks, replaying a downloaded export)."""

    def __init__(self, paths: dict[str, str]) -> None:
        self.paths = paths

    def start(self, phase: str) -> dict[str, Any]:
        return {"id": f"file:{phase}"}

    def wait(self, operation_id: str) -> dict[str, Any]:
        phase = operation_id.split(":", 1)[1]
        path = self.paths.get(phase)
        return {"url": path, "objectCount": _count_lines(path) if path else 0}

    def lines(self, url: str) -> Iterator[bytes]:
        with open(url, "rb") as handle:
            yield from handle


def _count_lines(path: str) -> int:
    with open(path, "rb") as handle:
        return sum(block.count(b"\n") for block in iter(lambda: handle.read(1 << 20), b""))
