"""Fields and validators shared by every blueprint's forms."""

from __future__ import annotations

from flask import request
from flask_wtf import FlaskForm
from flask_wtf.file import FileField
from markupsafe import Markup, escape
from werkzeug.datastructures import MultiDict
from wtforms import (
    PasswordField,
    SelectMultipleField,
    StringField,
    TextAreaField,
    URLField,
    widgets,
)
from wtforms.validators import StopValidation
from wtforms.widgets import CheckboxInput, ListWidget

from directory import field_rules


class BaseForm(FlaskForm):
    """Every form of the site: fields are read from the submitted form only.

    Flask-WTF would also read a JSON body, and uploaded files into any field; a JSON number or a
    file where text is expected is not text, and must give a message, not an error. Only fields
    declared as FileField receive uploaded files.
    """

    class Meta:
        def wrap_formdata(self, form, formdata):
            if formdata is None or hasattr(formdata, "getlist"):
                return formdata  # given explicitly (tests, GET forms)
            if not form.is_submitted():
                return None
            data = MultiDict(request.form)
            for field in form:
                if isinstance(field, FileField) and field.name in request.files:
                    data.setlist(field.name, request.files.getlist(field.name))
            return data or None

    def validate(self, extra_validators=None) -> bool:
        """The fields' own checks, then no NUL character in any text (PostgreSQL refuses it),
        before the form's own validate_<field> checks: some look the value up in the database.
        Text-direction controls are taken out of free text (a textarea: a bio, a reason) and
        refused in a one-line field (a name, a number; a password is left as typed):
        field_rules.BIDI_CONTROLS."""
        for field in self:
            if not isinstance(field.data, str):
                continue
            if "\x00" in field.data and no_nul not in field.validators:
                field.validators = [*field.validators, no_nul]
            if field_rules.has_bidi_controls(field.data) and not isinstance(field,
                                                                             PasswordField):
                if isinstance(field, TextAreaField):
                    field.data = field_rules.strip_bidi_controls(field.data)
                elif no_bidi not in field.validators:
                    field.validators = [*field.validators, no_bidi]
        return super().validate(extra_validators)


def html_attributes(**kwargs) -> Markup:
    """What wtforms.widgets.html_params writes (attributes sorted by name, "class_" as "class",
    "data_x_y" as "data-x-y", True alone, False left out, values escaped), built from plain
    strings: WTForms formats each attribute through Markup.format, about 15 µs apiece, which
    the search page paid a dozen times per request."""
    params = []
    for key, value in sorted(kwargs.items()):
        key = widgets.core.clean_key(key)
        if value is True:
            params.append(key)
        elif value is not False:
            params.append(f'{key}="{escape(value).replace(chr(34), "&quot;")}"')
    return Markup(" ".join(params))  # noqa: S704 — every value escaped above


class TextInput(widgets.TextInput):
    """A text input written with html_attributes."""

    html_params = staticmethod(html_attributes)


class CheckboxTick(widgets.CheckboxInput):
    """A checkbox written with html_attributes."""

    html_params = staticmethod(html_attributes)


def no_nul(form, field) -> None:
    """Text never holds a NUL character (the checks after this one are skipped)."""
    if isinstance(field.data, str) and "\x00" in field.data:
        raise StopValidation("Remove the invisible NUL character from this text.")


def no_bidi(form, field) -> None:
    """A name or number holds no text-direction control (the checks after this are skipped)."""
    if isinstance(field.data, str) and field_rules.has_bidi_controls(field.data):
        raise StopValidation(field_rules.BIDI_MESSAGE)


def submitted_version(field) -> int:
    """The record version a form was loaded with, as the browser sent it (-1 when missing or
    not a number, which counts as stale: a save without it cannot skip the locking)."""
    try:
        return int(field.raw_data[0]) if field.raw_data else -1
    except (TypeError, ValueError):
        return -1


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
        self.data = field_rules.normalise_web_address(self.data)


# Only http and https addresses with a host name are accepted (field_rules.web_address).
http_url = field_rules.validator(field_rules.web_address)
