"""Default schedule of the payment jobs (the webhook sweep, the nightly reconciliation) and the
roles' new permissions on disputes, saved payment methods and reconciliation runs."""

from django.db import migrations

from reseller.scheduling import schedule_add, schedule_remove

# (name, task, every N minutes)
SCHEDULE = [
    ("Process lost Stripe events", "payments.tasks.sweep_provider_events", 5),
    ("Reconcile with Stripe", "payments.tasks.reconcile_with_stripe", 24 * 60),
]


def create(apps, schema_editor):
    from accounts.roles import sync_roles

    schedule_add(apps, SCHEDULE)
    sync_roles(apps)


def remove(apps, schema_editor):
    schedule_remove(apps, SCHEDULE)


class Migration(migrations.Migration):
    dependencies = [
        ("payments", "0002_stripe_payments"),
        ("accounts", "0007_correction_reason_refund"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
