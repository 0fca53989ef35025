"""Deterministic generator of realistic Shopify stores, with the duplicate ground truth.

Records follow docs/sandbox-seed-format.md (Shopify's `Customer`, API 2025-01 plus
`defaultEmailAddress` / `defaultPhoneNumber`, with `orders` and `mergeBlockers`).

API
---
``generate_customers(*, shop_domain, count, seed, duplicate_rate=0.08, currency="EUR", country="DE",
start_id=None, now=DEFAULT_NOW, orders_per_customer=3.0, history_years=4.0, rare_names=(0, 0))
-> CustomerStream``
    An iterator of `count` customer dicts, produced one at a time (memory stays flat for a million
    customers). The same arguments give byte-identical output: everything comes from one
    ``random.Random`` seeded with ``seed`` and the shop domain, and ``now`` (default 2026-01-01Z)
    is an argument, never the clock. ``stream.truth`` (a `GroundTruth`) fills in as records are
    produced and is complete once the iterator is exhausted.

    * ``duplicate_rate``: share of the records that are extra profiles of a person who already has
      one (what a perfect deduplication would merge away); realised within about one record.
    * ``country``: the store's country (DE, AT, CH, FR, BE, NL, ES, IT, GB, US, PL, TR); customers
      mostly live there, some in neighbouring countries, with names from a dozen locales.
    * ``start_id``: the first id of the store's counter (default: a range derived from the shop
      domain). Products take the first 240 ids; then each customer takes one id, followed by its
      addresses, orders and line items, so customer ids grow with ``createdAt``.
      ``truth.next_id`` is the first unused id, for objects the sandbox creates later.
    * ``orders_per_customer``: mean orders per customer (22% never ordered, long tail up to 250).
    * ``rare_names=(given, surname)``: shares of given names and surnames drawn from a long tail of
      rarer names (each spliced from two of the locale's pool: "Schwyer", "Christnie") instead of
      the pool itself. Default (0, 0): the pools only (46 + 46 given names and 100 surnames for
      de), so a customer shares the full name with ~0.7 other people in a 10,000-customer store,
      ~6.6 at 100,000 and ~64 at 1,000,000 (DE, 8 %); (0.5, 0.7): ~0.2 at 10,000 and ~1.1 at
      100,000 (docs/benchmarks-dedupe.md, "Recall at 1,000,000").

``GroundTruth``
    ``clusters: list[list[int]]`` legacy customer ids of one person (people with 2+ profiles);
    ``kinds: {customer_id: kind}`` for every extra profile (see below); hard negatives, i.e.
    groups of *different* people with one id each: ``households`` (shared address, often a shared
    phone and surname), ``namesakes`` (the store's most common names), ``placeholder_emails``
    (noemail@example.com and numbered variants). ``true_pairs()`` and ``hard_negative_pairs()``
    (every profile pair of two look-alike people, with the group's name) feed pairwise precision
    and recall. ``write(path)`` / ``read(path)``; the file is
    ``{"shop", "seed", "count", "duplicate_rate", "next_id", "clusters", "kinds", "households",
    "namesakes", "placeholder_emails"}``.

``write_jsonl(path, records) -> int``, ``write_truth(path, truth)``, ``dumps(record) -> str``.

``generate_store(*, shop_domain, count, seed, customers_out, truth_out=None, **options)``
    For commands and benchmarks: writes the JSONL file (and the truth file) and returns the truth.
    Also ``python -m sandbox.generator --help``.

Duplicate kinds (``corruptions.py``): email_typo, email_domain, gmail_alias, phone_format,
nickname, name_swap, accents_dropped, transliteration, compound_surname, moved_address,
guest_checkout, and "<kind>+<kind>" combinations of two kinds touching different fields. Every
duplicate keeps at least one real tie to its person (a related email, a shared or mistyped phone,
or the home address, sometimes re-typed as "Hauptstr. 5"), so a name alone never has to suffice. Shopify's own rules shape them: no two customers share an email
(case-insensitive) or a customer phone, and two different people never share a mailbox (gmail
ignores dots and "+tags", so anna.lee@ and annalee@gmail.com are one person's: `emails.mailbox`), and every stored phone is E.164, so a duplicate's
unchanged email is dropped or replaced by another mailbox, and its unchanged phone moves to the
shipping address.
"""

from .core import (
    DEFAULT_NOW,
    CustomerStream,
    GroundTruth,
    default_start_id,
    dumps,
    generate_customers,
    generate_store,
    write_jsonl,
    write_truth,
)
from .corruptions import SINGLE_KINDS

__all__ = [
    "DEFAULT_NOW",
    "SINGLE_KINDS",
    "CustomerStream",
    "GroundTruth",
    "default_start_id",
    "dumps",
    "generate_customers",
    "generate_store",
    "write_jsonl",
    "write_truth",
]
