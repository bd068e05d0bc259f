"""Default schedule of the job that cancels payment pages left open on paid renewals."""

from django.db import migrations

from reseller.scheduling import schedule_add, schedule_remove

# (name, task, every N minutes)
SCHEDULE = [
    ("Cancel payment pages left open on paid renewals", "payments.tasks.cancel_attempts_left_open", 10),
]


def create(apps, schema_editor):
    schedule_add(apps, SCHEDULE)


def remove(apps, schema_editor):
    schedule_remove(apps, SCHEDULE)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0011_payment_receipt_claim"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
