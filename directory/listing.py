"""Who the public sees, and where: each rule defined once, as a SQL expression and a Python
predicate side by side (tests/test_listing_rules.py checks that each pair agrees on the same rows).

- A certification is *shown* ("verified and unexpired") while its status is verified and its
  expiry day, if it has one, is today or later: shown_clause() / is_shown(). A profile, the
  API, the search results and the exports show only these.
- A licence is *in good standing* through its last good day: a verified licence's next check
  day (next_due), or, unchecked, the grace day of practitioners listed before licences were
  checked (grace_until; migration 0009): licence_good_until() / licence_good_until_expression().
- A practitioner is *listed* while the account is active with its e-mail confirmed, at least
  one certification is shown and the licence is in good standing: listed_clause() /
  is_listed(). The public profile page and the API record (GET /api/v1/practitioners/<id>)
  answer while listed (the owner and administrators see the profile always: can_view()).
- A practitioner is *searchable* while listed and confirmed accurate within ATTESTATION_DAYS (the
  yearly "my details are still accurate"): searchable_clause() / is_searchable(). The search (page
  and API), the exports and every feed show only searchable practitioners; the search reads the
  same rule from the copies each location carries (searchable_location_clause()).

The listed rule is kept as a date, practitioners.listed_until (the last listed day, NO_EXPIRY
for none, NULL for not listed), by a hook on every flush that changes what the rule reads
(_after_flush); the locations' copies of it, of attested_at and of the name follow it in the
same statement.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import and_, case, event, exists, func, inspect, or_, select, update
from sqlalchemy.orm import Session
from sqlalchemy.sql import ColumnElement

from directory.credentials.rules import located_in, location_verdict_sql
from directory.extensions import db
from directory.models import (
    Certification,
    JurisdictionRule,
    Licence,
    PracticeLocation,
    Practitioner,
    User,
)
from directory.models.base import utcnow
from directory.vocab import CertStatus, LicenceStatus

# The last shown day of a certification without an expiry date (and of such a listing).
NO_EXPIRY = date(9999, 12, 31)
# A yearly "my details are still accurate" confirmation keeps a listed practitioner searchable
# this long; the public profile page and the API record do not depend on it.
ATTESTATION_DAYS = 365


def now_on(today: date | None = None) -> datetime:
    """Now, or the present time of day moved to `today` (a caller asking about another day)."""
    now = utcnow()
    return now if today is None else datetime.combine(today, now.time(), tzinfo=UTC)


# --------------------------------------------------------------- verified and unexpired (shown)

def last_shown_day(cert: Certification) -> date:
    """The last day a verified certification is shown: its expiry day, NO_EXPIRY without one."""
    return cert.expires_on or NO_EXPIRY


def is_unexpired(cert: Certification, today: date | None = None) -> bool:
    """True while the certification's expiry day (if any) is today or later."""
    return last_shown_day(cert) >= (today or utcnow().date())


def unexpired_clause(today) -> ColumnElement[bool]:
    """SQL for is_unexpired() on `today` (a date or a bound parameter)."""
    return or_(Certification.expires_on.is_(None), Certification.expires_on >= today)


def is_verified(cert: Certification) -> bool:
    """True when an administrator's approval stands (not expired, revoked or under review)."""
    return cert.status == CertStatus.VERIFIED


def verified_clause() -> ColumnElement[bool]:
    """SQL for is_verified()."""
    return Certification.status == CertStatus.VERIFIED


def is_shown(cert: Certification, today: date | None = None) -> bool:
    """Verified and unexpired: a certification the public sees on `today`."""
    return is_verified(cert) and is_unexpired(cert, today)


def shown_clause(today) -> ColumnElement[bool]:
    """SQL for is_shown() on `today` (a date or a bound parameter)."""
    return and_(verified_clause(), unexpired_clause(today))


def shown_certifications(practitioner: Practitioner) -> list[Certification]:
    """The certifications a profile shows: verified and not expired, newest first."""
    return list(db.session.scalars(select(Certification).where(
        Certification.practitioner_id == practitioner.id, shown_clause(utcnow().date()),
    ).order_by(Certification.verified_at.desc())))


# ------------------------------------------------------------------------------------ listed

def account_ok(user: User) -> bool:
    """An active account whose e-mail address is confirmed."""
    return bool(user.is_active) and user.email_confirmed_at is not None


def _account_ok_sql() -> ColumnElement[bool]:
    return exists().where(User.id == Practitioner.user_id, User.is_active.is_(True),
                          User.email_confirmed_at.is_not(None))


def licence_good_until(licence: Licence | None) -> date | None:
    """The last day this licence counts for a listing: a verified licence's next check day; an
    unchecked one's grace day (None without one); None when failed, lapsed or absent."""
    if licence is None:
        return None
    if licence.status == LicenceStatus.VERIFIED:
        return licence.next_due
    if licence.status == LicenceStatus.UNVERIFIED:
        return licence.grace_until
    return None


def licence_good_until_expression():
    """SQL for licence_good_until() of the practitioner row in context."""
    return (select(case((Licence.status == LicenceStatus.VERIFIED, Licence.next_due),
                        (Licence.status == LicenceStatus.UNVERIFIED, Licence.grace_until),
                        else_=None))
            .where(Licence.practitioner_id == Practitioner.id).scalar_subquery())


def _earlier(a: date | None, b: date | None) -> date | None:
    return None if a is None or b is None else min(a, b)


def _earlier_sql(a, b):
    return case((or_(a.is_(None), b.is_(None)), None), (a <= b, a), else_=b)


def listed_until_of(practitioner: Practitioner) -> date | None:
    """The practitioner's last listed day by the rule (what listed_until_expression() computes
    in SQL and listed_until keeps): the earlier of the latest last shown day of their verified
    certifications and the licence's last good day, when the account is ok; None otherwise."""
    if not account_ok(practitioner.user):
        return None
    certs = db.session.scalars(select(Certification).where(
        Certification.practitioner_id == practitioner.id))
    latest = max((last_shown_day(c) for c in certs if is_verified(c)), default=None)
    licence = db.session.scalar(select(Licence).where(
        Licence.practitioner_id == practitioner.id))
    return _earlier(latest, licence_good_until(licence))


def listed_until_expression():
    """SQL for listed_until_of() of the practitioner row in context."""
    latest = (select(func.max(func.coalesce(Certification.expires_on, NO_EXPIRY)))
              .where(Certification.practitioner_id == Practitioner.id, verified_clause())
              .scalar_subquery())
    return case((_account_ok_sql(), _earlier_sql(latest, licence_good_until_expression())),
                else_=None)


def _listed(listed_until, today):
    # A listed_until of today or later: some certification is shown today and the licence is in
    # good standing (NULL: not so).
    return listed_until >= today


def is_listed(practitioner: Practitioner, today: date | None = None) -> bool:
    """True when this practitioner's profile page and API record answer everyone."""
    until = practitioner.listed_until
    return until is not None and _listed(until, today or utcnow().date())


def listed_clause(today: date | None = None) -> ColumnElement[bool]:
    """SQL for is_listed(): reads Practitioner.listed_until, which the hook keeps."""
    return _listed(Practitioner.listed_until, today or utcnow().date())


def can_view(practitioner: Practitioner, user) -> bool:
    """The owner and administrators always see a profile; everyone else once it is listed."""
    if user is not None and user.is_authenticated:
        if user.is_admin or practitioner.user_id == user.id:
            return True
    return is_listed(practitioner)


# -------------------------------------------------------------------------------- searchable

def attested_since(now: datetime | None = None) -> datetime:
    """The oldest confirmation that still keeps a profile searchable."""
    return (now or utcnow()) - timedelta(days=ATTESTATION_DAYS)


def is_attested(practitioner: Practitioner, now: datetime | None = None) -> bool:
    """True when the practitioner confirmed their details within the last ATTESTATION_DAYS."""
    return (practitioner.attested_at is not None
            and practitioner.attested_at >= attested_since(now))


def _searchable(listed_until, attested_at, today, since):
    return and_(_listed(listed_until, today), attested_at >= since)


def is_searchable(practitioner: Practitioner, now: datetime | None = None) -> bool:
    """True when search, the exports and the feeds show this practitioner: listed, and
    confirmed accurate within ATTESTATION_DAYS."""
    now = now or utcnow()
    return is_listed(practitioner, now.date()) and is_attested(practitioner, now)


def searchable_clause(now: datetime | None = None) -> ColumnElement[bool]:
    """SQL for is_searchable(), on the practitioners row."""
    now = now or utcnow()
    return _searchable(Practitioner.listed_until, Practitioner.attested_at, now.date(),
                       attested_since(now))


def is_published(practitioner: Practitioner, now: datetime | None = None) -> bool:
    """True when what the directory publishes for others to reuse carries this practitioner
    (the sitemap, and its page left open to search engines; the bulk export): searchable, and
    not demo data (demo practitioners are listed on a demo site, but they are not real
    people)."""
    return is_searchable(practitioner, now) and not practitioner.is_demo


def published_clause(now: datetime | None = None) -> ColumnElement[bool]:
    """SQL for is_published(), on the practitioners row."""
    return and_(searchable_clause(now), Practitioner.is_demo.is_(False))


# What each practice location copies of its practitioner, so that the search reads the
# (lat, lng) index alone (see PracticeLocation).
SEARCH_COPIES = {"practitioner_listed_until": Practitioner.listed_until,
                 "practitioner_attested_at": Practitioner.attested_at,
                 "practitioner_name": Practitioner.full_name}


def _copy_of(source) -> ColumnElement:
    """The PracticeLocation column that copies this Practitioner column."""
    return next(getattr(PracticeLocation, copy) for copy, column in SEARCH_COPIES.items()
                if column is source)


# The verdict on dry needling by the practitioner's profession where the location is
# (credentials.rules: "yes", "no", "unclear", "unknown"; NULL without a profession), kept on each
# location for the search's "not permitted there" filter and refreshed whenever the location's
# place, the practitioner's profession or a rule of that place changes.
SCOPE_COPY = "scope_verdict"


def location_verdict_expression():
    """What PracticeLocation.scope_verdict holds, as SQL over the location row."""
    return location_verdict_sql(PracticeLocation.region_code, PracticeLocation.country,
                                _of_practitioner(Practitioner.profession))


def searchable_location_clause(today, since) -> ColumnElement[bool]:
    """searchable_clause() read from a location's copies of its practitioner, on `today` with
    confirmations from `since` (dates or bound parameters; since = attested_since(now))."""
    return _searchable(_copy_of(Practitioner.listed_until), _copy_of(Practitioner.attested_at),
                       today, since)


# ----------------------------------------------------------------- keeping listed_until

def refresh_listing(connection, practitioner_ids=(), user_ids=()) -> None:
    """Recompute listed_until for these practitioners (or those of these accounts), then the
    copies their practice locations carry for the search."""
    conditions = []
    if practitioner_ids:
        conditions.append(Practitioner.id.in_(sorted(practitioner_ids)))
    if user_ids:
        conditions.append(Practitioner.user_id.in_(sorted(user_ids)))
    if not conditions:
        return
    connection.execute(update(Practitioner).where(or_(*conditions))
                       .values(listed_until=listed_until_expression())
                       .execution_options(synchronize_session=False))
    connection.execute(
        update(PracticeLocation)
        .where(PracticeLocation.practitioner_id.in_(select(Practitioner.id).where(
            or_(*conditions)).scalar_subquery()))
        .values({copy: _of_practitioner(source) for copy, source in SEARCH_COPIES.items()}
                | {SCOPE_COPY: location_verdict_expression()})
        .execution_options(synchronize_session=False))


def refresh_scopes(connection, jurisdictions) -> None:
    """Recompute the verdict of every location in these jurisdictions (region or country
    codes), after a rule of theirs was added, changed or deleted."""
    places = sorted({j for j in jurisdictions if j})
    if not places:
        return
    connection.execute(
        update(PracticeLocation)
        .where(or_(*(located_in(place) for place in places)))
        .values({SCOPE_COPY: location_verdict_expression()})
        .execution_options(synchronize_session=False))


def _of_practitioner(column):
    return (select(column).where(Practitioner.id == PracticeLocation.practitioner_id)
            .correlate_except(Practitioner).scalar_subquery())


# What the rules and the copies read, per model: only a change to one of these (or a new row)
# refreshes listed_until and the copies; any other change (a login's last_login_at, a bio, a
# location's street) runs no extra statement. listed_until and the copies are listed so that a
# direct write to them is put right.
RULE_ATTRIBUTES = {
    User: ("is_active", "email_confirmed_at"),
    Practitioner: ("user_id", "user", "attested_at", "full_name", "listed_until", "profession"),
    Certification: ("practitioner_id", "practitioner", "status", "expires_on"),
    Licence: ("practitioner_id", "practitioner", "status", "next_due", "grace_until"),
    PracticeLocation: ("practitioner_id", "practitioner", "region_code", "country",
                       *SEARCH_COPIES, SCOPE_COPY),
}
# What a location's verdict reads of a rule: a change to one of these refreshes the verdicts of
# the locations in the rule's jurisdiction (before and after the change).
RULE_SCOPE_ATTRIBUTES = ("jurisdiction", "profession", "permitted")


def _changes_rule(obj) -> bool:
    attrs = inspect(obj).attrs
    return any(attrs[name].history.has_changes() for name in RULE_ATTRIBUTES[type(obj)])


def _practitioner_ids_before(obj) -> set[int]:
    """The practitioner a certification or location belonged to before this flush moved it."""
    attrs = inspect(obj).attrs
    ids = {value for value in attrs["practitioner_id"].history.deleted if value is not None}
    ids |= {p.id for p in attrs["practitioner"].history.deleted
            if p is not None and p.id is not None}
    return ids


@event.listens_for(Session, "after_flush")
def _after_flush(session: Session, _context) -> None:
    """Whenever a flush changes what the rules read (RULE_ATTRIBUTES: a certification's status
    or expiry, a licence's status or days, an account's activity or confirmation, a
    practitioner's confirmation or name, new and deleted rows), bring listed_until and the
    locations' copies up to date in the same transaction, so no code path (service, command,
    test factory) can forget them."""
    _refresh_rule_scopes(session)
    practitioner_ids: set[int] = set()
    user_ids: set[int] = set()
    for obj in session.new:
        if isinstance(obj, Certification | Licence | PracticeLocation | Practitioner):
            practitioner_ids.add(obj.id if isinstance(obj, Practitioner)
                                 else obj.practitioner_id)
        # A new account has no practitioner row yet, or a new one (added above).
    for obj in session.dirty:
        if type(obj) not in RULE_ATTRIBUTES or not _changes_rule(obj):
            continue
        if isinstance(obj, User):
            user_ids.add(obj.id)
        elif isinstance(obj, Practitioner):
            practitioner_ids.add(obj.id)
        else:
            practitioner_ids |= {obj.practitioner_id, *_practitioner_ids_before(obj)}
    for obj in session.deleted:
        # A deleted account, practitioner or location takes its rows (and copies) with it.
        if isinstance(obj, Certification | Licence):
            practitioner_ids.add(obj.practitioner_id)
    practitioner_ids.discard(None)
    if not (practitioner_ids or user_ids):
        return
    refresh_listing(session.connection(), practitioner_ids, user_ids)
    loaded = list(session.identity_map.values())
    for obj in loaded:
        if isinstance(obj, Practitioner) and (obj.id in practitioner_ids
                                              or obj.user_id in user_ids):
            practitioner_ids.add(obj.id)
            session.expire(obj, ["listed_until"])
    for obj in loaded:
        if (isinstance(obj, PracticeLocation) and obj.practitioner_id in practitioner_ids
                and obj not in session.deleted):
            session.expire(obj, [*SEARCH_COPIES, SCOPE_COPY])


def _refresh_rule_scopes(session: Session) -> None:
    """A rule added, deleted, or changed in what the verdict reads: refresh the verdicts of
    the locations in its jurisdiction, before and after the change."""
    places: set[str] = set()
    for obj in session.new | session.deleted:
        if isinstance(obj, JurisdictionRule):
            places.add(obj.jurisdiction)
    for obj in session.dirty:
        if isinstance(obj, JurisdictionRule):
            attrs = inspect(obj).attrs
            if any(attrs[name].history.has_changes() for name in RULE_SCOPE_ATTRIBUTES):
                places.add(obj.jurisdiction)
                places |= {j for j in attrs["jurisdiction"].history.deleted if j}
    if not places:
        return
    refresh_scopes(session.connection(), places)
    for obj in list(session.identity_map.values()):
        if isinstance(obj, PracticeLocation) and obj not in session.deleted and (
                obj.region_code in places or obj.country in places):
            session.expire(obj, [SCOPE_COPY])
