"""Each duplicate kind and each hard negative really looks the way the ground truth says."""

import random
import re
from collections import defaultdict

import pytest
from rapidfuzz.distance import OSA

from sandbox.generator import SINGLE_KINDS, generate_customers
from sandbox.generator.emails import PLACEHOLDER_EMAILS, ascii_fold
from sandbox.generator.names import NICKNAMES, TRANSLITERATION_VARIANTS


def legacy_id(record):
    return int(record["id"].rsplit("/", 1)[1])


@pytest.fixture(scope="module")
def corrupted():
    """A store with many duplicates, so that every kind occurs many times."""
    stream = generate_customers(
        shop_domain="dupes.myshopify.com", count=8000, seed=21, duplicate_rate=0.3
    )
    by_id = {legacy_id(record): record for record in stream}
    truth = stream.truth
    original_of = {
        member: by_id[cluster[0]] for cluster in truth.clusters for member in cluster[1:]
    }
    return by_id, truth, original_of


def email(record):
    return record["defaultEmailAddress"]["emailAddress"] if record["defaultEmailAddress"] else None


def phones(record):
    found = [record["defaultPhoneNumber"]["phoneNumber"]] if record["defaultPhoneNumber"] else []
    return found + [a["phone"] for a in record["addresses"] if a["phone"]]


def names(record):
    return record["firstName"], record["lastName"]


def home(record):
    address = record["addresses"][0]
    return address["address1"], address["zip"], address["city"]


def place(address):
    """What survives re-typing an address: house number and postcode."""
    return re.findall(r"\d+", address["address1"]), address["zip"].replace(" ", "").upper()


def lives_at_home(dup, original):
    return any(place(a) == place(b) for a in dup["addresses"] for b in original["addresses"])


def gmail_key(address):
    local, domain = address.lower().split("@")
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local = local.replace(".", "")
    return local, domain


def mailbox(address):
    """The mailbox name without dots and +tag: the same person's name across providers."""
    return address.lower().split("@")[0].split("+", 1)[0].replace(".", "")


def nickname_related(a, b):
    return b in NICKNAMES.get(a, ()) or a in NICKNAMES.get(b, ())


# One check per kind, on the fields that kind touches; combinations must pass both checks.
def check_email_typo(dup, original):
    (local, domain), (orig_local, orig_domain) = (email(dup).split("@"), email(original).split("@"))
    assert domain == orig_domain and local != orig_local and OSA.distance(local, orig_local) == 1


def check_email_domain(dup, original):
    (local, domain), (orig_local, orig_domain) = (email(dup).split("@"), email(original).split("@"))
    assert local == orig_local and domain.lower() != orig_domain.lower()


def check_gmail_alias(dup, original):
    assert email(dup) != email(original) and gmail_key(email(dup)) == gmail_key(email(original))


def check_phone_format(dup, original):
    orig_phone = phones(original)[0]
    customer_phone = dup["defaultPhoneNumber"]["phoneNumber"] if dup["defaultPhoneNumber"] else None
    assert customer_phone != orig_phone
    assert any(
        candidate == orig_phone  # moved from the customer to the shipping address
        or candidate[-8:] == orig_phone[-8:]  # national number parsed in another country
        or OSA.distance(candidate, orig_phone) == 1  # one digit mistyped or two swapped
        for candidate in phones(dup)
    )


def check_nickname(dup, original):
    assert dup["lastName"] == original["lastName"] or not original["firstName"]
    assert (
        nickname_related(original["firstName"] or dup["firstName"], dup["firstName"])
        or not original["firstName"]
    )


def check_name_swap(dup, original):
    first, last = names(dup)
    assert first != last
    if original["firstName"]:
        assert (first, last) == (original["lastName"], original["firstName"])


def check_accents_dropped(dup, original):
    first, last = names(dup)
    assert first.isascii() and last.isascii()
    if original["firstName"]:
        assert (first, last) != names(original)
        assert first.lower() in {
            ascii_fold(original["firstName"]).lower(),
            ascii_fold(original["firstName"], german=True).lower(),
        }


def check_transliteration(dup, original):
    if not original["firstName"]:
        return
    assert names(dup) != names(original)
    for new, old in zip(names(dup), names(original), strict=True):
        assert new == old or new in TRANSLITERATION_VARIANTS.get(old, ()) or new in names(original)


def check_compound_surname(dup, original):
    """Part of a double or prefixed surname, or the same parts joined differently."""

    def parts(name):
        return [part.lower() for part in re.split(r"[ \-']", name) if part]

    if not original["lastName"]:
        return  # a nameless sign-up: nothing to compare with
    assert dup["lastName"] != original["lastName"] and dup["firstName"] == original["firstName"]
    new, old = parts(dup["lastName"]), parts(original["lastName"])
    assert len(old) >= 2
    assert set(new) < set(old) or new == old or "".join(new) == "".join(old)


def check_moved_address(dup, original):
    assert dup["addresses"] and home(dup) not in {
        (a["address1"], a["zip"], a["city"]) for a in original["addresses"]
    }
    linked_email = (
        email(dup)
        and email(original)
        and email(dup).split("@")[0].split("+")[0].replace(".", "")
        == email(original).split("@")[0].split("+")[0].replace(".", "")
    )
    linked_phone = set(phones(original)) & set(phones(dup))
    assert linked_email or linked_phone or email(dup) is None or email(dup) != email(original)


def check_guest_checkout(dup, original):
    assert email(dup) is None and dup["defaultPhoneNumber"] is None
    assert dup["state"] == "DISABLED" and len(dup["orders"]) == 1 and dup["tags"] == []
    assert lives_at_home(dup, original)
    assert dup["firstName"].lower() == (original["firstName"] or dup["firstName"]).lower()


CHECKS = {
    name.removeprefix("check_"): check
    for name, check in globals().items()
    if name.startswith("check_")
}


def test_there_is_a_check_for_every_kind():
    assert set(CHECKS) == set(SINGLE_KINDS)


@pytest.mark.parametrize("kind", SINGLE_KINDS)
def test_each_kind_is_produced_and_differs_as_expected(corrupted, kind):
    by_id, truth, original_of = corrupted
    cases = [dup for dup, label in truth.kinds.items() if kind in label.split("+")]
    assert len(cases) >= 3, f"{kind} occurs"
    alone = [dup for dup in cases if truth.kinds[dup] == kind]
    assert alone or kind == "transliteration", f"{kind} also occurs on its own"
    for dup in cases:
        record, original = by_id[dup], original_of[dup]
        assert record != original and record["id"] != original["id"]
        CHECKS[kind](record, original)


def test_combinations_and_larger_clusters_occur(corrupted):
    _, truth, _ = corrupted
    combinations = [label for label in truth.kinds.values() if "+" in label]
    assert len(combinations) > len(truth.kinds) * 0.04
    assert all(len(set(label.split("+"))) == 2 for label in combinations)
    sizes = defaultdict(int)
    for cluster in truth.clusters:
        sizes[len(cluster)] += 1
    assert sizes[2] > sizes[3] > 0 and sizes[4] > 0


def test_duplicates_never_repeat_an_email_or_customer_phone(corrupted):
    by_id, _, original_of = corrupted
    for dup, original in original_of.items():
        record = by_id[dup]
        if email(record) and email(original):
            assert email(record).lower() != email(original).lower()
        if record["defaultPhoneNumber"] and original["defaultPhoneNumber"]:
            assert (
                record["defaultPhoneNumber"]["phoneNumber"]
                != original["defaultPhoneNumber"]["phoneNumber"]
            )


def test_households_share_an_address_but_are_different_people(corrupted):
    by_id, truth, _ = corrupted
    shared_phone = shared_surname = 0
    for group in truth.households:
        members = [by_id[customer_id] for customer_id in group]
        assert len({home(member) for member in members}) == 1
        firsts = [member["firstName"] for member in members]
        assert len(set(firsts)) == len(firsts)
        assert not any(nickname_related(a, b) for a in firsts for b in firsts if a != b)
        shared_surname += len({member["lastName"] for member in members}) < len(members)
        address_phones = [
            member["addresses"][0]["phone"] for member in members if member["addresses"][0]["phone"]
        ]
        shared_phone += len(address_phones) > len(set(address_phones))
    assert shared_surname > len(truth.households) * 0.5
    assert shared_phone > len(truth.households) * 0.2


def test_namesakes_share_a_name_but_not_contacts(corrupted):
    by_id, truth, _ = corrupted
    for group in truth.namesakes:
        members = [by_id[customer_id] for customer_id in group]
        assert len({names(member) for member in members}) == 1
        contacts = [email(member) for member in members if email(member)]
        assert len(contacts) == len(set(contacts))
        assert len({home(member) for member in members if member["addresses"]}) == len(
            [m for m in members if m["addresses"]]
        )


def test_placeholder_emails_are_shared_look_alikes(corrupted):
    by_id, truth, _ = corrupted
    placeholder_locals = {address.split("@")[0] for address in PLACEHOLDER_EMAILS}
    for group in truth.placeholder_emails:
        addresses = [email(by_id[customer_id]) for customer_id in group]
        assert all(addresses) and len(set(addresses)) == len(addresses)
        assert all(
            address.split("@")[0].rstrip("0123456789") in placeholder_locals
            for address in addresses
        )
        assert len({address.split("@")[1] for address in addresses}) == 1


def test_every_duplicate_keeps_a_tie_to_its_person(corrupted):
    """A related email, a shared phone or the home address: never a name alone."""
    by_id, _, original_of = corrupted
    for dup, original in original_of.items():
        record = by_id[dup]
        tied_email = (
            email(record)
            and email(original)
            and (
                email(record).lower().split("@")[1] == email(original).lower().split("@")[1]
                or mailbox(email(record)) == mailbox(email(original))
            )
        )
        tied_phone = any(
            p[-8:] == q[-8:] or OSA.distance(p, q) <= 1
            for p in phones(record)
            for q in phones(original)
        )
        assert tied_email or tied_phone or lives_at_home(record, original), (record, original)


def test_shipping_addresses_are_sometimes_typed_differently(corrupted):
    by_id, _, original_of = corrupted
    retyped = [
        dup
        for dup in original_of
        if lives_at_home(by_id[dup], original_of[dup])
        and not any(
            home(by_id[dup]) == home({"addresses": [a]}) for a in original_of[dup]["addresses"]
        )
    ]
    assert len(retyped) > len(original_of) * 0.05
    assert any("str." in by_id[dup]["addresses"][0]["address1"] for dup in retyped)


@pytest.mark.parametrize(
    ("street", "retyped_forms"),
    [
        (
            "Hauptstraße 5",
            {
                "Hauptstr. 5",
                "Hauptstrasse 5",
                "Hauptstr 5",
                "hauptstraße 5",
                "Hauptstrasse 5",
                "Hauptstraße, 5",
            },
        ),
        ("12 High Street", {"12 High St", "12 High St.", "12 High street", "12 high street"}),
        (
            "Calle Mayor 5",
            {"C/ Mayor 5", "c/ Mayor 5", "Cl. Mayor 5", "calle mayor 5", "Calle Mayor, 5"},
        ),
        ("Via Roma 12", {"V. Roma 12", "via Roma 12", "via roma 12", "Via Roma, 12"}),
        ("ul. Długa 7", {"Długa 7", "ulica Długa 7", "ul. długa 7", "ul. Dluga 7", "ul. Długa, 7"}),
    ],
)
def test_retyped_streets_are_plausible_spellings(street, retyped_forms):
    from sandbox.generator.retyping import retype_street

    rng = random.Random(1)
    seen = {retype_street(rng, street) for _ in range(300)}
    assert seen - {street} <= retyped_forms, seen - retyped_forms
    assert len(seen - {street}) >= 3


@pytest.mark.parametrize(
    ("e164", "home"),
    [
        ("+4915112345678", "DE"),
        ("+33612345678", "FR"),
        ("+447412345678", "GB"),
        ("+393123456789", "IT"),
    ],
)
def test_phone_variants_keep_the_national_number_or_one_digit(e164, home):
    from sandbox.generator.phones import digit_typo_variant, wrong_region_variant

    rng = random.Random(3)
    for _ in range(50):
        typo = digit_typo_variant(e164, rng)
        assert typo != e164 and OSA.distance(typo, e164) == 1
        wrong = wrong_region_variant(e164, home, rng)
        if wrong is not None:
            assert wrong != e164 and wrong.startswith("+") and not wrong.startswith(e164[:3])


@pytest.mark.parametrize("local", ["anna.mueller", "jbrown", "maria_garcia84", "li.wang"])
def test_email_typos_are_one_keystroke_away(local):
    from sandbox.generator.emails import typo_local

    rng = random.Random(5)
    for _ in range(100):
        typo = typo_local(rng, local)
        assert typo != local and OSA.distance(typo, local) == 1
        assert not typo.startswith(".") and ".." not in typo


def test_profiles_of_one_person_tend_to_buy_the_same_products(corrupted):
    """A weak order-history signal: shared products are likelier within a cluster than between
    random customers."""
    by_id, _, original_of = corrupted

    def products(record):
        return {line["productId"] for order in record["orders"] for line in order["lineItems"]}

    buyers = [
        dup for dup, original in original_of.items() if products(by_id[dup]) and products(original)
    ]
    same_person = sum(bool(products(by_id[dup]) & products(original_of[dup])) for dup in buyers)
    everyone = sorted(record_id for record_id, record in by_id.items() if products(record))
    rng = random.Random(0)
    strangers = sum(
        bool(products(by_id[rng.choice(everyone)]) & products(by_id[rng.choice(everyone)]))
        for _ in buyers
    )
    assert same_person > strangers * 1.3
