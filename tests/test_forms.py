"""The site's own attribute writer renders exactly what WTForms' would, values escaped."""

from __future__ import annotations

import pytest
from markupsafe import Markup
from wtforms.widgets import html_params

from directory.forms import html_attributes

CASES = [
    {"id": "near", "type": "text", "name": "near", "value": "10001", "maxlength": 200},
    {"value": '"><script>alert(1)</script>', "name": "near"},
    {"value": "Tom & Jerry's <clinic>", "class_": "wide", "for_": "x"},
    {"checked": True, "disabled": False, "required": True, "name": "accepting", "value": "y"},
    {"aria_describedby": "near-hint near-error", "aria_invalid": "true", "data_x_y": 3},
    {"value": Markup("<b>kept</b>"), "title": 0, "placeholder": ""},
    {},
]


@pytest.mark.parametrize("attributes", CASES)
def test_html_attributes_are_what_wtforms_writes(attributes):
    assert html_attributes(**attributes) == html_params(**attributes)


def test_search_page_fields_escape_what_was_typed(client):
    page = client.get('/?near="><script>alert(1)</script>&accepting=y').get_data(as_text=True)
    assert "<script>alert(1)</script>" not in page
    assert 'value="&#34;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"' in page
    assert '<input checked id="accepting" name="accepting" type="checkbox" value="y">' in page
