"""Search by name: a practitioner's name, a clinic's name or a licence/NPI number, with typos,
without accents, alone or with a place; the same results on SQLite and PostgreSQL, checked
against the rule written in Python."""

from __future__ import annotations

import html
import random
import re

import pytest
from sqlalchemy import select

from directory.extensions import db
from directory.models import Practitioner, SearchWord
from directory.search import Filters, names, search, search_by_name
from tests.factories import DENVER, listed_at, make_location, offset


def found(text: str, **kwargs) -> list[str]:
    query = names.parse(db.session.connection(), text)
    return [h.practitioner.full_name for h in search_by_name(query, **kwargs).hits]


def near(text: str, lat: float, lng: float, radius: float = 25) -> list[str]:
    query = names.parse(db.session.connection(), text)
    return [h.practitioner.full_name for h in search(lat, lng, radius, name=query).hits]


@pytest.fixture
def people(app_ctx):
    listed_at(*offset(*DENVER, km_north=1), "Siobhán Ní Bhriain", licence_number="PT-40431")
    listed_at(*offset(*DENVER, km_north=2), "Siobhan Murphy", npi="1234567893")
    listed_at(*offset(*DENVER, km_north=3), "José Núñez")
    listed_at(*offset(*DENVER, km_north=40), "Johan Smith")
    listed_at(*offset(*DENVER, km_north=4), "Anne O'Brien-Walsh")
    listed_at(*offset(*DENVER, km_north=5), "Hidden Siobhan", listed=False)


def test_names_are_found_without_accents_and_with_them(people):
    assert sorted(found("Siobhan")) == ["Siobhan Murphy", "Siobhán Ní Bhriain"]
    assert sorted(found("siobhán")) == ["Siobhan Murphy", "Siobhán Ní Bhriain"]
    assert found("jose nunez") == ["José Núñez"]
    assert found("NÚÑEZ") == ["José Núñez"]
    assert found("o'brien walsh") == ["Anne O'Brien-Walsh"]


def test_a_typo_or_the_beginning_of_a_word_finds_the_name(people):
    assert sorted(found("Siobahn")) == ["Siobhan Murphy", "Siobhán Ní Bhriain"]  # swapped
    assert found("Murphey") == ["Siobhan Murphy"]  # a letter added
    assert found("Smyth") == ["Johan Smith"]  # a letter changed
    assert sorted(found("siob")) == ["Siobhan Murphy", "Siobhán Ní Bhriain"]
    assert found("siobhan mur") == ["Siobhan Murphy"]  # every word must match
    assert found("Siobhan Smith") == []


def test_a_clinic_a_licence_or_an_npi_finds_the_practitioner(people):
    assert found("Núñez Clinic") == ["José Núñez"]  # listed_at names the clinic after them
    assert found("PT-40431") == ["Siobhán Ní Bhriain"]
    assert found("pt 40431") == ["Siobhán Ní Bhriain"]
    assert found("1234567893") == ["Siobhan Murphy"]
    assert found("40431") == ["Siobhán Ní Bhriain"]


def test_exact_matches_come_first(app_ctx):
    listed_at(*DENVER, "Anne Annandale")
    listed_at(*DENVER, "Ann Smith")
    listed_at(*DENVER, "Annabel Lee")
    listed_at(*DENVER, "Bea Ann", accepting=False)
    # "ann" itself first (then by name); "anne" and "annabel" begin with it.
    assert found("ann") == ["Ann Smith", "Bea Ann", "Annabel Lee", "Anne Annandale"]
    assert found("ann", sort="name") == ["Ann Smith", "Annabel Lee", "Anne Annandale",
                                         "Bea Ann"]
    assert found("ann", sort="accepting")[-1] == "Bea Ann"


def test_only_searchable_practitioners_are_found(people):
    assert "Hidden Siobhan" not in found("hidden siobhan") + found("siobhan")


def test_with_a_place_the_matches_are_within_the_radius_nearest_first(people):
    assert near("siobhan", *DENVER) == ["Siobhán Ní Bhriain", "Siobhan Murphy"]
    assert near("smith", *DENVER, radius=25) == []
    assert near("smith", *DENVER, radius=50) == ["Johan Smith"]


def test_a_renamed_practitioner_or_clinic_is_found_by_the_new_name(people):
    p = db.session.scalar(select(Practitioner).where(Practitioner.full_name == "José Núñez"))
    p.full_name = "José Álvarez"
    db.session.commit()
    assert found("alvarez") == ["José Álvarez"] and found("nunez clinic") == ["José Álvarez"]
    p.locations[0].clinic_name = "Mile High Physio"
    db.session.commit()
    assert found("mile high") == ["José Álvarez"] and found("nunez") == []
    assert found("needlinq") == []  # (its typos now remembered: none yet)
    make_location(p, clinic_name="Boulder Needling", lat=40.01, lng=-105.27)
    assert found("boulder needling") == ["José Álvarez"]
    # A typo reaches the new words too: they are in the vocabulary.
    assert found("needlinq") == ["José Álvarez"]
    assert "needling" in db.session.scalars(select(SearchWord.word)).all()


def test_filters_and_a_country_apply_to_a_name_search(app_ctx):
    listed_at(*DENVER, "Kim Chiro", profession="chiropractor")
    listed_at(*DENVER, "Kim Physio")
    assert found("kim", filters=Filters(profession="chiropractor")) == ["Kim Chiro"]
    dublin = listed_at(53.35, -6.26, "Kim Dubliner")
    dublin.locations[0].country = "IE"
    db.session.commit()
    assert found("kim", country="IE") == ["Kim Dubliner"]
    assert sorted(found("kim", country="US")) == ["Kim Chiro", "Kim Physio"]


@pytest.mark.parametrize(("typed", "message"), [
    ("", names.NO_WORDS), ("  !!! ", names.NO_WORDS), ("x" * 201, names.TOO_LONG),
    ("a b c d e f g h i", names.TOO_MANY_WORDS)])
def test_text_that_cannot_be_searched_says_why(app_ctx, typed, message):
    with pytest.raises(names.NameQueryError) as caught:
        names.parse(db.session.connection(), typed)
    assert caught.value.message == message


FIRST = ["Siobhán", "Siobhan", "Seán", "Sean", "Zoë", "Zoe", "Chloé", "Anne", "Ann", "Annabel",
         "Jon", "John", "Johan", "Jonathan", "Mary", "Maria", "Marie", "Søren", "Björn", "Aoife"]
LAST = ["Murphy", "Murphey", "O'Brien", "Smith", "Smyth", "Schmidt", "Nuñez", "Nunes", "Kelly",
        "Kelley", "Walsh", "Welsh", "Ní Bhriain", "McCarthy", "MacCarthy", "Brown", "Braun",
        "Lee", "Li", "Andersen", "Anderson"]
QUERIES = ["siobhan", "sean", "zoe", "chloe murphy", "ann", "anne", "jon", "johan smith",
           "mari", "soren", "bjorn", "aoife kelly", "smith", "smyth", "schmit", "nunez", "kely",
           "walsh", "mccarthy", "brown", "braun", "anderson", "andersen", "li", "lee", "o brien",
           "murphy", "murhpy", "macarthy", "bhriain", "maria kelley", "ni bhriain", "sm",
           "jonathon", "zzz", "andersson"]


def reference(people: dict[int, str], text: str) -> set[int]:
    """The rule in plain Python over every document, for comparison with the databases."""
    typed = names.check(text)
    vocabulary = {w for doc in people.values() for w in doc.split()}
    out = set()
    for pid, doc in people.items():
        doc_words = doc.split()
        if all(any(w == t or (t is typed[-1] and len(t) >= names.PREFIX_MIN_LENGTH
                              and w.startswith(t))
                   or (len(t) >= names.TYPO_MIN_LENGTH and t.isalpha() and w in vocabulary
                       and len(w) >= names.TYPO_MIN_LENGTH and w.isalpha()
                       and names.is_typo_of(t, w))
                   for w in doc_words) for t in typed):
            out.add(pid)
    return out


def test_the_database_finds_exactly_what_the_rule_says(app_ctx):
    """On this test run's database (SQLite or PostgreSQL): for 36 queries over 120 generated
    names, the same practitioners as the rule applied in Python, in the rank order."""
    rng = random.Random(5)
    for i in range(120):
        listed_at(*offset(*DENVER, km_east=i / 10), f"{rng.choice(FIRST)} {rng.choice(LAST)}")
    documents = dict(db.session.execute(select(Practitioner.id, Practitioner.search_words)).all())
    for text in QUERIES:
        query = names.parse(db.session.connection(), text)
        results = search_by_name(query, per_page=100)
        ids = [h.practitioner.id for h in results.hits]
        assert set(ids) == reference(documents, text), text
        scores = [sum(f" {t.word} " in f" {documents[i]} " for t in query.terms) for i in ids]
        assert scores == sorted(scores, reverse=True), text
        assert len(ids) == len(set(ids))


def test_the_page_finds_by_name_alone_or_with_a_place(app, client):
    with app.app_context():
        listed_at(39.7525, -104.9995, "Siobhán Ní Bhriain")  # ZIP 80202
        listed_at(40.015, -105.2705, "Siobhan Boulder")
    page = client.get("/?q=siobhan").get_data(as_text=True)
    assert "2 verified practitioners matching “siobhan”" in page
    listed = re.findall(r'<h3><a href="/p/[^"]+">([^<]+)</a>', page)
    assert sorted(listed) == ["Siobhan Boulder", "Siobhán Ní Bhriain"]
    nearby = client.get("/?q=siobahn&near=80202&radius=10").get_data(as_text=True)
    assert "1 verified practitioner matching “siobahn” within 10 miles of 80202" in nearby
    assert re.findall(r'<h3><a href="/p/[^"]+">([^<]+)</a>', nearby) == ["Siobhán Ní Bhriain"]
    nobody = client.get("/?q=zebedee").get_data(as_text=True)
    assert "No verified practitioners matching “zebedee”" in nobody


def test_the_page_and_the_api_refuse_what_cannot_be_searched(app, client):
    page = client.get("/?q=%21%21%21").get_data(as_text=True)
    assert names.NO_WORDS in html.unescape(page)
    assert re.search(r'<input [^>]*name="q" [^>]*value="!!!"', page)  # kept as typed
    response = client.get("/api/v1/practitioners?q=" + "x" * 201)
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "q"
    assert response.get_json()["error"]["message"] == names.TOO_LONG


def test_the_api_finds_by_name(app, client):
    with app.app_context():
        listed_at(39.7525, -104.9995, "Siobhán Ní Bhriain", licence_number="PT-40431")
    body = client.get("/api/v1/practitioners?q=pt40431").get_json()
    assert [i["name"] for i in body["items"]] == ["Siobhán Ní Bhriain"]
    assert body["items"][0]["distance_km"] is None and body["origin"] is None
    body = client.get("/api/v1/practitioners?q=siobhan&near=80202").get_json()
    assert [i["name"] for i in body["items"]] == ["Siobhán Ní Bhriain"]
    assert body["items"][0]["distance_km"] < 1
    spec = client.get("/api/v1/openapi.json").get_json()
    assert "q" in {p["name"] for p in spec["paths"]["/practitioners"]["get"]["parameters"]}


def test_a_country_chosen_with_a_name_alone_is_where_to_look(app, client):
    with app.app_context():
        listed_at(39.7525, -104.9995, "Kim Denver")
        dublin = listed_at(53.35, -6.26, "Kim Dubliner")
        dublin.locations[0].country = "IE"
        db.session.commit()
    page = client.get("/?q=kim&country=IE").get_data(as_text=True)
    assert "1 verified practitioner matching “kim” in Ireland" in page
    assert re.findall(r'<h3><a href="/p/[^"]+">([^<]+)</a>', page) == ["Kim Dubliner"]
