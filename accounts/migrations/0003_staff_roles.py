"""Create the Support, Billing and Manager groups with their permissions (accounts/roles.py)."""

from django.db import migrations


def create_roles(apps, schema_editor):
    from accounts.roles import sync_roles

    sync_roles(apps)


def remove_roles(apps, schema_editor):
    apps.get_model("auth", "Group").objects.filter(name__in=["Support", "Billing", "Manager"]).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("accounts", "0002_initial"),
        ("plans", "0001_initial"),
        ("payments", "0001_initial"),
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
    ]

    operations = [migrations.RunPython(create_roles, remove_roles)]
