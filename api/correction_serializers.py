"""What the corrections endpoints read and write: a customer's corrected details, correction
requests, balance and expiry adjustments, decisions, and the correction rows themselves. The
rules are in ``accounts.details`` and ``accounts.corrections``."""

from django.utils.translation import gettext_lazy as _
from rest_framework import serializers

from accounts.details import REQUESTABLE, STAFF_FIELDS
from accounts.models import Correction, Customer
from api.serializers import MAX_ID, CustomerSerializer

#: The bound of one adjustment, as in the admin's form.
_MAX_ADJUSTMENT = 1_000_000


class CorrectionSerializer(serializers.ModelSerializer):
    data_mb = serializers.IntegerField(source="data_mb_delta", help_text=_("MB credited (+) or debited (-)."))
    voice_minutes = serializers.IntegerField(source="voice_minutes_delta")
    sms = serializers.IntegerField(source="sms_delta")
    expiry_days = serializers.SerializerMethodField(
        help_text=_("Days added to (+) or taken from (-) the expiry.")
    )
    before = serializers.DictField(
        help_text=_("The values before the change (details, SIM and owner changes).")
    )
    after = serializers.DictField(help_text=_("The values asked for, or set."))

    class Meta:
        model = Correction
        fields = [
            "id",
            "kind",
            "status",
            "customer",
            "line",
            "field",
            "before",
            "after",
            "data_mb",
            "voice_minutes",
            "sms",
            "expiry_days",
            "reason",
            "comment",
            "channel",
            "decision_comment",
            "reverses",
            "created_at",
            "decided_at",
        ]
        read_only_fields = fields

    def get_expiry_days(self, correction: Correction) -> int:
        # Adjustments move the expiry by whole days (the admin's form and the API take days).
        return correction.expiry_delta.days


class CorrectionListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(
        choices=Correction.Status.choices,
        required=False,
        help_text=_("requested: waiting for a decision; applied: approved or made at once; rejected."),
    )
    kind = serializers.ChoiceField(choices=Correction.Kind.choices, required=False)
    customer = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    line = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    created_since = serializers.DateTimeField(required=False)


class ReasonedSerializer(serializers.Serializer):
    """A correction made at once: a reason code and what happened."""

    reason = serializers.ChoiceField(choices=Correction.Reason.choices)
    comment = serializers.CharField(max_length=2000, help_text=_("What happened, for the audit trail."))


class CustomerChangesSerializer(serializers.ModelSerializer):
    """The details to correct; an unknown name is an error, not ignored."""

    class Meta:
        model = Customer
        fields = list(STAFF_FIELDS)
        extra_kwargs = {name: {"required": False} for name in STAFF_FIELDS}

    def to_internal_value(self, data):
        if isinstance(data, dict):
            unknown = sorted(set(data) - set(self.fields))
            if unknown:
                raise serializers.ValidationError(
                    {name: [_("This detail is not corrected here.")] for name in unknown},
                    code="unknown_field",
                )
        values = super().to_internal_value(data)
        if not values:
            raise serializers.ValidationError(_("Name at least one detail to correct."), code="empty")
        return values


class CustomerCorrectionCreateSerializer(ReasonedSerializer):
    changes = CustomerChangesSerializer(
        help_text=_(
            "The details and their new values. Partners change legal_name only through a request "
            "staff decide."
        )
    )


class CustomerCorrectionResultSerializer(serializers.Serializer):
    customer = CustomerSerializer()
    corrections = CorrectionSerializer(
        many=True,
        help_text=_("Applied corrections, and requests waiting for staff; empty if nothing changed."),
    )


class CorrectionRequestCreateSerializer(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    field = serializers.ChoiceField(
        choices=[(name, label) for name, (label, _kind, _line) in REQUESTABLE.items()]
    )
    line = serializers.IntegerField(
        required=False, min_value=1, max_value=MAX_ID, help_text=_("The line, for msisdn, iccid and owner.")
    )
    value = serializers.CharField(
        max_length=200,
        help_text=_("The new value; for owner, the e-mail of the customer who takes the line."),
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")

    def validate(self, data):
        _label, _kind, about_line = REQUESTABLE[data["field"]]
        if about_line and "line" not in data:
            raise serializers.ValidationError(
                {"line": [_("Name the line this change is about.")]}, code="required"
            )
        return data


class AdjustmentCreateSerializer(ReasonedSerializer):
    data_mb = serializers.IntegerField(
        required=False, default=0, min_value=-_MAX_ADJUSTMENT, max_value=_MAX_ADJUSTMENT
    )
    voice_minutes = serializers.IntegerField(
        required=False, default=0, min_value=-_MAX_ADJUSTMENT, max_value=_MAX_ADJUSTMENT
    )
    sms = serializers.IntegerField(
        required=False, default=0, min_value=-_MAX_ADJUSTMENT, max_value=_MAX_ADJUSTMENT
    )
    expiry_days = serializers.IntegerField(
        required=False,
        default=0,
        min_value=-3650,
        max_value=3650,
        help_text=_("Days to add to (+) or take from (-) the expiry; not with a balance adjustment."),
    )


class SimSwapSerializer(ReasonedSerializer):
    new_iccid = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=22,
        default="",
        help_text=_("A physical SIM: the new card's ICCID."),
    )
    new_activation_code = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=255,
        default="",
        help_text=_(
            "An eSIM: the re-issued profile's activation code (LPA:1$…), and its new_iccid if known."
        ),
    )


class LineMoveSerializer(ReasonedSerializer):
    to_customer = serializers.IntegerField(
        min_value=1, max_value=MAX_ID, help_text=_("The id of the customer who takes the line.")
    )


class DecisionSerializer(serializers.Serializer):
    comment = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=2000,
        default="",
        help_text=_("Why; required to reject, and for customers' requests (the customer reads it)."),
    )


class ReversalSerializer(serializers.Serializer):
    comment = serializers.CharField(max_length=2000, help_text=_("Why the adjustment was wrong."))
