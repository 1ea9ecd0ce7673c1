"""The location search: the page and the service query, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import re

import pytest

from directory import geo
from directory.extensions import db
from directory.search import MAX_RESULTS, Filters, search
from tests import factories
from tests.factories import DENVER, listed_at, offset


def names(results) -> list[str]:
    return [h.practitioner.full_name for h in results.hits]


def test_results_are_sorted_by_distance_then_name(app_ctx):
    listed_at(*offset(*DENVER, km_north=3), "Carol")
    listed_at(*offset(*DENVER, km_east=1), "Bob")
    listed_at(*offset(*DENVER, km_east=-1), "Alice")  # as near as Bob
    listed_at(*offset(*DENVER, km_north=10), "Dan")
    results = search(*DENVER, 25)
    assert names(results) == ["Alice", "Bob", "Carol", "Dan"]
    assert results.total == 4 and not results.capped
    assert [round(h.distance_km, 1) for h in results.hits] == [1.0, 1.0, 3.0, 10.0]


def test_radius_boundary_includes_inside_and_excludes_outside(app_ctx):
    listed_at(*offset(*DENVER, km_north=9.9), "Inside")
    listed_at(*offset(*DENVER, km_north=10.1), "Outside")
    listed_at(*offset(*DENVER, km_east=9.95), "Inside East")
    listed_at(*offset(*DENVER, km_east=-10.05), "Outside West")
    assert names(search(*DENVER, 10)) == ["Inside", "Inside East"]
    assert names(search(*DENVER, 11)) == ["Inside", "Inside East", "Outside West", "Outside"]


def test_distances_match_the_haversine_formula(app_ctx):
    # Boulder, 39.0 km from Denver's centre as the crow flies.
    boulder = (40.01499, -105.27055)
    listed_at(*boulder, "Boulder")
    hit = search(*DENVER, 50).hits[0]
    assert hit.distance_km == pytest.approx(geo.haversine_km(*DENVER, *boulder), rel=1e-6)
    assert hit.distance_km == pytest.approx(39.0, rel=0.01)


def test_unlisted_practitioners_never_appear(app_ctx):
    listed_at(*offset(*DENVER, km_north=1), "Listed")
    listed_at(*offset(*DENVER, km_north=2), "No certification", listed=False)
    pending = listed_at(*offset(*DENVER, km_north=3), "Pending only", listed=False)
    factories.make_certification(pending, status="pending")
    expired = listed_at(*offset(*DENVER, km_north=4), "Expired", listed=False)
    from datetime import date, timedelta
    factories.make_certification(expired, status="verified",
                                 expires_on=date.today() - timedelta(days=1))
    inactive = listed_at(*offset(*DENVER, km_north=5), "Inactive")
    inactive.user.is_active = False
    db.session.commit()
    assert names(search(*DENVER, 25)) == ["Listed"]


def test_a_practitioner_with_several_locations_appears_once_at_the_nearest(app_ctx):
    p = listed_at(*offset(*DENVER, km_north=8), "Multi")
    factories.make_location(p, lat=offset(*DENVER, km_north=2)[0], lng=DENVER[1],
                            clinic_name="Near Clinic")
    factories.make_location(p, lat=offset(*DENVER, km_north=40)[0], lng=DENVER[1],
                            clinic_name="Far Clinic")
    listed_at(*offset(*DENVER, km_north=5), "Single")
    results = search(*DENVER, 50)
    assert names(results) == ["Multi", "Single"]
    assert results.hits[0].location.clinic_name == "Near Clinic"
    assert results.hits[0].distance_km == pytest.approx(2.0, rel=0.01)


def test_the_search_follows_every_change_to_what_locations_copy(app_ctx):
    """Each location carries copies of its practitioner's name, listing end and confirmation
    date for the search (directory.listing keeps them): a change to any is seen at once."""
    from datetime import timedelta

    from sqlalchemy import select

    from directory.models import Certification
    from directory.models.base import utcnow
    from directory.profiles import services

    alice = listed_at(*offset(*DENVER, km_north=2), "Alice")
    bob = listed_at(*offset(*DENVER, km_north=2), "Bob")  # as near as Alice: by name
    assert names(search(*DENVER, 25)) == ["Alice", "Bob"]
    alice.full_name = "Zoe"
    db.session.commit()
    assert names(search(*DENVER, 25)) == ["Bob", "Zoe"]
    # The yearly confirmation lapses, then is given again.
    bob.attested_at = utcnow() - timedelta(days=366)
    db.session.commit()
    assert names(search(*DENVER, 25)) == ["Zoe"]
    services.attest(bob, bob.user)
    db.session.commit()
    assert names(search(*DENVER, 25)) == ["Bob", "Zoe"]
    # The certification is revoked; the account is deactivated.
    db.session.scalar(select(Certification).where(
        Certification.practitioner_id == bob.id)).status = "revoked"
    alice.user.is_active = False
    db.session.commit()
    assert names(search(*DENVER, 25)) == []
    # A listed practitioner's new location is found from the moment it is saved.
    carl = factories.make_listed_practitioner(full_name="Carl")
    db.session.commit()
    assert names(search(*DENVER, 25)) == []
    factories.make_location(carl, lat=DENVER[0], lng=DENVER[1], geo_precision="postcode")
    db.session.commit()
    assert names(search(*DENVER, 25)) == ["Carl"]


@pytest.fixture
def filtered_world(app_ctx):
    listed_at(*offset(*DENVER, km_north=1), "PT trigger English",
              tags={"technique": ["trigger_point"], "language": ["en"],
                    "condition": ["neck_pain"]})
    listed_at(*offset(*DENVER, km_north=2), "Chiro electrical Spanish",
              profession="chiropractor", accessible=True,
              tags={"technique": ["electrical"], "language": ["es", "en"],
                    "condition": ["low_back_pain"]})
    listed_at(*offset(*DENVER, km_north=3), "PT electrical full", accepting=False,
              accessible=True, tags={"technique": ["electrical", "trigger_point"],
                                     "language": ["es"], "condition": ["neck_pain"]})


@pytest.mark.parametrize(("filters", "expected"), [
    (Filters(profession="chiropractor"), ["Chiro electrical Spanish"]),
    (Filters(profession="physiotherapist"), ["PT trigger English", "PT electrical full"]),
    (Filters(technique="electrical"), ["Chiro electrical Spanish", "PT electrical full"]),
    (Filters(condition="neck_pain"), ["PT trigger English", "PT electrical full"]),
    (Filters(language="es"), ["Chiro electrical Spanish", "PT electrical full"]),
    (Filters(accepting=True), ["PT trigger English", "Chiro electrical Spanish"]),
    (Filters(accessible=True), ["Chiro electrical Spanish", "PT electrical full"]),
    (Filters(profession="physiotherapist", technique="electrical"), ["PT electrical full"]),
    (Filters(language="es", accepting=True), ["Chiro electrical Spanish"]),
    (Filters(technique="trigger_point", condition="neck_pain", language="en"),
     ["PT trigger English"]),
    (Filters(profession="acupuncturist"), []),
])
def test_each_filter_alone_and_combined(filtered_world, filters, expected):
    assert names(search(*DENVER, 25, filters)) == expected


def test_pages_have_no_repeats_and_no_gaps(app_ctx):
    for i in range(23):
        # Pairs at the same distance, so the name decides the order inside each pair.
        listed_at(*offset(*DENVER, km_north=1 + i // 2), f"P{i:02d}")
    everyone = names(search(*DENVER, 50, per_page=100))
    pages = [names(search(*DENVER, 50, page=n, per_page=5)) for n in range(1, 6)]
    assert [len(p) for p in pages] == [5, 5, 5, 5, 3]
    assert sum(pages, []) == everyone
    assert len(set(everyone)) == 23


def test_counts_are_exact_up_to_the_cap_then_capped(app_ctx, monkeypatch):
    import directory.search.ring as search_module

    monkeypatch.setattr(search_module, "MAX_RESULTS", 10)
    for i in range(12):
        listed_at(*offset(*DENVER, km_east=0.5 + i), f"N{i:02d}")
    results = search_module.search(*DENVER, 50)
    assert results.capped and results.total == 10
    assert names(results)[:3] == ["N00", "N01", "N02"]  # still the nearest ones
    assert not search_module.search(*DENVER, 5).capped
    assert MAX_RESULTS == 200


def test_results_stay_right_when_the_area_fills_up_after_a_first_search(app_ctx):
    """The first ring is sized from a count remembered for a few minutes: when practitioners
    join in the meantime, the search must still find the nearest ones, in order."""
    assert search(*DENVER, 25).total == 0  # remembered: nobody near Denver
    for i in range(30):
        listed_at(*offset(*DENVER, km_east=0.1 * (i + 1)), f"Q{i:02d}")
    listed_at(*offset(*DENVER, km_north=20), "Far")
    results = search(*DENVER, 25, per_page=100)
    assert names(results) == [f"Q{i:02d}" for i in range(30)] + ["Far"]
    assert results.total == 31


def test_the_search_page_finds_practitioners_near_a_postcode(app, client):
    with app.app_context():
        listed_at(39.7525, -104.9995, "Near Downtown")  # ZIP 80202
        listed_at(40.015, -105.2705, "In Boulder")
    page = client.get("/?near=80202&radius=10").get_data(as_text=True)
    assert "1 verified practitioner within 10 miles of 80202" in page
    assert "Near Downtown" in page and "In Boulder" not in page
    wider = client.get("/?near=80202&radius=50").get_data(as_text=True)
    assert "2 verified practitioners within 50 miles" in wider
    assert re.search(r"In Boulder", wider)


def test_nothing_found_offers_the_next_larger_radius(app, client):
    with app.app_context():
        listed_at(40.015, -105.2705, "In Boulder")
    page = client.get("/?near=80202&radius=10").get_data(as_text=True)
    assert "No verified practitioners within 10 miles" in page
    assert 'href="/?near=80202&amp;radius=25"' in page


def test_ambiguous_places_ask_which_one(client):
    page = client.get("/?near=Portland").get_data(as_text=True)
    assert "Which place did you mean?" in page
    assert "Portland, Oregon, United States" in page and "Portland, Maine, United States" in page


def test_units_default_by_country_and_toggle(app, client):
    with app.app_context():
        listed_at(-37.8136, 144.9631, "Melbourne PT")
    km = client.get("/?near=3000&country=AU").get_data(as_text=True)
    assert "within 25 km of 3000" in km and "Show miles" in km
    miles = client.get("/?near=3000&country=AU&unit=mi&radius=16").get_data(as_text=True)
    assert "within 16 miles" in miles


@pytest.mark.parametrize(("query", "message"), [
    ("near=zzzzqqq", "We could not find"),
    # A US ZIP with "Automatic": the limit in the miles the page shows.
    ("near=80202&radius=-1", "Choose a distance from 1 to 311 miles."),
    ("near=80202&radius=10000", "Choose a distance from 1 to 311 miles."),
    ("near=80202&radius=-1&unit=km", "Choose a distance from 1 to 500 km."),
    ("near=3000&country=AU&radius=600", "Choose a distance from 1 to 500 km."),
    ("near=Dublin&radius=501", "Choose a distance from 1 to 500 km."),
    ("near=80202&radius=abc", "The distance must be a number."),
    ("lat=200&lng=10", "Latitude must be between -90 and 90."),
    ("lat=40&lng=abc", "Longitude must be a number."),
    ("near=80202&profession=astronaut", "Choose a profession from the list."),
    ("near=80202&page=0", "The page must be between 1 and 1000."),
    ("near=" + "x" * 10000, "Type at most 200 characters"),
    ("near=%27%3B+DROP+TABLE+users%3B--", "We could not find"),
    ("near=%3Cscript%3Ealert(1)%3C%2Fscript%3E", "We could not find"),
])
def test_bad_input_gives_a_message_on_the_page(client, query, message):
    response = client.get(f"/?{query}")
    assert response.status_code == 200
    body = response.get_data(as_text=True)
    assert message in body
    assert "<script>alert(1)" not in body


def test_the_language_filter_offers_the_languages_practitioners_speak(app, client):
    with app.app_context():
        listed_at(39.7525, -104.9995, "Speaks Welsh", tags={"language": ["cy", "en"]})
    page = client.get("/?near=80202").get_data(as_text=True)
    options = re.findall(r'<option[^>]*value="(\w*)"[^>]*>', page.split('id="language"')[1]
                         .split("</select>")[0])
    assert options == ["", "en", "cy"]  # Any, then by name: English, Welsh
    # A known language that nobody lists can still be asked for (from a bookmark, say).
    page = client.get("/?near=80202&language=fr").get_data(as_text=True)
    assert "No verified practitioners" in page and '<option selected value="fr">' in page


def test_each_search_page_shows_its_own_choices_in_the_filter_lists(app, client):
    """The lists are rendered once and reused: a later search must not show an earlier choice."""
    from tests.pages import form_values

    with app.app_context():
        listed_at(*DENVER, "Dana", profession="chiropractor")
    first = form_values(client.get("/?near=80202&profession=chiropractor&unit=km"))
    second = form_values(client.get("/?near=80202&profession=physiotherapist&unit=mi"))
    plain = form_values(client.get("/?near=80202"))
    assert (first["profession"], first["unit"]) == (["chiropractor"], ["km"])
    assert (second["profession"], second["unit"]) == (["physiotherapist"], ["mi"])
    assert (plain["profession"], plain["unit"]) == ([""], [""])


@pytest.mark.parametrize(("query", "shown"), [
    ("near=80202", "25"),  # the default
    ("near=80202&radius=50", "50"),
    ("near=80202&radius=30", "30"),  # a bookmarked distance the list does not offer
    ("near=80202&unit=km&radius=40.2", "40.2"),  # after "Show km" on a 25-mile search
    ("near=80202&radius=-1", "25"),  # refused: the list shows the default beside the message
    # Not checked yet when the place is refused first; not offered all the same.
    ("near=zzzzqqq&radius=inf", "25"),
    ("near=zzzzqqq&radius=1e308", "25"),
    ("near=zzzzqqq&radius=nan", "25"),
    ("near=zzzzqqq&radius=30", "30"),
])
def test_the_within_list_shows_the_searched_distance(app, client, query, shown):
    from tests.pages import form_values

    with app.app_context():
        listed_at(39.7525, -104.9995, "Near Downtown")
    response = client.get(f"/?{query}")
    # What the next search (a filter ticked, say) sends: the same distance, not the first option.
    assert form_values(response)["radius"] == [shown]
    offered = re.findall(r'<option value="([\d.]+)"', response.get_data(as_text=True)
                         .split('id="radius"')[1].split("</select>")[0])
    assert {"5", "10", "25", "50", "100", shown} == set(offered)
    assert [float(o) for o in offered] == sorted(float(o) for o in offered)


def test_switching_units_keeps_the_area_searched(app, client):
    from tests.pages import form_values

    with app.app_context():
        listed_at(*offset(39.7525, -104.9995, km_north=38), "At 38 km")
    miles = client.get("/?near=80202").get_data(as_text=True)
    assert "1 verified practitioner within 25 miles" in miles
    km_url = re.search(r'href="([^"]+)">Show km', miles).group(1).replace("&amp;", "&")
    km = client.get(km_url)
    assert "1 verified practitioner within 40.2 km" in km.get_data(as_text=True)
    # Ticking a filter and searching again sends the form as it stands: still 40.2 km.
    values = form_values(km)
    values["accepting"] = ["y"]
    again = client.get("/", query_string=values).get_data(as_text=True)
    assert "1 verified practitioner within 40.2 km" in again


def test_a_page_past_the_end_says_so_and_links_to_the_last_page(app, client):
    with app.app_context():
        for i in range(3):
            listed_at(*offset(*DENVER, km_east=i + 1), f"P{i}")
    page = client.get("/?near=80202&page=999").get_data(as_text=True)
    assert "3 verified practitioners within 25 miles" in page
    assert "Page 999 is past the end of these results. There is only 1 page of results." in page
    assert 'href="/?near=80202&amp;page=1">Go to page 1</a>' in page
    api = client.get("/api/v1/practitioners?near=80202&page=999&per_page=2")
    assert api.status_code == 400
    assert api.get_json()["error"]["message"] == "There are only 2 pages of results."


def test_nothing_found_with_filters_offers_the_search_without_them(app, client):
    with app.app_context():
        listed_at(39.7525, -104.9995, "Not accepting", accepting=False)
    page = client.get("/?near=80202&radius=500&unit=km&accepting=y&profession=chiropractor"
                      ).get_data(as_text=True)
    assert "No verified practitioners within 500 km" in page
    assert "Search a wider area" not in page  # 500 km is the widest
    assert 'href="/?near=80202&amp;radius=500&amp;unit=km">Search without the filters</a>' in page
    assert "1 verified practitioner" in client.get(
        "/?near=80202&radius=500&unit=km").get_data(as_text=True)


def test_your_location_is_named_and_measured_in_the_countrys_unit(app, client):
    with app.app_context():
        listed_at(39.7525, -104.9995, "Near Downtown")
    page = client.get("/?lat=39.75&lng=-104.99").get_data(as_text=True)
    assert re.search(r"1 verified practitioner within 25 miles of your location \(near 802\d\d",
                     page)
    # Typed coordinates keep their numbers as the label; the unit follows the place all the same.
    typed = client.get("/?near=39.75,-104.99").get_data(as_text=True)
    assert "within 25 miles of 39.75000, -104.99000 (near 802" in typed
    # Far from any known postcode: km, and no "near".
    ocean = client.get("/?lat=0&lng=-30").get_data(as_text=True)
    assert "No verified practitioners within 25 km of your location" in ocean


def test_the_error_summary_links_only_to_fields_on_the_page(client):
    page = client.get("/?lat=200&lng=10&page=0").get_data(as_text=True)
    summary = page.split('class="error-summary"')[1].split("</div>")[0]
    assert '<a href="#near">Latitude: Latitude must be between -90 and 90.</a>' in summary
    assert "<li>Page: The page must be between 1 and 1000.</li>" in summary
    assert 'href="#lat"' not in summary and 'href="#page"' not in summary


def test_a_skip_link_leads_to_the_results(app, client):
    with app.app_context():
        listed_at(39.7525, -104.9995, "Near Downtown")
    page = client.get("/?near=80202").get_data(as_text=True)
    assert '<a class="skip-link" href="#results-heading">Skip to results</a>' in page
    assert '<h2 id="results-heading" tabindex="-1">' in page
    assert "Skip to results" not in client.get("/").get_data(as_text=True)
    assert "Skip to results" not in client.get("/?near=zzzzqqq").get_data(as_text=True)
