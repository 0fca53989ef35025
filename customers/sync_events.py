"""Audit events of sync runs: started, succeeded, failed, skipped, abandoned.

Written in the transaction that records the run's new status (ARCHITECTURE.md: every state
change is audited). A run's requests are audited where they are made (`shop.sync_requested`).
The payload holds the run's kind, counts and progress, and for a run that did not succeed the
kind of its error (the exception's class, "Not run", "abandoned"): never its message, which can
quote a row's values even on its first line (`invalid input syntax ...: "<value>"`), personal
data the chained log could never erase. The whole message stays on the run's row.
"""

from django.db import transaction

from audit.services import SYSTEM, audit_event_record
from customers.models import SyncRun
from tenants.models import Shop

OUTCOMES = ("started", "succeeded", "failed", "skipped", "abandoned")
ERROR_KIND_MAX = 100
# The run's fields in the payload, by the names they have there.
FIELDS = {
    "kind": "kind",
    "status": "status",
    "records_read": "read",
    "records_created": "created",
    "records_updated": "updated",
    "records_deleted": "deleted",
    "progress_done": "progress_done",
    "progress_total": "progress_total",
}


def sync_run_event_record(*, run: SyncRun, outcome: str, **data) -> None:
    """Record `outcome` of `run` as its row holds it now (a second loader process may have
    counted into it), in the caller's transaction."""
    if outcome not in OUTCOMES:
        raise ValueError(f"unknown sync run outcome {outcome!r}; expected one of {OUTCOMES}")
    agency_id = Shop.objects.filter(pk=run.shop_id).values_list("agency_id", flat=True).first()
    row = SyncRun.all_shops.filter(shop_id=run.shop_id, pk=run.pk).values(*FIELDS, "error").first()
    if agency_id is None or row is None:
        return  # the shop was erased (shop/redact) meanwhile: nothing of it is left to audit
    payload = {name: row[field] for field, name in FIELDS.items()}
    if outcome != "succeeded" and row["error"]:
        payload["error"] = error_kind(row["error"])
    with transaction.atomic():
        audit_event_record(
            agency_id=agency_id,
            shop_id=run.shop_id,
            event=f"sync_run.{outcome}",
            actor=SYSTEM,
            target_type="sync_run",
            target_id=run.id,
            data={**payload, **data},
        )


def error_kind(error: str) -> str:
    """What precedes the message in a run's error: "Crash: ..." -> "Crash"."""
    return error.split(":", 1)[0].strip()[:ERROR_KIND_MAX]
