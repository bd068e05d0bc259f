from django.db import migrations


def sync_roles(apps, schema_editor):
    from accounts.roles import sync_roles

    sync_roles(apps)


class Migration(migrations.Migration):
    """Billing and Managers see partners' prepaid wallets and their ledgers."""

    dependencies = [
        ("accounts", "0011_customer_legal_name_contact_verification"),
        ("payments", "0008_partner_wallet"),
    ]

    operations = [migrations.RunPython(sync_roles, migrations.RunPython.noop)]
