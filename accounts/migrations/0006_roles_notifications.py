"""Every role may read the notifications sent to customers and the carrier activation attempts;
Managers may resend failed messages and edit the periodic-task schedule (accounts/roles.py)."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from accounts.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0005_roles_usage_import"),
        ("notifications", "0001_initial"),
        ("carrier", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
