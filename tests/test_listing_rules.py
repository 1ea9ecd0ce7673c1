"""The three rules of directory/listing.py, each defined once: "verified and unexpired" (shown),
"listed" (the profile page and the API record answer) and "searchable" (listed and confirmed
accurate within 12 months: search, exports). Each consumer is pinned to its rule, each SQL
expression to its Python twin, and the hook that keeps listed_until to what can change it."""

from __future__ import annotations

import json
import re
from contextlib import contextmanager
from datetime import timedelta

import pytest
from sqlalchemy import event, select

from directory import jobs, listing
from directory.credentials import checks
from directory.extensions import db
from directory.models import Certification, Licence, PracticeLocation, Practitioner, User
from directory.models.base import utcnow
from directory.search import search
from directory.vocab import CertStatus
from tests import factories
from tests.factories import DENVER, listed_at, offset, today


def days_ago(days: int):
    return utcnow() - timedelta(days=days)


# ------------------------------------------------------- each consumer, listed vs searchable


@pytest.fixture
def lapsed_and_current(app):
    """Two listed practitioners near Denver: "Lapsed Person" last confirmed their details 400
    days ago (listed, not searchable), "Current Person" a week ago (searchable)."""
    with app.app_context():
        lapsed = listed_at(*offset(*DENVER, km_north=1), "Lapsed Person",
                           attested_at=days_ago(400))
        lapsed.user.email = "lapsed@example.com"
        current = listed_at(*offset(*DENVER, km_north=2), "Current Person",
                            attested_at=days_ago(7))
        current.user.email = "current@example.com"
        db.session.commit()
        return {"lapsed": (lapsed.id, lapsed.slug), "current": (current.id, current.slug)}


def consumers(app, client, practitioner_id: int, slug: str, email: str) -> dict[str, bool]:
    """Whether each consumer of the rules shows this practitioner to an anonymous visitor."""
    from directory.bulk.exporter import export_csv, export_json

    with app.app_context():
        p = db.session.get(Practitioner, practitioner_id)
        seen = {"is_listed": listing.is_listed(p), "is_searchable": listing.is_searchable(p),
                "search": practitioner_id in {h.practitioner.id for h in search(*DENVER, 25).hits},
                "csv export": email in "".join(export_csv()),
                "json export": email in {r["email"] for r in
                                         json.loads("".join(export_json()))["practitioners"]}}
    page = client.get(f"/p/{slug}")
    seen["profile"] = page.status_code == 200 and "not listed" not in page.get_data(as_text=True)
    record = client.get(f"/api/v1/practitioners/{practitioner_id}")
    seen["api record"] = record.status_code == 200 and record.get_json()["id"] == practitioner_id
    found = client.get(f"/api/v1/practitioners?lat={DENVER[0]}&lng={DENVER[1]}&radius=25")
    seen["api search"] = practitioner_id in {item["id"] for item in found.get_json()["items"]}
    listing_page = client.get("/?near=80202&radius=25").get_data(as_text=True)
    seen["search page"] = f"/p/{slug}" in listing_page
    return seen


LISTED_ONLY = {"is_listed": True, "profile": True, "api record": True, "is_searchable": False,
               "search": False, "search page": False, "api search": False,
               "csv export": False, "json export": False}


def test_listed_but_unconfirmed_for_400_days_answers_by_link_only(app, client,
                                                                  lapsed_and_current):
    """Its profile page and API record answer; search, the search page, the API search and
    both exports leave it out."""
    practitioner_id, slug = lapsed_and_current["lapsed"]
    assert consumers(app, client, practitioner_id, slug, "lapsed@example.com") == LISTED_ONLY


def test_a_searchable_practitioner_is_on_every_consumer(app, client, lapsed_and_current):
    practitioner_id, slug = lapsed_and_current["current"]
    assert consumers(app, client, practitioner_id, slug, "current@example.com") == dict.fromkeys(
        LISTED_ONLY, True)


def test_the_admin_download_holds_only_the_searchable(app, client, lapsed_and_current):
    with app.app_context():
        factories.make_admin("boss@example.com")
    assert factories.login(client, "boss@example.com").status_code == 302
    exported = client.get("/admin/bulk/export.csv").get_data(as_text=True)
    assert "current@example.com" in exported and "lapsed@example.com" not in exported


def test_confirming_again_brings_a_lapsed_practitioner_back_to_search_and_exports(
        app, lapsed_and_current):
    from directory.bulk.exporter import export_csv
    from directory.profiles import services as profiles

    with app.app_context():
        lapsed = db.session.get(Practitioner, lapsed_and_current["lapsed"][0])
        profiles.attest(lapsed, lapsed.user)
        db.session.commit()
        assert len(search(*DENVER, 25).hits) == 2
        assert "lapsed@example.com" in "".join(export_csv())


# ----------------------------------------------------- verified and unexpired, on every side


@pytest.fixture
def certified(app_ctx):
    return factories.make_listed_practitioner()


@pytest.mark.parametrize(("expires_in", "shown"), [(-1, False), (0, True), (1, True),
                                                   (None, True)])
def test_expiry_day_is_the_last_shown_day_everywhere(certified, expires_in, shown):
    """A certification that expires today is shown today; one that expired yesterday is
    not: on the profile, in the checks beside the evidence, on the public check, in the sweep."""
    from directory.public.routes import public_status

    expires_on = None if expires_in is None else today() + timedelta(days=expires_in)
    cert = factories.make_certification(certified, status="verified", expires_on=expires_on)
    assert listing.is_shown(cert) is shown
    assert (cert in listing.shown_certifications(certified)) is shown
    assert (checks.not_expired(cert, today()).status == "pass") is shown
    assert (public_status(cert) == "verified") is shown
    swept = jobs.sweep()
    db.session.refresh(cert)
    assert cert.status == (CertStatus.VERIFIED if shown else CertStatus.EXPIRED)
    # Reminded within 7 days of the last shown day, that day included.
    assert swept.reminders == (1 if expires_in in (0, 1) else 0)
    assert (cert.reminder_7_sent_at is not None) is (expires_in in (0, 1))


# ----------------------------------------------------- SQL and Python agree, on edge cases

# name: (how to make it, listed, searchable)
EDGE_CASES = {
    "expired yesterday": ({"certs": [("verified", -1)]}, False, False),
    "expires today": ({"certs": [("verified", 0)]}, True, True),
    "no expiry date": ({"certs": [("verified", None)]}, True, True),
    "inactive account": ({"certs": [("verified", None)], "active": False}, False, False),
    "unconfirmed e-mail": ({"certs": [("verified", None)], "confirmed": False}, False, False),
    "attested 364 days ago": ({"certs": [("verified", 30)], "attested": 364}, True, True),
    "attested 366 days ago": ({"certs": [("verified", 30)], "attested": 366}, True, False),
    "never attested": ({"certs": [("verified", 30)], "attested": None}, True, False),
    "only pending": ({"certs": [("pending", None)]}, False, False),
    "revoked and expired statuses": ({"certs": [("revoked", None), ("expired", 90)]},
                                     False, False),
    "no certification": ({"certs": []}, False, False),
    "several certifications": ({"certs": [("verified", -1), ("verified", 30),
                                          ("pending", None), ("revoked", None)]}, True, True),
    # The licence: in good standing through its next check day, or unchecked in its grace.
    "no licence check": ({"certs": [("verified", None)], "licence": None}, False, False),
    "licence due today": ({"certs": [("verified", None)], "licence": ("verified", 0, None)},
                          True, True),
    "licence overdue": ({"certs": [("verified", None)], "licence": ("verified", -1, None)},
                        False, False),
    "licence failed": ({"certs": [("verified", None)], "licence": ("failed", None, None)},
                       False, False),
    "licence lapsed": ({"certs": [("verified", None)], "licence": ("lapsed", -3, None)},
                       False, False),
    "unchecked in grace": ({"certs": [("verified", None)], "licence": ("unverified", None, 0)},
                           True, True),
    "grace ended": ({"certs": [("verified", None)], "licence": ("unverified", None, -1)},
                    False, False),
    "unchecked, no grace": ({"certs": [("verified", None)],
                             "licence": ("unverified", None, None)}, False, False),
    "licence due before the certification": ({"certs": [("verified", 90)],
                                              "licence": ("verified", 10, None)}, True, True),
    "certification expires before the licence": ({"certs": [("verified", 5)],
                                                  "licence": ("verified", 10, 40)}, True, True),
}

VERIFIED_LICENCE = ("verified", 400, None)


def days_from_now(days):
    return None if days is None else today() + timedelta(days=days)


def make_case(name: str, certs, active=True, confirmed=True, attested=0,
              licence=VERIFIED_LICENCE) -> Practitioner:
    p = factories.make_practitioner(
        full_name=name, attested_at=None if attested is None else days_ago(attested))
    if licence is not None:
        status, due_in, grace_in = licence
        p.licence = Licence(status=status, method=None if status == "unverified" else "register",
                            verified_on=None if status == "unverified" else today(),
                            next_due=days_from_now(due_in), grace_until=days_from_now(grace_in))
    p.user.is_active = active
    p.user.email_confirmed_at = utcnow() if confirmed else None
    for status, expires_in in certs:
        factories.make_certification(
            p, status=status,
            expires_on=None if expires_in is None else today() + timedelta(days=expires_in))
    factories.make_location(p, lat=DENVER[0], lng=DENVER[1], geo_precision="postcode")
    db.session.commit()
    return p


def ids_where(clause, model=Practitioner) -> set[int]:
    column = model.practitioner_id if model is PracticeLocation else model.id
    return set(db.session.scalars(select(column).where(clause)))


def test_sql_and_python_rules_agree_on_the_edge_cases(app_ctx):
    made = {name: make_case(name, **how) for name, (how, _, _) in EDGE_CASES.items()}
    db.session.expire_all()
    now = utcnow()
    listed_sql = ids_where(listing.listed_clause())
    searchable_sql = ids_where(listing.searchable_clause(now))
    # What the search reads: the same rule over each location's copies.
    copies_sql = ids_where(listing.searchable_location_clause(now.date(),
                                                              listing.attested_since(now)),
                           PracticeLocation)
    for name, (_, listed, searchable) in EDGE_CASES.items():
        p = made[name]
        assert listing.is_listed(p) is listed, name
        assert (p.id in listed_sql) is listed, name
        assert listing.is_searchable(p, now) is searchable, name
        assert (p.id in searchable_sql) is searchable, name
        assert (p.id in copies_sql) is searchable, name
        # The kept listed_until (written by the SQL expression) is the Python rule's day.
        assert p.listed_until == listing.listed_until_of(p), name
    # A certification without expiry: listed until the licence's next check.
    assert made["no expiry date"].listed_until == days_from_now(VERIFIED_LICENCE[1])
    assert made["several certifications"].listed_until == today() + timedelta(days=30)
    assert made["licence due before the certification"].listed_until == days_from_now(10)
    assert made["certification expires before the licence"].listed_until == days_from_now(5)
    assert made["unchecked in grace"].listed_until == today()


def test_sql_and_python_agree_on_which_certifications_are_shown(app_ctx):
    for name, (how, _, _) in EDGE_CASES.items():
        make_case(name, **how)
    certs = db.session.scalars(select(Certification)).all()
    assert len(certs) == 15 + 10  # ten licence cases with one certification each
    for day in (today() - timedelta(days=1), today(), today() + timedelta(days=31)):
        shown = ids_where(listing.shown_clause(day), Certification)
        unexpired = ids_where(listing.unexpired_clause(day), Certification)
        for cert in certs:
            assert listing.is_shown(cert, day) is (cert.id in shown), (cert, day)
            assert listing.is_unexpired(cert, day) is (cert.id in unexpired), (cert, day)
    assert {c.id for c in certs if listing.is_shown(c)} == ids_where(
        listing.shown_clause(today()), Certification) != set()


# ------------------------------------------------------- the hook: only what feeds the rules


@contextmanager
def updated_tables():
    """The tables each UPDATE statement sent meanwhile names, in order."""
    tables: list[str] = []

    def seen(_conn, _cursor, statement, *_args):
        match = re.match(r"\s*UPDATE\s+\"?(\w+)", statement, re.IGNORECASE)
        if match:
            tables.append(match.group(1))

    engine = db.engine
    event.listen(engine, "before_cursor_execute", seen)
    try:
        yield tables
    finally:
        event.remove(engine, "before_cursor_execute", seen)


def test_a_login_updates_only_the_users_row(app, client):
    with app.app_context():
        p = listed_at(*DENVER, "Logs In")
        email = p.user.email
        with updated_tables() as tables:
            response = factories.login(client, email)
        assert response.status_code == 302
        assert tables == ["users"]
        assert db.session.scalar(select(User.last_login_at).where(User.email == email))


def test_a_change_outside_the_rules_runs_no_listing_statement(app_ctx):
    p = listed_at(*DENVER, "Bio Writer")
    location = p.locations[0]
    p.bio = "Twenty years in practice."
    location.street = "1 Main Street"
    with updated_tables() as tables:
        db.session.commit()
    assert sorted(tables) == ["practice_locations", "practitioners"]  # the two rows alone


def _revoke(p):
    db.session.scalar(select(Certification).where(
        Certification.practitioner_id == p.id)).status = CertStatus.REVOKED


def _expire_yesterday(p):
    db.session.scalar(select(Certification).where(
        Certification.practitioner_id == p.id)).expires_on = today() - timedelta(days=1)


def _move_certification(p):
    other = factories.make_practitioner(attested_at=utcnow())
    db.session.scalar(select(Certification).where(
        Certification.practitioner_id == p.id)).practitioner = other


def _move_certification_by_id(p):
    other = factories.make_practitioner(attested_at=utcnow())
    db.session.scalar(select(Certification).where(
        Certification.practitioner_id == p.id)).practitioner_id = other.id


def _delete_certification(p):
    db.session.delete(db.session.scalar(select(Certification).where(
        Certification.practitioner_id == p.id)))


def _deactivate(p):
    p.user.is_active = False


def _unconfirm(p):
    p.user.email_confirmed_at = None


def _lapse(p):
    p.attested_at = days_ago(366)


def _rename(p):
    p.full_name = "Renamed Person"


def _move_location(p):
    p.locations[0].practitioner = factories.make_practitioner(full_name="Unlisted")


def _fail_licence(p):
    p.licence.status = "failed"
    p.licence.next_due = None


def _licence_overdue(p):
    p.licence.next_due = today() - timedelta(days=1)


def _delete_licence(p):
    db.session.delete(p.licence)


@pytest.mark.parametrize("change", [_revoke, _expire_yesterday, _move_certification,
                                    _move_certification_by_id, _delete_certification,
                                    _deactivate, _unconfirm, _lapse, _rename, _move_location,
                                    _fail_licence, _licence_overdue, _delete_licence])
def test_each_change_to_what_the_rules_read_refreshes_the_listing(app_ctx, change):
    """Search reads the locations' copies: it sees each change at once (and the app fixture
    checks every copy matches its practitioner after the test)."""
    p = listed_at(*DENVER, "Listed Person")
    assert [h.practitioner.full_name for h in search(*DENVER, 25).hits] == ["Listed Person"]
    change(p)
    db.session.commit()
    db.session.expire_all()
    assert [h.practitioner.full_name for h in search(*DENVER, 25).hits] == (
        ["Renamed Person"] if change is _rename else [])
    assert p.listed_until == listing.listed_until_of(p)


@pytest.mark.parametrize("change", ["new certification", "reactivate", "attest", "location",
                                    "licence verified"])
def test_each_change_that_lists_is_seen_at_once(app_ctx, change):
    p = listed_at(*DENVER, "Coming Back", listed=change != "new certification",
                  attested_at=days_ago(366 if change == "attest" else 1))
    if change == "new certification":
        p.attested_at = utcnow()
        factories.verify_licence(p)
        db.session.commit()
    if change == "licence verified":
        p.licence.status = "failed"
        db.session.commit()
    if change == "reactivate":
        p.user.is_active = False
        db.session.commit()
    if change == "location":
        db.session.delete(p.locations[0])
        db.session.commit()
    assert search(*DENVER, 25).hits == []
    if change == "new certification":
        factories.make_certification(p, status="verified")
    elif change == "reactivate":
        p.user.is_active = True
    elif change == "attest":
        p.attested_at = utcnow()
    elif change == "licence verified":
        factories.verify_licence(p)
    else:
        factories.make_location(p, lat=DENVER[0], lng=DENVER[1], geo_precision="postcode")
    db.session.commit()
    assert [h.practitioner.full_name for h in search(*DENVER, 25).hits] == ["Coming Back"]
