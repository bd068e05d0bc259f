"""What the failed-payment follow-up endpoints read and write."""

from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from api.serializers import MAX_ID, MoneySerializer, PaymentSerializer, money
from payments.declines import customer_message_for, decline_message
from payments.followup import NOTE_MAX_LENGTH, ContactOutcome
from payments.links import renewal_pay_url
from payments.models import FailedPaymentCase


class FailedPaymentCaseSerializer(serializers.ModelSerializer):
    line = serializers.IntegerField(source="renewal.line_id", read_only=True)
    customer = serializers.IntegerField(source="renewal.line.customer_id", read_only=True)
    amount = serializers.SerializerMethodField(help_text=_("The price of the unpaid renewal."))
    decline_message = serializers.SerializerMethodField(
        help_text=_("Why the last charge failed, as the customer was told (Accept-Language).")
    )
    pay_url = serializers.SerializerMethodField(
        help_text=_("Where the customer pays the renewal another way (valid 7 days); null once closed.")
    )

    class Meta:
        model = FailedPaymentCase
        fields = [
            "id",
            "status",
            "renewal",
            "payment",
            "line",
            "customer",
            "amount",
            "last_decline_code",
            "decline_message",
            "attempts",
            "next_retry_at",
            "grace_ends_at",
            "customer_notified_at",
            "notes",
            "pay_url",
            "opened_at",
            "closed_at",
        ]
        read_only_fields = fields

    @extend_schema_field(MoneySerializer)
    def get_amount(self, case: FailedPaymentCase) -> dict:
        return money(case.renewal.price_amount, case.renewal.currency)

    def get_decline_message(self, case: FailedPaymentCase) -> str:
        return decline_message(customer_message_for(case.last_decline_code))

    @extend_schema_field(serializers.URLField(allow_null=True))
    def get_pay_url(self, case: FailedPaymentCase) -> str | None:
        return renewal_pay_url(case.renewal) if case.status == FailedPaymentCase.Status.OPEN else None


class FailedPaymentCaseListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=FailedPaymentCase.Status.choices, required=False)
    customer = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    line = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    next_retry_after = serializers.DateTimeField(required=False, help_text=_("From this time, inclusive."))
    next_retry_before = serializers.DateTimeField(required=False, help_text=_("Until this time, exclusive."))
    opened_since = serializers.DateTimeField(required=False)


class RetryResultSerializer(serializers.Serializer):
    case = FailedPaymentCaseSerializer()
    payment = PaymentSerializer(
        allow_null=True, help_text=_("The attempt; null when the renewal was settled meanwhile.")
    )


class PaymentLinkResultSerializer(serializers.Serializer):
    case = FailedPaymentCaseSerializer()
    pay_url = serializers.URLField()
    channels = serializers.ListField(
        child=serializers.ChoiceField(choices=["email", "sms"]), help_text=_("Where the link was sent.")
    )


class NoteInputSerializer(serializers.Serializer):
    text = serializers.CharField(max_length=NOTE_MAX_LENGTH)


class OutcomeInputSerializer(serializers.Serializer):
    outcome = serializers.ChoiceField(
        choices=ContactOutcome.choices,
        help_text=_("“renewal_declined” also closes the case and cancels the renewal."),
    )
    note = serializers.CharField(required=False, allow_blank=True, max_length=NOTE_MAX_LENGTH, default="")


class WriteOffInputSerializer(serializers.Serializer):
    reason = serializers.CharField(max_length=NOTE_MAX_LENGTH, help_text=_("Why the money is not pursued."))
