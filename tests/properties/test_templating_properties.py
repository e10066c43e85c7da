"""Whatever an event carries, a filled template keeps its shape: no injection into any body type or URL."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ElementTree
from html.parser import HTMLParser
from urllib.parse import unquote, urlsplit

from hypothesis import given, settings
from hypothesis import strategies as st

from callbacks.delivery.render.templating import BodyType, template_check, template_render, url_render

# Characters XML 1.0 can carry at all (no C0 controls but tab and newline; \r is normalised by parsers).
xml_text = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r\ufffe\uffff").filter(
        lambda character: character in "\t\n" or ord(character) >= 0x20
    ),
    max_size=200,
)
json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=50),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12,
)
hostile_text = st.text(max_size=80) | st.sampled_from(
    ['", "admin": true, "x": "', "</to><admin>1</admin><to>", "<script>alert(1)</script>", "\\", '\\"', "]]>", "&amp;"]
)


def context(data: dict) -> dict:
    return {"event": {"id": "evt-1", "type": "message.status", "created": "2026-11-23T09:30:00Z"}, "data": data}


JSON_TEMPLATE = '{"typed": <data.value>, "inside": "pre <data.text> post", "list": [<data.value>], "id": "<event.id>"}'


@settings(max_examples=400, deadline=None)
@given(value=json_values, text=hostile_text)
def test_json_bodies_keep_their_keys_and_carry_values_exactly(value, text):
    # given a JSON template with a typed placeholder and one inside a string
    rendered = template_render(
        template=JSON_TEMPLATE, body_type=BodyType.JSON, context=context({"value": value, "text": text})
    )
    # when the body is parsed as a receiver would
    parsed = json.loads(rendered)
    # then no key was injected and every value arrives exactly as the event had it
    assert set(parsed) == {"typed", "inside", "list", "id"}
    assert parsed["typed"] == value
    assert parsed["list"] == [value]
    assert parsed["inside"] == f"pre {text} post"
    assert parsed["id"] == "evt-1"


@settings(max_examples=200, deadline=None)
@given(value=json_values)
def test_json_templates_that_pass_the_save_check_render_to_json_for_any_value(value):
    # given a template accepted at save time
    template = '{"v": <data.value>, "s": "<data.value>"}'
    template_check(template=template, body_type=BodyType.JSON, example_context=context({"value": 1}))
    # then any later value still renders to JSON
    json.loads(template_render(template=template, body_type=BodyType.JSON, context=context({"value": value})))


XML_TEMPLATE = '<message id="<event.id>"><to><data.phone></to><body><data.text></body></message>'


@settings(max_examples=400, deadline=None)
@given(phone=xml_text, text=xml_text)
def test_xml_bodies_keep_their_elements_and_carry_text_exactly(phone, text):
    # given an XML template and any text in the event
    rendered = template_render(
        template=XML_TEMPLATE, body_type=BodyType.XML, context=context({"phone": phone, "text": text})
    )
    # when an XML parser reads the body
    root = ElementTree.fromstring(rendered)
    # then the elements are the template's and their text is the event's
    assert [child.tag for child in root] == ["to", "body"]
    assert root.attrib == {"id": "evt-1"}
    assert (root.find("to").text or "") == phone
    assert (root.find("body").text or "") == text


class TagCollector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[str] = []
        self.attributes: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attributes.extend(attrs)

    def handle_data(self, data):
        self.text.append(data)


@settings(max_examples=400, deadline=None)
@given(name=xml_text, note=xml_text)
def test_html_bodies_get_no_new_tags_or_attributes(name, note):
    # given an HTML template with a placeholder in text and one in an attribute
    template = '<p title="<data.note>">Hello <data.name></p>'
    rendered = template_render(
        template=template, body_type=BodyType.HTML, context=context({"name": name, "note": note})
    )
    # when a browser-like parser reads it
    parser = TagCollector()
    parser.feed(rendered)
    parser.close()
    # then it holds exactly the template's tag and attribute, with the values as text
    assert parser.tags == ["p"]
    assert parser.attributes == [("title", note)]
    assert "".join(parser.text) == f"Hello {name}"


@settings(max_examples=400, deadline=None)
@given(phone=st.text(max_size=60), code=st.text(max_size=60))
def test_url_placeholders_cannot_change_host_path_or_query(phone, code):
    # given a URL with placeholders in the path and the query
    url = url_render(
        url="https://hooks.example.com/sms/<data.phone>?code=<data.code>&x=1",
        context=context({"phone": phone, "code": code}),
    )
    # when it is split as an HTTP client would
    parts = urlsplit(url)
    # then scheme, host and the query's keys are the template's, and the values decode back exactly
    assert (parts.scheme, parts.netloc) == ("https", "hooks.example.com")
    assert parts.fragment == ""
    assert parts.path.count("/") == 2
    assert unquote(parts.path.rsplit("/", 1)[1]) == phone
    query = parts.query.split("&")
    assert [item.split("=", 1)[0] for item in query] == ["code", "x"]
    assert unquote(query[0].split("=", 1)[1]) == code


@settings(max_examples=200, deadline=None)
@given(text=st.text(max_size=100))
def test_text_bodies_carry_values_as_is(text):
    rendered = template_render(template="Code: <data.text>.", body_type=BodyType.TEXT, context=context({"text": text}))
    assert rendered == f"Code: {text}."
