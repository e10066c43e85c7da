"""Putting a service's ValidationError on a form: each message beside the field it names."""

from __future__ import annotations

from django import forms
from django.core.exceptions import ValidationError


def service_errors_show(form: forms.BaseForm, error: ValidationError, renames: dict[str, str] | None = None) -> None:
    """Field-named errors go beside their field; others (and unknown names) to the top of the form."""
    if not hasattr(error, "error_dict"):
        form.add_error(None, error)
        return
    renames = renames or {}
    for name, errors in error.error_dict.items():
        field = renames.get(name, name)
        if field in ("non_field_errors", "__all__"):
            form.add_error(None, errors)
        elif field in form.fields:
            form.add_error(field, errors)
        else:
            form.add_error(None, [f"{name}: {message}" for item in errors for message in item.messages])
