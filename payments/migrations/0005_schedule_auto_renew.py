"""Default schedule of auto-renew and the failed-payment follow-up jobs."""

from django.db import migrations

from reseller.scheduling import schedule_add, schedule_remove

# (name, task, every N minutes)
SCHEDULE = [
    ("Auto-renew lines", "payments.tasks.auto_renew_lines", 30),
    ("Retry failed payments", "payments.tasks.retry_failed_payments", 30),
    ("End payment follow-ups after grace", "payments.tasks.end_payment_follow_ups", 60),
]


def create(apps, schema_editor):
    schedule_add(apps, SCHEDULE)


def remove(apps, schema_editor):
    schedule_remove(apps, SCHEDULE)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0004_auto_renew"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
