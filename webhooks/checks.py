"""Checks of the key that encrypts the webhook signing secrets (reseller/encryption.py): every
key must be a Fernet key, and production must name its own keys rather than run without any."""

from django.conf import settings
from django.core.checks import Error, Tags, register

from reseller.encryption import key_problem


@register(Tags.security)
def field_encryption_keys_valid(app_configs, **kwargs):
    return [
        Error(
            f"FIELD_ENCRYPTION_KEYS, key number {number}: {problem}.",
            hint="Make one with: python -c 'from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())'",
            id="webhooks.E001",
        )
        for number, key in enumerate(settings.FIELD_ENCRYPTION_KEYS, start=1)
        if (problem := key_problem(key))
    ]


@register(Tags.security, deploy=True)
def field_encryption_keys_set(app_configs, **kwargs):
    if settings.PRODUCTION and not settings.FIELD_ENCRYPTION_KEYS:
        return [
            Error(
                "FIELD_ENCRYPTION_KEYS is not set: webhook signing secrets cannot be stored or read.",
                hint="Set it to one Fernet key (keep it outside the database and its backups).",
                id="webhooks.E002",
            )
        ]
    return []
