"""Sorting the results: by distance (the default), by name, or accepting new patients first;
on the page, in the API and in the service query, on SQLite and PostgreSQL alike."""

from __future__ import annotations

import re

import pytest

from directory.search import MAX_RESULTS, search
from tests.factories import DENVER, listed_at, offset


def names(results) -> list[str]:
    return [h.practitioner.full_name for h in results.hits]


@pytest.fixture
def denver(app_ctx):
    """Five practitioners near Denver; accented and lower-case names, two not accepting."""
    listed_at(*offset(*DENVER, km_north=1), "Zoe Zimmer", accepting=False)
    listed_at(*offset(*DENVER, km_north=2), "Élodie Émond")
    listed_at(*offset(*DENVER, km_north=3), "eric evans", accepting=False)
    listed_at(*offset(*DENVER, km_north=4), "Fred Ford")
    listed_at(*offset(*DENVER, km_north=5), "Aaron Abbot")


def test_the_service_sorts_by_distance_name_or_accepting(denver):
    assert names(search(*DENVER, 25)) == [
        "Zoe Zimmer", "Élodie Émond", "eric evans", "Fred Ford", "Aaron Abbot"]
    # By name as people read names: accents and case do not push a name to the end.
    assert names(search(*DENVER, 25, sort="name")) == [
        "Aaron Abbot", "Élodie Émond", "eric evans", "Fred Ford", "Zoe Zimmer"]
    # Accepting first, each group nearest first.
    assert names(search(*DENVER, 25, sort="accepting")) == [
        "Élodie Émond", "Fred Ford", "Aaron Abbot", "Zoe Zimmer", "eric evans"]
    with pytest.raises(ValueError):
        search(*DENVER, 25, sort="price")


def test_sorted_pages_have_no_repeats_and_no_gaps(app_ctx):
    for i in range(13):
        listed_at(*offset(*DENVER, km_north=1 + i), f"P{(7 * i) % 13:02d}", accepting=i % 3 == 0)
    for sort in ("name", "accepting"):
        everyone = names(search(*DENVER, 50, per_page=100, sort=sort))
        pages = [names(search(*DENVER, 50, page=n, per_page=5, sort=sort)) for n in (1, 2, 3)]
        assert [len(p) for p in pages] == [5, 5, 3]
        assert sum(pages, []) == everyone
    assert names(search(*DENVER, 50, per_page=100, sort="name")) == [f"P{i:02d}"
                                                                     for i in range(13)]


def test_when_the_count_is_capped_the_nearest_are_sorted(app_ctx, monkeypatch):
    import directory.search.ring as ring

    monkeypatch.setattr(ring, "MAX_RESULTS", 4)
    for i, name in enumerate(["Dee", "Cat", "Bea", "Abe", "Aaa"]):  # Aaa is the farthest
        listed_at(*offset(*DENVER, km_east=1 + i), name)
    results = ring.search(*DENVER, 50, sort="name")
    assert results.capped and names(results) == ["Abe", "Bea", "Cat", "Dee"]
    assert MAX_RESULTS == 200


def test_the_page_offers_the_orders_and_keeps_the_chosen_one(app, client):
    with app.app_context():
        listed_at(39.7525, -104.9995, "Zed Near", accepting=False)  # ZIP 80202
        listed_at(39.7600, -104.9995, "Abe Farther")
        for i in range(3):
            listed_at(39.77 + i / 100, -104.9995, f"Mid {i}")
    page = client.get("/?near=80202&radius=10&per_page=2").get_data(as_text=True)
    nav = re.search(r'<nav class="sort-by".*?</nav>', page, re.S).group(0)
    assert re.search(r'aria-current="true"><strong>Distance', nav)
    name_url = re.search(r'href="([^"]*sort=name[^"]*)"', nav).group(1).replace("&amp;", "&")
    assert not re.search(r"[?&]page=", name_url)  # a new order starts at the first page

    by_name = client.get(name_url).get_data(as_text=True)
    listed = re.findall(r'<h3><a href="/p/[^"]+">([^<]+)</a>', by_name)
    assert listed == ["Abe Farther", "Mid 0"]
    # The next page, and a new search from the form, keep the order.
    assert re.search(r'href="[^"]*sort=name[^"]*page=2|href="[^"]*page=2[^"]*sort=name',
                     by_name)
    assert '<input type="hidden" name="sort" value="name">' in by_name
    accepting = client.get("/?near=80202&radius=10&sort=accepting").get_data(as_text=True)
    listed = re.findall(r'<h3><a href="/p/[^"]+">([^<]+)</a>', accepting)
    assert listed[-1] == "Zed Near" and listed[0] == "Abe Farther"


def test_a_bad_sort_is_a_message_on_the_page_and_a_400_in_the_api(app, client):
    page = client.get("/?near=80202&sort=price")
    assert page.status_code == 200
    assert "Sort by distance, name or accepting." in page.get_data(as_text=True)
    response = client.get("/api/v1/practitioners?near=80202&sort=price")
    assert response.status_code == 400
    assert response.get_json()["error"]["field"] == "sort"
    assert response.get_json()["error"]["message"] == "Sort by distance, name or accepting."


def test_the_api_sorts_and_documents_the_orders(app, client):
    with app.app_context():
        listed_at(39.7525, -104.9995, "Zed Near", accepting=False)
        listed_at(39.7600, -104.9995, "Abe Farther")
    items = client.get("/api/v1/practitioners?near=80202&sort=name").get_json()["items"]
    assert [i["name"] for i in items] == ["Abe Farther", "Zed Near"]
    items = client.get("/api/v1/practitioners?near=80202").get_json()["items"]
    assert [i["name"] for i in items] == ["Zed Near", "Abe Farther"]
    spec = client.get("/api/v1/openapi.json").get_json()
    parameters = spec["paths"]["/practitioners"]["get"]["parameters"]
    sort = next(p for p in parameters if p["name"] == "sort")
    assert sort["schema"]["enum"] == ["distance", "name", "accepting"]


def test_a_profile_opened_from_the_results_links_back_to_the_same_search(app, client):
    with app.app_context():
        listed_at(39.7525, -104.9995, "Zed Near", accepting=False)
        listed_at(39.7600, -104.9995, "Abe Farther")
    search = "/?near=80202&radius=10&sort=name&accessible=&page=1"
    page = client.get(search).get_data(as_text=True)
    link = re.search(r'<h3><a href="(/p/[^"]+)">Abe Farther', page).group(1)
    profile = client.get(link.replace("&amp;", "&")).get_data(as_text=True)
    back = re.search(r'<p class="back-link"><a href="([^"]+)">', profile).group(1)
    assert back.replace("&amp;", "&") == "/?near=80202&radius=10&sort=name&page=1"
    # Back on the results: the same search, in the same order.
    again = client.get(back.replace("&amp;", "&")).get_data(as_text=True)
    assert re.findall(r'<h3><a href="/p/[^"]+">([^<]+)</a>', again) == ["Abe Farther",
                                                                        "Zed Near"]
    # Opened directly, the profile has no such link.
    slug = link.split("?")[0]
    assert "Back to results" not in client.get(slug).get_data(as_text=True)


@pytest.mark.parametrize("results", [
    "next=https://evil.example/&near=80202",  # only the search's own parameters are kept
    "near=80202&javascript:alert(1)=x",
    "//evil.example/?near=80202",
])
def test_the_back_link_only_ever_leads_to_a_search_here(app, client, results):
    from urllib.parse import quote

    with app.app_context():
        p = listed_at(39.7525, -104.9995, "Zed Near")
        slug = p.slug
    response = client.get(f"/p/{slug}?results={quote(results)}")
    assert response.status_code == 200
    back = re.search(r'<p class="back-link"><a href="([^"]+)">', response.get_data(as_text=True))
    assert back is None or back.group(1).startswith("/?")
    assert "evil" not in (back.group(1) if back else "")
    assert "javascript" not in (back.group(1) if back else "")


@pytest.mark.parametrize("results", ["", "x" * 5000, "%ff%fe", "radius=10", "near"])
def test_a_profile_with_a_broken_results_parameter_still_opens(app, client, results):
    with app.app_context():
        slug = listed_at(39.7525, -104.9995, "Zed Near").slug
    response = client.get(f"/p/{slug}", query_string={"results": results})
    assert response.status_code == 200
    assert "Back to results" not in response.get_data(as_text=True)
