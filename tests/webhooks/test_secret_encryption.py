"""Webhook signing secrets are encrypted at rest: the database never holds one in clear, a
delivery is still signed with the secret the Manager was shown, keys rotate without losing a
secret, an altered ciphertext stops the delivery instead of sending it unsigned, and
production refuses to run its checks without a key of its own."""

import importlib
from io import StringIO

import pytest
from cryptography.fernet import Fernet
from django.apps import apps as django_apps
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from reseller.actors import Actor
from reseller.encryption import SecretUnreadable, key_from_secret_key
from tests.reseller.test_settings_profiles import settings_in
from tests.webhooks.conftest import an_endpoint
from tests.webhooks.test_delivery import an_event, documented_verify
from webhooks.checks import field_encryption_keys_set, field_encryption_keys_valid
from webhooks.delivery import webhook_delivery_attempt
from webhooks.endpoints import webhook_endpoint_rotate_secret
from webhooks.models import WebhookDelivery, WebhookEndpoint

pytestmark = pytest.mark.django_db

OLD_KEY = Fernet.generate_key().decode()
NEW_KEY = Fernet.generate_key().decode()


def stored_row(endpoint) -> list[str]:
    """Every column of the endpoint's row, as the database holds it (a dump would show this)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT * FROM webhooks_webhookendpoint WHERE id = %s", [endpoint.pk])
        return [str(value) for value in cursor.fetchone()]


def stored_token(endpoint) -> str:
    return WebhookEndpoint.objects.values_list("secret_encrypted", flat=True).get(pk=endpoint.pk)


def test_the_database_never_holds_the_secret_in_clear_neither_at_creation_nor_after_rotation(
    partner_a, partner_server
):
    issued = an_endpoint(partner_a, partner_server.url)
    assert issued.secret.startswith("whsec_")
    assert not any(issued.secret in column for column in stored_row(issued.endpoint))

    rotated = webhook_endpoint_rotate_secret(
        endpoint=issued.endpoint, actor=Actor.system("tests"), reason="partner leaked it"
    )
    assert rotated.secret != issued.secret
    row = stored_row(issued.endpoint)
    assert not any(secret in column for column in row for secret in (issued.secret, rotated.secret))
    assert WebhookEndpoint.objects.get().secret == rotated.secret


def test_a_delivery_is_signed_with_the_secret_shown_at_creation(
    partner_a, partner_server, django_capture_on_commit_callbacks
):
    shown = an_endpoint(partner_a, partner_server.url).secret
    with django_capture_on_commit_callbacks(execute=True):
        an_event(partner_a)

    [request] = partner_server.received
    assert documented_verify()(request.body, request.headers["Reseller-Signature"], shown) is True
    assert WebhookDelivery.objects.get().status == "delivered"


def test_after_a_new_key_is_put_first_an_old_secret_still_decrypts_and_reencryption_moves_it(
    partner_a, partner_server
):
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]):
        issued = an_endpoint(partner_a, partner_server.url)
    written_under_old = stored_token(issued.endpoint)

    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, OLD_KEY]):
        assert WebhookEndpoint.objects.get().secret == issued.secret
        out = StringIO()
        call_command("webhook_secrets_reencrypt", stdout=out)
        assert out.getvalue().strip() == "1 secret(s) re-encrypted under the current key, 0 already were."
        out = StringIO()
        call_command("webhook_secrets_reencrypt", stdout=out)  # again: nothing left to move
        assert out.getvalue().strip() == "0 secret(s) re-encrypted under the current key, 1 already were."

    assert stored_token(issued.endpoint) != written_under_old
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY]):  # the old key removed
        assert WebhookEndpoint.objects.get().secret == issued.secret
    with override_settings(FIELD_ENCRYPTION_KEYS=[OLD_KEY]), pytest.raises(SecretUnreadable):
        WebhookEndpoint.objects.get().secret  # noqa: B018 — reading is what raises


def test_a_tampered_ciphertext_stops_the_delivery_instead_of_sending_it_unsigned(
    partner_a, partner_server, django_capture_on_commit_callbacks
):
    endpoint = an_endpoint(partner_a, partner_server.url).endpoint
    token = stored_token(endpoint)
    middle = len(token) // 2
    altered = token[:middle] + ("A" if token[middle] != "A" else "B") + token[middle + 1 :]
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted=altered)

    with pytest.raises(SecretUnreadable):
        WebhookEndpoint.objects.get().secret  # noqa: B018 — reading is what raises

    with django_capture_on_commit_callbacks(execute=True):
        an_event(partner_a)
    assert partner_server.received == []
    delivery = WebhookDelivery.objects.get()
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == ("pending", 1, None)
    assert delivery.next_attempt_at is not None  # retried on schedule, once the key is back
    [attempt] = delivery.attempt_log.all()
    assert attempt.succeeded is False
    assert attempt.error == "The signing secret cannot be decrypted; nothing was sent."
    assert webhook_delivery_attempt(delivery_id=delivery.pk) == "skipped"  # not due yet
    assert partner_server.received == []


def test_the_migration_encrypts_existing_secrets_and_its_reverse_decrypts_them(partner_a, partner_server):
    migration = importlib.import_module("webhooks.migrations.0003_secret_encrypted")
    endpoint = an_endpoint(partner_a, partner_server.url).endpoint
    # A row as it was before the migration: the secret in clear.
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret_encrypted="whsec_written_in_clear")

    migration.encrypt_secrets(django_apps, None)
    assert "whsec_written_in_clear" not in stored_token(endpoint)
    assert WebhookEndpoint.objects.get().secret == "whsec_written_in_clear"

    migration.decrypt_secrets(django_apps, None)
    assert stored_token(endpoint) == "whsec_written_in_clear"


def test_production_without_a_key_fails_the_deploy_check_and_passes_with_one():
    with override_settings(PRODUCTION=True, FIELD_ENCRYPTION_KEYS=[]):
        [error] = field_encryption_keys_set(None)
    assert (error.id, error.is_serious()) == ("webhooks.E002", True)
    with override_settings(PRODUCTION=True, FIELD_ENCRYPTION_KEYS=[NEW_KEY]):
        assert field_encryption_keys_set(None) == []
        assert field_encryption_keys_valid(None) == []


def test_a_key_that_is_not_a_fernet_key_is_refused_in_every_profile():
    with override_settings(FIELD_ENCRYPTION_KEYS=[NEW_KEY, "my-password"]):
        [error] = field_encryption_keys_valid(None)
    assert error.id == "webhooks.E001"
    assert "key number 2" in error.msg


def test_outside_production_the_key_is_derived_from_secret_key_and_production_has_none_of_its_own():
    secret_key = "dev-" + "x" * 60
    development = settings_in(
        {"DJANGO_SECRET_KEY": secret_key, "FIELD_ENCRYPTION_KEYS": ""}, "s.FIELD_ENCRYPTION_KEYS"
    )
    assert development.stdout.strip() == str([key_from_secret_key(secret_key)]), development.stderr
    production = settings_in(
        {"DJANGO_ENV": "production", "DJANGO_SECRET_KEY": secret_key, "FIELD_ENCRYPTION_KEYS": ""},
        "s.FIELD_ENCRYPTION_KEYS",
    )
    assert production.stdout.strip() == "[]", production.stderr
    rotated = settings_in(
        {
            "DJANGO_ENV": "production",
            "DJANGO_SECRET_KEY": secret_key,
            "FIELD_ENCRYPTION_KEYS": f"{NEW_KEY}, {OLD_KEY}",
        },
        "s.FIELD_ENCRYPTION_KEYS",
    )
    assert rotated.stdout.strip() == str([NEW_KEY, OLD_KEY]), rotated.stderr
