"""GraphQL: tagsAdd / tagsRemove on customers, customerSendAccountInviteEmail, segments.

- Tags follow the recorded rules (shopify-recorded-behaviour.md §3.5): comma-split, trimmed,
  de-duplicated and sorted case-insensitively; more than 250 -> "Tags cannot be more than 250";
  a tag over 255 characters -> "Tags is too long (maximum is 255 characters)". A call that
  changes the tag set bumps `updatedAt` and sends customers/update plus customer.tags_added /
  customer.tags_removed (listing only the tags that really changed); a call that changes
  nothing is a no-op success (no write, no webhook).
- Account invites exist only with legacy (CLASSIC) customer accounts: DISABLED or INVITED ->
  INVITED; ENABLED, DECLINED, no email or a NEW_CUSTOMER_ACCOUNTS shop -> `INVALID` userErrors.
- Segments: a small real store of saved segments; queries are checked with Clientele's own
  implementation of Shopify's segment language and rejected with "Line L Column C: ..." errors.
Texts that the recordings do not show are marked as the sandbox's own wording.
"""

from __future__ import annotations

from sandbox import webhook_payloads as payloads
from sandbox.graphql.paging import list_connection
from sandbox.graphql.registry import mutation, query
from sandbox.seed import parse_gid
from sandbox.store import SandboxError, normalise_tags, now_ms

TAG_LIMIT = 250
TAG_LENGTH = 255


def _customer_number(value) -> int | None:
    try:
        return parse_gid(value, "Customer")
    except SandboxError:
        return None


def tag_errors(tags: tuple[str, ...]) -> list[dict]:
    if any(len(tag) > TAG_LENGTH for tag in tags):
        return [{"field": ["tags"], "message": "Tags is too long (maximum is 255 characters)"}]
    if len(tags) > TAG_LIMIT:
        return [{"field": ["tags"], "message": "Tags cannot be more than 250"}]
    return []


def change_tags(info, id, tags, *, adding: bool, mutation_name: str) -> dict:
    context = info.context
    store = context.store
    number = _customer_number(id)
    customer = store.get_customer(number) if number is not None else None
    if customer is None:
        context.failed_mutations.add(mutation_name)
        # Sandbox wording: only customers carry tags here.
        return {
            "node": None,
            "userErrors": [{"field": ["id"], "message": "Customer does not exist"}],
        }
    wanted = normalise_tags(tags)
    with store.lock:
        before = customer.tags
        lowered = {tag.lower() for tag in before}
        if adding:
            changed = [tag for tag in wanted if tag.lower() not in lowered]
            after = normalise_tags(list(before) + changed)
        else:
            removing = {tag.lower() for tag in wanted}
            changed = [tag for tag in before if tag.lower() in removing]
            after = tuple(tag for tag in before if tag.lower() not in removing)
        errors = tag_errors(after) if adding else []
        if errors:
            context.failed_mutations.add(mutation_name)
            return {"node": None, "userErrors": errors}
        if changed:

            def apply(target):
                target.tags = normalise_tags(after)

            store.mutate_customer(customer.id, apply, fields=("tags",))
    return {"node": customer, "userErrors": []}


@mutation("tagsAdd", scopes=("write_customers",))
def resolve_tags_add(root, info, id, tags):
    return change_tags(info, id, tags, adding=True, mutation_name="tagsAdd")


@mutation("tagsRemove", scopes=("write_customers",))
def resolve_tags_remove(root, info, id, tags):
    return change_tags(info, id, tags, adding=False, mutation_name="tagsRemove")


# ------------------------------------------------------------------ account invites
INVITE_ERRORS = {
    "ENABLED": "Customer account is already enabled",
    "DECLINED": "Customer has declined the account invitation",
}


@mutation("customerSendAccountInviteEmail", scopes=("write_customers",))
def resolve_send_account_invite(root, info, customerId, email=None):
    context = info.context
    store = context.store
    number = _customer_number(customerId)
    customer = store.get_customer(number) if number is not None else None

    def fail(field, message):
        context.failed_mutations.add("customerSendAccountInviteEmail")
        return {
            "customer": None,
            "userErrors": [{"field": field, "message": message, "code": "INVALID"}],
        }

    if customer is None:
        return fail(["customerId"], "Customer does not exist")
    if store.customer_accounts_version != "CLASSIC":
        return fail(
            None,
            "Account invites can only be sent when the store uses legacy customer accounts",
        )
    recipient = (email or {}).get("to") or customer.email
    if not recipient:
        return fail(["customerId"], "Customer must have an email address to be invited")
    if customer.state in INVITE_ERRORS:
        return fail(["customerId"], INVITE_ERRORS[customer.state])
    if customer.state != "INVITED":

        def invite(target):
            target.state = "INVITED"

        store.mutate_customer(customer.id, invite, fields=("state",))
    invites = store.extras.setdefault("sent_invites", [])
    invites.append({"customerId": customer.id, "to": recipient, "at": now_ms()})
    return {"customer": customer, "userErrors": []}


# ------------------------------------------------------------------ segments
def segments(store) -> dict[int, dict]:
    return store.extras.setdefault("segments", {})


def segment_query_errors(text: str) -> list[dict]:
    from segments.query import SegmentQueryError, parse_query

    try:
        parse_query(text)
    except SegmentQueryError as error:
        return [
            {
                "field": ["query"],
                "message": f"Line {detail.line} Column {detail.column}: {detail.message}",
            }
            for detail in error.errors
        ]
    return []


def _segment_node(segment: dict) -> dict:
    return {"__typename": "Segment", **segment}


@mutation("segmentCreate", scopes=("write_customers",))
def resolve_segment_create(root, info, name, query):
    context = info.context
    store = context.store
    errors = []
    name = (name or "").strip()
    if not name:
        errors.append({"field": ["name"], "message": "Name can't be blank"})
    elif any(s["name"].lower() == name.lower() for s in segments(store).values()):
        errors.append({"field": ["name"], "message": "Name has already been taken"})
    if not (query or "").strip():
        errors.append({"field": ["query"], "message": "Query can't be blank"})
    else:
        errors += segment_query_errors(query)
    if errors:
        context.failed_mutations.add("segmentCreate")
        return {"segment": None, "userErrors": errors}
    number = store.sandbox.next_id()
    stamp = payloads.iso_utc(now_ms())
    segment = {
        "id": payloads.gid("Segment", number),
        "name": name,
        "query": query,
        "creationDate": stamp,
        "lastEditDate": stamp,
    }
    segments(store)[number] = segment
    return {"segment": _segment_node(segment), "userErrors": []}


@query("segment", scopes=("read_customers",))
def resolve_segment(root, info, id):
    try:
        number = parse_gid(id, "Segment")
    except SandboxError:
        return None
    segment = segments(info.context.store).get(number)
    return _segment_node(segment) if segment is not None else None


@query("segments", scopes=("read_customers",))
def resolve_segments(root, info, sortKey="CREATION_DATE", reverse=False, query=None, **page):
    items = sorted(segments(info.context.store).items())
    if query:
        needle = query.strip().lower()
        if needle.startswith("name:"):
            needle = needle[5:].strip("'\" ")
        items = [(n, s) for n, s in items if needle in s["name"].lower()]
    if sortKey == "LAST_EDIT_DATE":
        items.sort(key=lambda pair: (pair[1]["lastEditDate"], pair[0]))
    nodes = [_segment_node(segment) for _, segment in items]
    numbers = {node["id"]: number for node, (number, _) in zip(nodes, items, strict=True)}
    return list_connection(
        nodes,
        cursor_of=lambda node: (numbers[node["id"]], numbers[node["id"]]),
        reverse=reverse,
        bulk=info.context.bulk,
        **page,
    )
