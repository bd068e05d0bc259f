"""Default schedule of the notification jobs, in django-celery-beat's tables like the others
(reseller/migrations/0001_periodic_tasks.py). Existing rows are left as staff set them."""

from django.db import migrations

from reseller.scheduling import schedule_add, schedule_remove

# (name, task, every N minutes)
SCHEDULE = [
    ("Expiry reminders", "notifications.tasks.send_expiry_reminders", 15),
    ("Low-data warnings", "notifications.tasks.send_low_data_warnings", 30),
    ("Resend failed notifications", "notifications.tasks.resend_failed_notifications", 5),
]


def create(apps, schema_editor):
    schedule_add(apps, SCHEDULE)


def remove(apps, schema_editor):
    schedule_remove(apps, SCHEDULE)


class Migration(migrations.Migration):
    dependencies = [
        ("notifications", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(create, remove)]
