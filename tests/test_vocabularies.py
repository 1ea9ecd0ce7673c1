"""The vocabularies (statuses, roles, precisions, tag kinds, permitted): each is a StrEnum in
directory/vocab.py, and the database's CHECK constraints, the state machine, the admin queue and
the forms all follow it."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import text
from sqlalchemy.exc import IntegrityError

from directory.admin.routes import STATUS_TABS
from directory.credentials import lifecycle
from directory.credentials.rules import UNKNOWN, VERDICTS
from directory.extensions import db
from directory.models import JurisdictionRule, OutboxMessage, PractitionerTag
from directory.registry.forms import PERMITTED_LABELS
from directory.vocab import CertStatus, GeoPrecision, OutboxStatus, Permitted, Role, TagKind
from tests import factories

# =========================================================================== CHECK constraints


def _user() -> tuple[str, int]:
    return "id", factories.make_user().id


def _certification() -> tuple[str, int]:
    # Decided, so that every status also passes the "decided names its reviewer" constraint.
    cert = factories.make_certification(factories.make_practitioner(), status="verified")
    return "id", cert.id


def _tag() -> tuple[str, int]:
    p = factories.make_practitioner()
    db.session.add(PractitionerTag(practitioner=p, kind=TagKind.TECHNIQUE, code="deep"))
    db.session.commit()
    return "practitioner_id", p.id


def _location() -> tuple[str, int]:
    return "id", factories.make_location(factories.make_practitioner()).id


def _rule() -> tuple[str, int]:
    rule = JurisdictionRule(jurisdiction="US-CO", profession="*", permitted=Permitted.YES,
                            source_url="https://example.org/rule")
    db.session.add(rule)
    db.session.commit()
    return "id", rule.id


def _message() -> tuple[str, int]:
    message = OutboxMessage(kind="test", to_address="someone@example.com", subject="Hello",
                            body="Hello.", message_id="<vocab-test@example.com>")
    db.session.add(message)
    db.session.commit()
    return "id", message.id


COLUMNS = {  # "table.column": (its vocabulary, a row to change)
    "users.role": (Role, _user),
    "certifications.status": (CertStatus, _certification),
    "practitioner_tags.kind": (TagKind, _tag),
    "practice_locations.geo_precision": (GeoPrecision, _location),
    "jurisdiction_rules.permitted": (Permitted, _rule),
    "outbox_messages.status": (OutboxStatus, _message),
}


def _set(table: str, column: str, key: str, key_value: int, value: str | None) -> None:
    # One savepoint per attempt: a refused UPDATE must not abort PostgreSQL's transaction.
    with db.session.begin_nested():
        db.session.execute(text(f"UPDATE {table} SET {column} = :value "  # noqa: S608 — ours
                                f"WHERE {key} = :key"), {"value": value, "key": key_value})


def _read(table: str, column: str, key: str, key_value: int) -> str | None:
    return db.session.execute(text(f"SELECT {column} FROM {table} "  # noqa: S608 — ours
                                   f"WHERE {key} = :key"), {"key": key_value}).scalar_one()


@pytest.mark.parametrize("where", list(COLUMNS))
def test_the_database_admits_each_value_of_the_vocabulary(app_ctx, where):
    table, column = where.split(".")
    vocabulary, make_row = COLUMNS[where]
    key, key_value = make_row()
    for value in vocabulary:
        _set(table, column, key, key_value, value.value)
        assert _read(table, column, key, key_value) == value.value


@pytest.mark.parametrize("where", list(COLUMNS))
def test_the_database_refuses_a_value_outside_the_vocabulary(app_ctx, where):
    table, column = where.split(".")
    vocabulary, make_row = COLUMNS[where]
    key, key_value = make_row()
    before = _read(table, column, key, key_value)
    first = next(iter(vocabulary)).value
    for bogus in ("bogus", first.upper(), f" {first}", ""):
        with pytest.raises(IntegrityError):
            _set(table, column, key, key_value, bogus)
        assert _read(table, column, key, key_value) == before


def test_a_location_may_have_no_precision(app_ctx):
    key, key_value = _location()
    _set("practice_locations", "geo_precision", key, key_value, None)
    assert _read("practice_locations", "geo_precision", key, key_value) is None


# =========================================================================== certification statuses


def test_the_admin_queue_has_one_tab_per_status_waiting_ones_first():
    assert sorted(STATUS_TABS) == sorted(CertStatus)
    assert STATUS_TABS[:2] == (CertStatus.PENDING, CertStatus.CHANGES_REQUESTED)


def test_every_status_has_a_label_and_is_reached_by_the_state_machine():
    assert set(lifecycle.STATUS_LABELS) == set(CertStatus)
    assert all(lifecycle.STATUS_LABELS.values())
    named = {s for t in lifecycle.TRANSITIONS.values() for s in (t.source, t.target)}
    assert named == set(CertStatus)
    assert all(isinstance(s, CertStatus) for s in named)
    # Every status can be reached from a new (pending) certification.
    reached, frontier = {CertStatus.PENDING}, [CertStatus.PENDING]
    while frontier:
        source = frontier.pop()
        for t in lifecycle.TRANSITIONS.values():
            if t.source == source and t.target not in reached:
                reached.add(t.target)
                frontier.append(t.target)
    assert reached == set(CertStatus)


def test_the_sets_the_templates_read_are_the_state_machines():
    assert lifecycle.EDITABLE == {CertStatus.PENDING, CertStatus.CHANGES_REQUESTED,
                                  CertStatus.VERIFIED, CertStatus.EXPIRED}
    assert lifecycle.REASON_GIVEN == {CertStatus.REJECTED, CertStatus.CHANGES_REQUESTED,
                                      CertStatus.REVOKED}
    assert lifecycle.ONCE_VERIFIED <= set(CertStatus)


def test_the_queue_page_shows_a_tab_for_every_status_with_its_count(app, client, auth):
    with app.app_context():
        admin = factories.make_admin()
        for status in CertStatus:
            factories.make_certification(factories.make_practitioner(), status=status,
                                         admin=admin)
        email = admin.email
    auth.login(email)
    for status in CertStatus:
        page = client.get("/admin/queue", query_string={"status": status.value})
        assert page.status_code == 200
        raw = page.get_data(as_text=True)
        tabs = re.findall(r'href="/admin/queue\?status=(\w+)"', raw)
        assert tabs == [str(s) for s in STATUS_TABS]
        label = lifecycle.STATUS_LABELS[status].capitalize()
        assert re.search(rf'status={status}" aria-current="page">{label} \(1\)</a>', raw)
        assert f"{label}: 1</h2>" in raw


@pytest.mark.parametrize("status", list(CertStatus))
def test_a_certification_page_leads_back_to_its_tab_with_its_decisions(app, client, auth, status):
    with app.app_context():
        admin = factories.make_admin()
        cert_id = factories.make_certification(factories.make_practitioner(), status=status,
                                               admin=admin).id
        email = admin.email
    auth.login(email)
    raw = client.get(f"/admin/certifications/{cert_id}").get_data(as_text=True)
    assert f'href="/admin/queue?status={status}">← Back to the queue' in raw
    # Its buttons are the administrator's moves from this status, no more, no fewer.
    buttons = re.findall(r'<button type="submit" name="action" value="(\w+)"', raw)
    assert buttons == [t.name for t in lifecycle.TRANSITIONS.values()
                       if t.source == status and t.by == "admin"]


@pytest.mark.parametrize("status", list(CertStatus))
def test_the_dashboard_offers_an_edit_link_exactly_when_the_edit_page_opens(app, client, auth,
                                                                           status):
    with app.app_context():
        p = factories.make_practitioner()
        cert_id = factories.make_certification(p, status=status, reason="Please fix it.").id
        email = p.user.email
    auth.login(email)
    edit = f"/certifications/{cert_id}/edit"
    for page in ("/dashboard", "/certifications/"):
        offered = f'href="{edit}"' in client.get(page).get_data(as_text=True)
        assert offered == (status in lifecycle.EDITABLE), page
    assert client.get(edit).status_code == (200 if status in lifecycle.EDITABLE else 302)


# =========================================================================== roles, permitted


def test_only_the_admin_role_is_an_administrator(app_ctx):
    roles = {role: factories.make_user(role=role).is_admin for role in Role}
    assert roles == {Role.PRACTITIONER: False, Role.ADMIN: True, Role.ISSUER: False}


def test_every_permitted_value_has_a_verdict_and_a_choice_in_the_rule_form(app, client, auth):
    assert set(VERDICTS) == set(Permitted) | {UNKNOWN}  # unknown: no rule governs
    assert set(PERMITTED_LABELS) == set(Permitted)
    with app.app_context():
        email = factories.make_admin().email
    auth.login(email)
    raw = client.get("/admin/registry/rules/new").get_data(as_text=True)
    select = re.search(r'<select[^>]*name="permitted".*?</select>', raw, re.S).group(0)
    assert re.findall(r'<option[^>]*value="(\w*)"', select) == ["", *(str(p) for p in Permitted)]
