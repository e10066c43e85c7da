"""Placeholders in body templates and URLs: typed JSON, entity escaping, percent-encoding, save-time checks."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree

import pytest
from django.core.exceptions import ValidationError

from callbacks import event_types
from callbacks.delivery.render.templating import (
    example_context,
    example_contexts,
    template_check,
    template_placeholders,
    template_render,
    url_render,
)

CONTEXT = {
    "event": {"id": "evt-1", "type": event_types.MESSAGE_STATUS, "created": "2026-11-23T09:30:00Z"},
    "data": {
        "phone": "+14155550123",
        "name": 'Ada "The Countess" <Lovelace> & Co',
        "segments": 2,
        "price": 0.0075,
        "read": True,
        "error_code": None,
        "address": {"formatted_address": "1 Main St, Springfield"},
        "items": [{"sku": "A-1"}, {"sku": "B-2"}],
        "content": "line one\nline two \\ backslash",
    },
}


def test_placeholders_are_listed_once_in_order_and_tags_are_not_placeholders():
    template = "<root><phone><data.phone></phone><id><event.id></id><again><data.phone></again></root>"
    assert template_placeholders(template) == ["data.phone", "event.id"]


def test_json_placeholders_standing_as_values_keep_their_json_type():
    # given a JSON template with whole-value placeholders
    template = (
        '{"to": <data.phone>, "segments": <data.segments>, "price": <data.price>, "read": <data.read>,'
        ' "error": <data.error_code>, "address": <data.address>, "items": <data.items>, "missing": <data.nope>}'
    )
    # when rendered
    body = json.loads(template_render(template=template, body_type="json", context=CONTEXT))
    # then every value has its own JSON type and an unknown path is null
    assert body == {
        "to": "+14155550123",
        "segments": 2,
        "price": 0.0075,
        "read": True,
        "error": None,
        "address": {"formatted_address": "1 Main St, Springfield"},
        "items": [{"sku": "A-1"}, {"sku": "B-2"}],
        "missing": None,
    }


def test_json_placeholders_inside_strings_are_string_escaped():
    # given placeholders inside JSON strings, one of them with quotes, newlines and backslashes in its value
    template = (
        '{"text": "Dear <data.name>, you have <data.segments> parts", "content": "<data.content>",'
        ' "sku": "<data.items.1.sku>", "where": "<data.address.formatted_address>", "gone": "x<data.nope>y",'
        ' "escaped": "a \\"<data.phone>\\" b"}'
    )
    # when rendered / then it parses and each value reads exactly as given
    body = json.loads(template_render(template=template, body_type="json", context=CONTEXT))
    assert body["text"] == 'Dear Ada "The Countess" <Lovelace> & Co, you have 2 parts'
    assert body["content"] == "line one\nline two \\ backslash"
    assert body["sku"] == "B-2"
    assert body["where"] == "1 Main St, Springfield"
    assert body["gone"] == "xy"
    assert body["escaped"] == 'a "+14155550123" b'


@pytest.mark.parametrize("body_type", ["xml", "html"])
def test_xml_and_html_values_are_entity_escaped(body_type):
    # given a markup template and a value full of markup characters
    template = '<message id="<event.id>"><name><data.name></name><missing><data.nope></missing></message>'
    # when rendered
    body = template_render(template=template, body_type=body_type, context=CONTEXT)
    # then the value cannot break out of its element and reads back unchanged
    assert "&lt;Lovelace&gt; &amp; Co" in body
    root = ElementTree.fromstring(body)
    assert root.attrib["id"] == "evt-1"
    assert root.find("name").text == 'Ada "The Countess" <Lovelace> & Co'
    assert root.find("missing").text is None


def test_text_values_are_inserted_as_is():
    template = "Event <event.type> for <data.name>: <data.segments> segments, <data.address>, [<data.nope>]"
    body = template_render(template=template, body_type="text", context=CONTEXT)
    assert body == (
        'Event message.status for Ada "The Countess" <Lovelace> & Co: 2 segments, '
        '{"formatted_address":"1 Main St, Springfield"}, []'
    )


def test_url_placeholders_are_percent_encoded():
    # given a URL whose placeholders carry reserved characters
    context = {**CONTEXT, "data": {**CONTEXT["data"], "q": "a&b=c/d?e#f g"}}
    url = "https://hooks.example.com/sms/<data.phone>?name=<data.name>&q=<data.q>&gone=<data.nope>"
    # when rendered / then each value is one opaque, encoded component
    assert url_render(url=url, context=context) == (
        "https://hooks.example.com/sms/%2B14155550123?name=Ada%20%22The%20Countess%22%20%3CLovelace%3E%20%26%20Co"
        "&q=a%26b%3Dc%2Fd%3Fe%23f%20g&gone="
    )


def test_template_check_accepts_placeholders_of_the_subscribed_examples():
    template = '{"phone": <data.phone>, "status": "<data.status>", "id": <event.id>, "at": <event.created>}'
    template_check(template=template, body_type="json", example_context=example_context(event_types.MESSAGE_STATUS))


def test_template_check_names_the_unknown_placeholder_and_what_exists():
    # given a typo in a placeholder
    with pytest.raises(ValidationError) as error:
        template_check(
            template='{"phone": <data.phon>}',
            body_type="json",
            example_context=example_context(event_types.OTP_SENT),
        )
    # then the message names it, the type checked, and the fields available
    message = error.value.messages[0]
    assert "<data.phon>" in message
    assert event_types.OTP_SENT in message
    assert "<data.phone>" in message
    assert error.value.code == "placeholder"


def test_template_check_accepts_a_placeholder_found_in_any_subscribed_type():
    # given two subscriptions where only one example has `balance_usd`
    contexts = example_contexts([event_types.OTP_SENT, event_types.ACCOUNT_BALANCE])
    template_check(template='{"b": <data.balance_usd>, "p": <data.phone>}', body_type="json", example_context=contexts)
    # but a path in neither is reported
    with pytest.raises(ValidationError):
        template_check(template='{"x": <data.nowhere>}', body_type="json", example_context=contexts)


def test_template_check_refuses_json_that_is_not_json_once_filled():
    # given a template missing a comma
    with pytest.raises(ValidationError) as error:
        template_check(
            template='{"phone": <data.phone> "status": 1}',
            body_type="json",
            example_context=example_context(event_types.MESSAGE_STATUS),
        )
    assert "not JSON" in error.value.messages[0]
    assert error.value.code == "json"


def test_template_check_does_not_require_markup_templates_to_be_json():
    template_check(
        template="<sms><to><data.phone></to></sms>",
        body_type="xml",
        example_context=example_context(event_types.MESSAGE_STATUS),
    )


def test_unknown_event_fields_are_reported():
    with pytest.raises(ValidationError) as error:
        template_check(template="<event.secret>", body_type="text", example_context=example_contexts([]))
    assert "<event.secret>" in error.value.messages[0]


def test_characters_xml_cannot_carry_are_replaced_so_the_body_still_parses():
    context = {"event": {}, "data": {"content": "bell\x07 form\x0c feed & tab\tkept"}}
    body = template_render(template="<m><data.content></m>", body_type="xml", context=context)
    assert ElementTree.fromstring(body).text == "bell\ufffd form\ufffd feed & tab\tkept"


def test_xml_keeps_cr_lf_and_tab_in_element_text_and_in_attributes():
    # given data with CR LF and TAB placed in an attribute and in element text
    text = "a\r\nb\tc\rd\ne"
    context = {"event": {}, "data": {"note": text}}
    body = template_render(
        template="<m note=\"<data.note>\" other='<data.note>'><b><data.note></b></m>",
        body_type="xml",
        context=context,
    )

    # then a standard XML parser reads back exactly what the event held, in both places
    root = ElementTree.fromstring(body)
    assert root.get("note") == text and root.get("other") == text
    assert root.find("b").text == text


def test_html_keeps_cr_lf_and_tab_in_text_and_attributes():
    from html.parser import HTMLParser

    class Reader(HTMLParser):
        def __init__(self) -> None:
            super().__init__(convert_charrefs=True)
            self.attribute, self.text = None, ""

        def handle_starttag(self, tag, attrs):
            if tag == "p":
                self.attribute = dict(attrs)["title"]

        def handle_data(self, data):
            self.text += data

    text = "a\r\nb\tc"
    body = template_render(
        template='<p title="<data.note>"><data.note></p>',
        body_type="html",
        context={"event": {}, "data": {"note": text}},
    )
    reader = Reader()
    reader.feed(body)
    assert reader.attribute == text and reader.text == text
