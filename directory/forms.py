"""Fields and validators shared by every blueprint's forms."""

from __future__ import annotations

from urllib.parse import urlsplit

from wtforms import SelectMultipleField, StringField, URLField
from wtforms.validators import ValidationError
from wtforms.widgets import CheckboxInput, ListWidget


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes for choosing several options."""

    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class StrippedStringField(StringField):
    """A text field whose value is stripped of surrounding spaces (None becomes "")."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        self.data = str(self.data or "").strip()


class WebAddressField(URLField):
    """An http(s) address; "example.com" is read as https://example.com."""

    def process_formdata(self, valuelist):
        super().process_formdata(valuelist)
        value = (self.data or "").strip()
        if value and "://" not in value and not value.lower().startswith(("javascript:", "data:")):
            value = "https://" + value
        self.data = value


def http_url(form, field) -> None:
    """Only http and https addresses with a host name are accepted."""
    if not field.data:
        return
    try:
        parts = urlsplit(field.data)
    except ValueError as exc:
        raise ValidationError("Enter a web address such as https://example.com.") from exc
    if parts.scheme.lower() not in ("http", "https"):
        raise ValidationError("Only web addresses starting with http:// or https:// are allowed.")
    host = parts.hostname or ""
    if "." not in host or any(ch.isspace() for ch in field.data):
        raise ValidationError("Enter a web address such as https://example.com.")
