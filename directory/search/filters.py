"""The search filters, each declared once.

A filter is a parameter of the search page and of GET /api/v1/practitioners: either a choice
from a vocabulary (a code, or empty for any) or a yes/no flag (only when ticked). Everything
else is derived from the entries of FILTERS:

- the search form's fields, in this order (directory/public/search_form.py);
- the search page's filter list and its "Search without the filters" link (search_page.py), and
  the filters box of templates/public/home.html, which renders the form's filter fields;
- the API's parameter checks (api/routes.py) and the OpenAPI parameters (api/openapi.py);
- the SQL of the ring query (ring.py): each chosen filter adds its clause, and the query joins
  the practitioners row only when a chosen filter reads it. A flag with an `unticked_clause`
  narrows every search until it is ticked ("include_not_permitted": by default the search
  leaves out practitioners whose profession may not dry-needle where the location is).

To add a filter, add one entry here (and, when its clause reads a column no filter reads yet,
that column's index or the location copy directory.listing keeps).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass

from sqlalchemy import Integer, bindparam, exists
from sqlalchemy.sql import ColumnElement

from directory import vocab
from directory.models import PracticeLocation, Practitioner, PractitionerTag
from directory.vocab import Permitted, TagKind


@dataclass(frozen=True)
class SearchFilter:
    """One filter: its parameter, its words for people, and its SQL.

    `choices` gives code → label for a choice filter and is None for a flag. `clause` builds the
    SQL condition; a choice filter's condition reads its value from the bind parameter of the
    filter's name. `needs_practitioner` says whether the condition reads the practitioners row
    (the others read the location row or its tags, so the box is read from the location index).
    A flag with `unticked_clause` instead narrows every search until it is ticked.
    """

    name: str
    label: str
    description: str  # for the API's document
    clause: Callable[[], ColumnElement] | None
    choices: Callable[[], Mapping[str, str]] | None = None
    any_label: str = ""
    invalid_message: str = ""
    needs_practitioner: bool = False
    # A flag that widens the search: its condition applies while it is NOT ticked.
    unticked_clause: Callable[[], ColumnElement] | None = None
    # A choice's code as the bind parameter's value (default: the code itself).
    bind: Callable[[str], object] | None = None

    @property
    def is_flag(self) -> bool:
        """A yes/no filter (a checkbox; true or false in the API)."""
        return self.choices is None


def _has_tag(kind: TagKind) -> Callable[[], ColumnElement]:
    def clause() -> ColumnElement:
        tag = PractitionerTag.__table__.alias(f"tag_{kind}")
        return exists().where(tag.c.practitioner_id == PracticeLocation.practitioner_id,
                              tag.c.kind == kind, tag.c.code == bindparam(str(kind)))
    return clause


def _languages_by_name() -> dict[str, str]:
    return {code: vocab.language_name(code)
            for code in sorted(vocab.languages(), key=vocab.language_name)}


def _scope_permits() -> ColumnElement:
    """The location's jurisdiction does not forbid dry needling to the profession (read from
    the verdict each location carries, directory.listing.SCOPE_COPY, in the search's index)."""
    return PracticeLocation.scope_verdict.is_distinct_from(Permitted.NO.value)


# The first-visit fee filter's choices: at most this many whole units of the practitioner's
# currency (searches are local: the practitioners near a place charge in its currency).
FEE_LIMITS = (50, 75, 100, 150, 200, 300)


def _fee_choices() -> dict[str, str]:
    return {str(limit): f"Up to {limit} (local currency)" for limit in FEE_LIMITS}


def _fee_within() -> ColumnElement:
    """The practitioner gives a first-visit fee no higher than the chosen one (fees are stored
    in minor units: cents, pence)."""
    return Practitioner.fee_first_visit <= bindparam("max_fee", type_=Integer)


FILTERS: tuple[SearchFilter, ...] = (
    SearchFilter(
        "profession", "Profession", "Profession code.",
        clause=lambda: Practitioner.profession == bindparam("profession"),
        choices=lambda: vocab.PROFESSIONS, any_label="Any profession",
        invalid_message="Choose a profession from the list.", needs_practitioner=True),
    SearchFilter(
        str(TagKind.TECHNIQUE), "Technique", "Technique code.",
        clause=_has_tag(TagKind.TECHNIQUE), choices=lambda: vocab.TECHNIQUES,
        any_label="Any technique", invalid_message="Choose a technique from the list."),
    SearchFilter(
        str(TagKind.CONDITION), "Condition", "Condition code.",
        clause=_has_tag(TagKind.CONDITION), choices=lambda: vocab.CONDITIONS,
        any_label="Any condition", invalid_message="Choose a condition from the list."),
    SearchFilter(
        str(TagKind.LANGUAGE), "Language", "ISO 639-1 language code.",
        clause=_has_tag(TagKind.LANGUAGE), choices=_languages_by_name,
        any_label="Any language", invalid_message="Choose a language from the list."),
    SearchFilter(
        str(TagKind.INSURANCE), "Insurance accepted", "Insurer or scheme code "
        "(vocab.INSURERS: us_medicare, au_bupa, gb_axa, nz_acc...).",
        clause=_has_tag(TagKind.INSURANCE), choices=vocab.insurers,
        any_label="Any (or paying yourself)",
        invalid_message="Choose an insurer or scheme from the list."),
    SearchFilter(
        "max_fee", "First visit fee", "Highest first-visit fee in whole units of the "
        "practitioner's currency; practitioners who give no fee are left out.",
        clause=_fee_within, choices=_fee_choices, any_label="Any fee",
        invalid_message="Choose a fee from the list.", needs_practitioner=True,
        bind=lambda code: int(code) * 100),
    SearchFilter(
        "accepting", "Accepting new patients", "Only practitioners accepting new patients.",
        clause=lambda: Practitioner.accepting_new_patients.is_(True), needs_practitioner=True),
    SearchFilter(
        "accessible", "Wheelchair accessible", "Only wheelchair-accessible locations.",
        clause=lambda: PracticeLocation.wheelchair_accessible.is_(True)),
    SearchFilter(
        "include_not_permitted", "Include practitioners not permitted to dry-needle there",
        "Also list practitioners whose profession may not dry-needle where the location is "
        "(by default they are left out; \"unclear\" and \"unknown\" are always listed, "
        "marked).",
        clause=None, unticked_clause=_scope_permits),
)
BY_NAME: dict[str, SearchFilter] = {f.name: f for f in FILTERS}
NAMES: tuple[str, ...] = tuple(BY_NAME)
FLAGS: tuple[str, ...] = tuple(f.name for f in FILTERS if f.is_flag)


class Filters(Mapping[str, str | bool]):
    """What a patient narrowed the search to: the chosen filters by name (a code, or True for
    a ticked flag); a filter left at "any" is not in it. Filters(profession="chiropractor")."""

    __slots__ = ("_values",)

    def __init__(self, **values: str | bool | None) -> None:
        unknown = set(values) - set(BY_NAME)
        if unknown:
            raise TypeError(f"Not a search filter: {', '.join(sorted(unknown))}")
        self._values = {f.name: (True if f.is_flag else values[f.name]) for f in FILTERS
                        if values.get(f.name)}

    def __getitem__(self, name: str) -> str | bool:
        return self._values[name]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)

    def __repr__(self) -> str:
        return f"Filters({', '.join(f'{k}={v!r}' for k, v in self._values.items())})"

    @property
    def shape(self) -> tuple[str, ...]:
        """The chosen filters' names in FILTERS order: what decides the query's SQL."""
        return tuple(self._values)

    def parameters(self) -> dict[str, str]:
        """The bind parameters of the chosen choice filters."""
        return {name: BY_NAME[name].bind(value) if BY_NAME[name].bind else value
                for name, value in self._values.items() if not BY_NAME[name].is_flag}


def _applied(shape: tuple[str, ...]) -> list[tuple[SearchFilter, Callable[[], ColumnElement]]]:
    """Each filter whose condition applies: a chosen one's clause, an unchosen one's
    unticked_clause."""
    return [(f, f.clause if f.name in shape else f.unticked_clause) for f in FILTERS
            if (f.clause if f.name in shape else f.unticked_clause) is not None]


def clauses(shape: tuple[str, ...]) -> list[ColumnElement]:
    """The SQL conditions of the search with these filters chosen."""
    return [clause() for _, clause in _applied(shape)]


def needs_practitioner(shape: tuple[str, ...]) -> bool:
    """Whether one of the conditions that apply reads the practitioners row."""
    return any(f.needs_practitioner for f, _ in _applied(shape))
