"""Rendering a profile as a Shopify-shaped customer record (docs/sandbox-seed-format.md).

Times are whole seconds since the epoch until the last moment and formatted with a per-day cache,
because strftime on millions of orders would dominate the run time.
"""

import math
import random
from bisect import bisect
from datetime import UTC, datetime

from .draw import Weighted, below, between, pick, weighted
from .people import Person

DAY = 86_400

ACCOUNT_STATES = Weighted((("DISABLED", 62), ("ENABLED", 28), ("INVITED", 8), ("DECLINED", 2)))
EMAIL_STATES = Weighted(
    (
        ("NOT_SUBSCRIBED", 47),
        ("SUBSCRIBED", 38),
        ("UNSUBSCRIBED", 11),
        ("PENDING", 2),
        ("INVALID", 2),
    )
)
SMS_STATES = Weighted(
    (("NOT_SUBSCRIBED", 80), ("SUBSCRIBED", 14), ("UNSUBSCRIBED", 5), ("PENDING", 1))
)
FINANCIAL_STATES = Weighted(
    (
        ("PAID", 900),
        ("PARTIALLY_REFUNDED", 30),
        ("REFUNDED", 30),
        ("PENDING", 15),
        ("AUTHORIZED", 15),
        ("PARTIALLY_PAID", 5),
        ("EXPIRED", 5),
    )
)
CANCELLED_STATES = Weighted((("VOIDED", 1), ("REFUNDED", 1)))
DOUBLE_OPT_IN_COUNTRIES = frozenset({"DE", "AT", "CH"})

TAGS = Weighted(
    (
        ("newsletter", 12),
        ("repeat-customer", 10),
        ("instagram", 5),
        ("facebook", 4),
        ("tiktok", 3),
        ("referral", 4),
        ("loyalty-bronze", 5),
        ("loyalty-silver", 3),
        ("loyalty-gold", 2),
        ("black-friday-2023", 4),
        ("black-friday-2024", 5),
        ("sale", 4),
        ("pos", 4),
        ("retail", 2),
        ("marketplace", 2),
        ("review-left", 4),
        ("returns-high", 1),
        ("gift-buyer", 3),
        ("influencer", 1),
        ("press", 1),
        ("staff", 1),
        ("klaviyo-imported", 3),
        ("wholesale", 1),
        ("b2b", 1),
    )
)
NOTES = {
    "de": (
        "Bitte nicht klingeln, Paket beim Nachbarn abgeben.",
        "Kundin wünscht Rechnung per E-Mail.",
        "Hat sich über die lange Lieferzeit beschwert, 10 % Gutschein geschickt.",
        "Stammkundin seit dem Laden in der Altstadt.",
        "Retoure manuell erstattet.",
    ),
    "fr": (
        "Cliente fidèle depuis 2019.",
        "Livraison en point relais de préférence.",
        "A signalé un colis endommagé, renvoi effectué.",
    ),
    "es": ("Cliente habitual, prefiere envío urgente.", "Dejar el paquete en conserjería."),
    "it": (
        "Cliente abituale, preferisce la consegna al mattino.",
        "Lasciare il pacco al portiere.",
    ),
    "en": (
        "Prefers delivery after 6pm.",
        "Allergic to wool - check materials before shipping.",
        "VIP - send a handwritten thank-you card.",
        "Wholesale account, net 30.",
        "Do not ship to PO boxes.",
        "Complained about late delivery, sent 10% voucher.",
    ),
}


class Clock:
    """ISO-8601 UTC strings for epoch seconds, caching the date part of each day."""

    def __init__(self) -> None:
        self._days: dict[int, str] = {}

    def iso(self, seconds: int) -> str:
        day, rest = divmod(seconds, DAY)
        date = self._days.get(day)
        if date is None:
            date = datetime.fromtimestamp(day * DAY, UTC).strftime("%Y-%m-%d")
            self._days[day] = date
        hours, rest = divmod(rest, 3600)
        minutes, secs = divmod(rest, 60)
        return f"{date}T{hours:02d}:{minutes:02d}:{secs:02d}Z"


class Catalogue:
    """Products with tags and prices; a few bestsellers take most of the line items."""

    CATEGORIES = (
        (("shoes", "sneakers"), 4900, 14900),
        (("shoes", "running"), 7900, 17900),
        (("shoes", "boots", "winter"), 8900, 22900),
        (("apparel", "t-shirts"), 1490, 3990),
        (("apparel", "hoodies"), 3990, 7990),
        (("apparel", "outerwear", "winter"), 8900, 29900),
        (("apparel", "dresses", "summer"), 2990, 8990),
        (("accessories", "bags"), 1990, 12900),
        (("accessories", "socks"), 490, 1490),
        (("accessories", "caps"), 1490, 3490),
        (("kids", "apparel"), 990, 3990),
        (("home", "candles"), 990, 3490),
        (("beauty", "skincare", "organic"), 1290, 5990),
        (("gift-card",), 2500, 10000),
    )

    def __init__(self, rng: random.Random, first_id: int, size: int = 240) -> None:
        self.ids: list[str] = []
        self.tags: list[list[str]] = []
        self.prices: list[int] = []
        for index in range(size):
            tags, low, high = pick(rng, self.CATEGORIES)
            extra = []
            if rng.random() < 0.2:
                extra.append("sale")
            if rng.random() < 0.15:
                extra.append("new-arrival")
            if rng.random() < 0.1:
                extra.append("eco")
            self.ids.append(f"gid://shopify/Product/{first_id + index}")
            self.tags.append(list(tags) + extra)
            self.prices.append(
                low + 100 * below(rng, (high - low) // 100) + 90 if high - low > 100 else low
            )
        cumulative, total = [], 0.0
        for rank in range(size):
            total += 1.0 / (rank + 1) ** 0.9
            cumulative.append(total)
        self.cumulative = cumulative
        self.indexes = range(size)


def money(cents: int) -> str:
    return f"{cents // 100}.{cents % 100:02d}"


class RecordRenderer:
    """Turns profiles into records; owns the per-store counters (ids, order numbers)."""

    def __init__(
        self,
        rng: random.Random,
        *,
        currency: str,
        now: int,
        start_id: int,
        orders_per_customer: float,
    ) -> None:
        self.rng = rng
        self.currency = currency
        self.now = now
        self.clock = Clock()
        self.next_id = start_id
        self.catalogue = Catalogue(rng, self._take_ids(240))
        self.order_number = 1000
        # A fifth never ordered; the rest order 1 + floor(exponential) times, and 3% are loyal
        # customers with a Pareto tail. The exponential's mean is solved so that the overall
        # mean is `orders_per_customer` (E[floor(Exp(m))] = 1 / (e^(1/m) - 1)).
        self.order_share = min(1.0, 0.78, orders_per_customer)
        per_orderer = orders_per_customer / self.order_share if self.order_share else 0.0
        self.tail_scale = 2 * max(per_orderer - 1, 0) + 1
        tail_mean = 1 + self.tail_scale * 5 / 3 - 0.5
        body_extra = (per_orderer - 0.03 * tail_mean) / 0.97 - 1
        self.body_mean = 1 / math.log(1 + 1 / body_extra) if body_extra > 0 else 0.0
        self.tail_share = 0.03 if body_extra > 0 else 0.0

    def _take_ids(self, n: int) -> int:
        first = self.next_id
        self.next_id += n
        return first

    def order_count(self, person: Person) -> int:
        rng = self.rng
        if person.order_scale == 0.0:
            return 1
        if rng.random() >= self.order_share:
            return 0
        if rng.random() < self.tail_share:
            count = 1 + int(self.tail_scale * rng.paretovariate(2.5))
        elif self.body_mean:
            count = 1 + int(rng.expovariate(1.0 / self.body_mean))
        else:
            count = 1
        return min(count, 250)

    def render(self, person: Person, created: int) -> tuple[int, dict]:
        rng = self.rng
        clock = self.clock
        now = self.now
        customer_id = self._take_ids(1)
        first = person.first if person.show_name else None
        last = person.last if person.show_name else None

        orders = self._orders(person, created)
        last_order = max((o[0] for o in orders), default=created)
        updated = min(now, max(created, last_order) + between(rng, 60, 30 * DAY - 1))

        email_object = None
        state = person.state_hint
        if person.email:
            email_object = self._email_consent(person, created, updated)
            if state is None:
                state = weighted(rng, ACCOUNT_STATES)
        state = state or "DISABLED"
        verified = bool(person.email) and (
            state == "ENABLED" or (state != "INVITED" and rng.random() < 0.85)
        )
        phone_object = None
        if person.phone:
            phone_object = self._sms_consent(person, created, updated)

        addresses = []
        for address in person.addresses:
            addresses.append(
                {
                    "id": f"gid://shopify/MailingAddress/{self._take_ids(1)}",
                    "firstName": address.first_name,
                    "lastName": address.last_name,
                    "address1": address.address1,
                    "address2": address.address2,
                    "city": address.city,
                    "provinceCode": address.province_code,
                    "countryCodeV2": address.country_code,
                    "zip": address.zip,
                    "phone": address.phone,
                    "company": address.company,
                }
            )

        order_records = []
        for placed, cents, lines, cancelled in orders:
            order_id = self._take_ids(1)
            self.order_number += 1
            placed_at = clock.iso(placed)
            if cancelled:
                status = weighted(rng, CANCELLED_STATES)
                cancelled_at = clock.iso(min(now, placed + between(rng, 600, 3 * DAY - 1)))
            else:
                status = weighted(rng, FINANCIAL_STATES)
                cancelled_at = None
            line_items = []
            for product, quantity in lines:
                line_items.append(
                    {
                        "id": f"gid://shopify/LineItem/{self._take_ids(1)}",
                        "quantity": quantity,
                        "productId": self.catalogue.ids[product],
                        "productTags": self.catalogue.tags[product],
                    }
                )
            order_records.append(
                {
                    "id": f"gid://shopify/Order/{order_id}",
                    "name": f"#{self.order_number}",
                    "createdAt": placed_at,
                    "processedAt": placed_at,
                    "totalPrice": money(cents),
                    "currencyCode": self.currency,
                    "displayFinancialStatus": status,
                    "cancelledAt": cancelled_at,
                    "lineItems": line_items,
                }
            )

        record = {
            "id": f"gid://shopify/Customer/{customer_id}",
            "firstName": first,
            "lastName": last,
            "defaultEmailAddress": email_object,
            "defaultPhoneNumber": phone_object,
            "state": state,
            "verifiedEmail": verified,
            "taxExempt": rng.random() < 0.01,
            "locale": person.language,
            "tags": self._tags(person, len(orders), email_object),
            "note": self._note(person),
            "createdAt": clock.iso(created),
            "updatedAt": clock.iso(updated),
            "addresses": addresses,
            "defaultAddressId": addresses[0]["id"] if addresses else None,
            "lastAbandonedCheckoutAt": (
                clock.iso(between(rng, created, now)) if rng.random() < 0.18 else None
            ),
            "orders": order_records,
            "mergeBlockers": self._merge_blockers(),
        }
        return customer_id, record

    # pieces ----------------------------------------------------------------
    def _orders(self, person: Person, created: int) -> list[tuple[int, int, list, bool]]:
        rng = self.rng
        count = self.order_count(person)
        if count == 0:
            return []
        cat = self.catalogue
        cumulative, top = cat.cumulative, cat.cumulative[-1]
        favourites = person.favourites
        if not favourites:
            favourites.extend(bisect(cumulative, rng.random() * top) for _ in range(3))
        span = max(self.now - created, 3600)
        times = [
            created + between(rng, 60, 3600 - 1)
            if rng.random() < 0.7
            else created + below(rng, span)
        ]
        times.extend(created + below(rng, span) for _ in range(count - 1))
        times.sort()
        orders = []
        for placed in times:
            placed = min(placed, self.now)
            n_lines = 1 if rng.random() < 0.5 else (2 if rng.random() < 0.6 else between(rng, 3, 6))
            products = [
                pick(rng, favourites)
                if rng.random() < 0.4
                else bisect(cumulative, rng.random() * top)
                for _ in range(n_lines)
            ]
            lines = []
            cents = 0
            for product in products:
                quantity = 1 if rng.random() < 0.82 else between(rng, 2, 4)
                lines.append((product, quantity))
                cents += cat.prices[product] * quantity
            if cents < 5000:
                cents += 490  # shipping
            if rng.random() < 0.12:
                cents -= cents // 10  # discount code
            orders.append((placed, cents, lines, rng.random() < 0.02))
        return orders

    def _email_consent(self, person: Person, created: int, updated: int) -> dict:
        rng = self.rng
        state = weighted(rng, EMAIL_STATES)
        level = None
        changed = None
        if state != "NOT_SUBSCRIBED":
            changed = self.clock.iso(between(rng, created, updated))
            if state == "PENDING":
                level = "CONFIRMED_OPT_IN"
            elif state != "INVALID":
                double = person.country.code in DOUBLE_OPT_IN_COUNTRIES
                pick = rng.random()
                level = (
                    "UNKNOWN"
                    if pick < 0.08
                    else (
                        "CONFIRMED_OPT_IN" if pick < (0.7 if double else 0.2) else "SINGLE_OPT_IN"
                    )
                )
        return {
            "emailAddress": person.email,
            "marketingState": state,
            "marketingOptInLevel": level,
            "marketingUpdatedAt": changed,
        }

    def _sms_consent(self, person: Person, created: int, updated: int) -> dict:
        rng = self.rng
        state = weighted(rng, SMS_STATES)
        level = None
        changed = None
        if state != "NOT_SUBSCRIBED":
            changed = self.clock.iso(between(rng, created, updated))
            level = (
                "CONFIRMED_OPT_IN" if state == "PENDING" or rng.random() < 0.3 else "SINGLE_OPT_IN"
            )
        return {
            "phoneNumber": person.phone,
            "marketingState": state,
            "marketingOptInLevel": level,
            "marketingUpdatedAt": changed,
        }

    def _tags(self, person: Person, order_count: int, email_object: dict | None) -> list[str]:
        rng = self.rng
        if person.state_hint == "DISABLED" and person.email is None and person.order_scale == 0.0:
            return []  # guest checkouts carry no tags
        tags = set()
        roll = rng.random()
        n = 0 if roll < 0.45 else (1 if roll < 0.75 else (2 if roll < 0.92 else between(rng, 3, 6)))
        for _ in range(n):
            tags.add(weighted(rng, TAGS))
        if order_count >= 10:
            tags.add("vip")
        if email_object and email_object["marketingState"] == "SUBSCRIBED" and rng.random() < 0.3:
            tags.add("newsletter")
        return sorted(tags)

    def _note(self, person: Person) -> str:
        rng = self.rng
        if rng.random() >= 0.08:
            return ""
        notes = NOTES.get(person.language[:2], NOTES["en"])
        return pick(rng, notes)

    def _merge_blockers(self) -> dict:
        rng = self.rng
        blockers = {
            "giftCards": 0,
            "storeCreditAccounts": 0,
            "subscriptionContracts": 0,
            "companyContact": False,
            "paymentMethods": 0,
            "multipassIdentifier": None,
            "pendingDataRequest": False,
            "redacted": False,
        }
        if rng.random() >= 0.06:
            return blockers
        pick = rng.random()
        if pick < 0.25:
            blockers["giftCards"] = between(rng, 1, 3)
        elif pick < 0.35:
            blockers["storeCreditAccounts"] = 1
        elif pick < 0.55:
            blockers["subscriptionContracts"] = between(rng, 1, 2)
            blockers["paymentMethods"] = 1
        elif pick < 0.62:
            blockers["companyContact"] = True
        elif pick < 0.92:
            blockers["paymentMethods"] = between(rng, 1, 2)
        elif pick < 0.98:
            blockers["multipassIdentifier"] = f"mp-{rng.getrandbits(48):012x}"
        else:
            blockers["pendingDataRequest"] = True
        return blockers
