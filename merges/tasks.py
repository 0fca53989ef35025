"""django-q2 tasks: take ids, call services."""

from django_q.tasks import async_task


def duplicates_check_enqueue(*, shop_id: int, customer_ids: list[int] | None, reason: str) -> None:
    async_task("merges.tasks.duplicates_check_task", shop_id, customer_ids, reason, group="merges")


def duplicates_check_task(shop_id: int, customer_ids: list[int] | None, reason: str) -> str:
    from merges.incremental import duplicates_mirror_changed
    from tenants.models import Shop

    if not Shop.objects.filter(pk=shop_id, status=Shop.Status.INSTALLED).exists():
        return "skipped: shop not installed"
    return duplicates_mirror_changed(shop_id=shop_id, customer_ids=customer_ids, reason=reason)


def mirror_changed(*, shop_id: int, customer_ids=None, reason: str = "", changed=None, **_) -> None:
    """customers.hooks.on_mirror_changed: the mirror committed a change; check it for duplicates
    unless only fields matching ignores changed (consent, tags, orders whose products stayed)."""
    from merges.incremental import duplicates_check_needed

    if duplicates_check_needed(changed=changed):
        duplicates_check_enqueue(shop_id=shop_id, customer_ids=customer_ids, reason=reason)
