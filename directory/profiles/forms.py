"""Profile and location forms."""

from __future__ import annotations

from typing import Any

from flask_wtf.file import FileField
from wtforms import BooleanField, EmailField, HiddenField, SelectField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError
from wtforms.widgets import TimeInput

from directory import field_rules, hours, practice, vocab
from directory.field_rules import length
from directory.forms import (
    BaseForm,
    MultiCheckboxField,
    StrippedStringField,
    WebAddressField,
    http_url,
)
from directory.profiles import photos


def _country_choices(blank: str) -> dict[str, str]:
    """{code: name} with an empty first choice (WTForms' shorthand form of choices)."""
    return {"": blank, **dict(vocab.countries())}


def strip(value):
    """Surrounding spaces are not part of a value."""
    return value.strip() if isinstance(value, str) else value


class ProfileForm(BaseForm):
    """Everything a patient sees about a practitioner, edited by the practitioner."""

    full_name = StrippedStringField("Full name", validators=[
        DataRequired("Enter your full name."), length("full_name")])
    post_nominals = StrippedStringField(
        "Post-nominal letters", validators=[length("post_nominals")],
        description="For example DPT, MCSP, FACP.")
    profession = SelectField(
        "Profession", choices={"": "Choose your profession", **vocab.PROFESSIONS},
        validators=[InputRequired("Choose your profession.")])
    licence_number = StrippedStringField(
        "Licence or registration number", validators=[length("licence_number")])
    licence_country = SelectField("Licence issued in (country)",
                                  choices=_country_choices("Choose a country"))
    licence_region = StrippedStringField(
        "Licence issued in (state, province or territory)",
        validators=[length("licence_region")],
        description="For example CO or Colorado, ON or Ontario, VIC or Victoria. "
                    "Leave empty for a national licence.")
    npi = StrippedStringField(
        "NPI (US practitioners)",
        validators=[length("npi"), field_rules.validator(field_rules.npi)],
        description="Your 10-digit National Provider Identifier. We check it, with your licence, "
                    "against the NPPES register.")
    bio = TextAreaField("About you", validators=[length("bio")],
                        description="Plain text. Line breaks are kept.")
    phone = StrippedStringField("Phone", validators=[
        length("phone"), field_rules.validator(field_rules.phone)])
    public_email = EmailField("Public e-mail", filters=[strip], validators=[
        Optional(), length("public_email"), field_rules.validator(field_rules.email)])
    website = WebAddressField("Website", validators=[length("website"), http_url])
    booking_url = WebAddressField("Online booking link",
                                  validators=[length("booking_url"), http_url])
    languages = StrippedStringField(
        "Languages spoken", validators=[length("languages"),
                                        field_rules.validator(field_rules.languages)],
        description=f"Names or codes, {field_rules.LIST_HELP}, for example: English, "
                    "Spanish, Mandarin.")
    accepting_new_patients = BooleanField("Accepting new patients")
    show_phone = BooleanField("Show my phone number on my profile")
    show_public_email = BooleanField("Show my public e-mail on my profile")
    enquiries_enabled = BooleanField(
        "Let patients send me a message from my profile",
        description="Messages reach your account's e-mail address, which patients never see; "
                    "your reply goes to the address they give.")
    insurers = MultiCheckboxField("Insurers and schemes you accept",
                                  choices=lambda: vocab.insurers())
    fee_first_visit = StrippedStringField("First visit fee", validators=[
        length("fee"), field_rules.validator(field_rules.fee)],
        description="In whole units of your currency, like 95 or 95.50. Leave empty if you "
                    "prefer not to say.")
    fee_follow_up = StrippedStringField("Follow-up visit fee", validators=[
        length("fee"), field_rules.validator(field_rules.fee)])
    fee_currency = SelectField("Currency", default="",
                               choices=lambda: {"": "Choose a currency", **practice.currencies()})
    insurance_notes = TextAreaField("Insurance and payment notes",
                                    validators=[length("insurance_notes")],
                                    description="Anything the lists above do not say: rebates, "
                                                "payment plans, concessions.")
    techniques = MultiCheckboxField("Techniques offered", choices=dict(vocab.TECHNIQUES))
    conditions = MultiCheckboxField("Conditions treated", choices=dict(vocab.CONDITIONS))
    version = HiddenField()
    submit = SubmitField("Save profile")

    def validate_licence_region(self, field) -> None:
        """A region must belong to the licence country."""
        if field.data:
            if not self.licence_country.data:
                raise ValidationError("Choose the country first.")
            if self.licence_country.data not in dict(vocab.countries()):
                return  # the country field reports that it is not a valid choice
            if vocab.resolve_region(self.licence_country.data, field.data) is None:
                country = vocab.country_name(self.licence_country.data)
                raise ValidationError(
                    f"We do not know “{field.data}” in {country}. Use its name or its code.")

    def validate_licence_country(self, field) -> None:
        """A licence number needs the country that issued it (the error shows on the country)."""
        if self.licence_number.data and not field.data:
            raise ValidationError("Choose the country that issued your licence.")

    def validate_fee_currency(self, field) -> None:
        """A fee needs its currency (the error shows on the currency)."""
        if (self.fee_first_visit.data or self.fee_follow_up.data) and not field.data:
            raise ValidationError("Choose the currency of your fees.")

    def fee_values(self) -> dict[str, int | str | None]:
        """The fees as stored: hundredths of the currency's unit (the fields' checks have
        accepted them), and the currency."""
        first = field_rules.fee(self.fee_first_visit.data)
        follow_up = field_rules.fee(self.fee_follow_up.data)
        given = first is not None or follow_up is not None
        return {"fee_first_visit": first, "fee_follow_up": follow_up,
                "fee_currency": (self.fee_currency.data or None) if given else None}

    def validate_npi(self, field) -> None:
        """An NPI belongs to a US licence."""
        if field.data and self.licence_country.data and self.licence_country.data != "US":
            raise ValidationError(field_rules.NPI_COUNTRY_MESSAGE)

    def npi_digits(self) -> str | None:
        """The NPI as stored: its 10 digits (the field's check has accepted it), or None."""
        return field_rules.npi(self.npi.data)

    def language_codes(self) -> list[str]:
        """The languages as ISO 639-1 codes (the field's check has accepted every one)."""
        return field_rules.languages(self.languages.data)

    def region_code(self) -> str | None:
        """The licence region as an ISO 3166-2 code."""
        return vocab.resolve_region(self.licence_country.data, self.licence_region.data)


class LocationForm(BaseForm):
    """A practice location."""

    clinic_name = StrippedStringField("Clinic name", validators=[
        DataRequired("Enter the clinic's name."), length("clinic_name")])
    street = StrippedStringField("Street address", validators=[length("street")])
    city = StrippedStringField("Town or city", validators=[
        DataRequired("Enter the town or city."), length("city")])
    region = StrippedStringField("State, province or county", validators=[length("region")])
    postcode = StrippedStringField("Postcode or ZIP", validators=[length("postcode")])
    country = SelectField("Country", choices=_country_choices("Choose a country"),
                          validators=[InputRequired("Choose the country.")])
    wheelchair_accessible = BooleanField("Wheelchair accessible")
    by_appointment = BooleanField(
        "By appointment only",
        description="Patients are seen by appointment only. Add the hours below as well if "
                    "the clinic has set hours.")
    submit = SubmitField("Save location")
    # Opening hours: a pair of time fields per range, RANGES_PER_DAY per day (added below).

    def hour_fields(self) -> list[tuple[str, list[list[tuple[str, Any]]]]]:
        """Monday to Sunday: (day name, its ranges, each [(short label, opens field),
        (short label, closes field)]), for the template."""
        return [(name, [[(short, self[_hour_field(day, index, part)])
                         for part, short in zip(HOUR_PARTS, shorts, strict=True)]
                        for index, shorts in enumerate(RANGE_LABELS[:hours.RANGES_PER_DAY])])
                for day, name in enumerate(hours.DAYS)]

    def _day_texts(self, day: int) -> list[tuple[str, str]]:
        return [tuple(self[_hour_field(day, index, part)].data for part in HOUR_PARTS)
                for index in range(hours.RANGES_PER_DAY)]

    def validate(self, extra_validators=None) -> bool:
        """The fields' checks, then each day's hours (directory.hours.check_day), with each
        message on its field."""
        valid = super().validate(extra_validators)
        for day in range(len(hours.DAYS)):
            _, problems = hours.check_day(self._day_texts(day))
            for (index, part), message in problems.items():
                self[_hour_field(day, index, part)].errors.append(message)
                valid = False
        return valid

    def openings(self) -> hours.WeeklyHours:
        """The week's hours as (weekday, opens, closes) (the form has validated them)."""
        return [(day, opens, closes) for day in range(len(hours.DAYS))
                for opens, closes in hours.check_day(self._day_texts(day))[0]]

    @staticmethod
    def hours_data(openings) -> dict[str, str]:
        """The hour fields' values for saved opening hours (OpeningHours rows), to fill the
        form: data=LocationForm.hours_data(location.hours)."""
        data: dict[str, str] = {}
        for day, (_, ranges) in enumerate(hours.weekly(openings)):
            for index, pair in enumerate(ranges[:hours.RANGES_PER_DAY]):
                for part, value in zip(HOUR_PARTS, pair, strict=True):
                    data[_hour_field(day, index, part)] = hours.format_time(value)
        return data


HOUR_PARTS = ("opens", "closes")
RANGE_LABELS = (("Opens", "Closes"), ("Opens again", "Closes again"))


def _hour_field(day: int, index: int, part: str) -> str:
    """The name of an hour field: "monday_opens_1"."""
    return f"{hours.day_key(day)}_{part}_{index + 1}"


for _day, _name in enumerate(hours.DAYS):
    for _index, _shorts in enumerate(RANGE_LABELS[:hours.RANGES_PER_DAY]):
        for _part, _short in zip(HOUR_PARTS, _shorts, strict=True):
            # The label names the day (the error summary and screen readers say it); the page
            # shows the short label under the day's legend.
            setattr(LocationForm, _hour_field(_day, _index, _part),
                    StrippedStringField(f"{_name} {_short.lower()}", widget=TimeInput()))


class DeleteForm(BaseForm):
    """A confirmation button for deleting something (CSRF-checked)."""

    submit = SubmitField("Delete")


class AttestForm(BaseForm):
    """The yearly "my details are still accurate" confirmation (CSRF-checked)."""

    submit = SubmitField("My details are still accurate")


class PhotoForm(BaseForm):
    """A new profile photo; its content is checked by profiles.photos when it is stored."""

    photo = FileField(
        f"Photo (JPEG or PNG, up to {photos.MAX_BYTES // (1024 * 1024)} MB)",
        description=f"A clear photo of your face, at least {photos.MIN_SIDE} pixels on each "
                    "side. We show the centre square of it, and keep none of its hidden "
                    "details (such as where it was taken).")
    submit = SubmitField("Upload photo")

    def validate_photo(self, field) -> None:
        """A file must be chosen."""
        if not getattr(field.data, "filename", None):
            raise ValidationError("Choose a photo to upload.")


class RemovePhotoForm(BaseForm):
    """The button that takes the photo off the profile (CSRF-checked)."""

    submit = SubmitField("Remove photo")
