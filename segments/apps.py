from django.apps import AppConfig
from django.db.models.signals import post_migrate


class SegmentsConfig(AppConfig):
    name = "segments"

    def ready(self) -> None:
        from customers import hooks
        from segments import audiences, customer_detail, signals, tasks

        hooks.on_mirror_changed(signals.mirror_changed)
        hooks.customer_exporter(signals.customer_export)
        hooks.customer_detail_section(customer_detail.customer_detail)
        hooks.customer_audience("segment", audiences.segment_members)
        post_migrate.connect(tasks.schedules_ensure, sender=self)
