"""The scheduled delta sync that heals missed webhooks (every 15 minutes)."""

from django.db import migrations

NAME = "customers: delta sync of every installed shop"


def create(apps, schema_editor):
    Schedule = apps.get_model("django_q", "Schedule")
    Schedule.objects.get_or_create(
        name=NAME,
        defaults={
            "func": "customers.tasks.delta_sync_all_shops",
            "schedule_type": "I",
            "minutes": 15,
            "repeats": -1,
        },
    )


def drop(apps, schema_editor):
    apps.get_model("django_q", "Schedule").objects.filter(name=NAME).delete()


class Migration(migrations.Migration):
    dependencies = [("customers", "0003_order_is_test"), ("django_q", "0018_task_success_index")]
    operations = [migrations.RunPython(create, drop)]
