"""Billing and Manager may import carrier usage files; every role may read the reports
(accounts/roles.py)."""

from django.db import migrations


def sync_roles(apps, schema_editor):
    from accounts.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0004_search_trigram_postgres"),
        ("plans", "0002_usageimport"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
