"""Who may needle here (issue 15): the second edition of the jurisdiction rules in the database
with its confidence, `reference load` updating what an administrator has not edited, the
precedence of rules, the verdict in plain words where the practitioner practises, rules that
age, rule edits flagging the verdicts they turn, and a search (page and API) that marks and by
default hides practitioners whose profession may not dry-needle where they practise."""

from __future__ import annotations

import json
import re
from datetime import date

import pytest
from sqlalchemy import func, select

from directory.credentials import checks, coverage, reference
from directory.credentials.reference import load_reference_data
from directory.credentials.rules import rule_for, scopes_for
from directory.extensions import db
from directory.models import (
    Certification,
    JurisdictionRule,
    PracticeLocation,
    Practitioner,
    ScopeChange,
)
from directory.registry import services as registry
from tests import factories
from tests.factories import audit_events
from tests.pages import field_error, flashes, page

RULES = "/admin/registry/rules"
# Two places a few kilometres apart on either side of the Hudson: New Jersey lets physical
# therapists dry-needle (primary source), New York does not.
JERSEY_CITY = (40.7178, -74.0431)
MANHATTAN = (40.7128, -74.0060)
PHILADELPHIA = (39.9526, -75.1652)  # Pennsylvania: unclear for physical therapists
DENVER = (39.7392, -104.9903)


@pytest.fixture
def rules(app):
    """The programs and the second edition of the rules, from the repository's data files."""
    with app.app_context():
        load_reference_data()


def practising(name: str, where: tuple[float, float], region: str, *, profession="physiotherapist",
               city="Town", licence_region: str | None = None, **profile) -> Practitioner:
    """A listed practitioner with one location at `where` in the US state `region` (a name, as
    typed on the location form); licensed there unless told otherwise."""
    p = factories.make_listed_practitioner(
        full_name=name, profession=profession, licence_country="US",
        licence_region=licence_region or factories_region(region), licence_number="L-1",
        **profile)
    factories.make_location(p, clinic_name=f"{name} Clinic", city=city, region=region,
                            postcode="", lat=where[0], lng=where[1], geo_precision="postcode")
    return p


def factories_region(name: str) -> str:
    from directory import vocab

    return vocab.resolve_region("US", name)


def verdict_panels(response) -> list[dict]:
    """Each verdict panel of a profile: its verdict, the sentence, the note and the source."""
    raw = response.get_data(as_text=True)
    panels = []
    for verdict, inner in re.findall(
            r'<div class="verdict[^"]*" data-verdict="(\w+)">(.*?)</div>', raw, re.S):
        summary = re.search(r"<summary>(.*?)</summary>", inner, re.S)
        panels.append({
            "verdict": verdict,
            "sentence": plain(re.search(r"<strong>(.*?)</strong>", inner, re.S).group(1)),
            "text": plain(inner),
            "summary": plain(summary.group(1)) if summary else None,
            "hidden": plain(re.search(r"<details.*?</details>", inner, re.S).group(0))
            if "<details" in inner else "",
        })
    return panels


def plain(fragment: str) -> str:
    import html

    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", fragment)).split())


def at_a_glance(client) -> dict[str, str]:
    """The administrators' overview counts, by label."""
    raw = client.get("/admin/").get_data(as_text=True)
    return {plain(k): plain(v) for k, v in re.findall(r"<dt>(.*?)</dt><dd>(.*?)</dd>", raw)}


def result_ids(response) -> list[int]:
    return [int(i) for i in re.findall(r'<li class="result" id="result-(\d+)"',
                                       response.get_data(as_text=True))]


def result_marks(response) -> dict[int, str]:
    """Result id → the scope mark shown under it ("" when none)."""
    raw = response.get_data(as_text=True)
    marks = {}
    for pid, body in re.findall(r'<li class="result" id="result-(\d+)"(.*?)</li>\s*(?=<li class'
                                r'="result"|</ol>)', raw, re.S):
        mark = re.search(r'<p class="result-scope">(.*?)</p>', body, re.S)
        marks[int(pid)] = plain(mark.group(1)) if mark else ""
    return marks


# =========================================================================== 1. the second edition


def test_the_second_edition_is_in_the_database_with_its_confidence(app, rules):
    rows = json.loads(reference.RULES_PATH.read_text(encoding="utf-8"))
    with app.app_context():
        stored = db.session.scalars(select(JurisdictionRule)).all()
        assert len(stored) == len(rows) == 103
        by_key = {(r.jurisdiction, r.profession): r for r in stored}
        # "US-*" is every state: kept as the country's row.
        doctors = by_key[("US", "medical_doctor")]
        assert doctors.permitted == "yes" and doctors.source_type == "secondary"
        assert len(doctors.other_sources) == 3  # several sources per rule
        oregon = by_key[("US-OR", "physiotherapist")]
        assert oregon.permitted == "unclear" and "2025" in oregon.pending_changes
        assert oregon.reviewed_on == date(2026, 12, 1)
        assert oregon.review_due_on == date(2027, 3, 1)  # a change pending: 3 months
        colorado = by_key[("US-CO", "physiotherapist")]
        assert colorado.review_due_on == date(2027, 12, 1)  # 12 months after the review
        assert {r.source_type for r in stored} == {"primary", "secondary"}
        assert sum(r.source_type == "primary" for r in stored) == sum(
            r["source_type"] == "primary" for r in rows)
        assert all(r.data_digest and r.admin_edited_at is None for r in stored)
    [event] = audit_events(app, "reference.loaded")
    assert event.detail["rules"] == 103 and event.detail["updated_rules"] == 0
    assert len(audit_events(app, "rule.loaded")) == 103


@pytest.fixture
def data_file(tmp_path, monkeypatch):
    """A copy of the rules' data file that a test may change, read by `reference load`."""
    path = tmp_path / "jurisdiction_rules.json"
    rows = json.loads(reference.RULES_PATH.read_text(encoding="utf-8"))
    path.write_text(json.dumps(rows), encoding="utf-8")
    monkeypatch.setattr(reference, "RULES_PATH", path)

    def change(jurisdiction: str, profession: str, **fields) -> None:
        current = json.loads(path.read_text(encoding="utf-8"))
        row = next(r for r in current
                   if (r["jurisdiction"], r["profession"]) == (jurisdiction, profession))
        row.update(fields)
        path.write_text(json.dumps(current), encoding="utf-8")

    def add(**row) -> None:
        current = json.loads(path.read_text(encoding="utf-8"))
        current.append({k: None for k in reference.FILE_FIELDS} | {
            "other_sources": [], "source_type": "primary", "source_date": "2026",
            "reviewed_on": "2026-12-05"} | row)
        path.write_text(json.dumps(current), encoding="utf-8")

    change.add = add
    return change


def test_reference_load_updates_what_changed_keeps_admin_edits_and_reports_them(
        app, runner, data_file):
    with app.app_context():
        load_reference_data()
        admin = factories.make_admin()
        texas = db.session.scalar(select(JurisdictionRule).where(
            JurisdictionRule.jurisdiction == "US-TX",
            JurisdictionRule.profession == "physiotherapist"))
        values = {k: getattr(texas, k) for k in registry.RULE_FIELDS} | {"min_hours": 30.0}
        registry.update_rule(texas, admin, values, "Called the board.")
        untouched = db.session.scalar(select(JurisdictionRule.updated_at).where(
            JurisdictionRule.jurisdiction == "US-VA",
            JurisdictionRule.profession == "physiotherapist"))

    data_file("US-CO", "physiotherapist", min_hours=60, patient_note="Sixty hours now.")
    data_file("US-TX", "physiotherapist", min_hours=45)
    data_file.add(jurisdiction="US-ME", profession="chiropractor", permitted="no",
                  source_url="https://example.gov/maine", patient_note="")
    result = runner.invoke(args=["reference", "load"])
    assert result.exit_code == 0, result.output
    lines = result.output.strip().splitlines()
    assert lines[0] == ("Added 0 program(s) and 1 rule(s); updated 1 rule(s) from the data "
                        "file.")
    assert len(lines) == 2 and lines[1].startswith(
        "Not updated: US-TX physiotherapist: the data file changed min_hours, but an "
        "administrator edited this rule on ")
    assert lines[1].endswith("theirs is kept.")

    with app.app_context():
        def rule(j, p):
            return db.session.scalar(select(JurisdictionRule).where(
                JurisdictionRule.jurisdiction == j, JurisdictionRule.profession == p))
        assert rule("US-CO", "physiotherapist").min_hours == 60
        assert rule("US-CO", "physiotherapist").patient_note == "Sixty hours now."
        assert rule("US-TX", "physiotherapist").min_hours == 30  # the administrator's
        assert rule("US-ME", "chiropractor").permitted == "no"
        assert rule("US-VA", "physiotherapist").updated_at == untouched  # unchanged row
    [reloaded] = audit_events(app, "rule.reloaded")
    assert reloaded.detail["jurisdiction"] == "US-CO"
    assert reloaded.detail["fields"] == ["min_hours", "patient_note"]
    assert reloaded.detail["before"]["min_hours"] == 50.0
    assert [e.detail["jurisdiction"] for e in audit_events(app, "rule.loaded")][-1] == "US-ME"

    # Loading again changes nothing more and still names the conflict.
    again = runner.invoke(args=["reference", "load"])
    assert again.output.startswith("Added 0 program(s) and 0 rule(s); updated 0 rule(s)")
    assert "Not updated: US-TX physiotherapist" in again.output
    assert len(audit_events(app, "rule.reloaded")) == 1


def test_a_first_edition_rule_is_corrected_and_the_practitioners_it_turns_are_flagged(app):
    """A database loaded from the first edition (no digest, no administrator edit): Oregon's
    physiotherapists were "no"; the second edition says "unclear"."""
    with app.app_context():
        db.session.add(JurisdictionRule(
            jurisdiction="US-OR", profession="physiotherapist", permitted="no",
            source_url="https://www.pphc.co/resources", reviewed_on=date(2026, 11, 1)))
        db.session.commit()
        p = practising("Olga Oregon", (45.5152, -122.6784), "Oregon", city="Portland")
        location = p.locations[0]
        assert location.scope_verdict == "no"
        report = load_reference_data()
        assert (report.rules, report.updated_rules, report.verdicts_changed) == (102, 1, 1)
        db.session.refresh(location)
        assert location.scope_verdict == "unclear"
        [change] = db.session.scalars(select(ScopeChange)).all()
        assert (change.practitioner_id, change.jurisdiction, change.verdict_before,
                change.verdict_after) == (p.id, "US-OR", "no", "unclear")
        assert change.reason == "Jurisdiction rules loaded from the data file"
    [event] = audit_events(app, "scope.changed")
    assert event.detail["before"] == "no" and event.detail["after"] == "unclear"


# =========================================================================== 2. precedence


@pytest.mark.parametrize(("present", "wins"), [
    ({"US-CO/physiotherapist", "US-CO/*", "US/physiotherapist", "US/*"}, "US-CO/physiotherapist"),
    ({"US-CO/*", "US/physiotherapist", "US/*"}, "US-CO/*"),
    ({"US/physiotherapist", "US/*"}, "US/physiotherapist"),
    ({"US/*"}, "US/*"),
    ({"US-CA/physiotherapist", "GB/*", "US/chiropractor"}, None),
], ids=["region+profession", "region+any", "country+profession", "country+any", "none"])
def test_a_state_rule_beats_a_country_rule_and_a_profession_rule_beats_any(app, present, wins):
    """One definition (credentials.rules._governing): the profile's Python lookup and the copy
    the search reads (SQL) give the same rule."""
    verdicts = {"US-CO/physiotherapist": "yes", "US-CO/*": "unclear",
                "US/physiotherapist": "no", "US/*": "yes", "US-CA/physiotherapist": "no",
                "GB/*": "no", "US/chiropractor": "no"}
    with app.app_context():
        for key in present:
            jurisdiction, profession = key.split("/")
            db.session.add(JurisdictionRule(jurisdiction=jurisdiction, profession=profession,
                                            permitted=verdicts[key],
                                            source_url="https://example.gov/" + key))
        db.session.commit()
        p = practising("Pat Denver", DENVER, "Colorado", city="Denver")
        rule = rule_for("US-CO", "US", "physiotherapist")
        found = f"{rule.jurisdiction}/{rule.profession}" if rule else None
        assert found == wins
        [scope] = scopes_for(p)
        assert scope.verdict == (verdicts[wins] if wins else "unknown")
        assert p.locations[0].scope_verdict == scope.verdict


def test_a_location_copy_follows_each_change_it_reads(app):
    """The verdict each location carries (which the search reads) follows a rule added,
    changed and deleted, a new profession and a move to another state."""
    with app.app_context():
        p = practising("Casey Change", DENVER, "Colorado", city="Denver")
        location = p.locations[0]
        assert location.scope_verdict == "unknown"
        rule = JurisdictionRule(jurisdiction="US-CO", profession="physiotherapist",
                                permitted="yes", source_url="https://example.gov/co")
        db.session.add(rule)
        db.session.commit()
        assert location.scope_verdict == "yes"
        rule.permitted = "no"
        db.session.commit()
        assert location.scope_verdict == "no"
        p.profession = "chiropractor"
        db.session.commit()
        assert location.scope_verdict == "unknown"
        p.profession = "physiotherapist"
        location.region, location.region_code = "California", "US-CA"
        db.session.commit()
        assert location.scope_verdict == "unknown"
        rule.jurisdiction = "US-CA"
        db.session.commit()
        assert location.scope_verdict == "no"
        db.session.delete(rule)
        db.session.commit()
        assert location.scope_verdict == "unknown"


# =========================================================================== 3. plain words


def test_the_profile_says_the_rule_in_plain_words_with_its_source_one_click_away(
        app, client, rules):
    with app.app_context():
        slug = practising("Cora Colorado", DENVER, "Colorado", city="Denver").slug
    response = client.get(f"/p/{slug}")
    [panel] = verdict_panels(response)
    assert panel["verdict"] == "yes"
    assert panel["sentence"] == ("In Colorado, physical therapists may dry-needle after at "
                                 "least 50 hours of training, 40 of them in person.")
    assert "The therapist must ask for your written informed consent." in panel["text"]
    # Secondary sources only: said so, and the source and review dates one click away.
    assert panel["summary"] == ("Reported by pphc.co, not yet confirmed with the regulator. "
                                "Source and review date")
    assert "Source: https://www.pphc.co/resources" in panel["hidden"]
    assert "We last reviewed this rule on 1 Dec 2026; next review due 1 Dec 2027." in \
        panel["hidden"]
    # The administrators' shorthand is not what patients read.
    assert "older rule" not in page(response)


@pytest.mark.parametrize(("profession", "region", "where", "verdict", "sentence", "confidence"), [
    ("physiotherapist", "Virginia", (37.5407, -77.4360), "yes",
     "In Virginia, physical therapists may dry-needle after at least 54 hours of training; "
     "they must pass an exam.",
     "From the law or the regulator (townhall.virginia.gov)."),
    ("physiotherapist", "New York", MANHATTAN, "no",
     "In New York, physical therapists may not dry-needle.",
     "Reported by pphc.co, not yet confirmed with the regulator."),
    ("physiotherapist", "Oregon", (45.5152, -122.6784), "unclear",
     "In Oregon, it is not yet clear whether physical therapists may dry-needle: we do not show "
     "it as permitted.", "Reported by myopainseminars.com, not yet confirmed with the "
     "regulator."),
    ("medical_doctor", "Texas", (29.7604, -95.3698), "yes",
     "In Texas, medical doctors may dry-needle. The rules we found set no minimum hours of "
     "training.", "Reported by risaom.org, not yet confirmed with the regulator."),
], ids=["primary yes", "no", "unclear", "country-wide doctors"])
def test_each_verdict_is_worded_for_patients_with_its_confidence(
        app, client, rules, profession, region, where, verdict, sentence, confidence):
    with app.app_context():
        slug = practising("Val Verdict", where, region, profession=profession).slug
    [panel] = verdict_panels(client.get(f"/p/{slug}"))
    assert (panel["verdict"], panel["sentence"]) == (verdict, sentence)
    assert panel["summary"] == f"{confidence} Source and review date"
    assert verdict == "yes" or "may dry-needle after" not in panel["sentence"]


def test_unknown_says_we_have_no_rule_and_links_to_the_regulator(app, client, rules):
    with app.app_context():
        slug = practising("Chris Chiro", DENVER, "Colorado", profession="chiropractor").slug
    response = client.get(f"/p/{slug}")
    [panel] = verdict_panels(response)
    assert panel["verdict"] == "unknown"
    assert panel["sentence"] == ("We have no rule on record for whether chiropractors may "
                                 "dry-needle in Colorado.")
    assert "We cannot say whether it is permitted. Ask the regulator: Colorado Department of " \
        "Regulatory Agencies" in panel["text"]
    assert 'href="https://apps.colorado.gov/dora/licensing/Lookup/LicenseLookup.aspx"' in \
        response.get_data(as_text=True)
    assert "permitted" not in panel["sentence"]


def test_the_admin_page_keeps_the_rule_shorthand(app, client, auth, rules):
    with app.app_context():
        p = practising("Cora Colorado", DENVER, "Colorado", city="Denver")
        cert_id = db.session.scalar(select(Certification.id).where(
            Certification.practitioner_id == p.id))
        admin = factories.make_admin()
        email = admin.email
    auth.login(email)
    body = page(client.get(f"/admin/certifications/{cert_id}"))
    assert "Dry needling in Colorado" in body
    assert "US-CO / physiotherapist" in body and "older rule" in body  # the shorthand


# =========================================================================== 4. rules that age


def test_the_registry_shows_rules_due_for_review_first(app, client, auth, rules):
    with app.app_context():
        stale = db.session.scalar(select(JurisdictionRule).where(
            JurisdictionRule.jurisdiction == "US-WY"))
        stale.review_due_on = date(2026, 1, 1)
        stale_id = stale.id
        never = db.session.scalar(select(JurisdictionRule).where(
            JurisdictionRule.jurisdiction == "US-VA",
            JurisdictionRule.profession == "physiotherapist"))
        never.reviewed_on = never.review_due_on = None
        never_id = never.id
        db.session.commit()
        email = factories.make_admin().email
    auth.login(email)
    response = client.get(RULES)
    rows = re.findall(r'<tr id="rule-(\d+)">(.*?)</tr>', response.get_data(as_text=True), re.S)
    assert [int(i) for i, _ in rows[:2]] == [never_id, stale_id]
    assert "Never reviewed" in plain(rows[0][1])
    assert plain(rows[1][1]).endswith("Due 1 Jan 2026")
    assert "Due" not in plain(rows[2][1]).split()[-4:]
    assert at_a_glance(client)["Jurisdiction rules due for review"] == "2"


def rule_form(rule: JurisdictionRule, **changes) -> dict:
    """The edit form as the page fills it, with these changes."""
    data = {k: getattr(rule, k) for k in registry.RULE_FIELDS}
    form = {k: ("" if v is None else v) for k, v in data.items()}
    for key in ("exam_required", "referral_required", "registration_required"):
        form[key] = {True: "yes", False: "no", None: "unknown"}[data[key]]
    form["other_sources"] = "\n".join(data["other_sources"] or [])
    for key in ("reviewed_on", "review_due_on"):
        form[key] = data[key].isoformat() if data[key] else ""
    for key in ("min_hours", "min_in_person_hours", "min_supervised_sessions",
                "min_years_licensed"):
        form[key] = "" if data[key] is None else f"{data[key]:g}"
    return form | changes


def test_editing_a_rule_needs_a_reason_and_keeps_what_was_typed(app, client, auth, rules):
    with app.app_context():
        colorado = db.session.scalar(select(JurisdictionRule).where(
            JurisdictionRule.jurisdiction == "US-CO",
            JurisdictionRule.profession == "physiotherapist"))
        form = rule_form(colorado, min_hours="60", reason="")
        rule_id = colorado.id
        email = factories.make_admin().email
    auth.login(email)
    response = client.post(f"{RULES}/{rule_id}/edit", data=form)
    assert response.status_code == 200
    assert field_error(response, "reason") == "Say why: it is kept in the audit log."
    assert 'name="min_hours"' in response.get_data(as_text=True)
    assert re.search(r'name="min_hours"[^>]*value="60"', response.get_data(as_text=True))
    with app.app_context():
        assert db.session.get(JurisdictionRule, rule_id).min_hours == 50


def test_a_rule_edit_flags_the_practitioners_whose_verdict_it_turns(app, client, auth, rules):
    """New York allows physical therapists to dry-needle after all (an imagined change): the
    practitioner there was hidden from search; the edit flags them, the administrator sees the
    checks run again and marks the change reviewed; the search now shows them."""
    with app.app_context():
        ny = practising("Nia York", MANHATTAN, "New York", city="New York")
        nj = practising("Jay Jersey", JERSEY_CITY, "New Jersey", city="Jersey City")
        rule = db.session.scalar(select(JurisdictionRule).where(
            JurisdictionRule.jurisdiction == "US-NY",
            JurisdictionRule.profession == "physiotherapist"))
        form = rule_form(rule, permitted="yes", min_hours="54", reason="The board ruled.")
        rule_id, ny_id, nj_id = rule.id, ny.id, nj.id
        admin = factories.make_admin()
        email, admin_id = admin.email, admin.id
    assert result_ids(client.get("/?near=10007&radius=25")) == [nj_id]

    auth.login(email)
    response = client.post(f"{RULES}/{rule_id}/edit", data=form, follow_redirects=True)
    assert flashes(response)[-1] == ("Rule for New York, United States (physical therapist / "
                                     "physiotherapist) saved. 1 practitioner verdict changed: "
                                     "they wait under Verdict changes.")
    [event] = audit_events(app, "rule.updated")
    assert event.actor_id == admin_id and event.detail["reason"] == "The board ruled."
    assert event.detail["fields"] == ["min_hours", "permitted"]
    assert event.detail["verdicts_changed"] == 1
    [changed] = audit_events(app, "scope.changed")
    assert changed.subject_id == ny_id and changed.detail["after"] == "yes"

    listing = client.get("/admin/scope-changes")
    row = re.search(r'<tr id="scope-change-(\d+)">(.*?)</tr>', listing.get_data(as_text=True),
                    re.S)
    text = plain(row.group(2))
    assert text.startswith("Nia York New York, United States rule US-NY / physiotherapist "
                           "not permitted → permitted The board ruled.")
    assert "Profession may dry-needle there: pass" in text
    assert "Practises where licensed: pass" in text
    assert at_a_glance(client)["Verdict changes waiting for review"] == "1"

    done = client.post(f"/admin/scope-changes/{row.group(1)}/reviewed", follow_redirects=True)
    assert flashes(done) == ["Nia York: marked as reviewed."]
    assert "No verdict change is waiting." in page(done)
    [reviewed] = audit_events(app, "scope.reviewed")
    assert reviewed.actor_id == admin_id and reviewed.subject_id == ny_id
    again = client.post(f"/admin/scope-changes/{row.group(1)}/reviewed", follow_redirects=True)
    assert flashes(again) == ["Nia York: already reviewed."]

    auth.logout()
    assert sorted(result_ids(client.get("/?near=10007&radius=25"))) == sorted([ny_id, nj_id])


def test_an_edit_that_turns_no_verdict_flags_nobody(app, client, auth, rules):
    with app.app_context():
        practising("Cora Colorado", DENVER, "Colorado", city="Denver")
        rule = db.session.scalar(select(JurisdictionRule).where(
            JurisdictionRule.jurisdiction == "US-CO",
            JurisdictionRule.profession == "physiotherapist"))
        form, rule_id = rule_form(rule, min_hours="55", reason="Typo."), rule.id
        email = factories.make_admin().email
    auth.login(email)
    response = client.post(f"{RULES}/{rule_id}/edit", data=form, follow_redirects=True)
    assert flashes(response)[-1] == ("Rule for Colorado, United States (physical therapist / "
                                     "physiotherapist) saved.")
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(ScopeChange)) == 0
        assert db.session.get(JurisdictionRule, rule_id).admin_edited_at is not None


# =========================================================================== 5. scope-aware search


@pytest.fixture
def hudson(app, rules):
    """Physical therapists in New Jersey (yes), New York (no) and Philadelphia (unclear), a
    chiropractor in New Jersey (unknown) and one without a profession; ids by name."""
    with app.app_context():
        made = {
            "yes": practising("Jay Jersey", JERSEY_CITY, "New Jersey", city="Jersey City"),
            "no": practising("Nia York", MANHATTAN, "New York", city="New York",
                             licence_region="US-NJ"),
            "unclear": practising("Pia Penn", PHILADELPHIA, "Pennsylvania",
                                  city="Philadelphia"),
            "unknown": practising("Cal Chiro", JERSEY_CITY, "New Jersey", city="Jersey City",
                                  profession="chiropractor"),
        }
        return {verdict: p.id for verdict, p in made.items()}


def test_search_hides_the_not_permitted_by_default_and_marks_the_doubtful(client, hudson):
    response = client.get("/?near=10007&radius=200&unit=km")
    assert set(result_ids(response)) == {hudson["yes"], hudson["unclear"], hudson["unknown"]}
    marks = result_marks(response)
    assert marks[hudson["yes"]] == ""
    assert marks[hudson["unclear"]] == "Unclear whether permitted in Pennsylvania"
    assert marks[hudson["unknown"]] == "No rule on record for New Jersey"
    # The filter is on the form, unticked (so the not-permitted stay hidden).
    assert re.search(r'<input[^>]*name="include_not_permitted"(?![^>]*checked)',
                     response.get_data(as_text=True))


def test_search_shows_the_not_permitted_when_asked_clearly_marked(client, hudson):
    response = client.get("/?near=10007&radius=200&unit=km&include_not_permitted=y")
    assert set(result_ids(response)) == set(hudson.values())
    assert result_marks(response)[hudson["no"]] == "Not permitted to dry-needle in New York"
    assert "Include practitioners not permitted to dry-needle there" in page(response)


def test_the_api_carries_the_scope_and_the_filter(client, hudson):
    found = client.get("/api/v1/practitioners?near=10007&radius=200&unit=km").get_json()
    by_id = {item["id"]: item["scope"] for item in found["items"]}
    assert set(by_id) == {hudson["yes"], hudson["unclear"], hudson["unknown"]}
    yes = by_id[hudson["yes"]]
    assert yes == {
        "verdict": "yes", "jurisdiction": "US-NJ", "profession": "physiotherapist",
        "summary": yes["summary"], "source_url": "https://njconsumeraffairs.gov/pt/Pages/FAQ.aspx",
        "source_type": "primary", "reviewed_on": "2026-12-01", "regulator_url": None}
    assert yes["summary"].startswith("In New Jersey, physical therapists may dry-needle after "
                                     "at least 40 hours of training, all in person")
    assert by_id[hudson["unknown"]]["verdict"] == "unknown"
    assert by_id[hudson["unknown"]]["source_url"] is None
    assert by_id[hudson["unclear"]]["verdict"] == "unclear"

    everyone = client.get("/api/v1/practitioners?near=10007&radius=200&unit=km"
                          "&include_not_permitted=true").get_json()
    no = {item["id"]: item["scope"] for item in everyone["items"]}[hudson["no"]]
    assert (no["verdict"], no["jurisdiction"]) == ("no", "US-NY")

    record = client.get(f"/api/v1/practitioners/{hudson['no']}").get_json()
    assert record["scope"]["verdict"] == "no" and record["scope"]["jurisdiction"] == "US-NY"
    assert record["locations"][0]["scope"]["verdict"] == "no"

    bad = client.get("/api/v1/practitioners?near=10007&include_not_permitted=maybe")
    assert bad.status_code == 400 and bad.get_json()["error"]["field"] == "include_not_permitted"

    document = client.get("/api/v1/openapi.json").get_json()
    params = {p["name"] for p in document["paths"]["/practitioners"]["get"]["parameters"]}
    assert "include_not_permitted" in params
    assert document["components"]["schemas"]["Scope"]["properties"]["verdict"]["enum"] == [
        "yes", "no", "unclear", "unknown"]


# =========================================================================== 6. place of practice


def test_the_place_of_practice_governs_not_the_licence(app, client, auth, hudson):
    """Licensed in New Jersey, practising in New York: New York's rule, and a check that warns
    the administrator."""
    with app.app_context():
        p = db.session.get(Practitioner, hudson["no"])
        assert (p.licence_region, p.locations[0].region_code) == ("US-NJ", "US-NY")
        [scope] = scopes_for(p)
        assert (scope.jurisdiction, scope.verdict) == ("US-NY", "no")
        cert = db.session.scalar(select(Certification).where(
            Certification.practitioner_id == p.id))
        found = {c.name: c for c in checks.run_checks(cert)}
        slug = p.slug
    assert (found["Practises where licensed"].status,
            found["Practises where licensed"].reason) == (
        "warn", "Licensed in New Jersey, United States but practises in New York, United "
                "States: check a licence there.")
    assert found["Profession may dry-needle there"].status == "fail"
    assert found["Profession may dry-needle there"].reason == ("Not permitted in New York, "
                                                               "United States.")
    [panel] = verdict_panels(client.get(f"/p/{slug}"))
    assert panel["sentence"] == "In New York, physical therapists may not dry-needle."


def test_a_saved_location_takes_the_region_it_is_in(app, client, auth, rules):
    """The region typed on the form, or, when none is typed, the one its postcode is in."""
    with app.app_context():
        p = factories.make_listed_practitioner("loc@example.com", profession="physiotherapist",
                                               licence_country="US", licence_region="US-NJ")
        practitioner_id = p.id
    auth.login("loc@example.com")
    for region, postcode, expected in (("NY", "10007", "US-NY"), ("", "07302", "US-NJ")):
        response = client.post("/profile/locations/new", data={
            "clinic_name": f"Clinic {postcode}", "street": "", "city": "Somewhere",
            "region": region, "postcode": postcode, "country": "US"})
        assert response.status_code == 302
        with app.app_context():
            location = db.session.scalar(select(PracticeLocation).where(
                PracticeLocation.clinic_name == f"Clinic {postcode}"))
            assert location.region_code == expected
            assert location.scope_verdict == {"US-NY": "no", "US-NJ": "yes"}[expected]
    with app.app_context():
        p = db.session.get(Practitioner, practitioner_id)
        assert [s.jurisdiction for s in scopes_for(p)] == ["US-NY", "US-NJ"]


# =========================================================================== 7. the demo directory


def test_the_demo_directory_reflects_the_rules(app, runner):
    assert runner.invoke(args=["demo", "seed"]).exit_code == 0
    with app.app_context():
        verdicts = [v for v in coverage.listed_verdicts() if v.is_demo]
        assert len(verdicts) > 400
        shares = coverage.shares(verdicts)
        assert shares["no"][0] == 0  # nobody listed where their profession may not needle
        assert shares["unknown"][1] <= 0.30
        assert not [v for v in verdicts if v.country == "US" and v.profession == "medical_doctor"
                    and v.verdict == "unknown"]
        # Several professions in each country, physiotherapists the most common everywhere.
        for country in ("US", "AU", "GB", "CA"):
            professions = [v.profession for v in verdicts if v.country == country]
            assert len(set(professions)) >= 3, country
            assert max(set(professions), key=professions.count) == "physiotherapist"
        # Letters of their own country: no American "DPT" outside the US.
        letters = db.session.execute(select(Practitioner.licence_country,
                                            Practitioner.post_nominals)).all()
        assert {country for country, words in letters if "DPT" in words} == {"US"}

    report = runner.invoke(args=["reference", "coverage", "--demo-only"])
    assert report.exit_code == 0, report.output
    assert "| not permitted | 0 | 0% |" in report.output
    assert "| Physical therapist / physiotherapist | 51 (39/3/9) |" in report.output


def test_the_dashboard_tells_the_practitioner_their_verdict_and_what_it_does(
        app, client, auth, hudson):
    with app.app_context():
        email = db.session.get(Practitioner, hudson["no"]).user.email
    auth.login(email)
    response = client.get("/dashboard")
    section = re.search(r'<section class="panel" id="scope">(.*?)</section>',
                        response.get_data(as_text=True), re.S)
    words = plain(section.group(1))
    assert "In New York, physical therapists may not dry-needle." in words
    assert ("Patients' searches leave out your location in New York unless they ask to include "
            "practitioners who may not dry-needle there") in words
