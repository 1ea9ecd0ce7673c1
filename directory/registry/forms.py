"""Forms for the program registry and the jurisdiction rules."""

from __future__ import annotations

import re
from decimal import Decimal

from wtforms import (
    DateField,
    DecimalField,
    IntegerField,
    SelectField,
    SubmitField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
    Regexp,
    StopValidation,
    ValidationError,
)

from directory import field_rules, vocab
from directory.credentials.rules import (
    PENDING_REVIEW_MONTHS,
    REVIEW_MONTHS,
    jurisdiction_label,
    normalise_jurisdiction,
)
from directory.forms import BaseForm, StrippedStringField, WebAddressField, http_url
from directory.registry import services
from directory.vocab import Permitted, SourceType

TRISTATE = {"unknown": "Unknown", "yes": "Yes", "no": "No"}
SOURCE_TYPE_LABELS: dict[SourceType, str] = {
    SourceType.PRIMARY: "Primary: the law or the regulator",
    SourceType.SECONDARY: "Secondary: reported by others"}
PERMITTED_LABELS: dict[Permitted, str] = {Permitted.YES: "Yes: permitted",
                                          Permitted.NO: "No: not permitted",
                                          Permitted.UNCLEAR: "Unclear"}
ANY_PROFESSION = "*"
RULE_PROFESSIONS = {ANY_PROFESSION: "Any profession", **vocab.PROFESSIONS}
KEY = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
JURISDICTION = re.compile(r"^([A-Z]{2})(?:-([A-Z0-9]{1,3}))?$")
MAX_HOURS = int(field_rules.HOURS.high)
ALIAS_MAX = 120
URL_MAX = 500
HOURS_MESSAGE = field_rules.HOURS_MESSAGE
JURISDICTION_MESSAGE = "Enter a country code such as US or an ISO 3166-2 code such as US-CO."


def tristate(choice: str | None) -> bool | None:
    """"yes" → True, "no" → False, anything else (unknown) → None."""
    return {"yes": True, "no": False}.get(choice or "")


def tristate_choice(value: bool | None) -> str:
    """The select value for a stored yes/no/unknown."""
    return "unknown" if value is None else ("yes" if value else "no")


def lines(text: str | None) -> list[str]:
    """Non-empty lines with inner spaces collapsed, duplicates (ignoring case) removed."""
    seen: dict[str, str] = {}
    for raw in (text or "").splitlines():
        line = " ".join(raw.split())
        if line and line.casefold() not in seen:
            seen[line.casefold()] = line
    return list(seen.values())


web_address = field_rules.normalise_web_address  # as WebAddressField reads a typed address


def url_problem(value: str) -> str | None:
    """Why a web address is refused (field_rules.web_address), or None."""
    try:
        field_rules.web_address(value)
    except field_rules.RuleError as exc:
        return str(exc)
    return None


def _upper(value):
    return value.upper() if isinstance(value, str) else value


def _country_wide(value):
    """ "US-*" (every state, as the research writes it) is the country's rule: "US"."""
    return normalise_jurisdiction(value) if isinstance(value, str) and value else value


class _OneMessage:
    """A value that could not be read gets that one message, not also the range's."""

    def pre_validate(self, form) -> None:
        typed = str(self.raw_data[0]).strip() if self.raw_data else ""
        if self.process_errors and typed:  # an empty value is left to Optional()
            raise StopValidation()


class WholeNumberField(_OneMessage, IntegerField):
    """An optional whole number."""


class NumberField(_OneMessage, DecimalField):
    """An optional number: empty is unknown (stored as NULL, never 0); NaN and infinity refused."""

    def __init__(self, label=None, validators=None, **kwargs) -> None:
        kwargs.setdefault("invalid_value_message", HOURS_MESSAGE)
        super().__init__(label, validators, places=None, **kwargs)

    def process_formdata(self, valuelist) -> None:
        super().process_formdata(valuelist)
        # Without a sent value the data is the stored number (a float): nothing to check.
        if valuelist and self.data is not None and not self.data.is_finite():
            self.data = None
            raise ValueError(self.invalid_value_message)

    def _value(self) -> str:
        if self.raw_data:
            return self.raw_data[0]
        if self.data is None:
            return ""
        text = format(Decimal(str(self.data)), "f")  # a stored 27.0 is shown as 27
        return text.rstrip("0").rstrip(".") if "." in text else text

    def number(self) -> float | None:
        """The value as a float for the database, or None when unknown."""
        return float(self.data) if self.data is not None else None


def _hours(label: str, description: str = "Leave empty when unknown.") -> NumberField:
    return NumberField(label, description=description, validators=[
        Optional(), NumberRange(min=0, message="Hours cannot be negative."),
        NumberRange(max=MAX_HOURS, message=f"Enter at most {MAX_HOURS:,} hours.")])


class ProgramForm(BaseForm):
    """One recognised training program and the other names practitioners type for it."""

    key = StrippedStringField(
        "Key", validators=[
            DataRequired("Enter a key."),
            Length(max=80, message="Use at most 80 characters."),
            Regexp(KEY, message="Use lower-case letters, digits and single hyphens, "
                                "like kinetacore-fdn-1.")],
        description="A short permanent name: lower-case letters, digits and hyphens, for "
                    "example kinetacore-fdn-1. The reference data finds its programs by key.")
    organisation = StrippedStringField("Organisation", validators=[
        DataRequired("Enter the organisation."), Length(max=200)])
    organisation_acronym = StrippedStringField("Acronym", validators=[Length(max=40)],
                                               description="For example AAMT.")
    name = StrippedStringField("Program", validators=[
        DataRequired("Enter the program's name."), Length(max=200)])
    level = WholeNumberField("Level", invalid_value_message="Enter the level as a whole number.",
                         validators=[Optional(), NumberRange(1, 9, "Enter a level from 1 to 9.")],
                         description="Leave empty if the program has no levels.")
    country = SelectField("Country", choices={"": "Choose a country", **dict(vocab.countries())},
                          validators=[InputRequired("Choose the country.")],
                          invalid_choice_message="Choose a country from the list.")
    hours = _hours("Total hours", "Leave empty when unknown: empty is stored as unknown, "
                                  "never as 0.")
    in_person_hours = _hours("In-person hours")
    exam = SelectField("Exam", choices=TRISTATE, default="unknown",
                       invalid_choice_message="Choose yes, no or unknown.")
    website = WebAddressField("Website", validators=[Length(max=URL_MAX), http_url])
    source_url = WebAddressField("Source address", validators=[Length(max=URL_MAX), http_url],
                                 description="Where the hours and the exam were read.")
    notes = TextAreaField("Notes", validators=[Length(max=5000)])
    aliases = TextAreaField("Aliases", validators=[Length(max=5000)],
                            description="Other names practitioners type for this program, one "
                                        "per line, for example FDN 1.")
    submit = SubmitField("Save program")

    def __init__(self, *args, program_id: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.program_id = program_id

    @staticmethod
    def data_from(program) -> dict:
        """A saved program as the form's starting values."""
        data = {key: getattr(program, key) for key in services.PROGRAM_FIELDS}
        data.update(exam=tristate_choice(program.exam),
                    organisation_acronym=program.organisation_acronym or "",
                    website=program.website or "", source_url=program.source_url or "",
                    aliases="\n".join(a.alias for a in program.aliases))
        return data

    def validate_key(self, field) -> None:
        """Each key names one program."""
        if field.errors or not field.data:
            return  # a malformed key is reported as such, and never reaches the database
        if services.program_key_taken(field.data, self.program_id):
            raise ValidationError(f"Another program already has the key “{field.data}”.")

    def validate_in_person_hours(self, field) -> None:
        """In-person hours are part of the total."""
        if field.data is not None and self.hours.data is not None and field.data > self.hours.data:
            raise ValidationError(field_rules.IN_PERSON_MORE)

    def validate_aliases(self, field) -> None:
        """Each alias fits its column."""
        long = [alias for alias in lines(field.data) if len(alias) > ALIAS_MAX]
        if long:
            raise ValidationError(f"Keep each alias to {ALIAS_MAX} characters or fewer: "
                                  f"“{long[0][:40]}…” is longer.")

    def values(self) -> dict:
        """Plain values for the service."""
        return {
            "key": self.key.data, "organisation": self.organisation.data,
            "organisation_acronym": self.organisation_acronym.data or None,
            "name": self.name.data, "level": self.level.data, "country": self.country.data,
            "hours": self.hours.number(), "in_person_hours": self.in_person_hours.number(),
            "exam": tristate(self.exam.data), "website": self.website.data or None,
            "source_url": self.source_url.data or None, "notes": (self.notes.data or "").strip(),
        }

    def alias_list(self) -> list[str]:
        """The aliases, one per line, without duplicates."""
        return lines(self.aliases.data)


class RuleForm(BaseForm):
    """Whether a profession may dry-needle in a jurisdiction, the minimums, and the source."""

    jurisdiction = StrippedStringField(
        "Jurisdiction", filters=[_upper, _country_wide], validators=[
            DataRequired("Enter the jurisdiction.")],
        description="A country code such as US or GB (US-* means the same: every US state), "
                    "or an ISO 3166-2 code such as US-CO, CA-ON or GB-WLS.")
    profession = SelectField("Profession", choices={"": "Choose a profession",
                                                    **RULE_PROFESSIONS},
                             validators=[InputRequired("Choose a profession.")],
                             invalid_choice_message="Choose a profession from the list.")
    permitted = SelectField("Dry needling permitted", choices={"": "Choose", **PERMITTED_LABELS},
                            validators=[InputRequired("Choose whether dry needling is permitted.")],
                            invalid_choice_message="Choose yes, no or unclear.")
    min_hours = _hours("Minimum total hours", "Leave empty when the rule sets none.")
    min_in_person_hours = _hours("Minimum in-person hours", "Leave empty when the rule sets none.")
    min_supervised_sessions = WholeNumberField(
        "Minimum supervised sessions", invalid_value_message="Enter a whole number.",
        validators=[Optional(), NumberRange(min=0, message="Sessions cannot be negative."),
                    NumberRange(max=10000, message="Enter at most 10,000 sessions.")],
        description="Leave empty when the rule sets none.")
    min_years_licensed = NumberField(
        "Minimum years licensed", invalid_value_message="Enter a number of years, like 1 or 0.5.",
        validators=[Optional(), NumberRange(min=0, message="Years cannot be negative."),
                    NumberRange(max=60, message="Enter at most 60 years.")],
        description="Leave empty when the rule sets none.")
    exam_required = SelectField("Exam required", choices=TRISTATE, default="unknown",
                                invalid_choice_message="Choose yes, no or unknown.")
    referral_required = SelectField("Referral required", choices=TRISTATE, default="unknown",
                                    invalid_choice_message="Choose yes, no or unknown.")
    registration_required = SelectField(
        "Registration with the regulator required", choices=TRISTATE, default="unknown",
        invalid_choice_message="Choose yes, no or unknown.",
        description="A roster, endorsement, authorisation, attestation or licence to needle.")
    other_requirements = TextAreaField("Other requirements (shorthand for administrators)",
                                       validators=[Length(max=5000)])
    patient_note = TextAreaField(
        "Note for patients", validators=[Length(max=1000)],
        description="Plain words, shown on profiles after the verdict: limits the numbers "
                    "above do not say (\"Only for the hand, wrist, elbow and shoulder.\").")
    source_url = WebAddressField("Source address", validators=[
        DataRequired("Enter the address of the source."), Length(max=URL_MAX), http_url])
    other_sources = TextAreaField("Other sources", validators=[Length(max=5000)],
                                  description="One web address per line.")
    source_type = SelectField(
        "Strongest source", choices=SOURCE_TYPE_LABELS, default=SourceType.SECONDARY,
        invalid_choice_message="Choose primary or secondary.",
        description="Primary: statute, regulation, regulator, court or attorney-general text. "
                    "Patients are told when a verdict rests on secondary sources only.")
    source_date = StrippedStringField("Date of the source", validators=[Length(max=100)],
                                      description="As the source gives it: 2024, c. 2023, "
                                                  "2014; 2016.")
    pending_changes = TextAreaField(
        "Pending changes", validators=[Length(max=2000)],
        description="A law or rule that is changing: the rule is then due for review in "
                    f"{PENDING_REVIEW_MONTHS} months instead of {REVIEW_MONTHS}.")
    reviewed_on = DateField("Date reviewed", validators=[
        InputRequired("Enter the date the source was reviewed.")],
        invalid_value_message="Enter a date like 2026-11-22.")
    review_due_on = DateField(
        "Review due", validators=[Optional()], invalid_value_message="Enter a date like "
        "2027-11-22.", description="Leave empty for the default: 12 months after the review "
                                   "(3 with pending changes).")
    reason = TextAreaField("Why this change", validators=[
        DataRequired("Say why: it is kept in the audit log."), Length(max=1000)],
        description="Kept in the audit log with your name and the time.")
    submit = SubmitField("Save rule")

    def __init__(self, *args, rule_id: int | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.rule_id = rule_id

    @staticmethod
    def data_from(rule) -> dict:
        """A saved rule as the form's starting values."""
        data = {key: getattr(rule, key) for key in services.RULE_FIELDS}
        data.update(exam_required=tristate_choice(rule.exam_required),
                    referral_required=tristate_choice(rule.referral_required),
                    registration_required=tristate_choice(rule.registration_required),
                    other_sources="\n".join(rule.other_sources or []))
        return data

    def validate_jurisdiction(self, field) -> None:
        """A known country code, or an ISO 3166-2 code of one of its regions."""
        match = JURISDICTION.match(field.data or "")
        if not match:
            raise ValidationError(JURISDICTION_MESSAGE)
        country = match.group(1)
        if country not in dict(vocab.countries()):
            raise ValidationError(f"{country} is not a country code. {JURISDICTION_MESSAGE}")
        if match.group(2) and vocab.resolve_region(country, field.data) != field.data:
            raise ValidationError(f"{vocab.country_name(country)} has no region "
                                  f"{field.data}. {JURISDICTION_MESSAGE}")

    def validate_min_in_person_hours(self, field) -> None:
        """The in-person minimum cannot exceed the total minimum."""
        if (field.data is not None and self.min_hours.data is not None
                and field.data > self.min_hours.data):
            raise ValidationError("The in-person minimum cannot be more than the total minimum.")

    def validate_other_sources(self, field) -> None:
        """Every line is an http(s) address."""
        for line in lines(field.data):
            address = web_address(line)
            problem = url_problem(address)
            if problem is None and len(address) > URL_MAX:
                problem = f"Keep each address to {URL_MAX} characters or fewer."
            if problem:
                shown = line if len(line) <= 60 else line[:60] + "…"
                raise ValidationError(f"“{shown}”: {problem}")

    def validate(self, extra_validators=None) -> bool:
        """The fields' checks, then one rule per jurisdiction and profession."""
        valid = super().validate(extra_validators)
        if (not self.jurisdiction.errors and not self.profession.errors
                and self.jurisdiction.data and self.profession.data
                and services.rule_exists(self.jurisdiction.data, self.profession.data,
                                         self.rule_id)):
            self.jurisdiction.errors.append(
                f"{jurisdiction_label(self.jurisdiction.data)} already has a rule for "
                f"{RULE_PROFESSIONS.get(self.profession.data, '').lower()}: edit that one instead.")
            valid = False
        return valid

    def values(self) -> dict:
        """Plain values for the service."""
        return {
            "jurisdiction": self.jurisdiction.data, "profession": self.profession.data,
            "permitted": self.permitted.data, "min_hours": self.min_hours.number(),
            "min_in_person_hours": self.min_in_person_hours.number(),
            "min_supervised_sessions": self.min_supervised_sessions.data,
            "min_years_licensed": self.min_years_licensed.number(),
            "exam_required": tristate(self.exam_required.data),
            "referral_required": tristate(self.referral_required.data),
            "registration_required": tristate(self.registration_required.data),
            "other_requirements": (self.other_requirements.data or "").strip(),
            "patient_note": (self.patient_note.data or "").strip(),
            "source_url": self.source_url.data,
            "other_sources": [web_address(line) for line in lines(self.other_sources.data)],
            "source_type": self.source_type.data,
            "source_date": self.source_date.data or "",
            "pending_changes": (self.pending_changes.data or "").strip(),
            "reviewed_on": self.reviewed_on.data, "review_due_on": self.review_due_on.data,
        }


class RuleFilterForm(BaseForm):
    """Filters for the rules table (a GET form: nothing changes, no CSRF token)."""

    jurisdiction = StrippedStringField(
        "Jurisdiction starts with", filters=[_upper], validators=[
            Optional(), Regexp(r"^[A-Z0-9-]{0,10}$", message="Use a code such as US or US-CO.")],
        description="US shows the United States and every state; US-CO only Colorado.")
    profession = SelectField("Profession", choices={"": "All professions",
                                                    ANY_PROFESSION: "Rules for any profession (*)",
                                                    **vocab.PROFESSIONS},
                             default="", validators=[Optional()],
                             invalid_choice_message="Choose a profession from the list.")


class ConfirmForm(BaseForm):
    """A button that changes something (retire, restore): only its CSRF token is checked."""


class IssuerAccountForm(BaseForm):
    """An issuer account for one organisation of the registry."""

    email = StrippedStringField("E-mail address of the organisation's contact", validators=[
        DataRequired("Enter an e-mail address."), field_rules.length("email"),
        field_rules.validator(field_rules.email)],
        description="They get an e-mail with a link to choose their password.")
    organisation = SelectField(
        "Organisation", choices=[], validators=[InputRequired("Choose the organisation.")],
        description="As the registry's programs name it: the account sees the certifications "
                    "citing that organisation's programs.",
        invalid_choice_message="Choose an organisation from the list.")
    submit = SubmitField("Create the issuer account")

    def set_organisations(self, names: list[str]) -> None:
        """The registry's organisations as the choices."""
        self.organisation.choices = [("", "Choose…")] + [(n, n) for n in names]
