"""``GET /api/v1/webhook-events/`` and ``/webhook-events/{id}/``: a partner reads the events
we sent it and how each delivery went (for its own reconciliation, or to find what it
missed). Partner keys only: another partner's event answers 404; staff see them in the admin."""

from django.utils.translation import gettext as _
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema, extend_schema_field, extend_schema_view
from rest_framework import exceptions, serializers
from rest_framework.response import Response

from api.permissions import Access
from api.schema import _ok, _responses
from api.views import ApiView
from webhooks.models import DeliveryStatus, EventType, WebhookDelivery, WebhookEvent


class WebhookDeliverySerializer(serializers.ModelSerializer):
    url = serializers.CharField(source="endpoint.url")

    class Meta:
        model = WebhookDelivery
        fields = ["url", "status", "attempts", "last_status_code", "next_attempt_at", "delivered_at"]
        read_only_fields = fields


class WebhookEventSerializer(serializers.ModelSerializer):
    id = serializers.CharField(source="event_id")
    type = serializers.ChoiceField(source="event_type", choices=EventType.choices)
    created = serializers.DateTimeField(source="created_at")
    data = serializers.SerializerMethodField()
    deliveries = WebhookDeliverySerializer(many=True)

    class Meta:
        model = WebhookEvent
        fields = ["id", "type", "created", "data", "deliveries"]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.OBJECT)
    def get_data(self, event: WebhookEvent) -> dict:
        return event.data


class WebhookEventListQuerySerializer(serializers.Serializer):
    type = serializers.ChoiceField(choices=EventType.choices, required=False)
    delivery_status = serializers.ChoiceField(choices=DeliveryStatus.choices, required=False)


EVENT = {
    "id": "evt_0d3a5b7c9e1f4a2b8c6d4e2f0a1b3c5d",
    "type": "wallet.low_balance",
    "created": "2026-11-20T09:11:00Z",
    "data": {
        "wallet": {
            "currency": "EUR",
            "balance": {"amount": "85.00", "currency": "EUR"},
            "low_balance_threshold": {"amount": "100.00", "currency": "EUR"},
            "updated_at": "2026-11-20T09:11:00Z",
        }
    },
    "deliveries": [
        {
            "url": "https://agency.example.com/hooks/reseller",
            "status": "pending",
            "attempts": 2,
            "last_status_code": 503,
            "next_attempt_at": "2026-11-20T09:41:00Z",
            "delivered_at": None,
        }
    ],
}


class WebhookEventViewMixin(ApiView):
    access = {"GET": Access("read", "accounts.view_partner")}
    serializer_class = WebhookEventSerializer
    lookup_field = "event_id"
    lookup_url_kwarg = "event_id"

    def get_queryset(self):
        if not self.caller.is_partner:
            raise exceptions.NotFound(
                _("Webhook events are read with a partner's key; staff see them in the admin."),
                code="not_found",
            )
        return WebhookEvent.objects.filter(partner_id=self.caller.partner.pk).prefetch_related(
            "deliveries__endpoint"
        )


@extend_schema_view(
    get=extend_schema(
        operation_id="webhook_events_list",
        summary="The webhook events sent to you, newest first, with their deliveries",
        parameters=[WebhookEventListQuerySerializer],
        responses=_responses("/api/v1/webhook-events/", _ok(WebhookEventSerializer(many=True), EVENT), 404),
    )
)
class WebhookEventList(WebhookEventViewMixin):
    def get(self, request):
        query = self.query(WebhookEventListQuerySerializer)
        events = self.get_queryset()
        if "type" in query:
            events = events.filter(event_type=query["type"])
        if "delivery_status" in query:
            events = events.filter(deliveries__status=query["delivery_status"]).distinct()
        return self.paginated(events)


@extend_schema_view(
    get=extend_schema(
        operation_id="webhook_events_retrieve",
        summary="A webhook event and how its deliveries went",
        responses=_responses(
            f"/api/v1/webhook-events/{EVENT['id']}/", _ok(WebhookEventSerializer, EVENT), 404
        ),
    )
)
class WebhookEventDetail(WebhookEventViewMixin):
    def get(self, request, event_id):
        return Response(self.get_serializer(self.get_object()).data)
