"""Webhook signing secrets encrypted at rest: the column is renamed and widened for a Fernet
token, and every stored secret is encrypted under the current key of FIELD_ENCRYPTION_KEYS
(reversed: decrypted back into the plain column)."""

from django.db import migrations, models

from reseller import encryption


def encrypt_secrets(apps, schema_editor):
    endpoints = apps.get_model("webhooks", "WebhookEndpoint").objects
    for pk, plaintext in endpoints.values_list("pk", "secret_encrypted"):
        endpoints.filter(pk=pk).update(secret_encrypted=encryption.encrypt(plaintext))


def decrypt_secrets(apps, schema_editor):
    endpoints = apps.get_model("webhooks", "WebhookEndpoint").objects
    for pk, token in endpoints.values_list("pk", "secret_encrypted"):
        endpoints.filter(pk=pk).update(secret_encrypted=encryption.decrypt(token))


class Migration(migrations.Migration):
    dependencies = [("webhooks", "0002_schedule_sweep")]

    operations = [
        migrations.RenameField("webhookendpoint", "secret", "secret_encrypted"),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret_encrypted",
            field=models.TextField(editable=False, verbose_name="signing secret (encrypted)"),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
    ]
