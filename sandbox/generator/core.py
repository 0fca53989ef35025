"""The store generator: people -> profiles (with duplicates and look-alikes) -> customer records."""

import heapq
import itertools
import json
import random
import zlib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from pathlib import Path

import orjson

from . import emails
from .corruptions import REVERSE_NICKNAMES, make_duplicate
from .countries import COUNTRIES
from .draw import weighted
from .names import NAMES, NICKNAMES
from .people import PeopleFactory, Person
from .records import DAY, RecordRenderer

DEFAULT_NOW = datetime(2026, 1, 1, tzinfo=UTC)
MEAN_EXTRA_PROFILES = 1.19  # a duplicated person has 1 (85%), 2 (11%) or 3 (4%) extra profiles


def default_start_id(shop_domain: str) -> int:
    """A 12-digit id range of its own for each shop, so several stores on one server never collide."""
    return (zlib.crc32(shop_domain.encode()) % 9000 + 1000) * 10**8 + 1


@dataclass
class GroundTruth:
    """Which customer ids are one person, and which look-alikes are different people.

    `clusters` lists only people with two or more profiles; `kinds` maps every extra profile (not
    the first one) to its corruption kind; `households`, `namesakes` and `placeholder_emails` are
    groups of *different* people that a deduplicator must not merge (one id per person).
    """

    shop: str
    seed: int
    count: int = 0
    duplicate_rate: float = 0.0
    clusters: list[list[int]] = field(default_factory=list)
    kinds: dict[int, str] = field(default_factory=dict)
    households: list[list[int]] = field(default_factory=list)
    namesakes: list[list[int]] = field(default_factory=list)
    placeholder_emails: list[list[int]] = field(default_factory=list)
    next_id: int = 0
    complete: bool = False

    @property
    def realized_duplicate_rate(self) -> float:
        """Share of profiles a perfect deduplication would merge away."""
        return len(self.kinds) / self.count if self.count else 0.0

    def true_pairs(self) -> Iterator[tuple[int, int]]:
        """Every pair of profiles of one person, (smaller id, larger id)."""
        for cluster in self.clusters:
            yield from itertools.combinations(sorted(cluster), 2)

    def hard_negative_pairs(self) -> Iterator[tuple[int, int, str]]:
        """Every pair of profiles of two different look-alike people, with the group's name
        ("household", "namesake", "placeholder_email"); merging any of them is a false merge."""
        profiles = {cluster[0]: cluster for cluster in self.clusters}
        for name, groups in (
            ("household", self.households),
            ("namesake", self.namesakes),
            ("placeholder_email", self.placeholder_emails),
        ):
            for group in groups:
                for one, other in itertools.combinations(group, 2):
                    for left in profiles.get(one, [one]):
                        for right in profiles.get(other, [other]):
                            yield min(left, right), max(left, right), name

    def to_dict(self) -> dict:
        return {
            "shop": self.shop,
            "seed": self.seed,
            "count": self.count,
            "duplicate_rate": self.duplicate_rate,
            "next_id": self.next_id,
            "clusters": self.clusters,
            "kinds": {str(customer_id): kind for customer_id, kind in self.kinds.items()},
            "households": self.households,
            "namesakes": self.namesakes,
            "placeholder_emails": self.placeholder_emails,
        }

    @classmethod
    def from_dict(cls, data: dict) -> "GroundTruth":
        return cls(
            shop=data["shop"],
            seed=data["seed"],
            count=data["count"],
            duplicate_rate=data["duplicate_rate"],
            next_id=data["next_id"],
            clusters=data["clusters"],
            kinds={int(k): v for k, v in data["kinds"].items()},
            households=data["households"],
            namesakes=data["namesakes"],
            placeholder_emails=data["placeholder_emails"],
            complete=True,
        )

    def write(self, path: str | Path) -> None:
        if not self.complete:
            raise RuntimeError(
                "the ground truth is complete only once every customer was generated"
            )
        Path(path).write_text(json.dumps(self.to_dict(), separators=(",", ":")) + "\n")

    @classmethod
    def read(cls, path: str | Path) -> "GroundTruth":
        return cls.from_dict(json.loads(Path(path).read_text()))


@dataclass(slots=True)
class _Pending:
    """A profile waiting for its turn in the stream, with the truth lists it belongs to."""

    profile: Person
    kind: str | None
    cluster: list[int] | None
    group: list[int] | None


class CustomerStream(Iterator[dict]):
    """Iterator of customer records; `.truth` is filled in as the records are produced."""

    def __init__(
        self,
        *,
        shop_domain: str,
        count: int,
        seed: int,
        duplicate_rate: float,
        currency: str,
        country: str,
        start_id: int | None,
        now: datetime | int,
        orders_per_customer: float,
        history_years: float,
        rare_names: tuple[float, float] = (0.0, 0.0),
    ) -> None:
        _check(
            count=count,
            duplicate_rate=duplicate_rate,
            currency=currency,
            country=country,
            orders_per_customer=orders_per_customer,
            history_years=history_years,
            rare_names=rare_names,
        )
        self.count = count
        self.rate = duplicate_rate
        self.rng = random.Random(f"{seed}:{shop_domain}")
        now_seconds = int(now.timestamp()) if isinstance(now, datetime) else int(now)
        self.start = now_seconds - int(history_years * 365 * DAY)
        self.span = now_seconds - 3600 - self.start
        self.factory = PeopleFactory(self.rng, country, count, rare_names)
        self.renderer = RecordRenderer(
            self.rng,
            currency=currency,
            now=now_seconds,
            start_id=default_start_id(shop_domain) if start_id is None else start_id,
            orders_per_customer=orders_per_customer,
        )
        self.truth = GroundTruth(
            shop=shop_domain, seed=seed, count=count, duplicate_rate=duplicate_rate
        )
        self.store_country = COUNTRIES[country]
        self.mean_delay = max(1, min(3000, count // 8))
        rate_odds = duplicate_rate / (1 - duplicate_rate)
        self.person_duplicate_share = rate_odds / MEAN_EXTRA_PROFILES
        self.planned_total = 0
        self.planned_extra = 0
        self._records = self._generate()

    def __next__(self) -> dict:
        return next(self._records)

    # scheduling --------------------------------------------------------------
    def _generate(self) -> Iterator[dict]:
        heap: list[tuple[int, int, _Pending]] = []
        order = itertools.count()
        position = 0
        while position < self.count:
            free = self.count - position - len(heap)
            if heap and (heap[0][0] <= position or free <= 0):
                pending = heapq.heappop(heap)[2]
            else:
                first, *later = self._new_entity(free)
                for delay, item in later:
                    heapq.heappush(heap, (position + delay, next(order), item))
                pending = first[1]
            yield self._emit(pending, position)
            position += 1
        self.truth.next_id = self.renderer.next_id
        self.truth.complete = True

    def _emit(self, pending: _Pending, position: int) -> dict:
        fraction = (position + self.rng.random()) / max(self.count, 1)
        created = self.start + int(self.span * fraction**0.85)  # stores grow: more recent sign-ups
        customer_id, record = self.renderer.render(pending.profile, created)
        if pending.cluster is not None:
            pending.cluster.append(customer_id)
        if pending.kind is not None:
            self.truth.kinds[customer_id] = pending.kind
        if pending.group is not None:
            pending.group.append(customer_id)
        return record

    def _delay(self) -> int:
        return 1 + int(self.rng.expovariate(1.0 / self.mean_delay))

    # entities ----------------------------------------------------------------
    def _new_entity(self, free: int) -> list[tuple[int, _Pending]]:
        """One person, or a group of different people who look alike; each with their duplicates."""
        roll = self.rng.random()
        people: list[Person]
        group: list[int] | None = None
        if free >= 2 and roll < 0.035:
            people = self._household(min(free, 4))
            group = []
            self.truth.households.append(group)
        elif free >= 2 and roll < 0.045:
            people = self._namesakes(min(free, 3))
            group = []
            self.truth.namesakes.append(group)
        elif free >= 2 and roll < 0.047:
            people = self._placeholder_group(min(free, 3))
            group = []
            self.truth.placeholder_emails.append(group)
        else:
            people = [self.factory.person()]
        if group is not None:
            for person in people:
                person.show_name = True  # look-alikes are look-alike by name
        budget = free - len(people)
        items: list[tuple[int, _Pending]] = []
        for index, person in enumerate(people):
            extra = self._extra_profiles(budget)
            budget -= extra
            cluster = None
            if extra:
                cluster = []
                self.truth.clusters.append(cluster)
            delay = 0 if index == 0 else self._delay()
            items.append((delay, _Pending(person, None, cluster, group)))
            for _ in range(extra):
                delay += self._delay()
                duplicate, kind = make_duplicate(self.rng, self.factory, person)
                items.append((delay, _Pending(duplicate, kind, cluster, None)))
        return items

    def _extra_profiles(self, budget: int) -> int:
        self.planned_total += 1
        if self.rate <= 0 or budget <= 0:
            return 0
        target = self.rate * self.planned_total
        share = self.person_duplicate_share
        if self.planned_extra < target - 1:
            share *= 2.5
        elif self.planned_extra > target + 1:
            share *= 0.3
        if self.rng.random() >= share:
            return 0
        roll = self.rng.random()
        extra = min(1 if roll < 0.85 else (2 if roll < 0.96 else 3), budget)
        self.planned_total += extra
        self.planned_extra += extra
        return extra

    def _household(self, limit: int) -> list[Person]:
        """Partners, grown-up children or flatmates at one address, often sharing a landline."""
        rng = self.rng
        factory = self.factory
        head = factory.person()
        if not head.addresses:
            head.addresses.append(factory.address(head.first, head.last, head.country, head.city))
        home = head.addresses[0]
        size = min(limit, 2 if rng.random() < 0.6 else (3 if rng.random() < 0.6 else 4))
        shared_phone = None
        if rng.random() < 0.5:
            shared_phone = factory.phone(head.country, head.city, mobile=False)
            home.phone = shared_phone
        elif head.phone and rng.random() < 0.5:
            shared_phone = head.phone  # the partner gives the other's mobile for delivery
        used = _name_family(head.first)
        people = [head]
        for index in range(1, size):
            partner = index == 1 and rng.random() < 0.8
            if partner:
                female = not head.female if rng.random() < 0.92 else head.female
                birth_year = min(2006, max(1945, head.birth_year + rng.randint(-6, 6)))
                last = head.last if rng.random() < 0.7 else None
            else:
                female = rng.random() < 0.5
                birth_year = min(2006, head.birth_year + rng.randint(20, 34))
                last = head.last if rng.random() < 0.9 else None
            member = factory.person(
                locale=head.name_locale,
                country=head.country,
                female=female,
                last=last,
                birth_year=birth_year,
                city=head.city,
                exclude_first=tuple(used),
            )
            if member.first in used:  # the locale ran out of distinct names
                member.first = factory.given_name("en", female, tuple(used))
            used |= _name_family(member.first)
            own = replace(
                home,
                first_name=member.first,
                last_name=member.last,
                phone=shared_phone if shared_phone and rng.random() < 0.7 else None,
            )
            member.addresses = [own, *member.addresses[1:]]
            people.append(member)
        return people

    def _namesakes(self, limit: int) -> list[Person]:
        """Different people with the store's most common name ("Maria García", "Thomas Müller")."""
        rng = self.rng
        locale = weighted(rng, self.store_country.name_locales)
        female = rng.random() < 0.5
        females, males, surnames = NAMES[locale]
        first = rng.choice((females if female else males)[:4])
        last = rng.choice(surnames[:4])
        size = min(limit, 2 if rng.random() < 0.7 else 3)
        return [
            self.factory.person(
                locale=locale, country=self.store_country, female=female, first=first, last=last
            )
            for _ in range(size)
        ]

    def _placeholder_group(self, limit: int) -> list[Person]:
        """Different people whom staff gave a made-up address like noemail@example.com."""
        rng = self.rng
        size = min(limit, 2 if rng.random() < 0.7 else 3)
        people = []
        base = rng.choice(emails.PLACEHOLDER_EMAILS)
        for index in range(size):
            person = self.factory.person(country=self.store_country)
            local, domain = base.split("@")
            for attempt in range(20):
                candidate = (
                    base
                    if index == 0 and attempt == 0
                    else f"{local}{rng.randrange(1, 10 ** (1 + attempt // 5))}@{domain}"
                )
                if self.factory.claim_email(candidate):
                    person.email = candidate
                    person.state_hint = "DISABLED"
                    break
            people.append(person)
        return people


def _name_family(first: str) -> set[str]:
    """A given name with its nicknames, so a household never holds Bill and William."""
    family = {first, *NICKNAMES.get(first, ())}
    for full in REVERSE_NICKNAMES.get(first, ()):
        family |= {full, *NICKNAMES[full]}
    return family


def _check(
    *, count, duplicate_rate, currency, country, orders_per_customer, history_years, rare_names
) -> None:
    if not isinstance(count, int) or count < 0:
        raise ValueError(f"count must be a non-negative integer, not {count!r}")
    if not 0 <= duplicate_rate <= 0.5:
        raise ValueError(f"duplicate_rate must be between 0 and 0.5, not {duplicate_rate!r}")
    if not (
        isinstance(currency, str)
        and len(currency) == 3
        and currency.isalpha()
        and currency.isupper()
    ):
        raise ValueError(f"currency must be an ISO 4217 code such as 'EUR', not {currency!r}")
    if country not in COUNTRIES:
        raise ValueError(f"country must be one of {', '.join(sorted(COUNTRIES))}, not {country!r}")
    if orders_per_customer < 0:
        raise ValueError(f"orders_per_customer must not be negative, not {orders_per_customer!r}")
    if history_years <= 0:
        raise ValueError(f"history_years must be positive, not {history_years!r}")
    if not _two_shares(rare_names):
        raise ValueError(f"rare_names must be two shares between 0 and 1, not {rare_names!r}")


def _two_shares(value) -> bool:
    """Whether `value` is two numbers (not booleans) between 0 and 1."""
    if not isinstance(value, tuple | list) or len(value) != 2:
        return False
    return all(
        isinstance(share, int | float) and not isinstance(share, bool) and 0 <= share <= 1
        for share in value
    )


def generate_customers(
    *,
    shop_domain: str,
    count: int,
    seed: int,
    duplicate_rate: float = 0.08,
    currency: str = "EUR",
    country: str = "DE",
    start_id: int | None = None,
    now: datetime | int = DEFAULT_NOW,
    orders_per_customer: float = 3.0,
    history_years: float = 4.0,
    rare_names: tuple[float, float] = (0.0, 0.0),
) -> CustomerStream:
    """Stream `count` customer records; `stream.truth` is complete once the stream is exhausted."""
    return CustomerStream(
        shop_domain=shop_domain,
        count=count,
        seed=seed,
        duplicate_rate=duplicate_rate,
        currency=currency,
        country=country,
        start_id=start_id,
        now=now,
        orders_per_customer=orders_per_customer,
        history_years=history_years,
        rare_names=rare_names,
    )


def dumps(record: dict) -> str:
    """One JSONL line (no newline): compact, UTF-8 names kept as they are (orjson: the same bytes
    as json.dumps(ensure_ascii=False, separators=(",", ":")), ten times faster)."""
    return orjson.dumps(record).decode()


def write_jsonl(path: str | Path, records: Iterable[dict]) -> int:
    """Write records one per line; returns how many were written."""
    written = 0
    with open(path, "wb") as handle:
        for record in records:
            handle.write(orjson.dumps(record))
            handle.write(b"\n")
            written += 1
    return written


def write_truth(path: str | Path, truth: GroundTruth) -> None:
    truth.write(path)


def generate_store(
    *,
    shop_domain: str,
    count: int,
    seed: int,
    customers_out: str | Path,
    truth_out: str | Path | None = None,
    **options,
) -> GroundTruth:
    """Generate a store straight to a JSONL file (and the truth file); for commands and benchmarks."""
    stream = generate_customers(shop_domain=shop_domain, count=count, seed=seed, **options)
    write_jsonl(customers_out, stream)
    if truth_out is not None:
        stream.truth.write(truth_out)
    return stream.truth
