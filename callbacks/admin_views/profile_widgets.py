"""Widgets of the "Configure a callback" form: header rows and event types grouped by category."""

from __future__ import annotations

import json

from django import forms
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe

from callbacks import event_types


class KeyValueWidget(forms.Textarea):
    """A JSON object edited as add / remove key-value rows (the textarea is the no-script fallback)."""

    def __init__(self, attrs: dict | None = None) -> None:
        super().__init__({"rows": 3, "class": "cc-kv-source", **(attrs or {})})

    def format_value(self, value) -> str:
        if value in (None, "", {}):
            return "{}"
        if isinstance(value, str):
            return value
        return json.dumps(value, ensure_ascii=False)

    def render(self, name, value, attrs=None, renderer=None) -> str:
        textarea = super().render(name, value, attrs, renderer)
        return format_html(
            '<div class="cc-kv" data-kv-for="{}">{}<div class="cc-kv-rows"></div>'
            '<button type="button" class="cc-button" data-kv-add>+ Add header</button></div>',
            (attrs or {}).get("id", f"id_{name}"),
            textarea,
        )


class EventTypeGroupsWidget(forms.CheckboxSelectMultiple):
    """Event types as checkboxes grouped by category; each carries its example payload for the
    panel on the right and for the placeholders offered under the body template."""

    def render(self, name, value, attrs=None, renderer=None) -> str:
        chosen = {str(code) for code in (value or [])}
        groups: dict[str, list[event_types.EventTypeSpec]] = {}
        for spec in event_types.REGISTRY:
            if spec.code == event_types.CALLBACK_TEST:
                continue  # every profile receives the connectivity test; nobody subscribes to it
            groups.setdefault(spec.category, []).append(spec)
        html = []
        for category, specs in groups.items():
            items = format_html_join(
                "",
                '<label title="{}" data-example="{}" data-code="{}" data-description="{}">'
                '<input type="checkbox" name="{}" value="{}"{}> <span class="cc-event-name">{} <code>{}</code></span></label>',
                (
                    (
                        spec.description,
                        json.dumps(spec.example, indent=2, ensure_ascii=False),
                        spec.code,
                        spec.description,
                        name,
                        spec.code,
                        mark_safe(" checked") if spec.code in chosen else "",
                        spec.label,
                        spec.code,
                    )
                    for spec in specs
                ),
            )
            label = event_types.Category.LABELS.get(category, category)
            html.append(format_html('<div class="cc-event-group"><h3>{}</h3>{}</div>', label, items))
        return format_html('<div class="cc-event-groups" id="cc-event-types">{}</div>', mark_safe("".join(html)))  # noqa: S308 built with format_html

    def value_from_datadict(self, data, files, name):
        return data.getlist(name) if hasattr(data, "getlist") else data.get(name)


class SecretInput(forms.PasswordInput):
    """Write-only: never renders the stored value, says whether one is set.

    What the person typed comes back after a failed save (the form's initial value is empty, so only
    their own input is ever rendered), so they do not type every secret again."""

    def __init__(self, *, is_set: bool = False, attrs: dict | None = None) -> None:
        placeholder = "•••••••• set: type to replace" if is_set else ""
        super().__init__(
            attrs={"placeholder": placeholder, "autocomplete": "new-password", **(attrs or {})}, render_value=True
        )
