"""`/api/v1/event-types/`: the catalogue a profile subscribes to, with example payloads."""

from __future__ import annotations

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, extend_schema, extend_schema_view
from rest_framework import mixins, serializers, viewsets

from callbacks.event_types import Category, label_of
from callbacks.models import EventType


class EventTypeSerializer(serializers.ModelSerializer):
    category_label = serializers.CharField(read_only=True)
    label = serializers.SerializerMethodField(help_text="The readable name shown on the screens.")
    example = serializers.JSONField(read_only=True, help_text="An example of the `data` the event carries.")

    class Meta:
        model = EventType
        fields = ["code", "label", "category", "category_label", "description", "example"]
        read_only_fields = fields

    def get_label(self, event_type: EventType) -> str:
        return label_of(event_type.code)


@extend_schema_view(
    list=extend_schema(
        summary="The event catalogue",
        parameters=[OpenApiParameter("category", OpenApiTypes.STR, enum=list(Category.LABELS))],
    )
)
class EventTypeViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    serializer_class = EventTypeSerializer

    def get_queryset(self):
        event_types = EventType.objects.order_by("category", "code")
        category = self.request.query_params.get("category")
        if category and category not in Category.LABELS:
            raise serializers.ValidationError({"category": f"Choose one of: {', '.join(Category.LABELS)}."})
        return event_types.filter(category=category) if category else event_types
