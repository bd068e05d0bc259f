"""Account corrections through the API: correct a customer's details, request a correction,
list and read corrections, approve or reject them (staff), adjust a line's balance or expiry,
reverse an adjustment, swap a line's SIM and move a line (these three: staff). Each endpoint
calls the admin's service with the admin's rules (``accounts.details``,
``accounts.corrections``); a broken rule is a problem with the service's machine code."""

from contextlib import contextmanager
from datetime import timedelta

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.translation import gettext as _
from rest_framework import exceptions, status
from rest_framework.response import Response

from accounts.corrections import (
    adjustment_request,
    correction_decide,
    correction_reverse,
    line_move,
    sim_swap,
)
from accounts.details import correction_request_create
from accounts.models import Correction, Customer, SimLine
from api import correction_schema as schema
from api import correction_serializers as cs
from api.corrections import api_customer_correct
from api.idempotency import idempotent
from api.permissions import Access
from api.problems import ProblemException
from api.serializers import CustomerSerializer
from api.views import ApiView
from reseller.errors import DomainError

#: Service codes that are not a 422 "business rule" (api.problems): who may not act, what
#: does not exist for the caller, what changed state meanwhile.
_FORBIDDEN_CODES = {"permission": "role_forbidden", "four_eyes": "four_eyes"}
_NOT_FOUND_CODES = {"not_found"}
_CONFLICT_CODES = {"decided", "pending"}


@contextmanager
def _service_problems():
    try:
        yield
    except DomainError as error:
        if error.code in _FORBIDDEN_CODES:
            raise exceptions.PermissionDenied(error.message, code=_FORBIDDEN_CODES[error.code]) from error
        if error.code in _NOT_FOUND_CODES:
            raise exceptions.NotFound(error.message, code=error.code) from error
        if error.code in _CONFLICT_CODES:
            raise ProblemException("conflict", error.message, code=error.code) from error
        raise


def _created(correction: Correction) -> Response:
    return Response(
        cs.CorrectionSerializer(correction).data,
        status=status.HTTP_201_CREATED,
        headers={"Location": reverse("api:correction-detail", args=[correction.pk])},
    )


def _staff_only(caller) -> None:
    """Deciding, reversing, swapping a SIM and moving a line are the reseller's: a partner key
    never may, whatever it owns (it requests the change instead)."""
    if caller.is_partner:
        raise exceptions.PermissionDenied(_("Only the reseller's staff may do this."), code="staff_only")


class CorrectionViewMixin(ApiView):
    access = {"GET": Access("read", "accounts.view_correction")}
    serializer_class = cs.CorrectionSerializer

    def get_queryset(self):
        return self.caller.own(Correction.objects.all(), "customer__partner")


@schema.correction_list
class CorrectionList(CorrectionViewMixin):
    def get(self, request):
        query = self.query(cs.CorrectionListQuerySerializer)
        corrections = self.get_queryset()
        for name, lookup in (
            ("status", "status"),
            ("kind", "kind"),
            ("customer", "customer_id"),
            ("line", "line_id"),
            ("created_since", "created_at__gte"),
        ):
            if name in query:
                corrections = corrections.filter(**{lookup: query[name]})
        return self.paginated(corrections)


@schema.correction_detail
class CorrectionDetail(CorrectionViewMixin):
    def get(self, request, pk):
        return Response(self.get_serializer(self.get_object()).data)


class CorrectionDecisionView(CorrectionViewMixin):
    # The role's permission to decide depends on the correction (a Manager's for adjustments
    # above the limits, Support's for customers' requests): the service checks it.
    access = {"POST": Access("write", "accounts.change_correction")}
    approve: bool

    @idempotent
    def post(self, request, pk):
        _staff_only(self.caller)
        correction = self.get_object()
        serializer = cs.DecisionSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _service_problems():
            decided = correction_decide(
                correction=correction,
                approve=self.approve,
                comment=serializer.validated_data["comment"],
                actor=self.caller.actor,
            )
        decided.refresh_from_db()
        return Response(cs.CorrectionSerializer(decided).data)


@schema.correction_approve
class CorrectionApprove(CorrectionDecisionView):
    approve = True


@schema.correction_reject
class CorrectionReject(CorrectionDecisionView):
    approve = False


@schema.correction_reverse
class CorrectionReverse(CorrectionViewMixin):
    access = {"POST": Access("write", "accounts.add_correction")}

    @idempotent
    def post(self, request, pk):
        _staff_only(self.caller)
        correction = self.get_object()
        serializer = cs.ReversalSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _service_problems():
            reversal = correction_reverse(
                correction=correction, comment=serializer.validated_data["comment"], actor=self.caller.actor
            )
        return _created(reversal)


@schema.correction_request_create
class CorrectionRequestCreate(ApiView):
    access = {"POST": Access("write", "accounts.add_correction")}

    @idempotent
    def post(self, request):
        serializer = cs.CorrectionRequestCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        customer = self.caller.own(Customer.objects.all(), "partner").filter(pk=data["customer"]).first()
        if customer is None:  # another partner's customer is as unknown as one that does not exist
            raise exceptions.NotFound(_("There is no customer with this id."), code="customer_not_found")
        line = None
        if "line" in data:
            line = SimLine.objects.filter(pk=data["line"], customer=customer).first()
            if line is None:
                raise exceptions.NotFound(_("This customer has no line with this id."), code="line_not_found")
        with _service_problems():
            correction = correction_request_create(
                customer=customer,
                line=line,
                field=data["field"],
                value=data["value"],
                comment=data["comment"],
                actor=self.caller.actor,
            )
        return _created(correction)


@schema.customer_correction_create
class CustomerCorrectionCreate(ApiView):
    access = {"POST": Access("write", "accounts.change_customer")}

    @idempotent
    def post(self, request, pk):
        customer = get_object_or_404(
            self.caller.own(Customer.objects.select_related("partner"), "partner"), pk=pk
        )
        serializer = cs.CustomerCorrectionCreateSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        with _service_problems():
            corrections = api_customer_correct(
                caller=self.caller,
                customer=customer,
                changes=dict(data["changes"]),
                reason=data["reason"],
                comment=data["comment"],
            )
        customer.refresh_from_db()
        body = {
            "customer": CustomerSerializer(customer).data,
            "corrections": cs.CorrectionSerializer(corrections, many=True).data,
        }
        return Response(body, status=status.HTTP_201_CREATED if corrections else status.HTTP_200_OK)


class LineCorrectionView(ApiView):
    """A correction of a line, as on the line's page in the admin."""

    access = {"POST": Access("write", "accounts.add_correction")}
    serializer_class = None
    #: Partners only request changes of a line's SIM and owner; they may ask for adjustments.
    partners_may = False

    def correct(self, line: SimLine, data: dict) -> Correction:
        raise NotImplementedError

    @idempotent
    def post(self, request, pk):
        if not self.partners_may:
            _staff_only(self.caller)
        line = get_object_or_404(self.caller.own(SimLine.objects.all(), "customer__partner"), pk=pk)
        serializer = self.serializer_class(data=request.data)
        serializer.is_valid(raise_exception=True)
        with _service_problems():
            correction = self.correct(line, dict(serializer.validated_data))
        return _created(correction)


@schema.line_sim_swap_create
class LineSimSwapCreate(LineCorrectionView):
    serializer_class = cs.SimSwapSerializer

    def correct(self, line: SimLine, data: dict) -> Correction:
        return sim_swap(line=line, actor=self.caller.actor, **data)


@schema.line_move_create
class LineMoveCreate(LineCorrectionView):
    serializer_class = cs.LineMoveSerializer

    def correct(self, line: SimLine, data: dict) -> Correction:
        to_customer = Customer.objects.filter(pk=data.pop("to_customer")).first()
        if to_customer is None:
            raise exceptions.NotFound(_("There is no customer with this id."), code="customer_not_found")
        return line_move(line=line, to_customer=to_customer, actor=self.caller.actor, **data)


@schema.line_adjustment_create
class LineAdjustmentCreate(LineCorrectionView):
    serializer_class = cs.AdjustmentCreateSerializer
    partners_may = True

    def correct(self, line: SimLine, data: dict) -> Correction:
        expiry = timedelta(days=data.pop("expiry_days"))
        return adjustment_request(line=line, expiry=expiry, actor=self.caller.actor, **data)
