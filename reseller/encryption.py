"""Secrets we must read back (a partner endpoint's webhook signing secret) are stored encrypted
with Fernet (AES-128-CBC + HMAC-SHA256, from ``cryptography``), so a database dump, a replica
or a backup does not give them away.

Keys come from FIELD_ENCRYPTION_KEYS (comma-separated Fernet keys): the first encrypts, every
one decrypts, so a key is rotated by putting a new one first, re-encrypting the stored values
(``manage.py webhook_secrets_reencrypt``), then removing the old one. Outside production the
default is one key derived from SECRET_KEY, so the embedded demo needs no configuration;
production's deploy checks refuse a missing key (webhooks/checks.py)."""

import base64
import hashlib

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured


class SecretUnreadable(Exception):
    """A stored value that no configured key decrypts: altered in the database, or written
    under a key since removed from FIELD_ENCRYPTION_KEYS. Never treated as an empty secret."""


def key_from_secret_key(secret_key: str) -> str:
    """The development/test key: SECRET_KEY hashed under a label of its own, so the key is
    stable across restarts (the dev SECRET_KEY is kept in .dev-secret-key) and is not
    SECRET_KEY itself."""
    digest = hashlib.sha256(f"reseller.field-encryption:{secret_key}".encode()).digest()
    return base64.urlsafe_b64encode(digest).decode()


def key_problem(key: str) -> str | None:
    """Why ``key`` is not a Fernet key, or None when it is."""
    try:
        Fernet(key)
    except ValueError:
        return "a Fernet key is 32 bytes in url-safe base64 (44 characters)"
    return None


def _keys() -> MultiFernet:
    keys = settings.FIELD_ENCRYPTION_KEYS
    if not keys:
        raise ImproperlyConfigured("FIELD_ENCRYPTION_KEYS is not set: stored secrets cannot be read")
    return MultiFernet([Fernet(key) for key in keys])


def encrypt(plaintext: str) -> str:
    """``plaintext`` encrypted under the first key (a different token on every call)."""
    return _keys().encrypt(plaintext.encode()).decode()


def decrypt(token: str) -> str:
    """The plaintext of a token written under any configured key; SecretUnreadable otherwise."""
    try:
        return _keys().decrypt(token.encode()).decode()
    except InvalidToken as exc:
        raise SecretUnreadable(
            "a stored secret cannot be decrypted with any key in FIELD_ENCRYPTION_KEYS "
            "(altered in the database, or its key was removed)"
        ) from exc


def is_under_current_key(token: str) -> bool:
    """Whether ``token`` was written under the first (current) key."""
    try:
        Fernet(settings.FIELD_ENCRYPTION_KEYS[0]).decrypt(token.encode())
    except InvalidToken:
        return False
    return True


def reencrypt(token: str) -> str:
    """The same plaintext encrypted under the current key (after a key rotation)."""
    return encrypt(decrypt(token))
