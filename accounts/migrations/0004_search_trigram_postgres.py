"""On PostgreSQL, a trigram index for staff searches by part of a name (Django's icontains is
UPPER(full_name::text) LIKE UPPER('%…%'), which no b-tree can serve). Other databases skip it.
pg_trgm ships with PostgreSQL; creating it needs a role allowed to CREATE EXTENSION (or create
it once by hand as a superuser)."""

from django.db import migrations


def create(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    schema_editor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
    schema_editor.execute(
        "CREATE INDEX IF NOT EXISTS customer_name_trgm_idx ON accounts_customer "
        "USING gin ((UPPER(full_name::text)) gin_trgm_ops)"
    )


def drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS customer_name_trgm_idx")


class Migration(migrations.Migration):
    dependencies = [("accounts", "0003_staff_roles")]

    operations = [migrations.RunPython(create, drop)]
