"""Default schedule of the webhook sweep (editable in the admin): it sends the deliveries that
are due, so a lost task or a broker outage delays a webhook by a minute, never loses it."""

from django.db import migrations

from reseller.scheduling import schedule_add, schedule_remove

# (name, task, every N minutes)
SCHEDULE = [("Send webhooks that are due", "webhooks.tasks.sweep_webhook_deliveries", 1)]


def create(apps, schema_editor):
    schedule_add(apps, SCHEDULE)


def remove(apps, schema_editor):
    schedule_remove(apps, SCHEDULE)


class Migration(migrations.Migration):
    dependencies = [
        ("webhooks", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
