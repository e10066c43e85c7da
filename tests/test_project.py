"""The project's own promises: health, schema, the catalogue seeded, every setting documented."""

import re
from pathlib import Path

import pytest

from callbacks import event_types
from callbacks.models import EventType

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.mark.django_db
def test_openapi_schema_is_generated_without_warnings_or_errors(tmp_path, client):
    # given every API view / when the schema is generated as /api/docs/ does, failing on any warning
    from django.core.management import call_command

    call_command("spectacular", "--fail-on-warn", "--file", str(tmp_path / "schema.yml"))

    # then it is written whole, the stats answer documented, and the docs page answers
    schema = (tmp_path / "schema.yml").read_text()
    assert "/api/v1/callback-profiles/{id}/stats/" in schema and "DeliveryStateEnum" in schema
    assert client.get("/api/docs/").status_code == 200


def test_envfile_is_written_once_with_fresh_secrets_and_the_served_address(tmp_path):
    from config.envfile import envfile_write

    # given no .env / when make run writes one for the address it serves on
    target = tmp_path / ".env"
    assert envfile_write(target, site_url="http://127.0.0.1:8237") is True
    first = target.read_text()
    # then links in e-mails point there, and a second run keeps the file (and its keys) as it was
    assert "SITE_URL=http://127.0.0.1:8237" in first
    assert "FIELD_ENCRYPTION_KEYS=" in first and "SECRET_KEY=" in first
    assert envfile_write(target, site_url="http://127.0.0.1:9999") is False
    assert target.read_text() == first


def test_every_environment_variable_the_code_reads_is_documented():
    # given every variable read through django-environ or os.environ by the project's own code
    variable = re.compile(
        r"""(?:\benv(?:\.\w+)?|os\.environ\.get|os\.getenv|os\.environ\[)\(?\s*["']([A-Z][A-Z0-9_]+)["']"""
    )
    read = set()
    for package in ("config", "callbacks", "alerts", "reports"):
        for source in (ROOT / package).rglob("*.py"):
            read |= set(variable.findall(source.read_text()))
    # then each one has its line in docs/configuration.md
    documented = (ROOT / "docs" / "configuration.md").read_text()
    assert len(read) > 50
    assert sorted(name for name in read if f"`{name}`" not in documented) == []
