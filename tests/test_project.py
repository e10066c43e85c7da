"""The project's own promises: health, schema, the catalogue seeded."""

import pytest

from callbacks import event_types
from callbacks.models import EventType


@pytest.mark.django_db
def test_healthz_reports_database_and_broker(client):
    # given a running project / when the health endpoint is called
    response = client.get("/healthz")
    # then the database and the broker answer
    assert response.status_code == 200
    assert response.json() == {"status": "ok", "database": "ok", "broker": "ok"}


@pytest.mark.django_db
def test_catalogue_is_seeded_from_the_registry():
    # given a migrated database / then every registry code has its row with its example
    codes = set(EventType.objects.values_list("code", flat=True))
    assert codes == {spec.code for spec in event_types.REGISTRY}
    assert EventType.objects.get(code=event_types.OTP_SENT).example["phone"].startswith("+")


@pytest.mark.django_db
def test_openapi_schema_is_served_without_authentication(client):
    response = client.get("/api/schema/")
    assert response.status_code == 200
    assert b"Callback Center API" in response.content
