"""Default schedule of the periodic jobs, stored in django-celery-beat's tables so a Manager
can change it in the admin. Existing rows are left as staff set them."""

from django.db import migrations

from reseller.scheduling import schedule_add, schedule_remove

# (name, task, every N minutes)
SCHEDULE = [
    ("Activation sweep (retry paid renewals not active)", "plans.tasks.sweep_activations", 5),
    ("Line expiry", "plans.tasks.expire_lines", 5),
]


def create(apps, schema_editor):
    schedule_add(apps, SCHEDULE)


def remove(apps, schema_editor):
    schedule_remove(apps, SCHEDULE)


class Migration(migrations.Migration):
    dependencies = [("django_celery_beat", "0019_alter_periodictasks_options")]

    operations = [migrations.RunPython(create, remove)]
