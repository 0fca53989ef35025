"""django-q2 tasks: take ids, call services."""

from django_q.tasks import async_task


def duplicates_check_enqueue(*, shop_id: int, customer_ids: list[int] | None, reason: str) -> None:
    async_task("merges.tasks.duplicates_check_task", shop_id, customer_ids, reason, group="merges")


def duplicates_check_task(shop_id: int, customer_ids: list[int] | None, reason: str) -> None:
    from merges.services import duplicates_check_customers, duplicates_find
    from tenants.models import Shop

    if not Shop.objects.filter(pk=shop_id, status=Shop.Status.INSTALLED).exists():
        return
    if customer_ids is None:  # a full or delta sync: anything may have changed
        duplicates_find(shop_id=shop_id, full=True)
    else:
        duplicates_check_customers(shop_id=shop_id, customer_ids=customer_ids)


def mirror_changed(*, shop_id: int, customer_ids=None, reason: str = "", **_) -> None:
    """customers.hooks.on_mirror_changed: the mirror committed a change; check it for duplicates."""
    duplicates_check_enqueue(shop_id=shop_id, customer_ids=customer_ids, reason=reason)
