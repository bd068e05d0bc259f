"""The reseller staff's own ways of renewing a line, as the admin's line page offers them: against
cash or a bank transfer received, or by sending the customer a link to pay online. Each calls
the admin's service with the caller as actor (SIM swaps and moves: ``api.correction_views``).

Partners are refused (403 ``staff_only``): they renew from their prepaid wallet
(``POST /renewals/``)."""

from decimal import Decimal

from django.shortcuts import get_object_or_404
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_view
from rest_framework import serializers, status
from rest_framework.response import Response

from accounts.models import SimLine
from api import schema
from api import serializers as s
from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.idempotency import idempotent
from api.permissions import Access
from api.renewals import staff_renewal_key
from api.views import ApiView
from payments.checkout import line_payment_link_create
from payments.links import pay_url
from payments.manual import line_renew_with_manual_payment
from payments.models import PaymentMethod
from plans.models import Plan
from reseller.errors import DomainError

# --- What callers send and get ----------------------------------------------------------------


class _LinePlanInput(serializers.Serializer):
    plan = serializers.SlugField(help_text=_("The plan's code."))
    currency = serializers.CharField(
        required=False, min_length=3, max_length=3, help_text=_("ISO 4217 code; default: the customer's.")
    )


class OfflineRenewalInput(_LinePlanInput):
    method = serializers.ChoiceField(choices=[PaymentMethod.CASH, PaymentMethod.BANK_TRANSFER])
    amount = serializers.DecimalField(
        max_digits=15,
        decimal_places=3,
        min_value=Decimal("0"),
        coerce_to_string=True,
        help_text=_("What was received, as a decimal string (“19.90”): it must be the plan's price."),
    )
    reference = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=100,
        default="",
        help_text=_("Bank transfer reference, or the number of the cash receipt you gave."),
    )


class PaymentLinkInput(_LinePlanInput):
    method = serializers.ChoiceField(
        choices=[PaymentMethod.CARD, PaymentMethod.ALIPAY, PaymentMethod.WECHAT_PAY],
        help_text=_("How the customer will pay: card (with Apple Pay and Google Pay), Alipay or WeChat Pay."),
    )


class PaymentLinkSerializer(serializers.Serializer):
    url = serializers.URLField(help_text=_("The page where the customer pays; send it to them."))
    payment = s.PaymentSerializer()


# --- Their description in the schema ----------------------------------------------------------

_LINE_PATH = "/api/v1/lines/311/"


def _operation(request_serializer, request_example, serializer, example, path, summary, operation_id):
    return extend_schema_view(
        post=schema._create(
            request_serializer, request_example, serializer, example, path, summary, operation_id, 404
        )
    )


_OFFLINE_RENEWAL = {
    "plan": "eu-30d-20gb",
    "currency": "EUR",
    "method": "bank_transfer",
    "amount": "19.90",
    "reference": "VIR-2026-11-0042",
}
_PAYMENT_LINK = {
    "url": "https://back-office.example/payments/pay/Nzc4MQ:1vC8xY:abc/",
    "payment": {**schema.PAYMENT, "status": "pending", "receipt_number": "", "paid_at": None},
}


# --- The endpoints ----------------------------------------------------------------------------


class _StaffLineOperation(ApiView):
    input_class: type[serializers.Serializer]

    def line(self, pk: int) -> SimLine:
        return get_object_or_404(SimLine.objects.select_related("customer"), pk=pk)

    def data(self) -> dict:
        serializer = self.input_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def plan(self, code: str) -> Plan:
        plan = Plan.objects.filter(code=code).first()
        if plan is None:
            raise DomainError(_("There is no plan with this code."), code="unknown_plan")
        return plan

    def renewal_key(self) -> str:
        return staff_renewal_key(self.caller, self.request.headers[IDEMPOTENCY_HEADER])


@_operation(
    OfflineRenewalInput,
    _OFFLINE_RENEWAL,
    s.PaymentSerializer,
    {**schema.PAYMENT, "method": "bank_transfer"},
    f"{_LINE_PATH}offline-renewals/",
    "Renew a line against cash or a bank transfer received (staff: Billing, Manager)",
    "lines_offline_renewals_create",
)
class LineOfflineRenewal(_StaffLineOperation):
    access = {"POST": Access("write", "payments.add_payment", staff_only=True)}
    input_class = OfflineRenewalInput

    @idempotent
    def post(self, request, pk):
        line = self.line(pk)
        data = self.data()
        payment = line_renew_with_manual_payment(
            line=line,
            plan=self.plan(data["plan"]),
            currency=data.get("currency", line.customer.currency).upper(),
            method=data["method"],
            amount=data["amount"],
            reference=data["reference"],
            idempotency_key=self.renewal_key(),
            actor=self.caller.actor,
        )
        return Response(s.PaymentSerializer(payment).data, status=status.HTTP_201_CREATED)


@_operation(
    PaymentLinkInput,
    {"plan": "eu-30d-20gb", "currency": "EUR", "method": "alipay"},
    PaymentLinkSerializer,
    _PAYMENT_LINK,
    f"{_LINE_PATH}payment-links/",
    "Renew a line by sending the customer a link to pay online (staff: Billing, Manager)",
    "lines_payment_links_create",
)
class LinePaymentLink(_StaffLineOperation):
    access = {"POST": Access("write", "payments.add_payment", staff_only=True)}
    input_class = PaymentLinkInput

    @idempotent
    def post(self, request, pk):
        line = self.line(pk)
        data = self.data()
        checkout = line_payment_link_create(
            line=line,
            plan=self.plan(data["plan"]),
            currency=data.get("currency", line.customer.currency).upper(),
            method=data["method"],
            idempotency_key=self.renewal_key(),
            actor=self.caller.actor,
        )
        body = {
            "url": request.build_absolute_uri(pay_url(checkout.payment)),
            "payment": s.PaymentSerializer(checkout.payment).data,
        }
        return Response(body, status=status.HTTP_201_CREATED)
