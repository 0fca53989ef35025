"""The store generator: determinism, the seed format, Shopify's rules and the ground truth."""

import json
import os
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path

import phonenumbers
import pytest
from graphql import get_named_type

from sandbox.generator import SINGLE_KINDS, GroundTruth, dumps, generate_customers, generate_store
from sandbox.generator import emails as generator_emails
from sandbox.generator.__main__ import main as cli_main
from tenants.shopify.schema import admin_schema

SHOP = "acme-1.myshopify.com"
GID = {
    "customer": re.compile(r"^gid://shopify/Customer/\d+$"),
    "address": re.compile(r"^gid://shopify/MailingAddress/\d+$"),
    "order": re.compile(r"^gid://shopify/Order/\d+$"),
    "line": re.compile(r"^gid://shopify/LineItem/\d+$"),
    "product": re.compile(r"^gid://shopify/Product/\d+$"),
}
ISO = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")
MONEY = re.compile(r"^\d+\.\d{2}$")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[a-z]{2,}$")
POSTCODE = {
    "DE": r"^\d{5}$",
    "AT": r"^\d{4}$",
    "CH": r"^\d{4}$",
    "BE": r"^\d{4}$",
    "FR": r"^\d{5}$",
    "ES": r"^\d{5}$",
    "IT": r"^\d{5}$",
    "US": r"^\d{5}$",
    "TR": r"^\d{5}$",
    "PL": r"^\d{2}-\d{3}$",
    "NL": r"^\d{4} [A-Z]{2}$",
    "GB": r"^[A-Z]{1,2}\d[A-Z\d]? \d[A-Z]{2}$",
}
CUSTOMER_KEYS = [
    "id",
    "firstName",
    "lastName",
    "defaultEmailAddress",
    "defaultPhoneNumber",
    "state",
    "verifiedEmail",
    "taxExempt",
    "locale",
    "tags",
    "note",
    "createdAt",
    "updatedAt",
    "addresses",
    "defaultAddressId",
    "lastAbandonedCheckoutAt",
    "orders",
    "mergeBlockers",
]
ADDRESS_KEYS = [
    "id",
    "firstName",
    "lastName",
    "address1",
    "address2",
    "city",
    "provinceCode",
    "countryCodeV2",
    "zip",
    "phone",
    "company",
]
ORDER_KEYS = [
    "id",
    "name",
    "createdAt",
    "processedAt",
    "totalPrice",
    "currencyCode",
    "displayFinancialStatus",
    "cancelledAt",
    "lineItems",
]
BLOCKER_KEYS = [
    "giftCards",
    "storeCreditAccounts",
    "subscriptionContracts",
    "companyContact",
    "paymentMethods",
    "multipassIdentifier",
    "pendingDataRequest",
    "redacted",
]
STORES = [  # (country, currency)
    ("DE", "EUR"),
    ("US", "USD"),
    ("FR", "EUR"),
    ("GB", "GBP"),
    ("IT", "EUR"),
    ("ES", "EUR"),
    ("NL", "EUR"),
    ("PL", "PLN"),
    ("TR", "TRY"),
    ("CH", "CHF"),
]


def enum_values(type_name: str, field: str) -> set[str]:
    """The enum values Shopify's schema allows for `type_name.field`."""
    field_type = get_named_type(admin_schema().type_map[type_name].fields[field].type)
    return set(field_type.values)


def generate(count=1500, seed=1, **options):
    stream = generate_customers(
        shop_domain=options.pop("shop_domain", SHOP), count=count, seed=seed, **options
    )
    records = list(stream)
    return records, stream.truth


@pytest.fixture(scope="module", params=STORES, ids=[country for country, _ in STORES])
def store(request):
    country, currency = request.param
    records, truth = generate(count=1200, seed=7, country=country, currency=currency)
    return country, currency, records, truth


@pytest.fixture(scope="module")
def big_store():
    return generate(count=6000, seed=3)


# determinism ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("left", "right", "identical"),
    [
        ({"seed": 1}, {"seed": 1}, True),
        ({"seed": 1}, {"seed": 2}, False),
        ({"seed": 1}, {"seed": 1, "shop_domain": "other.myshopify.com"}, False),
        ({"seed": 1, "now": 1_700_000_000}, {"seed": 1, "now": 1_700_000_000}, True),
    ],
)
def test_same_arguments_give_byte_identical_output(left, right, identical):
    records_left, truth_left = generate(count=400, **left)
    records_right, truth_right = generate(count=400, **right)
    lines_left = [dumps(record) for record in records_left]
    lines_right = [dumps(record) for record in records_right]
    assert (lines_left == lines_right) is identical
    assert (truth_left.to_dict() == truth_right.to_dict()) is identical
    if not identical:
        assert sum(a != b for a, b in zip(lines_left, lines_right, strict=True)) > 390


DIGEST_SCRIPT = """
import hashlib, json
from sandbox.generator import dumps, generate_customers
stream = generate_customers(shop_domain="acme-1.myshopify.com", count=300, seed=5, duplicate_rate=0.2)
digest = hashlib.sha256()
for record in stream:
    digest.update(dumps(record).encode())
digest.update(json.dumps(stream.truth.to_dict()).encode())
print(digest.hexdigest())
"""


def test_output_does_not_depend_on_the_process_hash_seed():
    """String hashing differs per process (PYTHONHASHSEED); the output must not."""
    digests = set()
    for hash_seed in ("1", "2", "random"):
        env = {**os.environ, "PYTHONHASHSEED": hash_seed}
        done = subprocess.run(
            [sys.executable, "-c", DIGEST_SCRIPT],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            cwd=Path(__file__).resolve().parents[2],
        )
        digests.add(done.stdout.strip())
    assert len(digests) == 1 and len(digests.pop()) == 64


def test_lines_are_what_the_json_module_writes(store):
    _, _, records, _ = store
    for record in records[:300]:
        assert dumps(record) == json.dumps(record, ensure_ascii=False, separators=(",", ":"))


def test_files_written_twice_are_byte_identical(tmp_path):
    for run in ("a", "b"):
        generate_store(
            shop_domain=SHOP,
            count=300,
            seed=5,
            customers_out=tmp_path / f"{run}.jsonl",
            truth_out=tmp_path / f"{run}.json",
        )
    assert (tmp_path / "a.jsonl").read_bytes() == (tmp_path / "b.jsonl").read_bytes()
    assert (tmp_path / "a.json").read_bytes() == (tmp_path / "b.json").read_bytes()
    assert len((tmp_path / "a.jsonl").read_text().splitlines()) == 300


# the seed format -----------------------------------------------------------


def test_every_record_has_the_seed_format_keys_and_gids(store):
    _, currency, records, truth = store
    assert len(records) == 1200
    for record in records:
        retyped = int(record["id"].rsplit("/", 1)[1]) in truth.kinds  # may squash "1234 AB"
        assert list(record) == CUSTOMER_KEYS
        assert GID["customer"].match(record["id"])
        assert list(record["mergeBlockers"]) == BLOCKER_KEYS
        address_ids = [address["id"] for address in record["addresses"]]
        assert record["defaultAddressId"] == (address_ids[0] if address_ids else None)
        for address in record["addresses"]:
            assert list(address) == ADDRESS_KEYS
            assert GID["address"].match(address["id"])
            postcode = POSTCODE[address["countryCodeV2"]]
            if retyped:
                postcode = postcode.replace(" ", " ?")
            assert re.match(postcode, address["zip"], re.IGNORECASE if retyped else 0), address
            assert address["address1"] and address["city"]
        for order in record["orders"]:
            assert list(order) == ORDER_KEYS
            assert GID["order"].match(order["id"]) and order["name"].startswith("#")
            assert MONEY.match(order["totalPrice"]) and order["currencyCode"] == currency
            assert order["createdAt"] == order["processedAt"]
            assert order["lineItems"], order
            for line in order["lineItems"]:
                assert list(line) == ["id", "quantity", "productId", "productTags"]
                assert GID["line"].match(line["id"]) and GID["product"].match(line["productId"])
                assert line["quantity"] >= 1 and line["productTags"]


def test_enum_values_are_shopifys_own(store):
    _, _, records, _ = store
    allowed = {
        "state": enum_values("Customer", "state"),
        "email": enum_values("CustomerEmailAddress", "marketingState"),
        "email_level": enum_values("CustomerEmailAddress", "marketingOptInLevel"),
        "sms": enum_values("CustomerPhoneNumber", "marketingState"),
        "sms_level": enum_values("CustomerPhoneNumber", "marketingOptInLevel"),
        "financial": enum_values("Order", "displayFinancialStatus"),
        "currency": enum_values("Order", "currencyCode"),
        "country": enum_values("MailingAddress", "countryCodeV2"),
    }
    seen = Counter()
    for record in records:
        assert record["state"] in allowed["state"]
        seen[record["state"]] += 1
        if email := record["defaultEmailAddress"]:
            assert email["marketingState"] in allowed["email"]
            assert email["marketingOptInLevel"] in allowed["email_level"] | {None}
        if phone := record["defaultPhoneNumber"]:
            assert phone["marketingState"] in allowed["sms"]
            assert phone["marketingOptInLevel"] in allowed["sms_level"] | {None}
        for address in record["addresses"]:
            assert address["countryCodeV2"] in allowed["country"]
        for order in record["orders"]:
            assert order["displayFinancialStatus"] in allowed["financial"]
            assert order["currencyCode"] in allowed["currency"]
    assert set(seen) == allowed["state"], "all four account states occur"
    assert seen["DISABLED"] > seen["ENABLED"] > seen["INVITED"] > seen["DECLINED"]


def test_times_are_iso_and_consistent(store):
    _, _, records, _ = store
    previous_created = ""
    for record in records:
        created, updated = record["createdAt"], record["updatedAt"]
        assert ISO.match(created) and ISO.match(updated) and created <= updated
        assert created >= previous_created, "customer ids grow with createdAt"
        previous_created = created
        for order in record["orders"]:
            assert created <= order["createdAt"] <= updated
            if order["cancelledAt"]:
                assert (
                    ISO.match(order["cancelledAt"]) and order["cancelledAt"] >= order["createdAt"]
                )
        for consent in (record["defaultEmailAddress"], record["defaultPhoneNumber"]):
            if consent and consent["marketingUpdatedAt"]:
                assert created <= consent["marketingUpdatedAt"] <= updated
            if consent and consent["marketingState"] == "NOT_SUBSCRIBED":
                assert consent["marketingOptInLevel"] is None
        if record["lastAbandonedCheckoutAt"]:
            assert created <= record["lastAbandonedCheckoutAt"] <= "2026-01-01T00:00:00Z"


def test_shopify_uniqueness_rules_hold(store):
    """Shopify refuses a second customer with the same email (any case) or phone; ids are unique."""
    _, _, records, _ = store
    emails = [
        r["defaultEmailAddress"]["emailAddress"].lower()
        for r in records
        if r["defaultEmailAddress"]
    ]
    phones = [r["defaultPhoneNumber"]["phoneNumber"] for r in records if r["defaultPhoneNumber"]]
    assert len(emails) == len(set(emails)) and len(phones) == len(set(phones))
    ids = [r["id"] for r in records]
    ids += [a["id"] for r in records for a in r["addresses"]]
    ids += [o["id"] for r in records for o in r["orders"]]
    ids += [li["id"] for r in records for o in r["orders"] for li in o["lineItems"]]
    numbers = [int(gid.rsplit("/", 1)[1]) for gid in ids]
    assert len(numbers) == len(set(numbers))
    for record in records:
        assert (
            record["firstName"]
            or record["lastName"]
            or record["defaultEmailAddress"]
            or record["defaultPhoneNumber"]
        )
        if record["defaultEmailAddress"]:
            assert EMAIL.match(record["defaultEmailAddress"]["emailAddress"])


def test_customer_phones_are_valid_e164_for_phonenumbers(store):
    country, _, records, truth = store
    duplicates = set(truth.kinds)
    customer_phones = 0
    for record in records:
        if phone := record["defaultPhoneNumber"]:
            number = phonenumbers.parse(phone["phoneNumber"])
            assert phonenumbers.is_valid_number(number), phone
            assert (
                phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)
                == phone["phoneNumber"]
            )
            customer_phones += 1
        customer_id = int(record["id"].rsplit("/", 1)[1])
        for address in record["addresses"]:
            # Shopify stores parseable address phones as E.164 and junk verbatim; only a
            # duplicate's mistyped number may be invalid.
            if (
                address["phone"]
                and address["phone"].startswith("+")
                and customer_id not in duplicates
            ):
                assert phonenumbers.is_valid_number(phonenumbers.parse(address["phone"])), address
    assert customer_phones > len(records) * 0.4
    home_numbers = [
        r["defaultPhoneNumber"]["phoneNumber"] for r in records if r["defaultPhoneNumber"]
    ]
    calling_code = {
        "DE": "49",
        "US": "1",
        "FR": "33",
        "GB": "44",
        "IT": "39",
        "ES": "34",
        "NL": "31",
        "PL": "48",
        "TR": "90",
        "CH": "41",
    }[country]
    assert Counter(n.startswith("+" + calling_code) for n in home_numbers).most_common(1)[0][0]


def test_orders_and_customers_look_like_a_real_store(big_store):
    records, _ = big_store
    order_counts = [len(r["orders"]) for r in records]
    assert 2.6 <= sum(order_counts) / len(records) <= 3.4
    assert 0.15 <= order_counts.count(0) / len(records) <= 0.3
    assert max(order_counts) >= 15, "a long tail of loyal customers"
    orders = [o for r in records for o in r["orders"]]
    cancelled = [o for o in orders if o["cancelledAt"]]
    assert 0.005 <= len(cancelled) / len(orders) <= 0.05
    assert {o["displayFinancialStatus"] for o in cancelled} <= {"VOIDED", "REFUNDED"}
    statuses = Counter(o["displayFinancialStatus"] for o in orders)
    assert statuses.most_common(1)[0][0] == "PAID" and len(statuses) >= 5
    years = {o["createdAt"][:4] for o in orders}
    assert {"2022", "2023", "2024", "2025"} <= years
    blocked = [r for r in records if any(r["mergeBlockers"].values())]
    assert 0.02 <= len(blocked) / len(records) <= 0.1
    kinds = {key for r in blocked for key, value in r["mergeBlockers"].items() if value}
    assert {
        "giftCards",
        "subscriptionContracts",
        "paymentMethods",
        "companyContact",
        "storeCreditAccounts",
        "multipassIdentifier",
    } <= kinds
    abandoned = sum(1 for r in records if r["lastAbandonedCheckoutAt"])
    assert 0.1 <= abandoned / len(records) <= 0.3
    assert any(r["tags"] for r in records) and any(r["note"] for r in records)
    accented = sum(1 for r in records if r["lastName"] and not r["lastName"].isascii())
    assert accented > len(records) * 0.1, "German store: Müller, Schäfer, ..."
    locales = Counter(r["locale"] for r in records)
    assert locales.most_common(1)[0][0] == "de" and len(locales) >= 5
    domains = Counter(
        r["defaultEmailAddress"]["emailAddress"].split("@")[1].lower()
        for r in records
        if r["defaultEmailAddress"]
    )
    assert {"gmail.com", "web.de", "gmx.de", "t-online.de"} <= set(domains)
    countries = Counter(a["countryCodeV2"] for r in records for a in r["addresses"])
    assert countries.most_common(1)[0][0] == "DE" and len(countries) >= 4


# the ground truth ----------------------------------------------------------


@pytest.mark.parametrize("rate", [0.0, 0.02, 0.08, 0.25])
def test_realized_duplicate_rate_matches_the_request(rate):
    records, truth = generate(count=3000, seed=11, duplicate_rate=rate)
    assert truth.complete and truth.count == len(records)
    assert abs(truth.realized_duplicate_rate - rate) <= 0.005
    assert len(truth.kinds) == sum(len(cluster) - 1 for cluster in truth.clusters)


def test_truth_is_consistent(big_store):
    records, truth = big_store
    ids = [int(r["id"].rsplit("/", 1)[1]) for r in records]
    known = set(ids)
    clustered = [customer_id for cluster in truth.clusters for customer_id in cluster]
    assert len(clustered) == len(set(clustered)), "clusters are disjoint"
    assert set(clustered) <= known
    assert all(2 <= len(cluster) <= 4 for cluster in truth.clusters)
    assert any(len(cluster) >= 3 for cluster in truth.clusters)
    duplicates = {customer_id for cluster in truth.clusters for customer_id in cluster[1:]}
    assert set(truth.kinds) == duplicates, "every extra profile (not the first) has its kind"
    assert all(cluster[0] == min(cluster) for cluster in truth.clusters), "the original came first"
    for kind in truth.kinds.values():
        assert set(kind.split("+")) <= set(SINGLE_KINDS)
    cluster_of = {
        customer_id: index
        for index, cluster in enumerate(truth.clusters)
        for customer_id in cluster
    }
    for name in ("households", "namesakes", "placeholder_emails"):
        groups = getattr(truth, name)
        assert groups, name
        for group in groups:
            assert len(group) >= 2 and set(group) <= known
            persons = [
                cluster_of.get(customer_id, ("single", customer_id)) for customer_id in group
            ]
            assert len(set(persons)) == len(group), f"{name} members are different people"
    assert truth.next_id > max(ids)


@pytest.mark.parametrize(
    ("address", "box"),
    [
        ("Anna.Lee+shop@GoogleMail.com", "annalee@gmail.com"),
        ("a.n.n.a.lee@gmail.com", "annalee@gmail.com"),
        ("anna.lee+news@outlook.com", "anna.lee@outlook.com"),
        ("anna.lee@web.de", "anna.lee@web.de"),
        ("anna+lee@web.de", "anna+lee@web.de"),  # no plus addressing there: another mailbox
    ],
)
def test_mailbox_is_where_an_address_delivers(address, box):
    assert generator_emails.mailbox(address) == box


def test_different_people_never_share_a_mailbox(big_store):
    """Gmail ignores dots and +tags: if two people had anna.lee@ and annalee@gmail.com they would
    share one mailbox, and the truth saying they are different people would be wrong."""
    records, truth = big_store
    person = {c: index for index, cluster in enumerate(truth.clusters) for c in cluster}
    owners: dict[str, set] = {}
    for record in records:
        if record["defaultEmailAddress"]:
            customer_id = int(record["id"].rsplit("/", 1)[1])
            box = generator_emails.mailbox(record["defaultEmailAddress"]["emailAddress"])
            owners.setdefault(box, set()).add(person.get(customer_id, ("single", customer_id)))
    shared = {box: who for box, who in owners.items() if len(who) > 1}
    assert not shared
    assert any(box.endswith("@gmail.com") for box in owners)


def test_truth_lists_true_pairs_and_hard_negative_pairs(big_store):
    _, truth = big_store
    true_pairs = set(truth.true_pairs())
    assert len(true_pairs) == sum(len(c) * (len(c) - 1) // 2 for c in truth.clusters)
    assert all(left < right for left, right in true_pairs)
    negatives = list(truth.hard_negative_pairs())
    assert {name for _, _, name in negatives} == {"household", "namesake", "placeholder_email"}
    assert not {(left, right) for left, right, _ in negatives} & true_pairs
    group_pairs = sum(
        len(g) * (len(g) - 1) // 2
        for g in truth.households + truth.namesakes + truth.placeholder_emails
    )
    assert len(negatives) >= group_pairs  # more when a look-alike person also has duplicates


def test_truth_round_trips_through_its_file(tmp_path):
    stream = generate_customers(shop_domain=SHOP, count=500, seed=2)
    with pytest.raises(RuntimeError, match="complete"):
        stream.truth.write(tmp_path / "early.json")
    list(stream)
    stream.truth.write(tmp_path / "truth.json")
    data = json.loads((tmp_path / "truth.json").read_text())
    assert data["shop"] == SHOP and data["seed"] == 2 and data["clusters"] == stream.truth.clusters
    assert all(isinstance(key, str) for key in data["kinds"])
    assert GroundTruth.read(tmp_path / "truth.json").to_dict() == stream.truth.to_dict()


def test_stream_is_lazy():
    """A ten-million-customer store yields its first records without generating the rest."""
    stream = generate_customers(shop_domain=SHOP, count=10_000_000, seed=1)
    first = [next(stream) for _ in range(3)]
    assert [r["id"] for r in first] == sorted(r["id"] for r in first)
    assert not stream.truth.complete


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"count": -1}, "count"),
        ({"count": 10, "duplicate_rate": 0.7}, "duplicate_rate"),
        ({"count": 10, "currency": "eur"}, "currency"),
        ({"count": 10, "country": "XX"}, "country"),
        ({"count": 10, "orders_per_customer": -1}, "orders_per_customer"),
        ({"count": 10, "rare_names": (0.5, 1.2)}, "rare_names"),
        ({"count": 10, "rare_names": (0.5,)}, "rare_names"),
        ({"count": 10, "rare_names": None}, "rare_names"),
        ({"count": 10, "rare_names": 0.5}, "rare_names"),
        ({"count": 10, "rare_names": ("a", "b")}, "rare_names"),
        ({"count": 10, "rare_names": (True, 0)}, "rare_names"),
    ],
)
def test_bad_arguments_are_refused_by_name(options, message):
    with pytest.raises(ValueError, match=message):
        generate_customers(shop_domain=SHOP, seed=1, **options)


def test_cli_writes_customers_and_truth(tmp_path, capsys):
    out, truth_out = tmp_path / "c.jsonl", tmp_path / "t.json"
    assert (
        cli_main(
            [
                "--shop",
                SHOP,
                "--count",
                "200",
                "--seed",
                "4",
                "--out",
                str(out),
                "--truth-out",
                str(truth_out),
            ]
        )
        == 0
    )
    lines = out.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 200 and all(json.loads(line)["id"].startswith("gid://") for line in lines)
    assert json.loads(truth_out.read_text())["count"] == 200
    with pytest.raises(SystemExit):
        cli_main(["--shop", SHOP, "--count", "20", "--country", "XX", "--out", str(out)])
    assert "country must be one of" in capsys.readouterr().err


def test_the_sandbox_store_loads_generated_customers_as_they_are():
    """The sandbox's own seed loader (Shopify's validation rules) accepts every generated record."""
    from sandbox.seed import customer_to_seed, load_customers
    from sandbox.store import Sandbox

    sandbox = Sandbox(api_key="key", api_secret="secret")
    store = sandbox.create_store(domain=SHOP, currency="EUR", country="DE")
    records, _ = generate(count=800, seed=9)
    assert load_customers(store, (dumps(record) for record in records)) == 800
    assert len(store.orders) == sum(len(record["orders"]) for record in records)
    for record in records[:50]:
        loaded = customer_to_seed(store.customers[int(record["id"].rsplit("/", 1)[1])])
        assert (loaded["firstName"], loaded["lastName"]) == (
            record["firstName"],
            record["lastName"],
        )
        assert loaded["defaultEmailAddress"] == record["defaultEmailAddress"]
        assert [a["zip"] for a in loaded["addresses"]] == [a["zip"] for a in record["addresses"]]


def namesake_pairs(records, truth) -> int:
    """Pairs of different people with the same full name."""
    person = {c: i for i, cluster in enumerate(truth.clusters) for c in cluster}
    people: dict[tuple, set] = {}
    for r in records:
        if r["firstName"] and r["lastName"]:
            key = (r["firstName"].lower(), r["lastName"].lower())
            customer_id = int(r["id"].rsplit("/", 1)[1])
            people.setdefault(key, set()).add(person.get(customer_id, -customer_id))
    return sum(len(p) * (len(p) - 1) // 2 for p in people.values())


def test_rare_names_spread_full_names_and_default_draws_the_pools_only():
    """A store's namesakes per customer grow with its size when names come from small pools;
    rare_names draws part of them from a long tail. Off, the stream is unchanged (byte-identical
    to not passing it)."""
    plain, plain_truth = generate(count=3000, seed=4)
    assert [dumps(r) for r in plain] == [
        dumps(r) for r in generate(count=3000, seed=4, rare_names=(0.0, 0.0))[0]
    ]
    rare, truth = generate(count=3000, seed=4, rare_names=(0.5, 0.7))
    assert namesake_pairs(rare, truth) < 0.5 * namesake_pairs(plain, plain_truth)
    assert truth.clusters and truth.namesakes  # the look-alikes are still made
