"""Customer merge: survivor selection, blockers, preview and the merge itself.

Reproduces what a live store answered (../shared/reference/shopify-recorded-behaviour.md §2):
- survivor (§2.2): `customerIdOfEmailToKeep`; else the only one with an email; else account state
  (ENABLED, then INVITED unless the other's email consent is SUBSCRIBED/PENDING) and consent;
  else `customerTwoId`;
- validation order (§2.5): unknown ids (one before two) before "Customers IDs should not match";
- hard blockers come back as `INVALID_CUSTOMER` on the blocked customer's field only, with the
  message "<displayName> has gift cards and can\u2019t be merged." (U+2019). Only the gift-card wording
  is recorded; the other blockers follow the same pattern, and "is currently being merged." is
  the wording of Shopify's documented customers/merge webhook sample;
- soft blockers (merged note over 5000 characters, merged tags over 250) come back as
  `INVALID_CUSTOMER` on both fields from `customerMerge`, and as `blockingFields` in the preview;
  explicit `overrideFields.note` / `tags` replace the merged value;
- the preview shows note as "<kept> <other>" and tags as kept + other's extras, ignoring overrides.
Pure functions over `sandbox.store.Customer`; `sandbox.merge_jobs` runs the asynchronous job.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from sandbox.store import Customer, normalise_tags

NOTE_LIMIT = 5000
TAG_LIMIT = 250
APOSTROPHE = "\u2019"

# (CustomerMergeErrorFieldType, test on the customer, message after the display name)
HARD_BLOCKERS = (
    ("DELETED_AT", None, f"has been deleted and can{APOSTROPHE}t be merged."),
    ("REDACTED_AT", "redacted", f"has been redacted and can{APOSTROPHE}t be merged."),
    (
        "SUBSCRIPTIONS",
        "subscription_contracts",
        f"has subscriptions and can{APOSTROPHE}t be merged.",
    ),
    ("MERGE_IN_PROGRESS", "merge_in_progress", "is currently being merged."),
    ("GIFT_CARDS", "gift_cards", f"has gift cards and can{APOSTROPHE}t be merged."),
    ("STORE_CREDIT", "store_credit_accounts", f"has store credit and can{APOSTROPHE}t be merged."),
    ("COMPANY_CONTACT", "company_contact", f"is a company contact and can{APOSTROPHE}t be merged."),
    (
        "CUSTOMER_PAYMENT_METHODS",
        "payment_methods",
        f"has saved payment methods and can{APOSTROPHE}t be merged.",
    ),
    (
        "PENDING_DATA_REQUEST",
        "pending_data_request",
        f"has a pending data request and can{APOSTROPHE}t be merged.",
    ),
    (
        "MULTIPASS_IDENTIFIER",
        "multipass_identifier",
        f"has a Multipass identifier and can{APOSTROPHE}t be merged.",
    ),
)
TAGS_MESSAGE = "Customers must have 250 tags or less."
NOTE_MESSAGE = "Customer notes must be 5,000 characters or less."
CONSENT_PREFERRED = ("SUBSCRIBED", "PENDING")
CONSENT_RANK = {"SUBSCRIBED": 3, "PENDING": 2, "NOT_SUBSCRIBED": 1, "UNSUBSCRIBED": 1}


@dataclass(frozen=True)
class MergeError:
    """A hard blocker: `CustomerMergeError` and, per customer, a `customerMerge` userError."""

    error_field: str
    message: str
    customer_id: int

    def as_graphql(self) -> dict:
        return {"errorFields": [self.error_field], "message": self.message}

    def as_webhook(self) -> dict:
        return {
            "customer_ids": [self.customer_id],
            "field": self.error_field.lower(),
            "message": self.message,
        }


@dataclass(frozen=True)
class UserError:
    field: list[str] | None
    message: str
    code: str

    def as_graphql(self) -> dict:
        return {"field": self.field, "message": self.message, "code": self.code}


@dataclass
class Overrides:
    first_name_from: int | None = None
    last_name_from: int | None = None
    email_from: int | None = None
    phone_from: int | None = None
    default_address_from: int | None = None
    note: str | None = None
    tags: list[str] | None = None

    KEYS = {
        "customerIdOfFirstNameToKeep": "first_name_from",
        "customerIdOfLastNameToKeep": "last_name_from",
        "customerIdOfEmailToKeep": "email_from",
        "customerIdOfPhoneNumberToKeep": "phone_from",
        "customerIdOfDefaultAddressToKeep": "default_address_from",
    }

    @classmethod
    def from_input(cls, values: dict | None, parse_id) -> Overrides:
        values = values or {}
        overrides = cls(note=values.get("note"), tags=values.get("tags"))
        for key, attr in cls.KEYS.items():
            if values.get(key) is not None:
                setattr(overrides, attr, parse_id(values[key]))
        return overrides


def hard_blockers(customer: Customer) -> list[MergeError]:
    """Every hard blocker on one customer, in Shopify's CustomerMergeErrorFieldType order."""
    blockers = customer.blockers
    if blockers is None:
        return []
    name = customer.display_name()
    return [
        MergeError(error_field, f"{name} {message}", customer.id)
        for error_field, attr, message in HARD_BLOCKERS
        if attr is not None and getattr(blockers, attr)
    ]


def deleted_blocker(customer_id: int, display_name: str) -> MergeError:
    return MergeError("DELETED_AT", f"{display_name} {HARD_BLOCKERS[0][2]}", customer_id)


def _consent(customer: Customer) -> str | None:
    return customer.email_marketing_state if customer.email else None


def select_survivor(one: Customer, two: Customer, overrides: Overrides) -> Customer:
    if overrides.email_from in (one.id, two.id):
        return one if overrides.email_from == one.id else two
    if bool(one.email) != bool(two.email):
        return one if one.email else two
    if one.email and two.email:
        if (one.state == "ENABLED") != (two.state == "ENABLED"):
            return one if one.state == "ENABLED" else two
        if (one.state == "INVITED") != (two.state == "INVITED"):
            invited, other = (one, two) if one.state == "INVITED" else (two, one)
            other_preferred = _consent(other) in CONSENT_PREFERRED
            if not other_preferred or _consent(invited) in CONSENT_PREFERRED:
                return invited
        rank_one = CONSENT_RANK.get(_consent(one) or "", 0)
        rank_two = CONSENT_RANK.get(_consent(two) or "", 0)
        if rank_one != rank_two:
            return one if rank_one > rank_two else two
    return two


def merged_note(kept: Customer, other: Customer) -> str | None:
    parts = [note for note in (kept.note, other.note) if note]
    if not parts:
        return kept.note if kept.note is not None else other.note
    return " ".join(parts)


def merged_tags(kept: Customer, other: Customer) -> list[str]:
    """Kept customer's tags, then the other's extras (case-insensitive)."""
    seen = {tag.lower() for tag in kept.tags}
    return list(kept.tags) + [tag for tag in other.tags if tag.lower() not in seen]


def validate_overrides(one: Customer, two: Customer, overrides: Overrides) -> list[UserError]:
    errors = []
    for key, attr in Overrides.KEYS.items():
        chosen = getattr(overrides, attr)
        if chosen is not None and chosen not in (one.id, two.id):
            errors.append(
                UserError(
                    ["overrideFields", key],
                    f"Customer ID {chosen} is not one of the customers being merged",
                    "OVERRIDE_ATTRIBUTE_INVALID",
                )
            )
    if overrides.email_from is not None and not errors:
        chosen = one if overrides.email_from == one.id else two
        if not chosen.email:
            errors.append(
                UserError(
                    ["overrideFields", "customerIdOfEmailToKeep"],
                    f"Customer ID {chosen.id} does not have an email address",
                    "MISSING_OVERRIDE_ATTRIBUTE",
                )
            )
    if overrides.tags is not None and len(normalise_tags(overrides.tags)) > TAG_LIMIT:
        errors.append(UserError(["overrideFields", "tags"], TAGS_MESSAGE, "INVALID_CUSTOMER"))
    if overrides.note is not None and len(overrides.note) > NOTE_LIMIT:
        errors.append(UserError(["overrideFields", "note"], NOTE_MESSAGE, "INVALID_CUSTOMER"))
    return errors


def soft_blockers(kept: Customer, other: Customer, overrides: Overrides) -> tuple[bool, bool]:
    """(note over the limit, tags over the limit) once merged, after explicit overrides."""
    note = overrides.note if overrides.note is not None else merged_note(kept, other)
    tags = overrides.tags if overrides.tags is not None else merged_tags(kept, other)
    return len(note or "") > NOTE_LIMIT, len(normalise_tags(tags)) > TAG_LIMIT


def merge_user_errors(
    one: Customer | None,
    two: Customer | None,
    *,
    one_id: int | None,
    two_id: int | None,
    overrides: Overrides,
) -> list[UserError]:
    """What `customerMerge` answers in `userErrors` (empty when the merge may start)."""
    for customer, raw_id, key in ((one, one_id, "customerOneId"), (two, two_id, "customerTwoId")):
        if customer is None:
            return [
                UserError([key], f"Customer does not exist with ID {raw_id}", "INVALID_CUSTOMER_ID")
            ]
    assert one is not None and two is not None
    if one.id == two.id:
        return [UserError(None, "Customers IDs should not match", "INVALID_CUSTOMER_ID")]
    errors = validate_overrides(one, two, overrides)
    if errors:
        return errors
    for customer, key in ((one, "customerOneId"), (two, "customerTwoId")):
        errors += [
            UserError([key], blocker.message, "INVALID_CUSTOMER")
            for blocker in hard_blockers(customer)
        ]
    if errors:
        return errors
    kept = select_survivor(one, two, overrides)
    other = two if kept is one else one
    note_over, tags_over = soft_blockers(kept, other, overrides)
    for over, message in ((tags_over, TAGS_MESSAGE), (note_over, NOTE_MESSAGE)):
        if over:
            errors += [
                UserError(["customerOneId"], message, "INVALID_CUSTOMER"),
                UserError(["customerTwoId"], message, "INVALID_CUSTOMER"),
            ]
    return errors


@dataclass
class FieldChoice:
    """Which customer each merged field comes from."""

    kept: Customer
    other: Customer
    first_name: Customer
    last_name: Customer
    email: Customer
    phone: Customer
    default_address: Customer

    def alternate(self, chosen: Customer) -> Customer:
        return self.other if chosen is self.kept else self.kept


def choose_fields(one: Customer, two: Customer, overrides: Overrides) -> FieldChoice:
    kept = select_survivor(one, two, overrides)
    other = two if kept is one else one
    by_id = {one.id: one, two.id: two}

    def pick(chosen_id: int | None, has_value) -> Customer:
        if chosen_id in by_id:
            return by_id[chosen_id]
        return kept if has_value(kept) or not has_value(other) else other

    return FieldChoice(
        kept=kept,
        other=other,
        first_name=pick(overrides.first_name_from, lambda c: c.first_name),
        last_name=pick(overrides.last_name_from, lambda c: c.last_name),
        email=pick(overrides.email_from, lambda c: c.email),
        phone=pick(overrides.phone_from, lambda c: c.phone),
        default_address=pick(overrides.default_address_from, lambda c: c.default_address()),
    )


@dataclass
class Preview:
    resulting_customer_id: int
    choice: FieldChoice
    note: str | None
    tags: list[str]
    blocking_note: str | None
    blocking_tags: list[str] | None
    errors: list[MergeError] = field(default_factory=list)


def preview(one: Customer, two: Customer, overrides: Overrides) -> Preview:
    choice = choose_fields(one, two, overrides)
    note = merged_note(choice.kept, choice.other)
    tags = merged_tags(choice.kept, choice.other)
    note_over, tags_over = soft_blockers(choice.kept, choice.other, overrides)
    return Preview(
        resulting_customer_id=choice.kept.id,
        choice=choice,
        note=note,
        tags=tags,
        blocking_note=note if note_over else None,
        blocking_tags=tags if tags_over else None,
        errors=hard_blockers(one) + hard_blockers(two),
    )


def display_name(first: str | None, last: str | None, email: str | None, phone: str | None) -> str:
    return " ".join(part for part in (first, last) if part) or email or phone or ""


def apply_merge(kept: Customer, other: Customer, choice: FieldChoice, overrides: Overrides) -> None:
    """Move `other`'s data onto `kept` (the caller holds the store lock and deletes `other`)."""
    note = overrides.note if overrides.note is not None else merged_note(kept, other)
    tags = overrides.tags if overrides.tags is not None else merged_tags(kept, other)
    first, last = choice.first_name.first_name, choice.last_name.last_name
    email_source, phone_source = choice.email, choice.phone
    email_values = (
        email_source.email,
        email_source.email_marketing_state,
        email_source.email_opt_in_level,
        email_source.email_consent_updated_at,
        email_source.verified_email,
    )
    phone_values = (
        phone_source.phone,
        phone_source.sms_marketing_state,
        phone_source.sms_opt_in_level,
        phone_source.sms_consent_updated_at,
    )
    default = choice.default_address.default_address()
    kept.first_name, kept.last_name = first, last
    (
        kept.email,
        kept.email_marketing_state,
        kept.email_opt_in_level,
        kept.email_consent_updated_at,
        kept.verified_email,
    ) = email_values
    (
        kept.phone,
        kept.sms_marketing_state,
        kept.sms_opt_in_level,
        kept.sms_consent_updated_at,
    ) = phone_values
    kept.note = note
    kept.tags = normalise_tags(tags)
    kept.addresses = sorted(kept.addresses + other.addresses, key=lambda address: address.id)
    kept.default_address_id = default.id if default is not None else None
    moved = other.orders
    other.orders = []
    for order in moved:
        order.customer_id = kept.id
    kept.orders = sorted(kept.orders + moved, key=lambda order: order.id)
    for order in kept.orders:
        order.email = kept.email
    other.addresses = []
    if (other.last_abandoned_checkout_at or 0) > (kept.last_abandoned_checkout_at or 0):
        kept.last_abandoned_checkout_at = other.last_abandoned_checkout_at
