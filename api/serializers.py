"""What the API reads and writes. Serializers only shape data: the rules are in the services
they hand it to."""

from decimal import Decimal

from django.urls import reverse
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from accounts.models import Customer, SimLine
from payments.models import PartnerWallet, Payment, Refund, WalletEntry
from plans.balances import LineBalance
from plans.models import Plan, Price, Renewal, Usage
from reseller.money import quantize

#: The largest id a database stores (a bigger one is a 400 naming the field, not a 500).
MAX_ID = 2**63 - 1


class MoneySerializer(serializers.Serializer):
    amount = serializers.CharField(help_text=_("Decimal string, in the currency's minor unit: “15.00”."))
    currency = serializers.CharField(help_text=_("ISO 4217 code."))


def money(amount: Decimal, currency: str) -> dict:
    """Amounts are exact decimal strings rounded to the currency's minor unit, never floats."""
    return {"amount": str(quantize(amount, currency)), "currency": currency}


@extend_schema_field(MoneySerializer)
class MoneyField(serializers.Field):
    """An object's ``<amount_attr>`` and ``currency`` as one money value (read-only)."""

    def __init__(self, amount_attr: str = "amount", **kwargs):
        self.amount_attr = amount_attr
        super().__init__(source="*", read_only=True, **kwargs)

    def to_representation(self, instance) -> dict:
        return money(getattr(instance, self.amount_attr), instance.currency)


class ProblemErrorSerializer(serializers.Serializer):
    field = serializers.CharField(
        allow_null=True, help_text=_("Dotted path of the field; null: the whole body.")
    )
    code = serializers.CharField()
    detail = serializers.CharField()


class ProblemSerializer(serializers.Serializer):
    """RFC 9457 problem details (application/problem+json)."""

    type = serializers.CharField(help_text=_("URI of the problem type; GET it for a description."))
    title = serializers.CharField()
    status = serializers.IntegerField()
    detail = serializers.CharField()
    instance = serializers.CharField(allow_null=True)
    code = serializers.CharField(help_text=_("Machine-readable code of this precise problem."))
    errors = ProblemErrorSerializer(many=True, required=False)
    request_id = serializers.CharField(required=False)


class InsufficientFundsProblemSerializer(ProblemSerializer):
    """The 402 of a wallet that cannot pay, with what it holds and what was asked."""

    balance = MoneySerializer(allow_null=True, help_text=_("What the wallet holds; null: no wallet yet."))
    price = MoneySerializer(help_text=_("What the operation costs."))


# --- Plans -----------------------------------------------------------------------------------


class PriceSerializer(serializers.ModelSerializer):
    amount = serializers.SerializerMethodField()

    class Meta:
        model = Price
        fields = ["amount", "currency", "channel"]

    def get_amount(self, price: Price) -> str:
        return str(quantize(price.amount, price.currency))


class PlanSerializer(serializers.ModelSerializer):
    name = serializers.SerializerMethodField(help_text=_("In the language asked for (Accept-Language)."))
    names = serializers.SerializerMethodField()
    sim_kinds = serializers.SerializerMethodField()
    auto_renewable = serializers.BooleanField(source="is_auto_renewable")
    prices = PriceSerializer(many=True, source="api_prices")

    class Meta:
        model = Plan
        fields = [
            "code",
            "name",
            "names",
            "validity_days",
            "data_mb",
            "voice_minutes",
            "sms",
            "coverage",
            "sim_kinds",
            "activation_policy",
            "auto_renewable",
            "prices",
        ]
        extra_kwargs = {"data_mb": {"help_text": _("MB of data; null: unlimited.")}}

    def get_name(self, plan: Plan) -> str:
        return plan.display_name()

    @extend_schema_field(
        {
            "type": "object",
            "properties": {"en": {"type": "string"}, "fr": {"type": "string"}, "zh-hans": {"type": "string"}},
            "required": ["en", "fr", "zh-hans"],
        }
    )
    def get_names(self, plan: Plan) -> dict:
        return {"en": plan.name_en, "fr": plan.name_fr, "zh-hans": plan.name_zh_hans}

    @extend_schema_field(serializers.ListField(child=serializers.ChoiceField(choices=SimLine.Kind.choices)))
    def get_sim_kinds(self, plan: Plan) -> list[str]:
        return [kind for kind, fits in (("physical", plan.for_physical), ("esim", plan.for_esim)) if fits]


# --- Customers -------------------------------------------------------------------------------

_CUSTOMER_FIELDS = [
    "full_name",
    "email",
    "phone",
    "address_line1",
    "address_line2",
    "postal_code",
    "city",
    "country",
    "language",
    "currency",
    "timezone",
]


class CustomerSerializer(serializers.ModelSerializer):
    partner = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    email = serializers.CharField(read_only=True, help_text=_("Empty when unknown."))

    class Meta:
        model = Customer
        fields = ["id", *_CUSTOMER_FIELDS, "partner", "created_at", "updated_at"]
        read_only_fields = fields


class CustomerCreateSerializer(serializers.ModelSerializer):
    partner = serializers.CharField(
        required=False,
        help_text=_("Staff tokens only: the code of the partner who will own the customer."),
    )

    class Meta:
        model = Customer
        fields = [*_CUSTOMER_FIELDS, "partner"]


class CustomerListQuerySerializer(serializers.Serializer):
    updated_since = serializers.DateTimeField(
        required=False, help_text=_("Only customers changed since then.")
    )
    email = serializers.EmailField(required=False, help_text=_("Exact e-mail address (any case)."))


# --- Lines -----------------------------------------------------------------------------------


class AllowanceSerializer(serializers.Serializer):
    allowance = serializers.IntegerField(allow_null=True, help_text=_("Null: unlimited."))
    used = serializers.CharField(help_text=_("Decimal string."))
    remaining = serializers.CharField(allow_null=True, help_text=_("Decimal string; null: unlimited."))


class BalanceSerializer(serializers.Serializer):
    period_start = serializers.DateTimeField(allow_null=True)
    period_end = serializers.DateTimeField(allow_null=True)
    data_mb = AllowanceSerializer()
    data_used_percent = serializers.CharField(allow_null=True)
    voice_minutes = AllowanceSerializer()
    sms = AllowanceSerializer()
    depleted = serializers.BooleanField(help_text=_("The finite data allowance is used up."))


def balance_data(balance: LineBalance) -> dict:
    unlimited = balance.data_unlimited
    return {
        "period_start": balance.period_start,
        "period_end": balance.period_end,
        "data_mb": {
            "allowance": None if unlimited else balance.data_allowance_mb,
            "used": str(balance.data_used_mb),
            "remaining": None if unlimited else str(balance.data_remaining_mb),
        },
        "data_used_percent": None if balance.data_used_percent is None else str(balance.data_used_percent),
        "voice_minutes": {
            "allowance": balance.voice_allowance_minutes,
            "used": str(balance.voice_used_minutes),
            "remaining": str(balance.voice_remaining_minutes),
        },
        "sms": {
            "allowance": balance.sms_allowance,
            "used": str(balance.sms_used),
            "remaining": str(balance.sms_remaining),
        },
        "depleted": balance.depleted,
    }


class EsimInstallSerializer(serializers.Serializer):
    activation_code = serializers.CharField(
        help_text=_("LPA:1$<SM-DP+ address>$<matching id>; encode it as a QR.")
    )
    smdp_address = serializers.CharField()
    matching_id = serializers.CharField()
    ios_install_url = serializers.URLField(help_text=_("Opens the eSIM installation on iOS 17.4 and later."))
    android_install_url = serializers.URLField()
    qr_png_url = serializers.CharField(
        help_text=_("The activation code as a QR picture (PNG); fetch it with your key.")
    )
    qr_svg_url = serializers.CharField(help_text=_("The same QR picture, as SVG."))


def esim_install_data(line: SimLine) -> dict | None:
    from accounts.esim_install import esim_install

    install = esim_install(line)
    if install is None:
        return None
    return {
        "activation_code": install.activation_code,
        "smdp_address": install.smdp_address,
        "matching_id": install.matching_id,
        "ios_install_url": install.ios_url,
        "android_install_url": install.android_url,
        "qr_png_url": reverse("api:line-esim-qr", args=[line.pk, "png"]),
        "qr_svg_url": reverse("api:line-esim-qr", args=[line.pk, "svg"]),
    }


class LineSerializer(serializers.ModelSerializer):
    customer = serializers.PrimaryKeyRelatedField(read_only=True)
    status = serializers.ChoiceField(
        source="effective_status",
        choices=SimLine.Status.choices,
        help_text=_("“expired” as soon as the paid period ends, even before the nightly job."),
    )
    plan = serializers.SlugRelatedField(slug_field="code", read_only=True, allow_null=True)
    balance = serializers.SerializerMethodField()
    esim = serializers.SerializerMethodField(help_text=_("Install data of an eSIM; null for a physical SIM."))

    class Meta:
        model = SimLine
        fields = [
            "id",
            "customer",
            "iccid",
            "msisdn",
            "kind",
            "status",
            "plan",
            "expires_at",
            "auto_renew",
            "activated_at",
            "balance",
            "esim",
            "created_at",
            "updated_at",
        ]
        read_only_fields = fields

    @extend_schema_field(BalanceSerializer)
    def get_balance(self, line: SimLine) -> dict:
        return balance_data(self.context["balances"][line.pk])

    @extend_schema_field(EsimInstallSerializer(allow_null=True))
    def get_esim(self, line: SimLine) -> dict | None:
        return esim_install_data(line)


class LineCreateSerializer(serializers.Serializer):
    customer = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=_("The customer's id."))
    kind = serializers.ChoiceField(choices=SimLine.Kind.choices)
    iccid = serializers.CharField(
        required=False,
        max_length=40,
        help_text=_("Physical SIM: the ICCID printed on the card (spaces allowed). Not for an eSIM."),
    )
    msisdn = serializers.CharField(
        required=False,
        allow_null=True,
        max_length=30,
        help_text=_("Physical SIM: its phone number in international format, when known."),
    )

    def validate(self, data):
        if data["kind"] == SimLine.Kind.PHYSICAL and not data.get("iccid"):
            raise serializers.ValidationError(
                {"iccid": [_("A physical SIM is registered by the ICCID printed on it.")]}
            )
        if data["kind"] == SimLine.Kind.ESIM:
            given = [name for name in ("iccid", "msisdn") if data.get(name)]
            if given:
                raise serializers.ValidationError(
                    {
                        name: [_("An eSIM's identity comes from the network; leave this out.")]
                        for name in given
                    }
                )
        return data


class LineListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=SimLine.Status.choices, required=False)
    customer = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    expires_after = serializers.DateTimeField(required=False)
    expires_before = serializers.DateTimeField(required=False)
    updated_since = serializers.DateTimeField(required=False)


class UsageSerializer(serializers.ModelSerializer):
    class Meta:
        model = Usage
        fields = ["id", "recorded_at", "data_bytes", "voice_minutes", "sms"]
        read_only_fields = fields


class UsageQuerySerializer(serializers.Serializer):
    recorded_after = serializers.DateTimeField(required=False, help_text=_("From this time, inclusive."))
    recorded_before = serializers.DateTimeField(required=False, help_text=_("Until this time, exclusive."))


# --- Renewals --------------------------------------------------------------------------------


class RenewalSerializer(serializers.ModelSerializer):
    plan = serializers.SlugRelatedField(slug_field="code", read_only=True)
    price = MoneyField("price_amount")

    class Meta:
        model = Renewal
        fields = [
            "id",
            "line",
            "plan",
            "channel",
            "status",
            "price",
            "data_mb",
            "voice_minutes",
            "sms",
            "validity_days",
            "period_start",
            "period_end",
            "created_at",
            "paid_at",
            "activated_at",
        ]
        read_only_fields = fields


class RenewalCreateSerializer(serializers.Serializer):
    line = serializers.IntegerField(min_value=1, max_value=MAX_ID, help_text=_("The line's id."))
    plan = serializers.SlugField(help_text=_("The plan's code."))
    currency = serializers.CharField(
        required=False,
        min_length=3,
        max_length=3,
        help_text=_("ISO 4217 code; default: the partner's currency (staff: the customer's)."),
    )


class RenewalListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Renewal.Status.choices, required=False)
    line = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    created_since = serializers.DateTimeField(required=False)


# --- Payments and refunds ----------------------------------------------------------------------


class PaymentSerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = Payment
        fields = [
            "id",
            "renewal",
            "customer",
            "amount",
            "method",
            "status",
            "receipt_number",
            "created_at",
            "paid_at",
        ]
        read_only_fields = fields


class WalletSerializer(serializers.ModelSerializer):
    balance = MoneyField("balance")
    low_balance_threshold = MoneyField("low_balance_threshold")

    class Meta:
        model = PartnerWallet
        fields = ["currency", "balance", "low_balance_threshold", "updated_at"]
        read_only_fields = fields


class WalletEntrySerializer(serializers.ModelSerializer):
    amount = MoneyField(help_text=_("Positive: money in; negative: money out."))
    balance_after = MoneyField("balance_after")

    class Meta:
        model = WalletEntry
        fields = [
            "id",
            "kind",
            "amount",
            "balance_after",
            "renewal",
            "payment",
            "refund",
            "reason",
            "created_at",
        ]
        read_only_fields = fields


class PaymentListQuerySerializer(serializers.Serializer):
    status = serializers.ChoiceField(choices=Payment.Status.choices, required=False)
    customer = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)
    renewal = serializers.IntegerField(required=False, min_value=1, max_value=MAX_ID)


class RefundSerializer(serializers.ModelSerializer):
    amount = MoneyField()

    class Meta:
        model = Refund
        fields = [
            "id",
            "payment",
            "amount",
            "status",
            "reason",
            "entitlement",
            "comment",
            "failure_reason",
            "created_at",
            "completed_at",
        ]
        read_only_fields = fields


class RefundCreateSerializer(serializers.Serializer):
    payment = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    amount = serializers.DecimalField(
        max_digits=15,
        decimal_places=3,
        min_value=Decimal("0.001"),
        coerce_to_string=True,
        help_text=_(
            "In the payment's currency, as a decimal string (“5.00”); at most what is left to refund."
        ),
    )
    reason = serializers.ChoiceField(choices=Refund.Reason.choices)
    entitlement = serializers.ChoiceField(
        choices=Refund.Entitlement.choices,
        default=Refund.Entitlement.KEEP,
        help_text=_("What happens to the line's period once the refund succeeds."),
    )
    comment = serializers.CharField(required=False, allow_blank=True, max_length=2000, default="")
    manual_reference = serializers.CharField(
        required=False,
        allow_blank=True,
        max_length=200,
        default="",
        help_text=_("Cash and bank-transfer payments only: how the money was paid back."),
    )
