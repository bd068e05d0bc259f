"""A carrier for development and tests: activations are stored in the database, faults and
latency are injected with SandboxFault rows (see ``sandbox_fail_next``)."""

import time
import uuid
from datetime import datetime

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Q

from accounts.identifiers import make_activation_code, make_iccid
from carrier.base import Activation, CarrierError, EsimProfile
from carrier.models import SandboxActivation, SandboxEsimProfile, SandboxFault

#: 89 (telecom), 33 (France), 99: the sandbox's own issuer number, apart from demo SIMs (893320).
SANDBOX_ICCID_PREFIX = "893399"
SANDBOX_SMDP_ADDRESS = "smdp.sandbox-carrier.example"


def sandbox_fail_next(
    operation: str = "activate", *, times: int = 1, iccid: str = "", latency_ms: int = 0, error: str = ""
) -> SandboxFault:
    return SandboxFault.objects.create(
        operation=operation,
        iccid=iccid,
        remaining=times,
        latency_ms=latency_ms,
        error=error or "network timeout",
    )


class SandboxCarrier:
    def _maybe_fail(self, operation: str, iccid: str) -> None:
        latency = settings.CARRIER_SANDBOX_LATENCY_MS
        with transaction.atomic():
            fault = (
                SandboxFault.objects.select_for_update(no_key=True)
                .filter(Q(iccid="") | Q(iccid=iccid), operation=operation, remaining__gt=0)
                .order_by("id")
                .first()
            )
            if fault is not None:
                SandboxFault.objects.filter(pk=fault.pk).update(remaining=fault.remaining - 1)
        if fault is not None and fault.latency_ms:
            latency = fault.latency_ms
        if latency:
            time.sleep(latency / 1000)
        if fault is not None and fault.error:
            raise CarrierError(fault.error)

    def activate(
        self,
        *,
        iccid: str,
        plan_code: str,
        period_start: datetime | None,
        period_end: datetime | None,
        reference: str,
    ) -> Activation:
        self._maybe_fail("activate", iccid)
        try:
            with transaction.atomic():
                row, _ = SandboxActivation.objects.get_or_create(
                    reference=reference,
                    defaults={
                        "carrier_reference": f"SBX-{uuid.uuid4().hex[:12].upper()}",
                        "iccid": iccid,
                        "plan_code": plan_code,
                        "period_start": period_start,
                        "period_end": period_end,
                    },
                )
        except IntegrityError:  # the same reference activated at the same moment elsewhere
            row = SandboxActivation.objects.get(reference=reference)
        return _activation(row)

    def esim_order(self, *, reference: str) -> EsimProfile:
        self._maybe_fail("esim_order", "")
        try:
            with transaction.atomic():
                row, created = SandboxEsimProfile.objects.get_or_create(
                    reference=reference, defaults={"matching_id": f"SBX-{uuid.uuid4().hex.upper()}"}
                )
                if created:
                    row.iccid = make_iccid(row.pk, prefix=SANDBOX_ICCID_PREFIX)
                    row.save(update_fields=["iccid"])
        except IntegrityError:  # the same reference ordered at the same moment elsewhere
            row = SandboxEsimProfile.objects.get(reference=reference)
        return EsimProfile(
            carrier_reference=f"SBX-ESIM-{row.pk}",
            iccid=row.iccid,
            activation_code=make_activation_code(row.matching_id, smdp=SANDBOX_SMDP_ADDRESS),
        )

    def suspend(self, *, iccid: str, reference: str) -> None:
        self._maybe_fail("suspend", iccid)

    def resume(self, *, iccid: str, reference: str) -> None:
        self._maybe_fail("resume", iccid)

    def status(self, *, iccid: str) -> list[Activation]:
        self._maybe_fail("status", iccid)
        return [
            _activation(row) for row in SandboxActivation.objects.filter(iccid=iccid).order_by("period_start")
        ]


def _activation(row: SandboxActivation) -> Activation:
    return Activation(
        carrier_reference=row.carrier_reference,
        iccid=row.iccid,
        plan_code=row.plan_code,
        period_start=row.period_start,
        period_end=row.period_end,
    )
