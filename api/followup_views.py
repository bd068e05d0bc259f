"""Failed-payment follow-up through the API: the cases of the caller's customers, and what
Billing does with them in the admin (retry now, send the link, notes, the outcome of a
contact, write-off), through the same services (payments.followup, payments.dunning)."""

from rest_framework.response import Response

from api import followup_schema as schema
from api import followup_serializers as s
from api.idempotency import idempotent
from api.permissions import Access
from api.serializers import PaymentSerializer
from api.views import ApiView
from payments.dunning import case_write_off
from payments.followup import case_contact_record, case_note_add, case_payment_link_send, case_retry_now
from payments.models import FailedPaymentCase

_FILTERS = {
    "status": "status",
    "customer": "renewal__line__customer_id",
    "line": "renewal__line_id",
    "next_retry_after": "next_retry_at__gte",
    "next_retry_before": "next_retry_at__lt",
    "opened_since": "opened_at__gte",
}


class CaseViewMixin(ApiView):
    access = {
        "GET": Access("read", "payments.view_failedpaymentcase"),
        "POST": Access("write", "payments.change_failedpaymentcase"),
    }
    serializer_class = s.FailedPaymentCaseSerializer

    def get_queryset(self):
        cases = FailedPaymentCase.objects.select_related("renewal__line")
        return self.caller.own(cases, "renewal__line__customer__partner")

    def body(self, serializer_class) -> dict:
        serializer = serializer_class(data=self.request.data)
        serializer.is_valid(raise_exception=True)
        return serializer.validated_data

    def case_data(self, pk: int) -> dict:
        return s.FailedPaymentCaseSerializer(self.get_queryset().get(pk=pk)).data


@schema.case_list
class FailedPaymentCaseList(CaseViewMixin):
    def get(self, request):
        query = self.query(s.FailedPaymentCaseListQuerySerializer)
        cases = self.get_queryset().filter(**{_FILTERS[name]: value for name, value in query.items()})
        return self.paginated(cases)


@schema.case_detail
class FailedPaymentCaseDetail(CaseViewMixin):
    def get(self, request, pk):
        return Response(self.get_serializer(self.get_object()).data)


@schema.case_retry
class FailedPaymentCaseRetry(CaseViewMixin):
    @idempotent
    def post(self, request, pk):
        payment = case_retry_now(case=self.get_object(), actor=self.caller.actor)
        return Response(
            {"case": self.case_data(pk), "payment": PaymentSerializer(payment).data if payment else None}
        )


@schema.case_payment_link
class FailedPaymentCasePaymentLink(CaseViewMixin):
    @idempotent
    def post(self, request, pk):
        sent = case_payment_link_send(case=self.get_object(), actor=self.caller.actor)
        channels = sorted(message.channel for message in sent.messages)
        return Response({"case": self.case_data(pk), "pay_url": sent.url, "channels": channels})


@schema.case_notes
class FailedPaymentCaseNotes(CaseViewMixin):
    @idempotent
    def post(self, request, pk):
        case = self.get_object()
        data = self.body(s.NoteInputSerializer)
        case_note_add(case=case, text=data["text"], actor=self.caller.actor)
        return Response(self.case_data(pk), status=201)


@schema.case_outcome
class FailedPaymentCaseOutcome(CaseViewMixin):
    @idempotent
    def post(self, request, pk):
        case = self.get_object()
        data = self.body(s.OutcomeInputSerializer)
        case_contact_record(case=case, outcome=data["outcome"], note=data["note"], actor=self.caller.actor)
        return Response(self.case_data(pk))


@schema.case_write_off
class FailedPaymentCaseWriteOff(CaseViewMixin):
    @idempotent
    def post(self, request, pk):
        case = self.get_object()
        data = self.body(s.WriteOffInputSerializer)
        case_write_off(case=case, note=data["reason"], actor=self.caller.actor)
        return Response(self.case_data(pk))
