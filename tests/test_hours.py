"""Opening hours per practice location: entered on the location form, shown on the public
profile with "Open now" on the location's own clock, a directions link, and in the API."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, time
from types import SimpleNamespace
from urllib.parse import parse_qs, urlsplit

import pytest
from sqlalchemy import select

from directory import hours, maps
from directory.extensions import db
from directory.models import OpeningHours, PracticeLocation
from directory.profiles import services
from tests import factories
from tests.factories import audit_events
from tests.pages import field_error, flashes, form_values, page


def at(text: str) -> datetime:
    """An instant in UTC, from "2026-03-01 23:30"."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def place(zone: str | None, *ranges: tuple[int, str, str], by_appointment: bool = False):
    """A stand-in location with a time zone and (weekday, opens, closes) ranges."""
    return SimpleNamespace(time_zone=zone, by_appointment=by_appointment, hours=[
        SimpleNamespace(weekday=day, opens=time.fromisoformat(opens),
                        closes=time.fromisoformat(closes)) for day, opens, closes in ranges])


WEEKDAYS_9_TO_5 = tuple((day, "09:00", "17:00") for day in range(5))

# --------------------------------------------------------------------------- time zones


@pytest.mark.parametrize(("lat", "lng", "zone"), [
    (39.7392, -104.9903, "America/Denver"),
    (-33.8688, 151.2093, "Australia/Sydney"),
    (-36.8485, 174.7633, "Pacific/Auckland"),
    (51.5074, -0.1278, "Europe/London"),
    (53.3498, -6.2603, "Europe/Dublin"),
    (43.6532, -79.3832, "America/Toronto"),
], ids=["Denver", "Sydney", "Auckland", "London", "Dublin", "Toronto"])
def test_the_time_zone_of_a_city(lat, lng, zone):
    assert hours.time_zone_at(lat, lng) == zone


def test_at_sea_the_time_zone_is_the_nautical_one_and_without_a_point_there_is_none():
    assert hours.time_zone_at(0.0, -30.0) == "Etc/GMT+2"  # two hours behind UTC
    assert hours.zone(hours.time_zone_at(0.0, -30.0)).utcoffset(at("2026-01-01 00:00")) \
        .total_seconds() == -2 * 3600
    assert hours.time_zone_at(None, None) is None
    assert hours.time_zone_at(91.0, 0.0) is None


# --------------------------------------------------------------------------- open now

@pytest.mark.parametrize(("zone", "instant", "expected"), [
    # Sydney, Monday 09:00–17:00: Sunday 23:30 UTC is Monday 10:30 there (AEDT, UTC+11).
    ("Australia/Sydney", "2026-03-01 23:30", True),
    # Sunday 22:30 UTC: 09:30 in summer (AEDT), but 08:30 in winter (AEST, UTC+10).
    ("Australia/Sydney", "2026-03-01 22:30", True),
    ("Australia/Sydney", "2026-06-07 22:30", False),
    # London, Monday 08:30 UTC: 09:30 in summer (BST), 08:30 in winter (GMT).
    ("Europe/London", "2026-07-06 08:30", True),
    ("Europe/London", "2026-01-05 08:30", False),
    # Denver, Friday 23:30 UTC: 17:30 in summer (MDT, closed), 16:30 in winter (MST, open).
    ("America/Denver", "2026-07-10 23:30", False),
    ("America/Denver", "2026-01-09 23:30", True),
    # Auckland, Saturday 22:00 UTC in July: Sunday 10:00 there (closed on Sundays).
    ("Pacific/Auckland", "2026-07-04 22:00", False),
])
def test_open_now_is_computed_on_the_locations_own_clock(zone, instant, expected):
    assert hours.open_now(place(zone, *WEEKDAYS_9_TO_5), at(instant)) is expected


def test_a_day_with_a_lunch_break_is_closed_between_its_two_ranges():
    clinic = place("Europe/Dublin", (1, "08:00", "12:30"), (1, "13:30", "18:00"))
    # Tuesday 7 July 2026, Irish summer time (UTC+1).
    assert hours.status(clinic, at("2026-07-07 10:00")).closes == time(12, 30)
    lunch = hours.status(clinic, at("2026-07-07 12:00"))  # 13:00 there
    assert lunch.open is False and lunch.next_opening == "Opens today 13:30"
    assert hours.open_now(clinic, at("2026-07-07 12:30")) is True  # 13:30: open again
    assert hours.open_now(clinic, at("2026-07-07 17:00")) is False  # 18:00: closed


@pytest.mark.parametrize(("instant", "expected"), [
    ("2026-07-10 23:30", "Opens Monday 09:00"),  # Friday 17:30 in Denver
    ("2026-07-12 20:00", "Opens tomorrow 09:00"),  # Sunday 14:00
    ("2026-07-06 14:00", "Opens today 09:00"),  # Monday 08:00
])
def test_when_closed_the_next_opening_is_named(instant, expected):
    status = hours.status(place("America/Denver", *WEEKDAYS_9_TO_5), at(instant))
    assert status.open is False and status.next_opening == expected


def test_without_a_time_zone_or_hours_open_now_is_unknown_not_guessed():
    assert hours.open_now(place(None, *WEEKDAYS_9_TO_5), at("2026-07-06 15:00")) is None
    assert hours.open_now(place("Not/AZone", *WEEKDAYS_9_TO_5), at("2026-07-06 15:00")) is None
    assert hours.open_now(place("America/Denver"), at("2026-07-06 15:00")) is None
    # By appointment only, without hours: unknown; with hours, they say when it is open.
    assert hours.open_now(place("America/Denver", by_appointment=True),
                          at("2026-07-06 15:00")) is None
    assert hours.open_now(place("America/Denver", *WEEKDAYS_9_TO_5, by_appointment=True),
                          at("2026-07-06 15:00")) is True


# --------------------------------------------------------------------------- what the form takes

@pytest.mark.parametrize(("ranges", "problems"), [
    ([("17:00", "09:00")], {(0, "closes"): hours.CLOSES_BEFORE_OPENS_MESSAGE}),
    ([("09:00", "09:00")], {(0, "closes"): hours.CLOSES_BEFORE_OPENS_MESSAGE}),
    ([("09:00", "")], {(0, "closes"): hours.CLOSES_MISSING_MESSAGE}),
    ([("", "17:00")], {(0, "opens"): hours.OPENS_MISSING_MESSAGE}),
    ([("9am", "17:00")], {(0, "opens"): hours.TIME_MESSAGE}),
    ([("09:00", "24:00")], {(0, "closes"): hours.TIME_MESSAGE}),
    ([("08:00", "12:30"), ("12:00", "18:00")],
     {(1, "opens"): "These hours overlap the day's other hours (08:00–12:30): they must not."}),
], ids=["closes-before", "closes-equal", "no-closes", "no-opens", "not-a-time", "24:00",
        "overlap"])
def test_a_day_that_cannot_be_saved_says_why(ranges, problems):
    assert hours.check_day(ranges)[1] == problems


def test_a_day_is_read_in_order_of_opening_and_a_browser_time_with_seconds_is_taken():
    assert hours.check_day([("13:30", "18:00:00"), ("8:00", "12:30")]) == (
        [(time(8), time(12, 30)), (time(13, 30), time(18))], {})
    assert hours.check_day([("", ""), (" ", "")]) == ([], {})


# --------------------------------------------------------------------------- the location form

def hours_form(**changes) -> dict:
    """A valid location form (Denver 80202) with hours; a change of None leaves a field out."""
    data = {"clinic_name": "Mile High Physio", "street": "1600 Glenarm Pl", "city": "Denver",
            "region": "CO", "postcode": "80202", "country": "US",
            "tuesday_opens_1": "08:00", "tuesday_closes_1": "12:30",
            "tuesday_opens_2": "13:30", "tuesday_closes_2": "18:00",
            "saturday_opens_1": "09:00", "saturday_closes_1": "13:00"}
    data.update(changes)
    return {key: value for key, value in data.items() if value is not None}


@pytest.fixture
def owner(app, auth) -> SimpleNamespace:
    """A logged-in, listed practitioner with one location (in Denver, placed)."""
    with app.app_context():
        p = factories.make_listed_practitioner("hours@example.com", full_name="Hana Hours")
        loc = factories.make_location(p, street="1600 Glenarm Pl", lat=39.7468, lng=-104.9892,
                                      geo_precision="postcode", time_zone="America/Denver")
        ids = SimpleNamespace(id=p.id, slug=p.slug, location_id=loc.id)
        db.session.remove()
    auth.login("hours@example.com")
    return ids


def stored_hours(app, location_id: int) -> list[tuple[int, str, str]]:
    with app.app_context():
        rows = db.session.scalars(select(OpeningHours).where(
            OpeningHours.location_id == location_id)).all()
        found = sorted((o.weekday, hours.format_time(o.opens), hours.format_time(o.closes))
                       for o in rows)
        db.session.remove()
    return found


def week_on(response, clinic: str) -> dict[str, str]:
    """The weekly table of one location on the public profile: {day: what it says}."""
    html = page(response)
    table = re.search(rf"Opening hours of {re.escape(clinic)}</caption>(.*?)</table>", html, re.S)
    assert table, f"no hours shown for {clinic}"
    return {day: re.sub(r"\s+", " ", text).strip() for day, text in re.findall(
        r'<th scope="row">(\w+)</th>\s*<td>(.*?)</td>', table.group(1), re.S)}


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"monday_opens_1": "17:00", "monday_closes_1": "09:00"}, "monday_closes_1",
     "Closing time must be after opening time."),
    ({"monday_opens_1": "9am", "monday_closes_1": "17:00"}, "monday_opens_1",
     hours.TIME_MESSAGE),
    ({"monday_opens_1": "09:00"}, "monday_closes_1", hours.CLOSES_MISSING_MESSAGE),
    ({"tuesday_opens_2": "12:00"}, "tuesday_opens_2",
     "These hours overlap the day's other hours (08:00–12:30): they must not."),
], ids=["closes-before-opens", "not-a-time", "closes-missing", "overlap"])
def test_bad_hours_are_refused_beside_the_field_and_what_was_typed_is_kept(
        app, client, owner, changes, field, message):
    posted = hours_form(**changes)
    response = client.post(f"/profile/locations/{owner.location_id}/edit", data=posted)
    assert response.status_code == 200
    assert field_error(response, field) == message
    # The error summary names the day.
    day = field.split("_")[0].capitalize()
    assert f"{day} " in page(response).split('class="error-summary"')[1].split("</ul>")[0]
    shown = form_values(response)
    assert {name: shown.get(name) for name in posted} == {
        name: [value] for name, value in posted.items()}
    assert stored_hours(app, owner.location_id) == []
    assert audit_events(app, "location.updated") == []
    # Nor does a new location with the same hours get saved.
    response = client.post("/profile/locations/new", data=posted)
    assert response.status_code == 200 and field_error(response, field) == message


def test_saved_hours_show_on_the_public_profile_under_the_right_days(app, client, owner):
    response = client.post(f"/profile/locations/{owner.location_id}/edit",
                           data=hours_form(by_appointment="y"))
    assert response.status_code == 302
    assert stored_hours(app, owner.location_id) == [
        (1, "08:00", "12:30"), (1, "13:30", "18:00"), (5, "09:00", "13:00")]
    (event,) = audit_events(app, "location.updated")
    assert {"hours", "by_appointment"} <= set(event.detail["fields"])

    profile = client.get(f"/p/{owner.slug}")
    assert week_on(profile, "Mile High Physio") == {
        "Monday": "Closed", "Tuesday": "08:00–12:30, 13:30–18:00", "Wednesday": "Closed",
        "Thursday": "Closed", "Friday": "Closed", "Saturday": "09:00–13:00", "Sunday": "Closed"}
    assert "By appointment only" in page(profile)
    # The edit form opens with the saved hours filled in.
    shown = form_values(client.get(f"/profile/locations/{owner.location_id}/edit"))
    assert [shown[f"tuesday_{part}"] for part in ("opens_1", "closes_1", "opens_2",
                                                   "closes_2")] == [
        ["08:00"], ["12:30"], ["13:30"], ["18:00"]]
    assert shown["by_appointment"] == ["y"] and shown["monday_opens_1"] == [""]

    # Clearing a day removes its hours, and saving unchanged hours records no hours change.
    client.post(f"/profile/locations/{owner.location_id}/edit",
                data=hours_form(saturday_opens_1="", saturday_closes_1="", by_appointment="y"))
    assert stored_hours(app, owner.location_id) == [(1, "08:00", "12:30"),
                                                    (1, "13:30", "18:00")]
    client.post(f"/profile/locations/{owner.location_id}/edit",
                data=hours_form(saturday_opens_1="", saturday_closes_1="", by_appointment="y",
                                clinic_name="Renamed"))
    last = audit_events(app, "location.updated")[-1]
    assert last.detail["fields"] == ["clinic_name"]


def test_a_new_location_is_saved_with_its_hours_and_its_time_zone(app, client, owner):
    response = client.post("/profile/locations/new", data=hours_form(
        clinic_name="Harbour Physio", street="2 Quay St", city="Sydney", region="NSW",
        postcode="2000", country="AU"))
    assert response.status_code == 302
    assert "Location “Harbour Physio” added." in flashes(client.get("/dashboard"))
    with app.app_context():
        loc = db.session.scalar(select(PracticeLocation).where(
            PracticeLocation.clinic_name == "Harbour Physio"))
        assert loc.time_zone == "Australia/Sydney"
        assert [(o.weekday, o.opens, o.closes) for o in loc.hours] == [
            (1, time(8), time(12, 30)), (1, time(13, 30), time(18)), (5, time(9), time(13))]
        db.session.remove()


def test_moving_a_location_sets_the_time_zone_of_its_new_place(app, owner):
    with app.app_context():
        loc = db.session.get(PracticeLocation, owner.location_id)
        values = {k: getattr(loc, k) for k in services.LOCATION_FIELDS} | {
            "city": "Auckland", "region": "", "postcode": "1010", "country": "NZ"}
        services.update_location(loc, loc.practitioner.user, values)
        assert loc.time_zone == "Pacific/Auckland"
        values |= {"city": "Nowhere At All", "postcode": "", "street": ""}
        services.update_location(loc, loc.practitioner.user, values)
        assert loc.lat is None and loc.time_zone is None
        db.session.remove()


# --------------------------------------------------------------------------- the public profile

@pytest.mark.parametrize(("instant", "badge", "then"), [
    ("2026-07-06 16:00", "Open now", "Closes 17:00"),  # Monday 10:00 in Denver (MDT)
    ("2026-07-06 02:00", "Closed now", "Opens tomorrow 09:00"),  # Sunday 20:00 in Denver
])
def test_the_profile_says_whether_each_location_is_open_now_on_its_clock(
        app, client, owner, monkeypatch, instant, badge, then):
    with app.app_context():
        loc = db.session.get(PracticeLocation, owner.location_id)
        services.set_hours(loc, [(day, time(9), time(17)) for day in range(5)])
        db.session.commit()
        db.session.remove()
    monkeypatch.setattr(hours, "utcnow", lambda: at(instant))
    text = re.sub(r"\s+", " ", page(client.get(f"/p/{owner.slug}")))
    kind = {"Open now": "badge-verified", "Closed now": "badge-warn"}[badge]
    assert f'<span class="badge {kind}">{badge}</span>' in text
    assert ({"Open now", "Closed now"} - {badge}).pop() not in text
    assert then in text
    assert "Hours are local time there" in text


def test_a_location_without_hours_or_time_zone_shows_no_badge(app, client, owner):
    with app.app_context():
        loc = db.session.get(PracticeLocation, owner.location_id)
        loc.time_zone = None
        services.set_hours(loc, [(0, time(9), time(17))])
        db.session.commit()
        db.session.remove()
    text = page(client.get(f"/p/{owner.slug}"))
    assert "Open now" not in text and "Closed now" not in text
    assert week_on(client.get(f"/p/{owner.slug}"), "Test Clinic")["Monday"] == "09:00–17:00"


def test_the_directions_link_is_built_from_the_address_and_url_encoded(app, client, owner):
    with app.app_context():
        loc = db.session.get(PracticeLocation, owner.location_id)
        loc.street = "Suite #5 & 6, 1600 Glenarm Pl"
        db.session.commit()
        db.session.remove()
    html = client.get(f"/p/{owner.slug}").get_data(as_text=True)
    link = re.search(r'<a href="([^"]+)" rel="noopener" target="_blank">Directions', html)
    assert link, "no directions link"
    href = link.group(1).replace("&amp;", "&")
    parts = urlsplit(href)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "www.google.com", "/maps/dir/")
    assert parse_qs(parts.query) == {
        "api": ["1"],
        "destination": ["Suite #5 & 6, 1600 Glenarm Pl, Denver, Colorado, 80202, United States"]}
    assert "#" not in href and " " not in href
    assert "Directions to Test Clinic (opens in a new tab)" in re.sub(r"<[^>]+>", "", html)


def test_the_map_link_names_the_country_and_skips_empty_parts():
    loc = SimpleNamespace(street="", city="Dublin", region="", postcode="D02 X285",
                          country="IE")
    assert maps.directions_url(loc) == ("https://www.google.com/maps/dir/?api=1&destination="
                                        "Dublin%2C+D02+X285%2C+Ireland")


def test_the_json_ld_gives_each_place_its_opening_hours(app, client, owner):
    with app.app_context():
        loc = db.session.get(PracticeLocation, owner.location_id)
        services.set_hours(loc, [(0, time(9), time(17)), (1, time(9), time(17)),
                                 (5, time(9), time(12, 30))])
        db.session.commit()
        db.session.remove()
    html = client.get(f"/p/{owner.slug}").get_data(as_text=True)
    data = json.loads(re.search(r'<script type="application/ld\+json">(.*?)</script>', html,
                                re.S).group(1))
    (place_node,) = data["location"]
    assert place_node["openingHoursSpecification"] == [
        {"@type": "OpeningHoursSpecification", "opens": "09:00", "closes": "17:00",
         "dayOfWeek": ["https://schema.org/Monday", "https://schema.org/Tuesday"]},
        {"@type": "OpeningHoursSpecification", "opens": "09:00", "closes": "12:30",
         "dayOfWeek": ["https://schema.org/Saturday"]}]


# --------------------------------------------------------------------------- the API

def test_the_api_gives_hours_open_now_and_directions(app, client, owner, monkeypatch):
    from tests.test_api import check

    with app.app_context():
        loc = db.session.get(PracticeLocation, owner.location_id)
        services.set_hours(loc, [(0, time(8), time(12, 30)), (0, time(13, 30), time(18))])
        db.session.commit()
        db.session.remove()
    monkeypatch.setattr(hours, "utcnow", lambda: at("2026-07-06 15:00"))  # Mon 09:00 MDT
    body = client.get(f"/api/v1/practitioners/{owner.id}").get_json()
    (location,) = body["locations"]
    assert location["time_zone"] == "America/Denver"
    assert location["by_appointment"] is False
    assert location["hours"] == [{"day": "monday", "opens": "08:00", "closes": "12:30"},
                                 {"day": "monday", "opens": "13:30", "closes": "18:00"}]
    assert location["open_now"] is True
    assert location["directions_url"] == (
        "https://www.google.com/maps/dir/?api=1&destination="
        "1600+Glenarm+Pl%2C+Denver%2C+Colorado%2C+80202%2C+United+States")
    check(client.get("/api/v1/openapi.json").get_json(), "Practitioner", body)

    monkeypatch.setattr(hours, "utcnow", lambda: at("2026-07-06 18:45"))  # 12:45: lunch
    body = client.get(f"/api/v1/practitioners/{owner.id}").get_json()
    assert body["locations"][0]["open_now"] is False


def test_imported_locations_get_the_time_zone_of_their_place(app_ctx):
    from directory.bulk import importer
    from directory.credentials.reference import load_reference_data
    from tests.test_bulk import csv_bytes, row

    load_reference_data()
    admin = factories.make_admin()
    data = csv_bytes(row(1), row(2, city="Sydney", region="NSW", postcode="2000", country="AU",
                                 licence_country="AU", licence_region="NSW"),
                     row(3, city="Nowhere Special", postcode="", region=""))
    assert importer.import_practitioners(data, admin).ok
    zones = db.session.scalars(select(PracticeLocation.time_zone)
                               .order_by(PracticeLocation.id)).all()
    assert zones == ["America/Denver", "Australia/Sydney", None]
