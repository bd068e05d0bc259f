"""The boundary with the mobile network: activate a paid period, suspend, resume, ask status.

Real carriers are reached through an implementation of ``Carrier`` named by the setting
CARRIER_BACKEND; development and tests use ``carrier.sandbox.SandboxCarrier``. Every call
carries our own ``reference`` (one per renewal) so that a retried activation is recognised
by the carrier and never grants twice."""

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string


class CarrierError(Exception):
    """The carrier refused or did not answer; the operation may be retried."""


@dataclass(frozen=True)
class Activation:
    carrier_reference: str
    iccid: str
    plan_code: str
    # None for a plan that starts at first use: the network starts it on first attach.
    period_start: datetime | None
    period_end: datetime | None


@dataclass(frozen=True)
class EsimProfile:
    """An eSIM profile the carrier set aside for us: the ICCID it will have and the activation
    code (``LPA:1$<SM-DP+ address>$<matching id>``) a phone downloads it with."""

    carrier_reference: str
    iccid: str
    activation_code: str


class Carrier(Protocol):
    def esim_order(self, *, reference: str) -> EsimProfile:
        """Reserve a new eSIM profile. The same ``reference`` again returns the same profile,
        so a retried order never takes two."""
        ...

    def activate(
        self,
        *,
        iccid: str,
        plan_code: str,
        period_start: datetime | None,
        period_end: datetime | None,
        reference: str,
    ) -> Activation: ...

    def suspend(self, *, iccid: str, reference: str) -> None: ...

    def resume(self, *, iccid: str, reference: str) -> None: ...

    def status(self, *, iccid: str) -> list[Activation]: ...


def get_carrier() -> Carrier:
    return import_string(settings.CARRIER_BACKEND)()
