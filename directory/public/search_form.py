"""The search parameters, shared by the search page and the JSON API."""

from __future__ import annotations

from markupsafe import Markup
from wtforms import BooleanField, FloatField, IntegerField, SelectField, StringField
from wtforms.fields.core import UnboundField
from wtforms.validators import Length, NumberRange, Optional, ValidationError
from wtforms.widgets import Select

from directory import geo, vocab
from directory.extensions import db
from directory.forms import BaseForm, CheckboxTick, TextInput
from directory.search import (
    DEFAULT_SORT,
    FILTERS,
    MAX_RADIUS_KM,
    RADII_KM,
    SORTS,
    Filters,
    Results,
    names,
    search,
    search_by_name,
)
from directory.search.filters import SearchFilter

DEFAULT_RADIUS = 25.0
BOTH_COORDINATES = "Give both latitude and longitude."
PLACE_OR_NAME = "Type a postcode or a town, or use your location, or type a name."
MILES_BY_DEFAULT = ("US", "GB")
SEARCH_COUNTRIES = vocab.PRIMARY_COUNTRIES


def _strip(value):
    return value.strip() if isinstance(value, str) else value


class ReusedSelect(Select):
    """A select list rendered once per choices, chosen value and attributes, then reused.

    The search page shows the same long lists on every request; rendering them option by
    option was a fifth of the page's time.
    """

    rendered: dict[tuple, Markup] = {}
    limit = 2048

    def __call__(self, field, **kwargs) -> Markup:
        choices = field.choices
        key = (field.id, field.name, tuple(choices.items() if isinstance(choices, dict)
                                           else choices), field.data,
               tuple(sorted(kwargs.items())), bool(field.flags.required))
        try:
            html = self.rendered.get(key)
        except TypeError:  # something unhashable: render it the ordinary way
            return super().__call__(field, **kwargs)
        if html is None:
            html = super().__call__(field, **kwargs)
            if len(self.rendered) >= self.limit:
                self.rendered.clear()
            self.rendered[key] = html
        return html


class ChoiceField(SelectField):
    """A select list whose rendering is reused (see ReusedSelect), with choices given as a
    flat {value: label} dict, checked by a lookup rather than option by option."""

    widget = ReusedSelect()

    def __init__(self, *args, choices=None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The given dict itself, set through the public setter: WTForms' constructor would copy
        # it and check every entry's shape on each form made (184 languages per search).
        self.choices = choices

    def pre_validate(self, form) -> None:
        if self.process_errors or not isinstance(self.choices, dict):
            return super().pre_validate(form)
        if self.data not in self.choices:
            raise ValidationError(self.invalid_choice_message or self.gettext(
                "Not a valid choice."))
        return None


class SearchForm(BaseForm):
    """Where and what to search for (GET: no CSRF token, nothing changes)."""

    class Meta:
        csrf = False

    q = StringField("Name, clinic or licence number", filters=[_strip], widget=TextInput())
    near = StringField("Postcode or place", filters=[_strip], widget=TextInput(), validators=[
        Length(max=200, message="Type at most 200 characters: a postcode or a town.")])
    country = ChoiceField("Country", default="", choices={"": "Any country", **{
        code: vocab.country_name(code) for code in SEARCH_COUNTRIES}},
        invalid_choice_message="Choose one of the countries in the list.")
    lat = FloatField("Latitude", validators=[
        Optional(), NumberRange(-90, 90, "Latitude must be between -90 and 90.")],
        invalid_value_message="Latitude must be a number.")
    lng = FloatField("Longitude", validators=[
        Optional(), NumberRange(-180, 180, "Longitude must be between -180 and 180.")],
        invalid_value_message="Longitude must be a number.")
    radius = FloatField("Within", validators=[Optional()],
                        invalid_value_message="The distance must be a number.")
    unit = ChoiceField("Unit", default="", choices={"": "Automatic", "km": "km", "mi": "miles"},
                       invalid_choice_message="The unit is km or mi.")
    def validate_near(self, field) -> None:
        """A place, a postcode or coordinates, or a name: at least one."""
        if (not field.data and (self.lat.data is None or self.lng.data is None)
                and not self.q.data):
            raise ValidationError(PLACE_OR_NAME)

    def validate_q(self, field) -> None:
        """Something a name search can look for: letters or digits, not too many words."""
        if field.data:
            try:
                names.check(field.data)
            except names.NameQueryError as exc:
                raise ValidationError(exc.message) from exc

    @property
    def has_place(self) -> bool:
        """Whether a place (or coordinates) was given, not only a name."""
        return bool(self.near.data) or (self.lat.data is not None and self.lng.data is not None)

    def validate_lng(self, field) -> None:
        """Coordinates come in pairs."""
        if (field.data is None) != (self.lat.data is None):
            raise ValidationError(BOTH_COORDINATES)

    def validate_lat(self, field) -> None:
        """Coordinates come in pairs: a latitude without a longitude is refused too (not
        dropped for the place typed beside it), unless the longitude is refused already."""
        if self.lng.data is None and not self.lng.process_errors:
            raise ValidationError(BOTH_COORDINATES)

    def validate_radius(self, field) -> None:
        """Between 1 and the maximum, in the chosen unit. With "Automatic", the unit is known
        once the place is (miles in the US and the UK): a chosen country tells it now,
        otherwise run() checks the radius after geocoding, so the message names the unit the
        person sees."""
        if field.data is None:
            return
        unit = self.unit.data or (self.unit_for(self.country.data) if self.country.data
                                  else None)
        if unit and (message := radius_error(field.data, unit)):
            raise ValidationError(message)

    def filter_fields(self) -> list:
        """The filters' fields, in the registry's order (the page's filters box)."""
        return [self[f.name] for f in FILTERS]

    def filters(self) -> Filters:
        """The filters for the search query."""
        return Filters(**{f.name: self[f.name].data for f in FILTERS})

    def unit_for(self, country: str | None) -> str:
        """The chosen unit, or miles for the US and the UK and km elsewhere."""
        if self.unit.data:
            return self.unit.data
        return "mi" if country in MILES_BY_DEFAULT else "km"

    def radius_in(self, unit: str) -> float:
        """The radius in the given unit (25 by default)."""
        return self.radius.data if self.radius.data is not None else DEFAULT_RADIUS

    def radius_options(self) -> tuple[list[float], float]:
        """The distances the "Within" list offers, and the one it shows chosen: the usual
        five, plus the searched one when it is another valid distance (a bookmarked 30, or
        40.2 km after switching a 25-mile search to km), so the next search keeps it."""
        chosen = self.radius.data
        # Not yet checked when another field was refused first (see validate_radius): a
        # distance no unit allows (inf, nan, 1e308) is not offered.
        if chosen is None or self.radius.errors or not 1 <= chosen <= MAX_RADIUS_KM:
            chosen = DEFAULT_RADIUS
        return sorted({float(r) for r in RADII_KM} | {chosen}), chosen


def filter_field(search_filter: SearchFilter):
    """The form field of a filter: a list of its choices after "Any ...", or a checkbox."""
    if search_filter.is_flag:
        return BooleanField(search_filter.label, widget=CheckboxTick())
    return ChoiceField(search_filter.label, default="", choices={
        "": search_filter.any_label, **search_filter.choices()},
        invalid_choice_message=search_filter.invalid_message)


MAX_PAGE = 1000  # the deepest page of a search (the page, the API, FHIR)

# The filters' fields, between the place's fields and the paging (the order the page shows
# them and the order the API reports a first refused parameter in).
for _filter in FILTERS:
    setattr(SearchForm, _filter.name, filter_field(_filter))
SearchForm.page = IntegerField("Page", default=1, validators=[
    Optional(), NumberRange(1, MAX_PAGE, f"The page must be between 1 and {MAX_PAGE}.")],
    invalid_value_message="The page must be a whole number.")
SearchForm.per_page = IntegerField("Results per page", default=20, validators=[
    Optional(), NumberRange(1, 100, "Ask for 1 to 100 results per page.")],
    invalid_value_message="Results per page must be a whole number.")
SearchForm.sort = ChoiceField("Sort by", default=DEFAULT_SORT, choices=SORTS,
                              invalid_choice_message="Sort by " + ", ".join(list(SORTS)[:-1])
                              + f" or {list(SORTS)[-1]}.")

# Every parameter of a search, from the form: what a link back to a search may carry.
SEARCH_PARAMETERS: tuple[str, ...] = tuple(
    name for name in dir(SearchForm) if isinstance(getattr(SearchForm, name), UnboundField))


class RadiusError(ValueError):
    """A radius beyond the limit in the unit the place decided; `message` is for people."""

    def __init__(self, message: str) -> None:
        """Keep the message for display."""
        super().__init__(message)
        self.message = message


def radius_limit(unit: str) -> float:
    """The largest radius in the unit: 500 km or 311 miles."""
    return MAX_RADIUS_KM if unit == "km" else float(round(MAX_RADIUS_KM / geo.KM_PER_MILE))


def radius_error(radius: float, unit: str) -> str | None:
    """Why the radius cannot be searched in the unit, or None."""
    if 1 <= radius <= radius_limit(unit):
        return None
    return f"Choose a distance from 1 to {radius_limit(unit):g} {unit_label(unit)}."


def past_the_end(pages: int) -> str:
    """What to say about a page number beyond the last page."""
    if pages == 1:
        return "There is only 1 page of results."
    return f"There are only {pages} pages of results."


def radius_text(radius: float) -> str:
    """25.0 → "25", 40.2 → "40.2": for the "Within" list and the URLs."""
    return f"{radius:g}"


def unit_label(unit: str) -> str:
    """'km' or 'miles'."""
    return "miles" if unit == "mi" else "km"


def to_km(value: float, unit: str) -> float:
    """A distance in km from the given unit."""
    return value * geo.KM_PER_MILE if unit == "mi" else value


def from_km(value: float, unit: str) -> float:
    """A distance in km converted to the given unit."""
    return value / geo.KM_PER_MILE if unit == "mi" else value


def next_radius(current: float) -> float | None:
    """The next larger radius choice, for "nothing found: try further"."""
    for r in RADII_KM:
        if r > current + 1e-9:
            return float(r)
    return None


def origin_of(form: SearchForm) -> geo.Place:
    """The searched point: the browser's coordinates, or the geocoded place.

    Raises geo.Ambiguous (with candidates) or geo.GeocodeError (with a message).
    """
    if form.lat.data is not None and form.lng.data is not None:
        return geo.geocode(f"{form.lat.data},{form.lng.data}")
    return geo.geocode(form.near.data, form.country.data or None)


def name_query(form: SearchForm) -> names.NameQuery | None:
    """The name query typed, with its typos looked up (None without one)."""
    if not form.q.data:
        return None
    return names.parse(db.session.connection(), form.q.data)


def run(form: SearchForm) -> tuple[geo.Place | None, Results, str]:
    """Geocode once, then search: the origin, a page of results and the display unit. A name
    alone searches everywhere: no origin, and the unit of the chosen country, or km.

    Raises geo.GeocodeError (see origin_of), or RadiusError when the radius is beyond the
    limit in the unit the place decided.
    """
    name = name_query(form)
    if name is not None and not form.has_place:
        results = search_by_name(name, form.filters(), page=form.page.data or 1,
                                 per_page=form.per_page.data or 20,
                                 sort=form.sort.data or DEFAULT_SORT,
                                 country=form.country.data or None)
        return None, results, form.unit_for(form.country.data or None)
    origin = origin_of(form)
    # The place's country decides "Automatic" (for coordinates: the nearest postcode's, within
    # 50 km), else the chosen country's.
    unit = form.unit_for(origin.country or form.country.data or None)
    if message := radius_error(form.radius_in(unit), unit):
        raise RadiusError(message)
    radius_km = to_km(form.radius_in(unit), unit)
    results = search(origin.lat, origin.lng, radius_km, form.filters(),
                     page=form.page.data or 1, per_page=form.per_page.data or 20,
                     sort=form.sort.data or DEFAULT_SORT, name=name)
    return origin, results, unit
