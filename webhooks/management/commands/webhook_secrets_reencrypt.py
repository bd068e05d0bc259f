"""After a new key is put first in FIELD_ENCRYPTION_KEYS: encrypt every stored webhook signing
secret under it, so the old key can be removed. Safe to run again and while the site runs."""

from django.core.management.base import BaseCommand

from webhooks.endpoints import webhook_secrets_reencrypt


class Command(BaseCommand):
    help = "Re-encrypt the webhook signing secrets under the first key of FIELD_ENCRYPTION_KEYS."

    def handle(self, *args, **options):
        moved, current = webhook_secrets_reencrypt()
        self.stdout.write(f"{moved} secret(s) re-encrypted under the current key, {current} already were.")
