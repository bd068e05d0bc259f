"""State of the sandbox carrier, kept in the database so that every process (web, several
Celery workers, tests) sees the same network and the same injected faults."""

from django.db import models
from django.utils.translation import gettext_lazy as _


class SandboxActivation(models.Model):
    """What the sandbox network has activated; unique per our reference (idempotent)."""

    reference = models.CharField(max_length=100, unique=True)
    carrier_reference = models.CharField(max_length=100, unique=True)
    iccid = models.CharField(max_length=20, db_index=True)
    plan_code = models.CharField(max_length=50)
    period_start = models.DateTimeField(null=True)  # None: starts at first use
    period_end = models.DateTimeField(null=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("sandbox activation")
        verbose_name_plural = _("sandbox activations")

    def __str__(self):
        return self.reference


class SandboxEsimProfile(models.Model):
    """An eSIM profile the sandbox network has reserved, once per our reference (idempotent).
    ``iccid`` is made from the row's id, so each profile has its own, with a valid Luhn digit."""

    reference = models.CharField(max_length=100, unique=True)
    # NULL between the insert and the update that sets it from the id ("" would not be unique).
    iccid = models.CharField(max_length=20, unique=True, null=True)  # noqa: DJ001
    matching_id = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("sandbox eSIM profile")
        verbose_name_plural = _("sandbox eSIM profiles")

    def __str__(self):
        return self.iccid or self.reference


class SandboxFault(models.Model):
    """Make the sandbox fail the next ``remaining`` calls of an operation (for one ICCID, or
    for all when blank), or answer slowly; deterministic, for tests and demos."""

    operation = models.CharField(max_length=20, default="activate")
    iccid = models.CharField(max_length=20, blank=True)
    remaining = models.PositiveIntegerField(default=1)
    latency_ms = models.PositiveIntegerField(default=0)
    error = models.CharField(max_length=200, default="network timeout")

    class Meta:
        verbose_name = _("sandbox fault")
        verbose_name_plural = _("sandbox faults")

    def __str__(self):
        return f"{self.operation} ×{self.remaining}"


class ActivationAttempt(models.Model):
    """One try at activating a renewal's period on the network: kept for every try, so staff
    can answer "why is my plan not active yet"."""

    renewal = models.ForeignKey(
        "plans.Renewal",
        verbose_name=_("renewal"),
        on_delete=models.PROTECT,
        related_name="activation_attempts_log",
    )
    number = models.PositiveSmallIntegerField(_("attempt"))
    started_at = models.DateTimeField(_("started"))
    finished_at = models.DateTimeField(_("finished"), null=True, blank=True)
    succeeded = models.BooleanField(_("succeeded"), null=True)
    error = models.TextField(_("error"), blank=True)
    carrier_reference = models.CharField(_("carrier reference"), max_length=100, blank=True)

    class Meta:
        verbose_name = _("activation attempt")
        verbose_name_plural = _("activation attempts")
        ordering = ["renewal", "number"]
        constraints = [
            models.UniqueConstraint(fields=["renewal", "number"], name="activation_attempt_number_unique"),
        ]

    def __str__(self):
        return f"#{self.number} {self.renewal_id}"
