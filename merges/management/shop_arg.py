"""The `<shop>` argument of the merges commands: a myshopify domain or an id."""

from django.core.management.base import CommandError

from tenants.models import Shop


def shop_from_arg(value: str) -> Shop:
    found = Shop.objects.filter(domain=value).first()
    if found is None and value.isdigit():
        found = Shop.objects.filter(pk=int(value)).first()
    if found is None:
        raise CommandError(f"no shop with domain or id {value!r}")
    return found
