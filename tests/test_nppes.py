"""The NPPES file (issue 14 item 2): `flask licences load-nppes` on small generated files with the
real 330-column header, the automatic licence check against it, and what bad files get."""

from __future__ import annotations

import csv
import os
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select
from stdnum import luhn

from directory import listing, vocab
from directory.extensions import db
from directory.licences import nppes
from directory.licences.services import record_check
from directory.models import Licence, NppesFile, NppesProvider, Practitioner
from directory.vocab import LicenceMethod, LicenceStatus
from tests import factories

FILE_DAY = factories.today() - timedelta(days=10)
FILE_NAME = f"npidata_pfile_20050523-{FILE_DAY:%Y%m%d}.csv"


def npi(n: int) -> str:
    """A valid NPI (Luhn check digit over 80840 and the first nine digits)."""
    base = str(123_456_000 + n)
    return base + luhn.calc_check_digit("80840" + base)


def individual(number: str, last="SMITH", first="JANE", middle="A", taxonomies=(
        ("225100000X", "PT-0012345", "CO"),), **columns) -> dict:
    """An individual's row (entity type 1) with taxonomy slots (code, licence, state)."""
    row = {"NPI": number, "Entity Type Code": "1", "Provider Last Name (Legal Name)": last,
           "Provider First Name": first, "Provider Middle Name": middle,
           "Provider Credential Text": "PT, DPT",
           "Provider Business Practice Location Address Telephone Number": "2025550123",
           "Provider Business Mailing Address Postal Code": "200011234",
           "Provider Enumeration Date": "05/23/2010", "Last Update Date": "07/08/2024"}
    for i, (code, licence, state) in enumerate(taxonomies, start=1):
        row |= {f"Healthcare Provider Taxonomy Code_{i}": code,
                f"Provider License Number_{i}": licence,
                f"Provider License Number State Code_{i}": state,
                f"Healthcare Provider Primary Taxonomy Switch_{i}": "Y" if i == 1 else "N"}
    return row | columns


def organisation(number: str) -> dict:
    return {"NPI": number, "Entity Type Code": "2",
            "Provider Organization Name (Legal Business Name)": "DENVER PT, LLC",
            "Healthcare Provider Taxonomy Code_1": "261QP2000X"}


def deactivated(number: str, on: str = "02/01/2024") -> dict:
    return {"NPI": number, "NPI Deactivation Date": on}


def write_nppes(path: Path, rows: list[dict], *, quoting=csv.QUOTE_ALL,
                header=nppes.NPPES_COLUMNS) -> Path:
    """An NPPES file as CMS writes it (every field quoted, CRLF), with these rows."""
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.writer(fh, quoting=quoting, lineterminator="\r\n")
        writer.writerow(header)
        for row in rows:
            writer.writerow([row.get(name, "") for name in header])
    return path


def load(runner, path: Path, *extra: str):
    return runner.invoke(args=["licences", "load-nppes", str(path), *extra])


PT_NPI = npi(1)


def make_pt(**profile) -> Practitioner:
    """A US physical therapist whose profile matches individual(PT_NPI)."""
    values = {"full_name": "Jane Smith, PT, DPT", "profession": "physiotherapist",
              "licence_number": "pt 12345", "licence_country": "US",
              "licence_region": "US-CO", "npi": PT_NPI} | profile
    return factories.make_practitioner(**values)


def provider_rows() -> dict[str, tuple]:
    return {p.npi: (p.last_name, p.first_name, p.deactivated_on, p.taxonomies)
            for p in db.session.scalars(select(NppesProvider))}


# ---------------------------------------------------------------------- the automatic check

def test_a_matching_physical_therapist_is_verified_automatically(app, runner, tmp_path):
    with app.app_context():
        p = make_pt(attested_at=factories.utcnow())
        factories.make_certification(p, status="verified")
        pid = p.id
        assert not listing.is_listed(p)  # no licence check yet
    path = write_nppes(tmp_path / FILE_NAME, [individual(PT_NPI), organisation(npi(2))])
    result = load(runner, path)
    assert result.exit_code == 0, result.output
    assert "2 rows read, 1 kept" in result.output
    assert "1 licence(s) verified automatically of 1 checked" in result.output
    with app.app_context():
        p = db.session.get(Practitioner, pid)
        assert p.licence.status == LicenceStatus.VERIFIED
        assert p.licence.method == LicenceMethod.AUTOMATIC
        assert p.licence.source == f"NPPES file of {FILE_DAY.isoformat()}"
        assert p.licence.verified_on == FILE_DAY
        assert p.licence.verified_by is None
        assert listing.is_listed(p)
    [event] = factories.audit_events(app, "licence.verified")
    assert event.practitioner_id == pid
    assert event.detail["method"] == "automatic"
    assert event.detail["source"] == f"NPPES file of {FILE_DAY.isoformat()}"
    [loaded] = factories.audit_events(app, "nppes.loaded")
    assert loaded.detail["rows_read"] == 2 and loaded.detail["rows_kept"] == 1


@pytest.mark.parametrize("name", [
    "Jane Smith", "JANE SMITH", "Jane A. Smith", "Dr. Jane Smith, DPT", "Smith, Jane",
    "Jane Smith PT DPT", "Jane Ann Smith", "Jané Smíth",
])
def test_names_match_without_case_accents_middle_names_or_post_nominals(app_ctx, tmp_path,
                                                                         name):
    nppes.load_file(write_nppes(tmp_path / FILE_NAME, [individual(PT_NPI)]))
    found = nppes.match(make_pt(full_name=name))
    assert found.ok, found.reasons
    assert found.name_similarity >= nppes.NAME_THRESHOLD


@pytest.mark.parametrize(("row", "profile", "reason"), [
    (deactivated(PT_NPI), {}, f"NPI {PT_NPI} is deactivated since 2024-02-01"),
    (individual(PT_NPI), {"full_name": "John Smith"},
     "Name on NPPES: SMITH, JANE A (ours: John Smith, 50% alike)"),
    (individual(PT_NPI, taxonomies=[("207Q00000X", "PT-0012345", "CO")]), {},
     "No NPPES taxonomy for a physical therapist (has 207Q00000X Family Medicine)"),
    (individual(PT_NPI), {"licence_number": "PT999"},
     "Licence PT999 in CO not on the NPI record (it lists PT-0012345 in CO)"),
    (individual(PT_NPI), {"licence_region": "US-WY"},
     "Licence pt 12345 in WY not on the NPI record (it lists PT-0012345 in CO)"),
    (individual(npi(7)), {}, f"NPI {PT_NPI} is not in the NPPES file of {FILE_DAY.isoformat()}"),
], ids=["deactivated", "name", "taxonomy", "licence number", "licence state", "not found"])
def test_each_mismatch_leaves_the_licence_unverified_and_says_why(app_ctx, tmp_path, row,
                                                                  profile, reason):
    nppes.load_file(write_nppes(tmp_path / FILE_NAME, [row]))
    p = make_pt(**profile)
    factories.make_certification(p, status="verified")
    found = nppes.verify_from_nppes(p)
    assert not found.ok
    assert found.found == ("is not in the NPPES file" not in reason)
    assert any(r.startswith(reason) for r in found.reasons), found.reasons
    assert len(found.reasons) == 1
    assert p.licence is None or p.licence.status == LicenceStatus.UNVERIFIED
    assert not listing.is_listed(p)
    assert factories.audit_events(app_ctx, "licence.verified") == []


def test_a_profession_without_nppes_taxonomy_is_left_to_an_administrator(app_ctx, tmp_path):
    nppes.load_file(write_nppes(tmp_path / FILE_NAME, [individual(PT_NPI)]))
    found = nppes.match(make_pt(profession="myotherapist"))
    assert not found.ok
    assert found.reasons == ["NPPES has no taxonomy for a myotherapist: an administrator checks "
                             "this licence on the state's register (it has 225100000X Physical "
                             "Therapist)."]


def test_a_reactivated_npi_is_active(app_ctx, tmp_path):
    row = individual(PT_NPI, **{"NPI Deactivation Date": "02/01/2020",
                                "NPI Reactivation Date": "03/01/2020"})
    nppes.load_file(write_nppes(tmp_path / FILE_NAME, [row]))
    assert nppes.match(make_pt()).ok


@pytest.mark.parametrize(("profile", "why"), [
    ({"licence_country": "AU", "licence_region": None}, "Not a US licence"),
    ({"npi": None}, "No NPI on the profile"),
])
def test_what_the_file_cannot_check_is_not_checked(app_ctx, tmp_path, profile, why):
    nppes.load_file(write_nppes(tmp_path / FILE_NAME, [individual(PT_NPI)]))
    p = make_pt(**profile)
    assert nppes.verify_from_nppes(p) is None
    assert nppes.match(p).reasons[0].startswith(why)


def test_nothing_is_checked_before_a_file_is_loaded(app, runner):
    with app.app_context():
        p = make_pt()
        assert nppes.verify_from_nppes(p) is None
        assert nppes.match(p).reasons[0].startswith("No NPPES file has been loaded")
    result = runner.invoke(args=["licences", "check-nppes"])
    assert result.exit_code == 1
    assert "No NPPES file has been loaded" in result.output


def test_check_nppes_rechecks_licences_due_soon_and_leaves_failed_ones(app, runner, tmp_path):
    rows = [individual(npi(n), taxonomies=[("225100000X", f"PT{n}", "CO")]) for n in range(1, 6)]
    path = write_nppes(tmp_path / FILE_NAME, rows)
    with app.app_context():
        admin = factories.make_admin()
        made = {}
        for n, state in [(1, None), (2, "failed"), (3, "due soon"), (4, "due later"),
                         (5, "lapsed")]:
            p = make_pt(npi=npi(n), licence_number=f"PT{n}")
            if state == "failed":
                record_check(p, verified=False, method=LicenceMethod.REGISTER,
                             source="Colorado board", actor=admin, note="Disciplined")
            elif state in ("due soon", "due later", "lapsed"):
                days = {"due soon": 320, "due later": 200, "lapsed": 400}[state]
                record_check(p, verified=True, method=LicenceMethod.REGISTER,
                             source="Colorado board", actor=admin,
                             checked_on=factories.today() - timedelta(days=days))
                if state == "lapsed":
                    p.licence.status = LicenceStatus.LAPSED
                    db.session.commit()
            made[state] = p.id
    result = load(runner, path)
    assert result.exit_code == 0, result.output
    assert "3 licence(s) verified automatically of 3 checked" in result.output
    with app.app_context():
        licences = {state: db.session.get(Practitioner, pid).licence
                    for state, pid in made.items()}
        for state in (None, "due soon", "lapsed"):
            assert licences[state].method == LicenceMethod.AUTOMATIC, state
            assert licences[state].status == LicenceStatus.VERIFIED
        assert licences["failed"].status == LicenceStatus.FAILED
        assert licences["due later"].method == LicenceMethod.REGISTER
    # Checked from this file already: a second pass has nothing to do.
    again = runner.invoke(args=["licences", "check-nppes"])
    assert again.exit_code == 0
    assert "0 licence(s) verified automatically of 0 checked" in again.output


# --------------------------------------------------------------------------------- the load

def test_the_header_is_the_real_files(app_ctx):
    assert len(nppes.NPPES_COLUMNS) == 330
    assert nppes.NPPES_COLUMNS[:2] == ("NPI", "Entity Type Code")
    for name in ("Provider Last Name (Legal Name)", "Provider First Name", "NPI Deactivation Date",
                 "Healthcare Provider Taxonomy Code_15", "Provider License Number_15",
                 "Provider License Number State Code_15",
                 "Healthcare Provider Primary Taxonomy Switch_15"):
        assert name in nppes.NPPES_COLUMNS
    assert len(set(nppes.NPPES_COLUMNS)) == 330


def test_only_individuals_with_served_taxonomies_and_deactivated_npis_are_kept(app_ctx,
                                                                               tmp_path):
    rows = [
        individual(npi(1)),
        individual(npi(2), taxonomies=[("363L00000X", "NP1", "CO")]),  # nurse practitioner
        individual(npi(3), taxonomies=[("363L00000X", "NP1", "CO"), ("2251X0800X", "PT3", "CO")]),
        individual(npi(4), taxonomies=[("207Q00000X", "DR4", "TX")]),  # physician
        individual(npi(5), taxonomies=[("111N00000X", "DC5", "NY")]),
        individual(npi(6), taxonomies=[("225XH1200X", "OT6", "NY")]),
        individual(npi(7), taxonomies=[("2255A2300X", "AT7", "NY")]),
        individual(npi(8), taxonomies=[("171100000X", "AC8", "NY")]),
        individual(npi(9), taxonomies=[("225200000X", "PTA9", "CO")]),  # PT assistant
        individual(npi(10), taxonomies=[("2025550123", "X", "CO")]),  # not a NUCC code
        organisation(npi(11)),
        deactivated(npi(12)),
        {"NPI": npi(13)},  # neither: nothing to check against
    ]
    quoted = nppes.load_file(write_nppes(tmp_path / FILE_NAME, rows))
    kept = provider_rows()
    assert sorted(kept) == sorted(npi(n) for n in (1, 3, 4, 5, 6, 7, 8, 12))
    assert (quoted.rows_read, quoted.rows_kept, quoted.deactivated_kept) == (13, 8, 1)
    assert kept[npi(3)][3] == [["363L00000X", "NP1", "CO", "Y"], ["2251X0800X", "PT3", "CO", "N"]]
    # Written as other programs write CSV (quotes only where needed), the same rows are kept:
    # the shortcut over quoted lines skips no row the full parse keeps.
    (tmp_path / "minimal").mkdir()
    minimal = nppes.load_file(write_nppes(tmp_path / "minimal" / FILE_NAME, rows,
                                          quoting=csv.QUOTE_MINIMAL))
    assert provider_rows() == kept
    assert (minimal.rows_read, minimal.rows_kept) == (13, 8)


def _previous_load_untouched() -> None:
    assert sorted(provider_rows()) == [npi(1), npi(2)]
    assert db.session.scalar(select(func.count()).select_from(NppesFile)) == 1


def _truncated(path: Path) -> Path:
    write_nppes(path, [individual(npi(3)), organisation(npi(4)), individual(npi(5))])
    lines = path.read_bytes().split(b"\r\n")
    lines[2] = lines[2][:200]  # the organisation's line, cut short
    path.write_bytes(b"\r\n".join(lines))
    return path


def _bad_encoding(path: Path) -> Path:
    write_nppes(path, [individual(npi(3)), individual(npi(5), last="NUNEZ")])
    path.write_bytes(path.read_bytes().replace(b"NUNEZ", "NUÑEZ".encode("latin-1")))
    return path


@pytest.mark.parametrize(("make_bad", "message"), [
    (lambda p: write_nppes(p, [individual(npi(3))], header=("NPI", "Name", "Licence")),
     "Line 1: not the header of an NPPES dissemination file: no column 'Entity Type Code', "
     "'Provider Last Name (Legal Name)'"),
    (_truncated, "Line 3: 56 fields where the header has 330: the line is cut short or damaged"),
    (_bad_encoding, "Line 3: not UTF-8 text (byte 0xd1 at character"),
    (lambda p: write_nppes(p, [individual(npi(3), **{"NPI Deactivation Date": "2024-02-01"})]),
     "Line 2: NPI Deactivation Date '2024-02-01' is not a date (MM/DD/YYYY)"),
    (lambda p: write_nppes(p, [individual(npi(3)), organisation(npi(4)), deactivated(npi(3))]),
     f"Line 4: NPI {npi(3)} is on an earlier line too (the file lists each NPI once)"),
], ids=["wrong header", "truncated line", "bad encoding", "bad date", "NPI twice"])
def test_a_bad_file_stops_the_load_and_changes_nothing(app, runner, tmp_path, make_bad,
                                                       message):
    first = write_nppes(tmp_path / FILE_NAME, [individual(npi(1)), individual(npi(2))])
    assert load(runner, first).exit_code == 0
    (tmp_path / "bad").mkdir()
    result = load(runner, make_bad(tmp_path / "bad" / FILE_NAME))
    assert result.exit_code == 1
    assert message in result.output
    assert "Nothing was loaded; the file loaded before stays in use." in result.output
    with app.app_context():
        _previous_load_untouched()
    assert len(factories.audit_events(app, "nppes.loaded")) == 1


def test_a_second_load_replaces_the_first(app, runner, tmp_path):
    first = write_nppes(tmp_path / "npidata_pfile_20050523-20261009.csv",
                        [individual(npi(1)), individual(npi(2))])
    second = write_nppes(tmp_path / "npidata_pfile_20050523-20261109.csv",
                         [individual(npi(2), last="JONES"), individual(npi(3))])
    assert load(runner, first).exit_code == 0
    result = load(runner, second)
    assert result.exit_code == 0, result.output
    assert "NPPES file of 2026-11-09 (npidata_pfile_20050523-20261109.csv): 2 rows read, " \
           "2 kept (0 deactivated NPIs), in" in result.output
    with app.app_context():
        rows = provider_rows()
        assert sorted(rows) == [npi(2), npi(3)]
        assert rows[npi(2)][0] == "JONES"
        assert nppes.current_file().file_date.isoformat() == "2026-11-09"
        assert db.session.scalar(select(func.count()).select_from(NppesFile)) == 2


def test_the_file_date_comes_from_the_name_the_option_or_the_file(app, runner, tmp_path):
    named = write_nppes(tmp_path / "npidata_pfile_20050523-20260309.csv", [individual(npi(1))])
    plain = write_nppes(tmp_path / "nppes.csv", [individual(npi(1))])
    os.utime(plain, (1_700_000_000, 1_700_000_000))  # 2023-11-14 UTC
    assert nppes.file_date_of(named).isoformat() == "2026-03-09"
    assert nppes.file_date_of(plain).isoformat() == "2023-11-14"
    result = load(runner, plain, "--file-date", "2026-01-31")
    assert "NPPES file of 2026-01-31" in result.output
    assert load(runner, plain, "--file-date", "31/01/2026").exit_code == 2


def test_the_taxonomy_mapping_names_nucc_codes_and_directory_professions(app_ctx):
    codes = nppes.nucc_taxonomies()
    assert set(nppes.PROFESSION_TAXONOMIES) <= set(vocab.PROFESSIONS)
    for served in nppes.PROFESSION_TAXONOMIES.values():
        assert any(served.accepts(code) for code in codes)
    assert codes["225100000X"].name == "Physical Therapist"
    assert codes["2255A2300X"].name == "Specialist/Technologist, Athletic Trainer"
    assert not any(nppes.serves(c) for c in ("225200000X", "224Z00000X", "363L00000X",
                                            "390200000X"))


@pytest.mark.parametrize(("ours", "theirs"), [
    ("pt 12345", "PT-0012345"), ("PT.012345", "pt12345"), ("0012", "12"), ("A-1 2", "a12"),
])
def test_licence_numbers_compare_without_case_spaces_hyphens_or_leading_zeros(ours, theirs):
    assert nppes.licence_key(ours) == nppes.licence_key(theirs)


def test_a_licence_verified_from_the_file_is_recorded_with_its_reasons_on_mismatch(app_ctx,
                                                                                   tmp_path):
    """verify_from_nppes inside a caller's transaction (commit=False) leaves the commit to it."""
    nppes.load_file(write_nppes(tmp_path / FILE_NAME, [individual(PT_NPI)]))
    p = make_pt()
    found = nppes.verify_from_nppes(p, commit=False)
    assert found.ok and found.reasons == []
    assert "licence pt 12345 in CO" in p.licence.note
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Licence)) == 0


# ------------------------------------------------------- the profile form and the admin page

def test_saving_an_npi_on_the_profile_checks_it_against_the_loaded_file(app, client, runner,
                                                                        tmp_path):
    assert load(runner, write_nppes(tmp_path / FILE_NAME, [individual(PT_NPI)])).exit_code == 0
    with app.app_context():
        p = factories.make_practitioner("jane@example.com", full_name="Jane Smith",
                                        profession="physiotherapist")
        pid, version = p.id, p.version
    factories.login(client, "jane@example.com")
    response = client.post("/profile/edit", data={
        "full_name": "Jane Smith", "profession": "physiotherapist",
        "licence_number": "PT-0012345", "licence_country": "US", "licence_region": "CO",
        "npi": PT_NPI, "version": str(version)})
    assert response.status_code == 302
    with app.app_context():
        licence = db.session.get(Practitioner, pid).licence
        assert (licence.status, licence.method) == (LicenceStatus.VERIFIED,
                                                     LicenceMethod.AUTOMATIC)
    # A number the file does not list: saved, not verified, and the admin sees why.
    with app.app_context():
        version = db.session.get(Practitioner, pid).version
    response = client.post("/profile/edit", data={
        "full_name": "Jane Smith", "profession": "physiotherapist",
        "licence_number": "PT-999", "licence_country": "US", "licence_region": "CO",
        "npi": PT_NPI, "version": str(version)})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Practitioner, pid).licence.status == LicenceStatus.UNVERIFIED
        factories.make_admin("nppes-admin@example.com")
    admin = app.test_client()
    factories.login(admin, "nppes-admin@example.com")
    page = admin.get(f"/admin/licences/{pid}").get_data(as_text=True)
    assert "Does not match" in page and "PT-999" in page
