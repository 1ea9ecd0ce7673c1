"""Profile and location forms."""

from __future__ import annotations

from wtforms import BooleanField, EmailField, HiddenField, SelectField, SubmitField, TextAreaField
from wtforms.validators import DataRequired, InputRequired, Optional, ValidationError

from directory import field_rules, vocab
from directory.field_rules import length
from directory.forms import (
    BaseForm,
    MultiCheckboxField,
    StrippedStringField,
    WebAddressField,
    http_url,
)


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
    insurance_notes = TextAreaField("Insurance and payment",
                                    validators=[length("insurance_notes")])
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
    submit = SubmitField("Save location")


class DeleteForm(BaseForm):
    """A confirmation button for deleting something (CSRF-checked)."""

    submit = SubmitField("Delete")


class AttestForm(BaseForm):
    """The yearly "my details are still accurate" confirmation (CSRF-checked)."""

    submit = SubmitField("My details are still accurate")
