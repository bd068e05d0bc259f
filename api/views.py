"""The API's endpoints. Each one parses its input, asks the caller's tenancy for the rows it
may see, calls one service and presents the result; the rules live in the services."""

from datetime import UTC

from django.db.models import Prefetch
from django.http import HttpResponse
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.generics import GenericAPIView
from rest_framework.negotiation import BaseContentNegotiation
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.views import APIView

from accounts.customers import customer_create
from accounts.esim_install import qr_image
from accounts.line_registration import esim_issue, line_register
from accounts.models import Customer, Partner, SimLine
from api import schema
from api import serializers as s
from api.callers import ApiCaller
from api.idempotency import HEADER as IDEMPOTENCY_HEADER
from api.idempotency import idempotent
from api.permissions import Access, ScopeAndRole
from api.problems import PROBLEM_TYPES, problem_type_uri
from api.renewals import api_renewal_create
from payments.models import PartnerWallet, Payment, Refund
from payments.refunds import refund_request
from plans.balances import line_balances
from plans.models import Plan, Price, Renewal, Usage


class ApiView(GenericAPIView):
    permission_classes = [ScopeAndRole]
    access: dict[str, Access] = {}

    def dispatch(self, request, *args, **kwargs):
        # Times in UTC ("…Z"), whoever calls: the caller shows them in its customers' zones.
        with timezone.override(UTC):
            return super().dispatch(request, *args, **kwargs)

    @property
    def caller(self) -> ApiCaller:
        return self.request.auth

    def query(self, serializer_class) -> dict:
        """The query parameters, validated (a bad one is a 400 naming it)."""
        serializer = serializer_class(data=self.request.query_params)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def paginated(self, queryset, **context):
        page = self.paginate_queryset(queryset)
        serializer = self.get_serializer(
            page, many=True, context={**self.get_serializer_context(), **context}
        )
        return self.get_paginated_response(serializer.data)


# --- Plans ------------------------------------------------------------------------------------


class PlanViewMixin(ApiView):
    access = {"GET": Access("read", "plans.view_plan")}
    serializer_class = s.PlanSerializer

    def get_queryset(self):
        # Partners see their own prices; staff see retail and partner prices.
        prices = Price.objects.order_by("channel", "currency")
        if self.caller.is_partner:
            prices = prices.filter(channel=Price.Channel.PARTNER)
        return Plan.objects.filter(is_active=True).prefetch_related(
            Prefetch("prices", queryset=prices, to_attr="api_prices")
        )


@schema.plan_list
class PlanList(PlanViewMixin):
    def get(self, request):
        return self.paginated(self.get_queryset())


@schema.plan_detail
class PlanDetail(PlanViewMixin):
    lookup_field = "code"

    def get(self, request, code):
        return Response(self.get_serializer(self.get_object()).data)


# --- Customers --------------------------------------------------------------------------------


class CustomerViewMixin(ApiView):
    access = {
        "GET": Access("read", "accounts.view_customer"),
        "POST": Access("write", "accounts.add_customer"),
    }
    serializer_class = s.CustomerSerializer

    def get_queryset(self):
        return self.caller.own(Customer.objects.select_related("partner"), "partner")


@schema.customer_list_create
class CustomerList(CustomerViewMixin):
    def get(self, request):
        query = self.query(s.CustomerListQuerySerializer)
        customers = self.get_queryset()
        if "updated_since" in query:
            customers = customers.filter(updated_at__gte=query["updated_since"])
        if "email" in query:
            customers = customers.filter(email__iexact=query["email"])
        return self.paginated(customers)

    @idempotent
    def post(self, request):
        serializer = s.CustomerCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        fields = dict(serializer.validated_data)
        partner_code = fields.pop("partner", None)
        if self.caller.is_partner:
            if partner_code not in (None, self.caller.partner.code):
                raise exceptions.ValidationError(
                    {"partner": [_("A partner creates customers for itself only.")]}, code="partner"
                )
            partner = self.caller.partner
        else:
            partner = None
            if partner_code:
                partner = Partner.objects.filter(code=partner_code).first()
                if partner is None:
                    raise exceptions.ValidationError({"partner": [_("There is no partner with this code.")]})
        customer = customer_create(actor=self.caller.actor, partner=partner, fields=fields)
        return Response(
            s.CustomerSerializer(customer).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:customer-detail", args=[customer.pk])},
        )


@schema.customer_detail
class CustomerDetail(CustomerViewMixin):
    def get(self, request, pk):
        return Response(self.get_serializer(self.get_object()).data)


# --- Lines ------------------------------------------------------------------------------------


class LineViewMixin(ApiView):
    access = {
        "GET": Access("read", "accounts.view_simline"),
        "POST": Access("write", "accounts.add_simline"),
    }
    serializer_class = s.LineSerializer

    def get_queryset(self):
        return self.caller.own(SimLine.objects.select_related("plan"), "customer__partner")


@schema.line_list_create
class LineList(LineViewMixin):
    def get(self, request):
        query = self.query(s.LineListQuerySerializer)
        lines = self.get_queryset()
        if "status" in query:
            lines = lines.filter(status=query["status"])
        if "customer" in query:
            lines = lines.filter(customer_id=query["customer"])
        if "expires_after" in query:
            lines = lines.filter(expires_at__gte=query["expires_after"])
        if "expires_before" in query:
            lines = lines.filter(expires_at__lt=query["expires_before"])
        if "updated_since" in query:
            lines = lines.filter(updated_at__gte=query["updated_since"])
        page = self.paginate_queryset(lines)
        # The balances of the whole page in two queries (plans.balances.line_balances).
        serializer = self.get_serializer(
            page, many=True, context={**self.get_serializer_context(), "balances": line_balances(page)}
        )
        return self.get_paginated_response(serializer.data)

    @idempotent
    def post(self, request):
        serializer = s.LineCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        customers = self.caller.own(Customer.objects.all(), "partner")
        customer = customers.filter(pk=data["customer"]).first()
        if customer is None:  # another partner's customer is as unknown as one that does not exist
            raise exceptions.NotFound(_("There is no customer with this id."), code="customer_not_found")
        if data["kind"] == SimLine.Kind.ESIM:
            line = esim_issue(
                customer=customer,
                # Unique over all callers, like refund keys: name the caller.
                idempotency_key=f"api:{self.caller.idempotency_scope}:{request.headers[IDEMPOTENCY_HEADER]}",
                actor=self.caller.actor,
            )
        else:
            line = line_register(
                customer=customer, iccid=data["iccid"], msisdn=data.get("msisdn"), actor=self.caller.actor
            )
        context = {**self.get_serializer_context(), "balances": line_balances([line])}
        return Response(
            self.get_serializer(line, context=context).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:line-detail", args=[line.pk])},
        )


@schema.line_detail
class LineDetail(LineViewMixin):
    def get(self, request, pk):
        line = self.get_object()
        context = {**self.get_serializer_context(), "balances": line_balances([line])}
        return Response(self.get_serializer(line, context=context).data)


@schema.line_usage
class LineUsage(LineViewMixin):
    access = {"GET": Access("read", "plans.view_usage")}
    serializer_class = s.UsageSerializer

    def get(self, request, pk):
        line = get_object_or_404(self.caller.own(SimLine.objects.all(), "customer__partner"), pk=pk)
        query = self.query(s.UsageQuerySerializer)
        records = Usage.objects.filter(line=line)
        if "recorded_after" in query:
            records = records.filter(recorded_at__gte=query["recorded_after"])
        if "recorded_before" in query:
            records = records.filter(recorded_at__lt=query["recorded_before"])
        return self.paginated(records)


class JsonOnlyNegotiation(BaseContentNegotiation):
    """Errors are always problem JSON, whatever image the client's Accept asks for."""

    def select_parser(self, request, parsers):
        return parsers[0]

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type


_QR_MEDIA_TYPES = {"png": "image/png", "svg": "image/svg+xml"}


@schema.line_esim_qr
class LineEsimQr(LineViewMixin):
    content_negotiation_class = JsonOnlyNegotiation

    def get(self, request, pk, image_format):
        line = self.get_object()
        if line.kind != SimLine.Kind.ESIM or not line.activation_code:
            raise exceptions.NotFound(_("This line is not an eSIM."), code="not_an_esim")
        response = HttpResponse(qr_image(line.activation_code, image_format), _QR_MEDIA_TYPES[image_format])
        response["Cache-Control"] = "private, no-store"  # the code installs the line: keep it out of caches
        return response


# --- Renewals ---------------------------------------------------------------------------------


class RenewalViewMixin(ApiView):
    access = {"GET": Access("read", "plans.view_renewal"), "POST": Access("write", "plans.add_renewal")}
    serializer_class = s.RenewalSerializer

    def get_queryset(self):
        return self.caller.own(Renewal.objects.select_related("plan"), "line__customer__partner")


@schema.renewal_list_create
class RenewalList(RenewalViewMixin):
    def get(self, request):
        query = self.query(s.RenewalListQuerySerializer)
        renewals = self.get_queryset()
        if "status" in query:
            renewals = renewals.filter(status=query["status"])
        if "line" in query:
            renewals = renewals.filter(line_id=query["line"])
        if "created_since" in query:
            renewals = renewals.filter(created_at__gte=query["created_since"])
        return self.paginated(renewals)

    @idempotent
    def post(self, request):
        serializer = s.RenewalCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        lines = self.caller.own(SimLine.objects.select_related("customer"), "customer__partner")
        line = lines.filter(pk=data["line"]).first()
        if line is None:  # another partner's line is as unknown as a line that does not exist
            raise exceptions.NotFound(_("There is no line with this id."), code="line_not_found")
        renewal = api_renewal_create(
            caller=self.caller,
            line=line,
            plan_code=data["plan"],
            currency=data.get("currency"),
            key=request.headers[IDEMPOTENCY_HEADER],
        )
        return Response(
            s.RenewalSerializer(renewal).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:renewal-detail", args=[renewal.pk])},
        )


@schema.renewal_detail
class RenewalDetail(RenewalViewMixin):
    def get(self, request, pk):
        return Response(self.get_serializer(self.get_object()).data)


# --- Payments and refunds ---------------------------------------------------------------------


@schema.payment_list
class PaymentList(ApiView):
    access = {"GET": Access("read", "payments.view_payment")}
    serializer_class = s.PaymentSerializer

    def get_queryset(self):
        return self.caller.own(Payment.objects.all(), "customer__partner")

    def get(self, request):
        query = self.query(s.PaymentListQuerySerializer)
        payments = self.get_queryset()
        for name, lookup in (("status", "status"), ("customer", "customer_id"), ("renewal", "renewal_id")):
            if name in query:
                payments = payments.filter(**{lookup: query[name]})
        return self.paginated(payments)


@schema.payment_detail
class PaymentDetail(PaymentList):
    def get(self, request, pk):
        return Response(self.get_serializer(self.get_object()).data)


class RefundViewMixin(ApiView):
    access = {
        "GET": Access("read", "payments.view_refund"),
        "POST": Access("refund", "payments.refund_payment"),
    }
    serializer_class = s.RefundSerializer

    def get_queryset(self):
        return self.caller.own(Refund.objects.all(), "payment__customer__partner")


@schema.refund_list_create
class RefundList(RefundViewMixin):
    def get(self, request):
        return self.paginated(self.get_queryset())

    @idempotent
    def post(self, request):
        serializer = s.RefundCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        payment = (
            self.caller.own(Payment.objects.all(), "customer__partner").filter(pk=data["payment"]).first()
        )
        if payment is None:  # another partner's payment is as unknown as one that does not exist
            raise exceptions.NotFound(_("There is no payment with this id."), code="payment_not_found")
        refund = refund_request(
            payment=payment,
            amount=data["amount"],
            reason=data["reason"],
            entitlement=data["entitlement"],
            comment=data["comment"],
            manual_reference=data["manual_reference"],
            actor=self.caller.actor,
            # Refund keys are unique over all callers: name the caller.
            idempotency_key=f"api:{self.caller.idempotency_scope}:{request.headers[IDEMPOTENCY_HEADER]}",
        )
        return Response(
            s.RefundSerializer(refund).data,
            status=status.HTTP_201_CREATED,
            headers={"Location": reverse("api:refund-detail", args=[refund.pk])},
        )


@schema.refund_detail
class RefundDetail(RefundViewMixin):
    def get(self, request, pk):
        return Response(self.get_serializer(self.get_object()).data)


# --- The partner's wallet ----------------------------------------------------------------------


class WalletViewMixin(ApiView):
    """A partner's own wallet. Staff tokens get a 404: they see every wallet in the admin."""

    access = {"GET": Access("read", "accounts.view_partner")}

    def wallet(self) -> PartnerWallet:
        if not self.caller.is_partner:
            raise exceptions.NotFound(
                _("Wallets are read with a partner's key; staff see them in the admin."), code="not_found"
            )
        wallet = PartnerWallet.objects.filter(partner_id=self.caller.partner.pk).first()
        if wallet is None:
            raise exceptions.NotFound(
                _("You have no prepaid wallet yet: ask us to open one."), code="no_wallet"
            )
        return wallet


@schema.wallet_detail
class WalletDetail(WalletViewMixin):
    serializer_class = s.WalletSerializer

    def get(self, request):
        return Response(self.get_serializer(self.wallet()).data)


@schema.wallet_entry_list
class WalletEntryList(WalletViewMixin):
    serializer_class = s.WalletEntrySerializer

    def get(self, request):
        return self.paginated(self.wallet().entries.select_related("wallet"))


# --- Problem types and unknown paths ----------------------------------------------------------


@schema.problem_type
class ProblemTypeDetail(APIView):
    """What a problem ``type`` means: its title, status and description."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def get(self, request, slug):
        problem = PROBLEM_TYPES.get(slug)
        if problem is None:
            raise exceptions.NotFound()
        return Response(
            {
                "type": problem_type_uri(slug),
                "title": str(problem.title),
                "status": problem.status,
                "description": str(problem.description),
            }
        )


@schema.excluded
class UnknownPath(APIView):
    """Any other path under /api/v1/: a 404 problem, whatever the method."""

    authentication_classes = []
    permission_classes = [AllowAny]

    def http_method_not_allowed(self, request, *args, **kwargs):
        raise exceptions.NotFound()

    def get(self, request, *args, **kwargs):
        raise exceptions.NotFound()
