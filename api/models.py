"""The partner API's own records: API keys (partner keys and staff tokens), the networks a
partner may call from, and the stored answers that make POSTs idempotent."""

import ipaddress

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy

from reseller.fields import choices_check


class ApiScope(models.TextChoices):
    READ = "read", _("Read")
    WRITE = "write", _("Write (customers, renewals)")
    REFUND = "refund", _("Refund")


class ApiKey(models.Model):
    """A secret that identifies a caller: a partner (partner key) or a staff user (staff
    token, acting with that user's role). Only the SHA-256 of the key is stored; the key is
    shown once, when it is issued. ``prefix`` is the visible part that names the key."""

    name = models.CharField(
        _("name"), max_length=100, help_text=_("What the key is for, e.g. “booking site”.")
    )
    partner = models.ForeignKey(
        "accounts.Partner",
        verbose_name=_("partner"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_keys",
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("staff user"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="api_tokens",
    )
    prefix = models.CharField(_("prefix"), max_length=24, unique=True, editable=False)
    secret_sha256 = models.CharField(_("SHA-256 of the key"), max_length=64, editable=False)
    scope_read = models.BooleanField(_("read"), default=True)
    scope_write = models.BooleanField(_("write"), default=False)
    scope_refund = models.BooleanField(_("refund"), default=False)
    #: Requests per minute; empty: API_RATE_LIMIT_PER_MINUTE.
    rate_limit_per_minute = models.PositiveIntegerField(_("requests per minute"), null=True, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, editable=False)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("created by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )
    last_used_at = models.DateTimeField(_("last used"), null=True, blank=True, editable=False)
    revoked_at = models.DateTimeField(_("revoked"), null=True, blank=True, editable=False)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        verbose_name=_("revoked by"),
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        editable=False,
    )

    class Meta:
        verbose_name = _("API key")
        verbose_name_plural = _("API keys")
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(partner__isnull=False, user__isnull=True)
                | Q(partner__isnull=True, user__isnull=False),
                name="apikey_partner_xor_user",
                violation_error_message=_("A key belongs either to a partner or to a staff user."),
            ),
            models.CheckConstraint(
                condition=Q(scope_read=True) | Q(scope_write=True) | Q(scope_refund=True),
                name="apikey_has_scope",
                violation_error_message=_("Give the key at least one scope."),
            ),
        ]

    def __str__(self):
        return f"{self.prefix}… ({self.name})"

    @property
    def scopes(self) -> frozenset[str]:
        return frozenset(
            scope
            for scope, granted in (
                (ApiScope.READ, self.scope_read),
                (ApiScope.WRITE, self.scope_write),
                (ApiScope.REFUND, self.scope_refund),
            )
            if granted
        )

    @property
    def is_revoked(self) -> bool:
        return self.revoked_at is not None


def validate_network(value: str) -> None:
    try:
        ipaddress.ip_network(value, strict=False)
    except ValueError as exc:
        raise ValidationError(
            _("%(value)s is not an IP address or network (203.0.113.7, 203.0.113.0/24, 2001:db8::/32)."),
            code="network",
            params={"value": value},
        ) from exc


class PartnerNetwork(models.Model):
    """An address or network a partner's keys may call from. A partner without any may call
    from anywhere; with some, from those only."""

    partner = models.ForeignKey(
        "accounts.Partner", verbose_name=_("partner"), on_delete=models.CASCADE, related_name="api_networks"
    )
    network = models.CharField(_("address or network"), max_length=49, validators=[validate_network])
    comment = models.CharField(_("comment"), max_length=200, blank=True)

    class Meta:
        verbose_name = _("allowed network")
        verbose_name_plural = _("allowed networks")
        ordering = ["partner", "network"]
        constraints = [
            models.UniqueConstraint(fields=["partner", "network"], name="partner_network_unique"),
        ]

    def __str__(self):
        return self.network

    def save(self, *args, **kwargs):
        # Stored normalised (203.0.113.7/24 → 203.0.113.0/24), so the unique constraint works.
        self.network = str(ipaddress.ip_network(self.network, strict=False))
        super().save(*args, **kwargs)


class IdempotencyState(models.TextChoices):
    IN_PROGRESS = "in_progress", _("In progress")
    COMPLETED = "completed", _("Completed")


class IdempotencyRecord(models.Model):
    """The first answer to a POST with an ``Idempotency-Key``, per caller: the same key with
    the same request gets this answer again, with another request a 422; while the first is
    still running, a 409. Kept at least API_IDEMPOTENCY_RETENTION_HOURS."""

    State = IdempotencyState

    #: The caller: "partner:<id>" or "staff:<user id>" (all keys of a partner share answers).
    scope = models.CharField(_("caller"), max_length=64)
    key = models.CharField(_("idempotency key"), max_length=255)
    #: SHA-256 of the method, path and (canonical JSON) body.
    fingerprint = models.CharField(_("request fingerprint"), max_length=64)
    method = models.CharField(pgettext_lazy("HTTP request", "method"), max_length=8)
    path = models.CharField(_("path"), max_length=300)
    state = models.CharField(_("state"), max_length=12, choices=State.choices, default=State.IN_PROGRESS)
    response_status = models.PositiveSmallIntegerField(_("response status"), null=True, blank=True)
    #: JSON text, not a JSON column: an error may quote a NUL character, which jsonb refuses.
    response_body = models.TextField(_("response body"), blank=True, default="")
    response_headers = models.JSONField(_("response headers"), default=dict, blank=True)
    created_at = models.DateTimeField(_("created"), default=timezone.now, db_index=True)
    completed_at = models.DateTimeField(_("completed"), null=True, blank=True)

    class Meta:
        verbose_name = _("idempotency record")
        verbose_name_plural = _("idempotency records")
        constraints = [
            models.UniqueConstraint(fields=["scope", "key"], name="idempotency_scope_key_unique"),
            choices_check("state", IdempotencyState, "idempotency_state_valid"),
            models.CheckConstraint(
                condition=Q(state="in_progress")
                | Q(response_status__isnull=False, completed_at__isnull=False),
                name="idempotency_completed_has_response",
            ),
        ]

    def __str__(self):
        return f"{self.scope} {self.key}"
