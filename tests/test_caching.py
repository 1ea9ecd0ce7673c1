"""Cacheable public pages: what is the same for every anonymous visitor (search, profiles, the
API) may be kept by any cache for PUBLIC_MAX_AGE seconds and revalidated with its ETag; what is
made for one visitor (a logged-in user's page, a page with a form token) never is; every change
to public data bumps the directory's version, which Last-Modified follows."""

from __future__ import annotations

import re
from datetime import datetime

import pytest
from sqlalchemy import func, select

from directory import freshness
from directory.extensions import db
from directory.models import Enquiry
from tests import factories

DENVER = (39.7392, -104.9903)
SEARCH = "/?lat=39.7392&lng=-104.9903&radius=50"
API = "/api/v1/practitioners?lat=39.7392&lng=-104.9903&radius=50"


@pytest.fixture
def listed(app_ctx):
    return factories.listed_at(*DENVER, name="Casey Cache")


def version() -> int:
    return freshness.current(db.session)[0]


@pytest.mark.parametrize("url", [SEARCH, API, "/p/{slug}"])
def test_a_public_page_is_shared_and_revalidated_with_its_etag(client, listed, url):
    url = url.format(slug=listed.slug)
    first = client.get(url)
    assert first.status_code == 200 and "Casey Cache" in first.get_data(as_text=True)
    assert first.headers["Cache-Control"] == "public, max-age=60"
    assert "Set-Cookie" not in first.headers
    etag = first.headers["ETag"]
    assert first.headers["Last-Modified"]
    again = client.get(url, headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.data == b""
    since = client.get(url, headers={"If-Modified-Since": first.headers["Last-Modified"]})
    assert since.status_code == 304


def test_delisting_changes_every_public_answer_and_moves_last_modified(client, listed):
    before = {url: client.get(url) for url in (SEARCH, API)}
    old_version = version()
    listed.user.is_active = False  # the account is closed: no longer listed
    db.session.commit()
    assert version() == old_version + 1
    for url, response in before.items():
        after = client.get(url, headers={"If-None-Match": response.headers["ETag"]})
        assert after.status_code == 200, url  # not 304: the cached copy is stale
        assert "Casey Cache" not in after.get_data(as_text=True)
        assert (datetime.strptime(after.headers["Last-Modified"], "%a, %d %b %Y %H:%M:%S GMT")
                >= datetime.strptime(response.headers["Last-Modified"],
                                     "%a, %d %b %Y %H:%M:%S GMT"))
    profile = client.get(f"/p/{listed.slug}", headers={"If-None-Match": "*"})
    assert profile.status_code == 404


def test_an_edit_of_a_profile_bumps_the_version_and_a_message_does_not(client, listed):
    start = version()
    listed.bio = "Now also seeing patients on Saturdays."
    db.session.commit()
    assert version() == start + 1
    response = client.post(f"/p/{listed.slug}/contact", data={
        "name": "Pat Patient", "email": "pat@example.net",
        "message": "Could I book a first visit next week?"})
    assert response.status_code == 302
    assert db.session.scalar(select(func.count()).select_from(Enquiry)) == 1
    assert version() == start + 1  # an enquiry, its mail and its audit event show nowhere


def test_pages_made_for_a_user_are_never_stored(app, listed):
    owner = factories.login_client(app, listed.user.email)
    for url in (SEARCH, API, f"/p/{listed.slug}"):
        response = owner.get(url)
        assert response.status_code == 200
        assert response.headers["Cache-Control"] == "no-store", url
        assert "ETag" not in response.headers
    # A private page stays private for a conditional request too.
    dashboard = owner.get("/profile/", headers={"If-None-Match": "*"})
    assert dashboard.headers["Cache-Control"] == "no-store"


def test_a_public_page_with_a_form_token_is_for_its_visitor_only(csrf_app):
    client = csrf_app.test_client()
    page = client.get("/verify")  # carries the pasted-credential form and its token
    assert page.status_code == 200 and 'name="csrf_token"' in page.get_data(as_text=True)
    assert page.headers["Cache-Control"] == "private, no-cache"
    assert "ETag" not in page.headers


def test_the_shared_profile_has_no_token_and_the_form_fetches_one(csrf_app):
    with csrf_app.app_context():
        p = factories.listed_at(*DENVER, name="Casey Token")
        slug = p.slug
    client = csrf_app.test_client()
    profile = client.get(f"/p/{slug}")
    html = profile.get_data(as_text=True)
    assert profile.headers["Cache-Control"] == "public, max-age=60"
    assert "Set-Cookie" not in profile.headers
    assert re.search(r'name="csrf_token" value="" data-token-from="/csrf-token"', html)
    assert "js/enquiry.js" in html

    token = client.get("/csrf-token")
    assert token.headers["Cache-Control"] == "no-store"
    response = client.post(f"/p/{slug}/contact", data={
        "csrf_token": token.get_json()["token"], "name": "Pat Patient",
        "email": "pat@example.net", "message": "Could I book a first visit next week?"})
    assert response.status_code == 302
    with csrf_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Enquiry)) == 1


def test_a_message_sent_without_a_token_comes_back_as_typed(csrf_app):
    """The profile's script did not run (or the token expired): nothing is sent, nothing lost."""
    with csrf_app.app_context():
        p = factories.listed_at(*DENVER, name="Casey Resend")
        slug = p.slug
    client = csrf_app.test_client()
    response = client.post(f"/p/{slug}/contact", data={
        "name": "Pat Patient", "email": "pat@example.net",
        "message": "Could I book a first visit next week?"})
    html = response.get_data(as_text=True)
    assert response.status_code == 200
    assert "please press Send message once more" in html
    assert "Could I book a first visit next week?" in html and "pat@example.net" in html
    token = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html).group(1)
    with csrf_app.app_context():
        assert db.session.scalar(select(func.count()).select_from(Enquiry)) == 0
    again = client.post(f"/p/{slug}/contact", data={
        "csrf_token": token, "name": "Pat Patient", "email": "pat@example.net",
        "message": "Could I book a first visit next week?"})
    assert again.status_code == 302
