"""The official registers (directory/data/registers.json): which register an administrator is
sent to for a licence, the link that opens the practitioner's entry, and the file's own checks."""

from __future__ import annotations

import json
from urllib.parse import urlsplit

import pytest

from directory.licences.registers import (
    REGISTERS_PATH,
    all_registers,
    load_registers,
    register_by_key,
    registers_for,
)
from directory.vocab import PROFESSIONS


def _entry(**changes) -> dict:
    row = {
        "key": "xx-board", "name": "A register", "regulator": "A board", "country": "CA",
        "region": None, "professions": ["physiotherapist"],
        "search_url": "https://register.example.org/search",
        "entry_url_template": "https://register.example.org/entry/{number}",
        "number_hint": "5 digits", "number_pattern": "^[0-9]{5}$",
        "source": "test", "checked_on": "2026-12-03",
    }
    row.update(changes)
    return row


def _write(tmp_path, rows) -> str:
    path = tmp_path / "registers.json"
    path.write_text(json.dumps(rows), encoding="utf-8")
    return str(path)


# ------------------------------------------------------------------------------ the real file


def test_an_australian_physiotherapist_is_sent_to_ahpra_with_a_link_to_the_entry():
    found = registers_for("AU", "AU-VIC", "physiotherapist")
    assert [r.key for r in found] == ["au-ahpra"]
    ahpra = found[0]
    assert ahpra.name == "Ahpra public register of practitioners"
    url = ahpra.entry_url("PHY0001234567")
    assert url and url.startswith("https://www.ahpra.gov.au/")
    assert "PHY0001234567" in url
    # As typed in a form: spaces around it and lower case still open the same entry.
    assert ahpra.entry_url(" phy0001234567 ") == url


def test_ahpra_holds_every_australian_profession_it_registers():
    for profession in ("physiotherapist", "chiropractor", "medical_doctor",
                       "osteopathic_physician", "occupational_therapist", "acupuncturist"):
        assert [r.key for r in registers_for("AU", None, profession)] == ["au-ahpra"]


def test_an_ontario_physiotherapist_gets_the_ontario_college_and_no_other_province():
    found = registers_for("CA", "CA-ON", "physiotherapist")
    assert found[0].regulator == "College of Physiotherapists of Ontario"
    assert {r.region for r in found} <= {"CA-ON", None}
    # The part after the hyphen names the same province.
    assert registers_for("ca", "ON", "physiotherapist") == found


def test_each_province_named_in_the_issue_has_a_physiotherapy_college():
    for province in ("ON", "BC", "AB", "QC", "MB", "SK", "NS", "NB"):
        found = registers_for("CA", f"CA-{province}", "physiotherapist")
        assert found and found[0].region == f"CA-{province}", province
    for province in ("ON", "BC", "AB"):
        assert registers_for("CA", f"CA-{province}", "chiropractor")[0].region == f"CA-{province}"


def test_uk_ireland_and_new_zealand_registers():
    assert [r.key for r in registers_for("GB", "GB-ENG", "physiotherapist")] == \
        ["gb-hcpc-physiotherapists"]
    hcpc = register_by_key("gb-hcpc-physiotherapists")
    assert hcpc.entry_url("PH123456") and hcpc.entry_url("OT123456") is None
    assert registers_for("GB", None, "medical_doctor")[0].entry_url("1234567") == \
        "https://www.gmc-uk.org/doctors/1234567"
    assert [r.regulator for r in registers_for("GB", None, "chiropractor")] == \
        ["General Chiropractic Council (GCC)"]
    assert registers_for("IE", None, "physiotherapist")[0].regulator.startswith("CORU")
    assert registers_for("IE", None, "occupational_therapist")[0].regulator.startswith("CORU")
    for profession in ("physiotherapist", "chiropractor", "medical_doctor",
                       "occupational_therapist", "osteopathic_physician"):
        assert registers_for("NZ", None, profession), profession


def test_a_us_state_board_is_found_for_its_state_only():
    assert [r.key for r in registers_for("US", "US-CO", "physiotherapist")] == ["us-co-dora"]
    assert "us-co-dora" not in [r.key for r in registers_for("US", "US-TX", "physiotherapist")]


def test_a_profession_or_place_without_a_register_gets_an_empty_list():
    assert registers_for("AU", None, "myotherapist") == []
    assert registers_for("GB", None, "athletic_trainer") == []
    assert registers_for("CA", "CA-NU", "physiotherapist") == []
    assert registers_for("FR", None, "physiotherapist") == []
    assert registers_for("", None, "physiotherapist") == []
    assert registers_for("AU", None, "") == []


def test_entry_url_refuses_a_number_that_does_not_match_the_register():
    ahpra = register_by_key("au-ahpra")
    for wrong in ("PHY123", "1234567890123", "PHY00012345678", "PHY0001234567/../x", "", None):
        assert ahpra.entry_url(wrong) is None, wrong
    assert ahpra.accepts("PHY0001234567") and not ahpra.accepts("PHY123")


def test_a_register_without_an_entry_link_gives_none():
    college = register_by_key("ca-on-physiotherapy")
    assert college.entry_url_template is None
    assert college.entry_url("12345") is None
    assert college.search_url.startswith("https://")


def test_register_by_key():
    assert register_by_key("au-ahpra").country == "AU"
    assert register_by_key("no-such-register") is None


def test_every_url_is_https_every_key_unique_and_every_profession_known():
    registers = all_registers()
    assert len(registers) >= 30
    keys = [r.key for r in registers]
    assert len(keys) == len(set(keys))
    for r in registers:
        assert urlsplit(r.search_url).scheme == "https", r.key
        if r.entry_url_template:
            assert "{number}" in r.entry_url_template, r.key
            assert urlsplit(r.entry_url_template).scheme == "https", r.key
        assert r.professions and set(r.professions) <= set(PROFESSIONS), r.key
        assert r.source and r.number_hint, r.key


def test_the_file_says_its_urls_must_be_confirmed():
    for row in json.loads(REGISTERS_PATH.read_text(encoding="utf-8")):
        assert "must confirm" in row["source"], row["key"]
        assert row["checked_on"] == "2026-12-03"


# ------------------------------------------------------------------------------ order


def test_a_region_match_comes_before_a_country_wide_register(tmp_path):
    registers = load_registers(_write(tmp_path, [
        _entry(key="ca-national"),
        _entry(key="ca-on-college", region="CA-ON"),
        _entry(key="ca-bc-college", region="CA-BC"),
        _entry(key="ca-on-doctors", region="CA-ON", professions=["medical_doctor"]),
    ]))
    found = registers_for("CA", "CA-ON", "physiotherapist", registers)
    assert [r.key for r in found] == ["ca-on-college", "ca-national"]
    # Without a province: the national register first, then each province's.
    found = registers_for("CA", None, "physiotherapist", registers)
    assert [r.key for r in found] == ["ca-national", "ca-bc-college", "ca-on-college"]
    assert registers_for("CA", "CA-ON", "chiropractor", registers) == []


# ------------------------------------------------------------------------------ a broken file


@pytest.mark.parametrize(("change", "message"), [
    ({"professions": ["physiotherapist", "witch_doctor"]}, "unknown profession(s) 'witch_doctor'"),
    ({"professions": []}, "professions must be a non-empty list"),
    ({"country": "UK"}, "country 'UK' is not an ISO 3166-1 alpha-2 code"),
    ({"region": "US-CO"}, "region 'US-CO' is not an ISO 3166-2 subdivision of CA"),
    ({"region": "CA-XX"}, "region 'CA-XX' is not an ISO 3166-2 subdivision of CA"),
    ({"search_url": "http://register.example.org/"}, "search_url 'http://register.example.org/' "
                                                     "is not an https URL"),
    ({"entry_url_template": "https://register.example.org/entry"}, "has no {number}"),
    ({"entry_url_template": "javascript:alert({number})"}, "is not an https URL"),
    ({"number_pattern": "[0-9"}, "number_pattern '[0-9' is not a regular expression"),
    ({"checked_on": "3 December 2026"}, "checked_on '3 December 2026' is not a date"),
    ({"name": ""}, "name must be a non-empty text"),
    ({"notes": "x"}, "unknown field(s) notes"),
])
def test_a_broken_registers_file_is_refused_naming_the_entry(tmp_path, change, message):
    path = _write(tmp_path, [_entry(key="ca-good"), _entry(key="ca-broken", **change)])
    with pytest.raises(ValueError) as refused:
        load_registers(path)
    assert "entry 2 ('ca-broken')" in str(refused.value)
    assert message in str(refused.value)


def test_a_missing_field_or_a_repeated_key_is_refused(tmp_path):
    row = _entry(key="ca-short")
    del row["number_pattern"]
    missing = r"entry 1 \('ca-short'\): missing field\(s\) number_pattern"
    with pytest.raises(ValueError, match=missing):
        load_registers(_write(tmp_path, [row]))
    twice = r"entry 2 \('ca-twice'\): key 'ca-twice' is used by an earlier entry"
    with pytest.raises(ValueError, match=twice):
        load_registers(_write(tmp_path, [_entry(key="ca-twice"), _entry(key="ca-twice")]))


def test_a_file_that_is_not_a_list_of_registers_is_refused(tmp_path):
    path = tmp_path / "registers.json"
    path.write_text("{not json", encoding="utf-8")
    with pytest.raises(ValueError, match="cannot be read as JSON"):
        load_registers(path)
    with pytest.raises(ValueError, match="must hold a list"):
        load_registers(_write(tmp_path, {"key": "x"}))
    with pytest.raises(ValueError, match="entry 1: is not an object"):
        load_registers(_write(tmp_path, ["ca-board"]))


def test_the_number_is_url_quoted(tmp_path):
    (register,) = load_registers(_write(tmp_path, [_entry(number_pattern=None)]))
    assert register.entry_url("AB 12/3?x=1&y") == \
        "https://register.example.org/entry/AB%2012%2F3%3FX%3D1%26Y"
