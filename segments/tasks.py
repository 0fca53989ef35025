"""django-q2 tasks: take ids, call a service."""

from django_q.tasks import async_task


def segment_refresh_enqueue(*, segment_id: int, reason: str) -> None:
    async_task("segments.tasks.segment_refresh_task", segment_id, reason, group="segments")


def segment_refresh_task(segment_id: int, reason: str) -> None:
    from segments.models import Segment
    from segments.services import segment_refresh

    if Segment.objects.filter(pk=segment_id).exists():  # deleted meanwhile: nothing to do
        segment_refresh(segment_id=segment_id, reason=reason)
