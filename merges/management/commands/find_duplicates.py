from django.core.management.base import BaseCommand

from merges.management.shop_arg import shop_from_arg
from merges.services import duplicates_find


class Command(BaseCommand):
    help = "Scan one shop for duplicate customers and refresh its open candidates."

    def add_arguments(self, parser):
        parser.add_argument("shop", help="the shop's myshopify domain or id")
        parser.add_argument(
            "--full", action="store_true", help="rebuild the blocking keys first (else reuse them)"
        )

    def handle(self, *args, shop: str, full: bool, **options):
        found = shop_from_arg(shop)
        result = duplicates_find(
            shop_id=found.pk, full=full, progress=lambda message: self.stdout.write(f"  {message}")
        )
        self.stdout.write(
            f"{found.domain}: {result.customers} customers, {result.pairs} pairs compared,"
            f" {result.candidates} open candidates in {result.seconds:.1f} s"
            f" ({result.customers_per_second:,.0f} customers/s)"
        )
