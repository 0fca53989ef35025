"""Generated stores in the mirror, for the queue's tests (real rows, no Shopify round trip)."""

from customers.models import Customer, CustomerAddress
from sandbox.generator.core import generate_customers


def load_generated(shop, *, count: int, seed: int, duplicate_rate: float = 0.1):
    """Mirror rows for a generated store (what a full sync would write), and its ground truth.

    The generator seeds on the domain too; the test shops' domains come from a counter that
    depends on how many factories ran before, so a fixed domain keeps one seed one store."""
    stream = generate_customers(
        shop_domain=f"generated-{seed}.myshopify.com",
        count=count,
        seed=seed,
        duplicate_rate=duplicate_rate,
    )
    records = list(stream)
    customers, addresses = [], {}
    for r in records:
        shopify_id = int(r["id"].rsplit("/", 1)[1])
        customers.append(
            Customer(
                shop=shop,
                shopify_id=shopify_id,
                gid=r["id"],
                first_name=r.get("firstName") or "",
                last_name=r.get("lastName") or "",
                email=(r.get("defaultEmailAddress") or {}).get("emailAddress") or "",
                phone=(r.get("defaultPhoneNumber") or {}).get("phoneNumber") or "",
                state=r.get("state") or "DISABLED",
                verified_email=bool(r.get("verifiedEmail")),
            )
        )
        default = next(
            (a for a in r.get("addresses") or () if a["id"] == r.get("defaultAddressId")), None
        )
        if default:
            addresses[shopify_id] = default
    Customer.all_shops.bulk_create(customers)
    ids = dict(Customer.all_shops.filter(shop=shop).values_list("shopify_id", "pk"))
    CustomerAddress.all_shops.bulk_create(
        [
            CustomerAddress(
                shop=shop,
                customer_id=ids[sid],
                shopify_id=int(a["id"].rsplit("/", 1)[1]),
                is_default=True,
                first_name=a.get("firstName") or "",
                last_name=a.get("lastName") or "",
                address1=a.get("address1") or "",
                city=a.get("city") or "",
                zip=a.get("zip") or "",
                country_code=a.get("countryCodeV2") or "",
                phone=a.get("phone") or "",
            )
            for sid, a in addresses.items()
        ]
    )
    return ids, stream.truth
