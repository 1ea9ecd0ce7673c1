"""Training organisations confirm their graduates (issue 14, item 5).

An issuer account answers for one organisation of the registry: it sees the certifications
citing that organisation's programs (the holder's name, certificate number, level and dates,
nothing else), confirms or disputes each, sends rosters of its graduates (a roster with any
bad row writes nothing), and revokes a certificate it withdrew. The administrator's checks,
the queue, the API and the public profile show the answer.
(Who may open which issuer page is tests/test_authorization.py; forms, XSS and IDOR by id are
also covered by tests/test_security.py, CSRF by tests/test_csrf.py.)
"""

from __future__ import annotations

import html
import io
import re
from datetime import date, timedelta
from types import SimpleNamespace

import pytest
from sqlalchemy import select

from directory.credentials import checks, lifecycle
from directory.extensions import db
from directory.issuers import roster
from directory.models import Certification, IssuerConfirmation, User
from directory.vocab import CertStatus
from tests import factories
from tests.factories import audit_events, login_client
from tests.pages import field_error, flashes, form_values, page

ALPHA = "Alpha Dry Needling Institute"
BETA = "Beta Needling Academy"


@pytest.fixture
def world(app) -> SimpleNamespace:
    """Two organisations with programs and an issuer account each; Jane (listed, with a
    verified Alpha certificate), Bob (a pending Alpha level 2 one) and Carol (a pending Beta
    one)."""
    with app.app_context():
        alpha1 = factories.make_program("alpha-1", organisation=ALPHA, name="Alpha DN Level 1",
                                        level=1)
        alpha2 = factories.make_program("alpha-2", organisation=ALPHA, name="Alpha DN Level 2",
                                        level=2)
        beta1 = factories.make_program("beta-1", organisation=BETA, name="Beta DN Foundations",
                                       level=1)
        issuer = factories.make_issuer("issuer@example.com", organisation=ALPHA)
        factories.make_issuer("beta@example.com", organisation=BETA)
        admin = factories.make_admin("admin@example.com")
        jane = factories.make_listed_practitioner("jane@example.com", full_name="Jane Núñez")
        factories.make_location(jane, clinic_name="Jane's Secret Clinic", street="1 Hidden Lane",
                                lat=factories.DENVER[0], lng=factories.DENVER[1],
                                geo_precision="postcode")
        jane_cert = factories.make_certification(
            jane, program=alpha1, status="verified", admin=admin, certificate_number="A-100",
            completed_on=date(2024, 3, 1), expires_on=factories.today() + timedelta(days=400))
        bob = factories.make_practitioner("bob@example.com", full_name="Bob Stone")
        bob_cert = factories.make_certification(bob, program=alpha2, certificate_number="A-200",
                                                completed_on=date(2024, 5, 2))
        carol = factories.make_practitioner("carol@example.com", full_name="Carol Beta")
        carol_cert = factories.make_certification(carol, program=beta1,
                                                  certificate_number="B-300")
        found = SimpleNamespace(
            issuer_id=issuer.id, jane_slug=jane.slug, jane_id=jane.id, jane_cert=jane_cert.id,
            bob_cert=bob_cert.id, carol_cert=carol_cert.id, alpha1=alpha1.id, alpha2=alpha2.id,
            beta1=beta1.id)
        db.session.remove()
    return found


@pytest.fixture
def issuer(app, world):
    """Alpha's issuer, logged in."""
    return login_client(app, "issuer@example.com")


@pytest.fixture
def admin(app, world):
    """The administrator, logged in."""
    return login_client(app, "admin@example.com")


def cert_state(app, cert_id: int) -> SimpleNamespace:
    """A certification's status, decision and issuer answer, as plain values."""
    with app.app_context():
        cert = db.session.get(Certification, cert_id)
        answer = cert.issuer_confirmation
        state = SimpleNamespace(
            status=cert.status, reason=cert.reason, reviewed_by_id=cert.reviewed_by_id,
            answer=answer.answer if answer else None,
            answer_reason=answer.reason if answer else None,
            confirmed=bool(answer and answer.confirmed),
            roster=answer.roster_upload if answer else None,
            checks={c.name: (c.status, c.reason) for c in checks.run_checks(cert)})
        db.session.remove()
    return state


def table_rows(app) -> dict[str, list[tuple]]:
    """Every row of the tables an issuer's actions write: to show a refusal wrote nothing."""
    with app.app_context():
        rows = {table.name: sorted((tuple(r) for r in db.session.execute(select(table))),
                                   key=repr)
                for table in db.metadata.sorted_tables
                if table.name in ("certifications", "issuer_confirmations", "audit_events",
                                  "outbox_messages")}
        db.session.remove()
    return rows


# --------------------------------------------------------------------------- what an issuer sees


def test_an_issuer_sees_its_graduates_facts_and_nothing_else(app, world, issuer):
    listing = issuer.get("/issuer/")
    assert listing.status_code == 200
    text = page(listing)
    assert "Jane Núñez" in text and "A-100" in text and "Bob Stone" in text and "A-200" in text
    assert "Alpha DN Level 2" in text and "2 May 2024" in text
    # Another organisation's certification, and the test program's, are not there.
    assert "Carol Beta" not in text and "B-300" not in text
    assert text.count('id="cert-') == 2
    detail = page(issuer.get(f"/issuer/certifications/{world.jane_cert}"))
    for shown in ("Jane Núñez", "A-100", "Alpha DN Level 1", "Completed", "Expires"):
        assert shown in detail
    for hidden in ("jane@example.com", "Secret Clinic", "Hidden Lane", "/evidence",
                   "certificate.pdf", "sha256"):
        assert hidden not in text and hidden not in detail
    # The header leads to the issuer's own pages.
    assert 'href="/issuer/">Our graduates</a>' in listing.get_data(as_text=True)


def test_logging_in_as_an_issuer_lands_on_its_list(app, world):
    response = factories.login(app.test_client(), "issuer@example.com")
    assert response.headers["Location"] == "/issuer/"


def test_another_organisations_certification_looks_like_no_certification(app, world, issuer):
    before = table_rows(app)
    issuer.get("/about")  # shows the "logged in" message, so both pages below are alike
    theirs = issuer.get(f"/issuer/certifications/{world.carol_cert}")
    nobody = issuer.get("/issuer/certifications/999999")
    assert theirs.status_code == nobody.status_code == 404
    assert theirs.get_data(as_text=True).replace(f"/{world.carol_cert}", "/N") == \
        nobody.get_data(as_text=True).replace("/999999", "/N")
    for url, data in ((f"/issuer/certifications/{world.carol_cert}",
                       {"answer": "disputed", "reason": "Not ours."}),
                      (f"/issuer/certifications/{world.carol_cert}/revoke",
                       {"revoke_reason": "Withdrawn."})):
        response = issuer.post(url, data=data)
        assert response.status_code == 404
        assert "Carol" not in response.get_data(as_text=True)
    assert table_rows(app) == before


def test_the_list_filters_by_answer_and_by_name_or_number(app, world, issuer):
    issuer.post(f"/issuer/certifications/{world.jane_cert}", data={"answer": "confirmed"})
    assert "Bob Stone" not in page(issuer.get("/issuer/?answer=confirmed"))
    assert "Jane Núñez" in page(issuer.get("/issuer/?answer=confirmed"))
    unanswered = page(issuer.get("/issuer/?answer=unanswered"))
    assert "Bob Stone" in unanswered and "Jane Núñez" not in unanswered
    assert "Bob Stone" in page(issuer.get("/issuer/?q=a-200"))
    assert "Jane Núñez" not in page(issuer.get("/issuer/?q=stone"))
    assert issuer.get("/issuer/?answer=nonsense").status_code == 200


# --------------------------------------------------------------------------- confirm, dispute


def test_confirming_shows_everywhere_the_answer_counts(app, world, issuer, admin):
    response = issuer.post(f"/issuer/certifications/{world.jane_cert}",
                           data={"answer": "confirmed", "reason": ""})
    assert response.status_code == 302
    state = cert_state(app, world.jane_cert)
    assert (state.answer, state.confirmed, state.status) == ("confirmed", True, "verified")
    status, reason = state.checks["Confirmed by issuer"]
    assert status == "pass" and reason.startswith(f"Confirmed by {ALPHA} on ")
    # Audited, with the issuer as the actor.
    [event] = audit_events(app, "certification.issuer_confirmed")
    assert (event.actor_id, event.subject_id, event.practitioner_id) == (
        world.issuer_id, world.jane_cert, world.jane_id)
    assert event.detail["organisation"] == ALPHA
    # The profile and the API say so.
    profile = page(app.test_client().get(f"/p/{world.jane_slug}"))
    today = factories.today()
    assert f"Confirmed by {ALPHA} on {today.day} {today:%b %Y}" in profile
    api = app.test_client().get(f"/api/v1/practitioners/{world.jane_id}").get_json()
    answers = {c["program"]: c["issuer_confirmed"] for c in api["certifications"]}
    assert answers == {"Alpha DN Level 1": True, "Test Dry Needling Level 1": False}
    search = app.test_client().get("/api/v1/practitioners?near=80202").get_json()
    [item] = [i for i in search["items"] if i["id"] == world.jane_id]
    assert sorted(c["issuer_confirmed"] for c in item["certifications"]) == [False, True]
    # The administrator's page shows the check passing.
    detail = admin.get(f"/admin/certifications/{world.jane_cert}").get_data(as_text=True)
    assert re.search(r'<li class="check-pass">.*?<strong>Confirmed by issuer</strong>', detail,
                     re.S)


def test_a_dispute_needs_a_reason_and_fails_the_check(app, world, issuer):
    before = table_rows(app)
    response = issuer.post(f"/issuer/certifications/{world.bob_cert}",
                           data={"answer": "disputed", "reason": "  "})
    assert response.status_code == 200
    assert field_error(response, "reason") == ("Give a reason: the directory's administrators "
                                               "read it.")
    assert table_rows(app) == before
    response = issuer.post(f"/issuer/certifications/{world.bob_cert}",
                           data={"answer": "disputed", "reason": "Bob only took level 1."})
    assert response.status_code == 302
    state = cert_state(app, world.bob_cert)
    assert (state.answer, state.answer_reason, state.status) == (
        "disputed", "Bob only took level 1.", "pending")
    assert state.checks["Confirmed by issuer"][0] == "fail"
    assert "Bob only took level 1." in state.checks["Confirmed by issuer"][1]
    [event] = audit_events(app, "certification.issuer_disputed")
    assert event.actor_id == world.issuer_id
    assert event.detail["reason"] == "Bob only took level 1."


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"answer": "maybe"}, "answer", "Not a valid choice."),
    ({}, "answer", "Choose confirm or dispute."),
    ({"answer": "disputed", "reason": "x" * 2001}, "reason",
     "Field cannot be longer than 2000 characters."),
])
def test_a_bad_answer_is_a_field_error_and_writes_nothing(app, world, issuer, data, field,
                                                          message):
    before = table_rows(app)
    response = issuer.post(f"/issuer/certifications/{world.bob_cert}", data=data)
    assert response.status_code == 200
    assert message in page(response)
    assert table_rows(app) == before


def test_no_answer_is_left_unanswered_and_the_check_says_none(app, world):
    state = cert_state(app, world.bob_cert)
    assert state.answer is None
    assert state.checks["Confirmed by issuer"] == ("none", f"{ALPHA} has not answered.")


def test_an_answer_stops_counting_when_the_certification_changes(app, world, issuer):
    issuer.post(f"/issuer/certifications/{world.bob_cert}", data={"answer": "confirmed"})
    assert cert_state(app, world.bob_cert).confirmed
    bob = login_client(app, "bob@example.com")
    form = bob.get(f"/certifications/{world.bob_cert}/edit")
    assert form.status_code == 200
    values = form_values(form)
    values["certificate_number"] = ["A-999"]
    assert bob.post(f"/certifications/{world.bob_cert}/edit", data=values).status_code == 302
    state = cert_state(app, world.bob_cert)
    assert state.answer == "confirmed" and not state.confirmed
    assert state.checks["Confirmed by issuer"][0] == "none"
    assert "changed since you answered" in page(issuer.get("/issuer/"))


def test_a_rejected_certification_is_not_the_issuers_business(app, world, issuer):
    with app.app_context():
        cert = db.session.get(Certification, world.bob_cert)
        lifecycle.apply(cert, "reject", db.session.scalar(
            select(User).where(User.email == "admin@example.com")), "Blurry scan.")
        db.session.commit()
    assert issuer.get(f"/issuer/certifications/{world.bob_cert}").status_code == 404


# --------------------------------------------------------------------------- revoke


def test_revoking_revokes_the_certification_and_tells_the_practitioner(app, world, issuer,
                                                                       outbox):
    page_html = issuer.get(f"/issuer/certifications/{world.jane_cert}").get_data(as_text=True)
    assert f'action="/issuer/certifications/{world.jane_cert}/revoke"' in page_html
    ids = re.findall(r'\bid="([^"]+)"', page_html)  # each label names its own field
    assert len(ids) == len(set(ids)), sorted(i for i in ids if ids.count(i) > 1)
    response = issuer.post(f"/issuer/certifications/{world.jane_cert}/revoke",
                           data={"revoke_reason": "The exam was failed on re-marking."})
    assert response.status_code == 302
    state = cert_state(app, world.jane_cert)
    assert (state.status, state.reason, state.reviewed_by_id) == (
        "revoked", "The exam was failed on re-marking.", world.issuer_id)
    [event] = audit_events(app, "certification.revoke")
    assert event.actor_id == world.issuer_id
    assert event.detail == {"source": "verified", "target": "revoked",
                            "reason": "The exam was failed on re-marking."}
    message = outbox.last("jane@example.com")
    assert message["Subject"].startswith("Your certification has been revoked")
    assert "The exam was failed on re-marking." in message.get_payload(decode=True).decode()
    # The profile no longer shows it; the issuer still sees it, revoked, with nothing to do.
    assert "Alpha DN Level 1" not in page(app.test_client().get(f"/p/{world.jane_slug}"))
    detail = page(issuer.get(f"/issuer/certifications/{world.jane_cert}"))
    assert "revoked: The exam was failed on re-marking." in detail
    assert "/revoke" not in detail and 'name="answer"' not in detail


def test_a_revocation_needs_a_reason(app, world, issuer):
    before = table_rows(app)
    response = issuer.post(f"/issuer/certifications/{world.jane_cert}/revoke",
                           data={"revoke_reason": ""})
    assert response.status_code == 200
    assert field_error(response, "revoke_reason") == ("Give a reason: the practitioner will "
                                                      "see it.")
    assert table_rows(app) == before


def test_only_a_verified_certificate_can_be_revoked(app, world, issuer):
    before = table_rows(app)
    assert "/revoke" not in issuer.get(f"/issuer/certifications/{world.bob_cert}").get_data(
        as_text=True)
    response = issuer.post(f"/issuer/certifications/{world.bob_cert}/revoke",
                           data={"revoke_reason": "Withdrawn."})
    assert response.status_code == 200
    assert flashes(response) == ["A certification that is waiting for review cannot be "
                                 "revoked."]
    assert table_rows(app) == before


def test_the_state_machine_lets_only_the_programs_issuer_revoke(app_ctx, world):
    beta = db.session.scalar(select(User).where(User.email == "beta@example.com"))
    alpha = db.session.get(User, world.issuer_id)
    cert = db.session.get(Certification, world.jane_cert)
    with pytest.raises(lifecycle.IllegalTransition, match="Only the organisation"):
        lifecycle.apply(cert, "revoke", beta, "Not ours.")
    assert cert.status == CertStatus.VERIFIED
    # Revoke is the issuer's only move: approving stays the administrators'.
    pending = db.session.get(Certification, world.bob_cert)
    with pytest.raises(lifecycle.IllegalTransition, match="Only an administrator"):
        lifecycle.apply(pending, "approve", alpha)
    lifecycle.apply(cert, "revoke", alpha, "Withdrawn.")
    assert (cert.status, cert.reviewed_by) == (CertStatus.REVOKED, alpha)


# --------------------------------------------------------------------------- the admin's queue


def test_the_queue_lists_issuer_confirmed_submissions_first(app, world, issuer, admin):
    with app.app_context():
        program = db.session.get(factories.TrainingProgram, world.alpha1)
        newer = factories.make_certification(factories.make_practitioner(full_name="Newer Ng"),
                                             program=program, certificate_number="A-300")
        newer_id = newer.id
    order = re.findall(r'href="/admin/certifications/(\d+)"',
                       admin.get("/admin/queue").get_data(as_text=True))
    assert order.index(str(world.bob_cert)) < order.index(str(newer_id))
    issuer.post(f"/issuer/certifications/{newer_id}", data={"answer": "confirmed"})
    queue = admin.get("/admin/queue").get_data(as_text=True)
    order = re.findall(r'href="/admin/certifications/(\d+)"', queue)
    assert order[0] == str(newer_id)
    assert '<span class="badge badge-verified">confirmed</span>' in queue


# --------------------------------------------------------------------------- rosters

HEADER = "certificate_number,name,level,completed_on,expires_on\n"


def send_roster(client, text: str, *, dry_run: bool = False, name: str = "roster.csv"):
    data = {"file": (io.BytesIO(text.encode("utf-8") if isinstance(text, str) else text), name)}
    if dry_run:
        data["dry_run"] = "y"
    return client.post("/issuer/roster", data=data, content_type="multipart/form-data")


def report_rows(response) -> list[tuple[str, ...]]:
    """The report's table rows as the page shows them (cells as text)."""
    body = response.get_data(as_text=True)
    section = body.split('id="report"', 1)[1].split("</section>", 1)[0]
    rows = []
    for row in re.findall(r"<tr[^>]*>(.*?)</tr>", section, re.S):
        cells = [re.sub(r"<[^>]+>", "", c).strip() for c in re.findall(r"<td>(.*?)</td>", row,
                                                                       re.S)]
        if cells:
            rows.append(tuple(page_text(c) for c in cells))
    return rows


def page_text(text: str) -> str:
    return " ".join(html.unescape(text).split())


GOOD_ROSTER = HEADER + "\n".join([
    "A-100,Jane Nunez,1,2024-03-01,",  # Jane, verified: accents aside, the same name
    " a-200 ,Bob Stone,2,2024-05-02,2027-05-02",  # Bob, pending: number in another case
    "A-404,Nobody Known,1,2023-01-01,",  # no submission
    "B-300,Carol Beta,1,2024-01-15,",  # Beta's number: not Alpha's submission
]) + "\n"


def test_a_roster_confirms_the_matching_submissions_and_says_what_did_not(app, world,
                                                                         issuer):
    response = send_roster(issuer, GOOD_ROSTER)
    assert response.status_code == 200
    rows = report_rows(response)
    outcomes = {r[1]: r[3] for r in rows}
    assert outcomes == {"A-100": "Confirmed", "a-200": "Confirmed",
                        "A-404": "No matching submission", "B-300": "No matching submission"}
    assert "Jane Núñez (name similarity" in dict((r[1], r[4]) for r in rows)["A-100"]
    for cert_id in (world.jane_cert, world.bob_cert):
        state = cert_state(app, cert_id)
        assert state.confirmed and state.roster is not None
        assert state.checks["Confirmed by issuer"][1].startswith(
            f"Confirmed by {ALPHA} from its roster on ")
    assert cert_state(app, world.carol_cert).answer is None
    [upload] = audit_events(app, "issuer.roster_uploaded")
    assert upload.actor_id == world.issuer_id
    assert (upload.detail["rows"], upload.detail["confirmed"], upload.detail["no_match"]) == (
        4, 2, 2)
    confirmations = audit_events(app, "certification.issuer_confirmed")
    assert {e.subject_id for e in confirmations} == {world.jane_cert, world.bob_cert}
    assert {e.detail["roster_upload"] for e in confirmations} == {upload.detail["upload_id"]}
    # Sent again: nothing new to confirm.
    again = {r[1]: r[3] for r in report_rows(send_roster(issuer, GOOD_ROSTER))}
    assert again["A-100"] == again["a-200"] == "Already confirmed"
    assert len(audit_events(app, "certification.issuer_confirmed")) == 2


def test_a_roster_does_not_confirm_another_name_other_facts_or_a_dispute(app, world, issuer):
    issuer.post(f"/issuer/certifications/{world.bob_cert}",
                data={"answer": "disputed", "reason": "Not ours."})
    text = HEADER + ("A-100,Janet Norris,1,2024-03-01,\n"
                     "A-200,Bob Stone,2,2024-05-02,\n")
    rows = {r[1]: (r[3], r[4]) for r in report_rows(send_roster(issuer, text))}
    assert rows["A-100"][0] == "No matching submission"
    assert "in another name (Jane Núñez, similarity" in rows["A-100"][1]
    assert rows["A-200"][0] == "Not confirmed: you disputed it"
    text = HEADER + "A-100,Jane Núñez,1,2024-03-09,\n"
    [(_, number, _, outcome, details)] = report_rows(send_roster(issuer, text))
    assert outcome == "Not confirmed: differs"
    assert "completed on 2024-03-01 as submitted, 2024-03-09 on the roster" in details
    with app.app_context():  # Jane's certificate is level 1: a level 2 row is Alpha's level 2
        db.session.get(Certification, world.jane_cert).level = 1
        db.session.commit()
    text = HEADER + "A-100,Jane Núñez,2,2024-03-01,\n"
    [(_, _, _, outcome, details)] = report_rows(send_roster(issuer, text))
    assert outcome == "Not confirmed: differs"
    assert "it was submitted for Alpha DN Level 1, the roster says Alpha DN Level 2" in details
    assert cert_state(app, world.jane_cert).answer is None
    assert cert_state(app, world.bob_cert).answer == "disputed"


def test_checking_a_roster_only_reports(app, world, issuer):
    before = table_rows(app)
    response = send_roster(issuer, GOOD_ROSTER, dry_run=True)
    assert "Every row is correct. Nothing was written" in page(response)
    assert {r[1]: r[3] for r in report_rows(response)}["A-100"] == "Confirmed"
    assert table_rows(app) == before


BAD_ROWS = [
    ("A-1,Jane Nunez,7,2024-03-01,", "level",
     f"{ALPHA} has no program at level 7 in the registry (its levels: 1, 2)."),
    ("A-1,Jane Nunez,one,2024-03-01,", "level", "Enter the level as a whole number."),
    ("A-1,Jane Nunez,12,2024-03-01,", "level", "Enter a level from 1 to 9."),
    ("A-1,Jane Nunez,1,01/03/2024,", "completed_on", "Enter a date like 2024-03-31."),
    ("A-1,Jane Nunez,1,2024-02-30,", "completed_on", "Enter a date like 2024-03-31."),
    ("A-1,Jane Nunez,1,2999-01-01,", "completed_on", "The completion date is in the future."),
    ("A-1,Jane Nunez,1,2024-03-01,2024-02-01", "expires_on",
     "The expiry date must be after the completion date."),
    ("A-1,Jane Nunez,1,2024-03-01,soon", "expires_on", "Enter a date like 2024-03-31."),
    (",Jane Nunez,1,2024-03-01,", "certificate_number", "This column needs a value."),
    ("A-1,,1,2024-03-01,", "name", "This column needs a value."),
    ("A-1,Jane Nunez,1,,", "completed_on", "This column needs a value."),
    ("A-1,Jane Nunez,1,2024-03-01", None, "This row has 4 values but the header has 5 "
                                          "columns."),
    ("A" * 81 + ",Jane Nunez,1,2024-03-01,", "certificate_number",
     "At most 80 characters (this has 81)."),
]


@pytest.mark.parametrize(("line", "column", "message"), BAD_ROWS)
def test_a_roster_with_a_bad_row_writes_nothing_and_says_where(app, world, issuer, line,
                                                               column, message):
    before = table_rows(app)
    response = send_roster(issuer, GOOD_ROSTER + line + "\n")
    assert response.status_code == 200
    text = page(response)
    assert "Nothing was written" in text
    assert report_rows(response) == [("6", column or "—", message)]
    assert table_rows(app) == before


def test_a_roster_names_the_program_when_a_level_has_several(app, world, issuer):
    with app.app_context():
        factories.make_program("alpha-1-online", organisation=ALPHA, name="Alpha DN Online",
                               level=1)
    rows = report_rows(send_roster(issuer, HEADER + "A-100,Jane Nunez,1,2024-03-01,\n"))
    assert rows == [("2", "program", f"{ALPHA} has several programs at level 1 (alpha-1, "
                                      "alpha-1-online): give the program column with one of "
                                      "these keys.")]
    text = ("certificate_number,name,level,completed_on,program\n"
            "A-100,Jane Nunez,1,2024-03-01,alpha-1\n"
            "A-500,Other Person,1,2024-03-01,beta-1\n"
            "A-501,Other Person,2,2024-03-01,alpha-1\n")
    rows = report_rows(send_roster(issuer, text))
    assert rows == [
        ("3", "program", "“beta-1” is not one of Alpha Dry Needling Institute's programs in "
                         "the registry (its keys: alpha-1, alpha-1-online, alpha-2)."),
        ("4", "level", "alpha-1 is a level 1 program, not level 2."),
    ]


def test_a_certificate_number_twice_in_a_roster_is_an_error(app, world, issuer):
    text = HEADER + "A-100,Jane Nunez,1,2024-03-01,\na-100 ,Jane Nunez,1,2024-03-01,\n"
    assert report_rows(send_roster(issuer, text)) == [
        ("3", "certificate_number", "This certificate number is also on row 2.")]


@pytest.mark.parametrize(("content", "message"), [
    (b"certificate_number,name,level\nA-1,Jane,1\n",
     "Missing required column: completed_on."),
    (b"certificate_number,name,level,completed_on,colour\n", "Unknown column: “colour”."),
    (b"certificate_number;name;level;completed_on\n",
     "Columns must be separated by commas"),
    ("certificate_number,name,level,completed_on\nA-1,Jos\xe9,1,2024-01-01\n".encode("latin-1"),
     "The file is not UTF-8 text (line 2 is not)."),
    (b"certificate_number,name,level,completed_on\n", "The file has a header but no rows."),
    (b"\x00\x01PK", "This is not a CSV file"),
])
def test_a_roster_that_is_not_a_roster_says_why_and_writes_nothing(app, world, issuer,
                                                                   content, message):
    before = table_rows(app)
    response = send_roster(issuer, content)
    assert response.status_code == 200
    assert message in page(response)
    assert "Nothing was written." in page(response)
    assert table_rows(app) == before


def test_a_roster_form_without_a_file_is_a_field_error(app, world, issuer):
    response = issuer.post("/issuer/roster", data={}, content_type="multipart/form-data")
    assert response.status_code == 200
    assert field_error(response, "file") == "Choose the CSV file of your graduates."


def test_the_roster_template_reads_back_as_a_roster(app, world, issuer):
    response = issuer.get("/issuer/roster/template.csv")
    assert response.mimetype == "text/csv"
    text = response.get_data(as_text=True).lstrip("\ufeff")
    assert text.splitlines()[0] == ",".join(roster.NAMES)
    rows = report_rows(send_roster(issuer, text, dry_run=True))
    assert rows == [("2", "DN-2024-0117", "Jane Example", "No matching submission",
                     "No submission waiting for review or verified has this certificate "
                     "number.")]


@pytest.mark.parametrize(("a", "b", "same"), [
    ("Jane Núñez", "jane nunez", True),
    ("Dr. Jane Núñez", "Núñez, Jane", True),
    ("Jane Smith", "Jane Anne Smith", True),
    ("Jon Smith", "John Smith", True),
    ("Jane Smith", "Janet Norris", False),
    ("Jane Smith", "", False),
])
def test_names_are_compared_as_people_write_them(a, b, same):
    assert (roster.name_score(a, b) >= roster.NAME_MATCH) is same


# --------------------------------------------------------------------------- accounts


def test_an_administrator_creates_an_issuer_account_in_the_registry(app, world, admin,
                                                                    outbox):
    form_page = admin.get("/admin/registry/issuers")
    assert form_page.status_code == 200
    assert f'<option value="{ALPHA}">' in form_page.get_data(as_text=True)
    assert "issuer@example.com" in page(form_page)
    response = admin.post("/admin/registry/issuers", data={
        "email": "Registrar@Beta.example", "organisation": BETA})
    assert response.status_code == 302
    [event] = audit_events(app, "issuer.created")
    assert event.detail == {"organisation": BETA, "email": "registrar@beta.example"}
    with app.app_context():
        assert db.session.scalar(select(User.id).where(User.email == "admin@example.com")) \
            == event.actor_id
    message = outbox.last("registrar@beta.example")
    assert BETA in message.get_payload(decode=True).decode()
    # The link sets the password; the new account lands on its organisation's list.
    client = app.test_client()
    link = outbox.link(message)
    assert link.startswith("/account/reset/")
    reset = client.get(link)
    assert reset.status_code == 200
    new_password = "a long new passphrase 77"
    assert client.post(link, data={"password": new_password, "confirm": new_password}) \
        .status_code == 302
    response = factories.login(app.test_client(), "registrar@beta.example", new_password)
    assert response.headers["Location"] == "/issuer/"
    beta = login_client(app, "registrar@beta.example", new_password)
    text = page(beta.get("/issuer/"))
    assert "Carol Beta" in text and "Jane Núñez" not in text


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"email": "issuer@example.com", "organisation": BETA}, "email",
     "An account with that e-mail address already exists."),
    ({"email": "not an address", "organisation": BETA}, "email",
     "Enter an e-mail address like name@example.com."),
    ({"email": "", "organisation": BETA}, "email", "Enter an e-mail address."),
    ({"email": "new@example.com", "organisation": "Gamma"}, "organisation",
     "Choose an organisation from the list."),
    ({"email": "new@example.com", "organisation": ""}, "organisation",
     "Choose the organisation."),
])
def test_a_bad_issuer_account_is_a_field_error(app, world, admin, data, field, message):
    before = table_rows(app)
    response = admin.post("/admin/registry/issuers", data=data)
    assert response.status_code == 200
    assert field_error(response, field) == message
    assert table_rows(app) == before


def test_create_issuer_on_the_command_line(app, world, runner, monkeypatch):
    monkeypatch.setenv("DIRECTORY_ISSUER_PASSWORD", "a long cli passphrase 42")
    result = runner.invoke(args=["create-issuer", "cli@example.com", "--organisation",
                                 "alpha dry  needling institute"])
    assert result.exit_code == 0, result.output
    assert f"Issuer cli@example.com created for {ALPHA}." in result.output
    client = login_client(app, "cli@example.com", "a long cli passphrase 42")
    assert "Jane Núñez" in page(client.get("/issuer/"))
    result = runner.invoke(args=["create-issuer", "x@example.com", "--organisation", "Gamma"])
    assert result.exit_code != 0
    assert "“Gamma” is not an organisation of the registry's programs" in result.output
    result = runner.invoke(args=["create-issuer", "cli@example.com", "--organisation", ALPHA])
    assert "An account with that e-mail address already exists." in result.output
    with app.app_context():
        assert db.session.scalars(select(IssuerConfirmation)).all() == []


# --------------------------------------------------------------------------- the migration


def test_the_migration_admits_issuers_and_keeps_every_account(tmp_path):
    """0011 widens users.role's CHECK without rebuilding users (on SQLite a rebuild's DROP
    would cascade to every practitioner), and its downgrade removes only the issuers."""
    from flask_migrate import downgrade, upgrade
    from sqlalchemy import text

    from directory import PACKAGE, create_app
    from tests.conftest import base_config

    migrations = str(PACKAGE / "migrations")
    app = create_app(base_config(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path))
    users = text("INSERT INTO users (id, email, password_hash, role, is_active, created_at, "
                 "updated_at) VALUES (:id, :email, 'x', :role, 1, :at, :at)")
    at = "2026-01-01 00:00:00"
    with app.app_context():
        upgrade(directory=migrations, revision="0010")
        with db.engine.begin() as conn:
            conn.execute(users, {"id": 1, "email": "p@example.com", "role": "practitioner",
                                 "at": at})
            conn.execute(text(
                "INSERT INTO practitioners (id, user_id, slug, full_name, post_nominals, "
                "licence_number, bio, phone, public_email, website, booking_url, "
                "accepting_new_patients, insurance_notes, is_demo, version, created_at, "
                "updated_at) VALUES (1, 1, 'p', 'P', '', '', '', '', '', '', '', 1, '', 0, 1, "
                ":at, :at)"), {"at": at})
        upgrade(directory=migrations)
        with db.engine.begin() as conn:
            conn.execute(users, {"id": 2, "email": "i@example.com", "role": "issuer", "at": at})
            conn.execute(text("INSERT INTO issuers (user_id, organisation, created_at, "
                              "updated_at) VALUES (2, 'Org', :at, :at)"), {"at": at})
            assert conn.execute(text("SELECT count(*) FROM practitioners")).scalar_one() == 1
        with pytest.raises(Exception, match="CHECK constraint failed"), \
                db.engine.begin() as conn:
            conn.execute(users, {"id": 3, "email": "x@example.com", "role": "root", "at": at})
        downgrade(directory=migrations, revision="0010")
        with db.engine.connect() as conn:
            assert conn.execute(text("SELECT email FROM users")).scalars().all() == [
                "p@example.com"]
            assert conn.execute(text("SELECT count(*) FROM practitioners")).scalar_one() == 1
        db.engine.dispose()
