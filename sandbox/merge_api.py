"""GraphQL: customerMergePreview, customerMerge (an asynchronous job), customerMergeJobStatus,
Customer.mergeable — over the rules in `sandbox.merge`.

The job (recorded behaviour §2.1, rules 2 and 7): `customerMerge` answers the resulting id at once
and `job {done: false}`; the job is REQUESTED, then IN_PROGRESS after `start_delay`, then after
`delay` it re-checks both customers (deleted meanwhile -> DELETED_AT, a new blocker -> that
blocker; status FAILED with `customerMergeErrors`) and otherwise merges: data moves to the
survivor, the other customer is deleted, status COMPLETED. Either way `customers/merge` is sent.
While it runs both customers carry MERGE_IN_PROGRESS. Delays are per store
(`store.extras["merge_settings"]`, control API `/_sandbox/stores/<shop>/merge-settings`).
"""

from __future__ import annotations

import threading
import time
import uuid
from dataclasses import dataclass, field

from graphql import GraphQLError

from sandbox import merge as rules
from sandbox import webhook_payloads as payloads
from sandbox.graphql.paging import list_connection
from sandbox.graphql.registry import RESOLVERS, SCOPES, mutation, query, resolver
from sandbox.seed import parse_gid
from sandbox.store import SandboxError, Store
from sandbox.webhook_events import emit

DEFAULT_SETTINGS = {"delay": 1.0, "start_delay": 0.05}
JOB_PREFIX = "gid://shopify/Job/"


@dataclass
class MergeJob:
    id: str  # uuid
    one_id: int
    two_id: int
    resulting_id: int
    overrides: rules.Overrides
    names: dict[int, str]
    status: str = "REQUESTED"
    errors: list[rules.MergeError] = field(default_factory=list)
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def gid(self) -> str:
        return JOB_PREFIX + self.id

    def as_graphql(self) -> dict:
        return {
            "jobId": self.gid,
            "status": self.status,
            "resultingCustomerId": payloads.gid("Customer", self.resulting_id),
            "customerMergeErrors": [error.as_graphql() for error in self.errors],
        }


def settings(store: Store) -> dict:
    return {**DEFAULT_SETTINGS, **store.extras.get("merge_settings", {})}


def jobs(store: Store) -> dict[str, MergeJob]:
    return store.extras.setdefault("merge_jobs", {})


def _customer_id(value) -> int | None:
    try:
        return parse_gid(value, "Customer")
    except SandboxError:
        return None


def _require_id(value, argument: str) -> int:
    number = _customer_id(value)
    if number is None:
        raise GraphQLError(
            f"Invalid global id '{value}'",
            extensions={"code": "argumentLiteralsIncompatible", "typeName": "CoercionError"},
        )
    return number


def _overrides(values) -> rules.Overrides:
    return rules.Overrides.from_input(values, lambda raw: _require_id(raw, "overrideFields"))


# ------------------------------------------------------------------ preview
def email_address(customer) -> dict | None:
    if not customer.email:
        return None
    return {
        "emailAddress": customer.email,
        "marketingState": customer.email_marketing_state or "NOT_SUBSCRIBED",
        "marketingOptInLevel": customer.email_opt_in_level,
        "marketingUpdatedAt": payloads.iso_utc(customer.email_consent_updated_at),
        "validFormat": True,
        "marketingUnsubscribeUrl": f"https://shopify.com/unsubscribe/{customer.id}",
        "openTrackingLevel": "UNKNOWN",
        "openTrackingUrl": f"https://shopify.com/open-tracking/{customer.id}",
    }


def phone_number(customer) -> dict | None:
    if not customer.phone:
        return None
    return {
        "phoneNumber": customer.phone,
        "marketingState": customer.sms_marketing_state or "NOT_SUBSCRIBED",
        "marketingOptInLevel": customer.sms_opt_in_level,
        "marketingUpdatedAt": payloads.iso_utc(customer.sms_consent_updated_at),
        "marketingCollectedFrom": "OTHER",
    }


def _address_connection(addresses):
    ordered = sorted(addresses, key=lambda address: address.id)

    def resolve(source, info, **page):
        return list_connection(
            ordered, cursor_of=lambda a: (a.id, a.id), bulk=info.context.bulk, **page
        )

    return resolve


def preview_graphql(preview: rules.Preview) -> dict:
    choice = preview.choice
    kept, other = choice.kept, choice.other
    first = choice.first_name.first_name
    last = choice.last_name.last_name
    email = choice.email
    phone = choice.phone
    orders = sorted(kept.orders + other.orders, key=lambda order: (order.processed_at, order.id))
    default = choice.default_address.default_address()
    alternate_address = choice.alternate(choice.default_address).default_address()
    return {
        "resultingCustomerId": payloads.gid("Customer", preview.resulting_customer_id),
        "defaultFields": {
            "firstName": first,
            "lastName": last,
            "displayName": rules.display_name(first, last, email.email, phone.phone),
            "email": email_address(email),
            "phoneNumber": phone_number(phone),
            "note": preview.note,
            "tags": preview.tags,
            "defaultAddress": default,
            "addresses": _address_connection(kept.addresses + other.addresses),
            "orderCount": str(len(orders)),
            "orders": lambda source, info, **page: list_connection(
                orders, cursor_of=lambda o: (o.id, o.id), bulk=info.context.bulk, **page
            ),
            "draftOrderCount": "0",
            "draftOrders": _empty_connection,
            "discountNodeCount": "0",
            "discountNodes": _empty_connection,
            "giftCardCount": "0",
            "giftCards": _empty_connection,
            "metafieldCount": "0",
        },
        "alternateFields": {
            "firstName": choice.alternate(choice.first_name).first_name,
            "lastName": choice.alternate(choice.last_name).last_name,
            "email": email_address(choice.alternate(email)),
            "phoneNumber": phone_number(choice.alternate(phone)),
            "defaultAddress": alternate_address,
        },
        "blockingFields": (
            {"note": preview.blocking_note, "tags": preview.blocking_tags or []}
            if preview.blocking_note is not None or preview.blocking_tags is not None
            else None
        ),
        "customerMergeErrors": [error.as_graphql() for error in preview.errors] or None,
    }


def _empty_connection(source, info, **page):
    return list_connection([], cursor_of=lambda item: (0, 0), bulk=info.context.bulk, **page)


@resolver("CustomerMergePreviewDefaultFields", "addresses")
@resolver("CustomerMergePreviewDefaultFields", "orders")
@resolver("CustomerMergePreviewDefaultFields", "draftOrders")
@resolver("CustomerMergePreviewDefaultFields", "discountNodes")
@resolver("CustomerMergePreviewDefaultFields", "giftCards")
def resolve_preview_connection(source, info, sortKey=None, **page):
    return source[info.field_name](source, info, **page)


@query("customerMergePreview", scopes=("read_customer_merge",))
def resolve_customer_merge_preview(root, info, customerOneId, customerTwoId, overrideFields=None):
    store = info.context.store
    one_id, two_id = _require_id(customerOneId, "customerOneId"), _require_id(customerTwoId, "")
    overrides = _overrides(overrideFields)
    with store.lock:
        for number in (one_id, two_id):
            if store.get_customer(number) is None:
                raise GraphQLError(
                    f"Customer does not exist with ID {number}", extensions={"code": "BAD_REQUEST"}
                )
        if one_id == two_id:
            raise GraphQLError("Customers must be different.", extensions={"code": "BAD_REQUEST"})
        one, two = store.get_customer(one_id), store.get_customer(two_id)
        return preview_graphql(rules.preview(one, two, overrides))


# ------------------------------------------------------------------ mergeable
def resolve_customer_mergeable(customer, info):
    """Customer.mergeable from the same rules as the merge itself. This module owns merges, so it
    replaces the core's placeholder resolver (which cannot see the jobs) on purpose, below."""
    blockers = rules.hard_blockers(customer)
    job_id = customer.blockers.merge_in_progress if customer.blockers else None
    job = jobs(info.context.store).get(job_id) if job_id else None
    return {
        "isMergeable": not blockers,
        "errorFields": [blocker.error_field for blocker in blockers],
        "reason": blockers[0].message if blockers else None,
        "mergeInProgress": job.as_graphql() if job is not None else None,
    }


RESOLVERS[("Customer", "mergeable")] = resolve_customer_mergeable
SCOPES[("Customer", "mergeable")] = ("read_customer_merge", "write_customer_merge")


# ------------------------------------------------------------------ merge job
@mutation("customerMerge", scopes=("write_customer_merge",))
def resolve_customer_merge(root, info, customerOneId, customerTwoId, overrideFields=None):
    context = info.context
    store = context.store
    raw_one = _require_id(customerOneId, "customerOneId")
    raw_two = _require_id(customerTwoId, "customerTwoId")
    overrides = _overrides(overrideFields)
    with store.lock:
        one, two = store.get_customer(raw_one), store.get_customer(raw_two)
        errors = rules.merge_user_errors(
            one, two, one_id=raw_one, two_id=raw_two, overrides=overrides
        )
        if errors:
            context.failed_mutations.add("customerMerge")
            return {
                "resultingCustomerId": None,
                "job": None,
                "userErrors": [error.as_graphql() for error in errors],
            }
        kept = rules.select_survivor(one, two, overrides)
        job = MergeJob(
            id=str(uuid.uuid4()),
            one_id=one.id,
            two_id=two.id,
            resulting_id=kept.id,
            overrides=overrides,
            names={one.id: one.display_name(), two.id: two.display_name()},
        )
        jobs(store)[job.id] = job
        one.merge_blockers().merge_in_progress = job.id
        two.merge_blockers().merge_in_progress = job.id
    threading.Thread(
        target=run_job, args=(store, job), name=f"merge-{job.id[:8]}", daemon=True
    ).start()
    return {
        "resultingCustomerId": payloads.gid("Customer", kept.id),
        "job": {"id": job.gid, "done": False, "query": None},
        "userErrors": [],
    }


@query("customerMergeJobStatus", scopes=("read_customer_merge",))
def resolve_customer_merge_job_status(root, info, jobId):
    job_id = jobId[len(JOB_PREFIX) :] if jobId.startswith(JOB_PREFIX) else jobId
    job = jobs(info.context.store).get(job_id)
    return job.as_graphql() if job is not None else None


def run_job(store: Store, job: MergeJob) -> None:
    config = settings(store)
    time.sleep(config["start_delay"])
    job.status = "IN_PROGRESS"
    time.sleep(max(0.0, config["delay"] - config["start_delay"]))
    try:
        with store.lock:
            finish_job(store, job)
    finally:
        job.finished.set()
    emit(
        store,
        "customers/merge",
        lambda: payloads.customers_merge(
            kept_id=job.resulting_id,
            deleted_id=job.two_id if job.resulting_id == job.one_id else job.one_id,
            job_id=job.gid,
            status="completed" if job.status == "COMPLETED" else "failed",
            errors=[error.as_webhook() for error in job.errors],
        ),
    )


def finish_job(store: Store, job: MergeJob) -> None:
    """Re-check both customers, then merge (the caller holds the store lock)."""
    found = {number: store.get_customer(number) for number in (job.one_id, job.two_id)}
    errors = [
        rules.deleted_blocker(number, job.names[number])
        for number, customer in found.items()
        if customer is None
    ]
    for customer in found.values():
        if customer is not None:
            errors += [
                blocker
                for blocker in rules.hard_blockers(customer)
                if blocker.error_field != "MERGE_IN_PROGRESS"
            ]
    for customer in found.values():
        if customer is not None and customer.blockers is not None:
            customer.blockers.merge_in_progress = None
    if errors:
        job.errors = errors
        job.status = "FAILED"
        return
    one, two = found[job.one_id], found[job.two_id]
    choice = rules.choose_fields(one, two, job.overrides)
    kept, other = choice.kept, choice.other
    store.mutate_customer(
        kept.id,
        lambda customer: rules.apply_merge(customer, other, choice, job.overrides),
        fields=("firstName", "lastName", "email", "phone", "note", "tags", "addresses"),
    )
    store.delete_customer(other.id, reason="merged")
    job.status = "COMPLETED"
