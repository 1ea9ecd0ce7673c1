"""Reading pages as a user (and a browser submitting a form) would: shared by the tests."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser


class _FormReader(HTMLParser):
    """The values a browser would submit from the page's form controls (name → values)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: dict[str, list[str]] = {}
        self._textarea: str | None = None
        self._select: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        name = attrs.get("name")
        if tag == "input" and name:
            kind = attrs.get("type", "text")
            if kind in ("checkbox", "radio"):
                self.values.setdefault(name, [])
                if "checked" in attrs:
                    self.values[name].append(attrs.get("value") or "on")
            elif kind not in ("submit", "file"):
                self.values.setdefault(name, []).append(attrs.get("value") or "")
        elif tag == "textarea" and name:
            self._textarea = name
            self.values[name] = [""]
        elif tag == "select" and name:
            self._select = name
            self.values.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attrs:
            self.values[self._select].append(attrs.get("value") or "")

    def handle_endtag(self, tag):
        if tag == "textarea":
            self._textarea = None
        elif tag == "select":
            self._select = None

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea][0] += data


def form_values(response) -> dict[str, list[str]]:
    """What the page's form would send back, as the browser shows it to the user."""
    reader = _FormReader()
    reader.feed(response.get_data(as_text=True))
    for values in reader.values.values():
        # HTML drops the one newline that starts a <textarea>'s content.
        if values and values[0].startswith(("\r\n", "\n")):
            values[0] = values[0].split("\n", 1)[1]
    return reader.values


def page(response) -> str:
    """The page's HTML with entities decoded (for finding text as a user reads it)."""
    return html.unescape(response.get_data(as_text=True))


def field_error(response, field_id: str) -> str:
    """The error message shown under one field ("" when there is none)."""
    match = re.search(rf'<p class="error" id="{re.escape(field_id)}-error">(.*?)</p>',
                      response.get_data(as_text=True), re.S)
    return html.unescape(match.group(1)) if match else ""


def flashes(response) -> list[str]:
    """The flashed messages on a page."""
    return [html.unescape(m) for m in re.findall(
        r'<p class="flash flash-\w+">(.*?)</p>', response.get_data(as_text=True), re.S)]
