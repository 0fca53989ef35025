from django.core.management.base import BaseCommand, CommandError

from merges.services import duplicates_find
from tenants.models import Shop


class Command(BaseCommand):
    help = "Scan one shop for duplicate customers and refresh its open candidates."

    def add_arguments(self, parser):
        parser.add_argument("shop", help="the shop's myshopify domain or id")
        parser.add_argument(
            "--full", action="store_true", help="rebuild the blocking keys first (else reuse them)"
        )

    def handle(self, *args, shop: str, full: bool, **options):
        found = Shop.objects.filter(domain=shop).first()
        if found is None and shop.isdigit():
            found = Shop.objects.filter(pk=int(shop)).first()
        if found is None:
            raise CommandError(f"no shop with domain or id {shop!r}")
        result = duplicates_find(
            shop_id=found.pk, full=full, progress=lambda message: self.stdout.write(f"  {message}")
        )
        self.stdout.write(
            f"{found.domain}: {result.customers} customers, {result.pairs} pairs compared,"
            f" {result.candidates} open candidates"
        )
