"""Links nobody can forge: every absolute link comes from SITE_URL, whatever Host a request names,
and in production a request naming a host the site does not answer to is refused."""

from __future__ import annotations

import re

import pytest

from directory import create_app
from directory.extensions import db
from directory.links import trusted_hosts
from directory.models import Certification
from directory.templating import qr_svg
from tests import factories
from tests.conftest import base_config
from tests.factories import DENVER, listed_at

# With a path, so a link that drops it (or takes the request's root instead) shows.
SITE = "https://directory.example.org/dn"
EVIL = {"Host": "evil.example"}


@pytest.fixture
def site(app) -> str:
    """The app's public address: not the host the test client names (localhost)."""
    app.config["SITE_URL"] = SITE
    return SITE


@pytest.fixture
def listed(app):
    """A listed practitioner near Denver: its id, slug and certification's public code."""
    with app.app_context():
        p = listed_at(*DENVER, "Jane Listed")
        code = db.session.scalar(db.select(Certification.public_code)
                                 .where(Certification.practitioner_id == p.id))
        return {"id": p.id, "slug": p.slug, "code": code, "email": p.user.email}


def links_in(text: str) -> list[str]:
    return re.findall(r"https?://\S+", text)


def test_the_reset_email_links_to_site_url_whatever_the_host(app, client, site, listed, outbox):
    response = client.post("/account/forgot", data={"email": listed["email"]}, headers=EVIL)
    assert response.status_code == 302
    body = outbox.last(listed["email"]).get_payload(decode=True).decode()
    links = links_in(body)
    assert any(link.startswith(f"{SITE}/account/reset/") for link in links), body
    assert "evil.example" not in body


def test_the_apis_links_come_from_site_url(client, site, listed):
    search = client.get("/api/v1/practitioners?near=80202", headers=EVIL).get_json()
    (item,) = search["items"]
    assert item["url"] == f"{SITE}/p/{listed['slug']}"
    assert item["certifications"][0]["verify_url"] == f"{SITE}/verify/{listed['code']}"

    one = client.get(f"/api/v1/practitioners/{listed['id']}", headers=EVIL).get_json()
    assert one["url"] == f"{SITE}/p/{listed['slug']}"
    assert one["certifications"][0]["verify_url"] == f"{SITE}/verify/{listed['code']}"

    document = client.get("/api/v1/openapi.json", headers=EVIL).get_json()
    assert document["servers"] == [{"url": f"{SITE}/api/v1"}]


def test_the_qr_code_and_the_public_check_link_come_from_site_url(app, client, site, listed):
    verify = f"{SITE}/verify/{listed['code']}"
    with app.app_context():
        expected = str(qr_svg(verify))
    page = client.get(f"/p/{listed['slug']}", headers=EVIL).get_data(as_text=True)
    assert expected in page  # the same QR code as the one made for SITE_URL's link

    # The test client keeps cookies per host: log in on the host the page is asked from.
    client.post("/account/login", headers=EVIL,
                data={"email": listed["email"], "password": factories.PASSWORD})
    mine = client.get("/certifications/", headers=EVIL).get_data(as_text=True)
    assert f">{verify}</a>" in mine
    assert "evil.example" not in mine


def production(migrated_database, tmp_path, **extra):
    return create_app(base_config(migrated_database, tmp_path)
                      | {"PRODUCTION": True, "SITE_URL": "https://directory.example.org"}
                      | extra)


def test_production_refuses_a_host_it_does_not_answer_to(migrated_database, tmp_path, app):
    prod = production(migrated_database, tmp_path)
    client = prod.test_client()
    for host in ("evil.example", "directory.example.org.evil.example", "example.org"):
        page = client.get("/", headers={"Host": host})
        assert page.status_code == 400, host
        text = page.get_data(as_text=True)
        assert "This site does not answer to that address." in text  # the site's own page
        assert 'href="/static/css/site.css"' in text
        assert "Content-Security-Policy" in page.headers
        api = client.get("/api/v1/practitioners?near=80202", headers={"Host": host})
        assert api.status_code == 400
        assert api.get_json() == {"error": {
            "code": "bad_request", "field": None,
            "message": "This site does not answer to that address."}}
        posted = client.post("/account/login", headers={"Host": host},
                             data={"email": "a@example.com", "password": "x"})
        assert posted.status_code == 400

    # Its own host, on https or not, and a health check on the machine itself.
    assert client.get("/", base_url="https://directory.example.org").status_code == 200
    assert client.get("/about", headers={"Host": "directory.example.org:443"}).status_code == 200
    for host in ("127.0.0.1:8000", "localhost"):
        assert client.get("/healthz", headers={"Host": host}).status_code == 200, host
    with prod.app_context():
        db.engine.dispose()


def test_trusted_hosts_can_be_set(migrated_database, tmp_path, app):
    # DIRECTORY_TRUSTED_HOSTS arrives as this string (not JSON): names separated by commas.
    prod = production(migrated_database, tmp_path,
                      TRUSTED_HOSTS=".internal.example")
    client = prod.test_client()
    assert client.get("/healthz", headers={"Host": "web-3.internal.example"}).status_code == 200
    assert client.get("/healthz", headers={"Host": "127.0.0.1"}).status_code == 400
    # SITE_URL's host is always answered, even when the list forgets it.
    assert client.get("/", headers={"Host": "directory.example.org"}).status_code == 200
    with prod.app_context():
        db.engine.dispose()


@pytest.mark.parametrize(("config", "expected"), [
    ({}, None),  # outside production: any host
    ({"SITE_URL": "https://directory.example.org"}, None),
    ({"PRODUCTION": True, "SITE_URL": "https://Directory.Example.org:8443/dn"},
     ["directory.example.org", "127.0.0.1", "localhost"]),
    ({"PRODUCTION": True, "SITE_URL": "http://127.0.0.1:5000"}, ["127.0.0.1", "localhost"]),
    ({"PRODUCTION": True, "TRUSTED_HOSTS": "*"}, None),
    ({"TRUSTED_HOSTS": ["a.example", ".b.example"]}, ["a.example", ".b.example"]),
    ({"TRUSTED_HOSTS": " a.example ,, B.example", "SITE_URL": "https://a.example"},
     ["a.example", "b.example"]),
    ({"TRUSTED_HOSTS": "10.0.3.7", "SITE_URL": "https://directory.example.org"},
     ["directory.example.org", "10.0.3.7"]),
])
def test_the_trusted_hosts_default(config, expected):
    assert trusted_hosts(config) == expected


def test_outside_production_any_host_is_answered(client):
    assert client.get("/", headers=EVIL).status_code == 200


def test_absolute_links_outside_a_request_come_from_site_url(app, site):
    from directory.links import absolute_url

    with app.app_context():
        assert absolute_url("public.verify_code", code="abc") == f"{SITE}/verify/abc"
        assert absolute_url("public.home", _anchor="top") == f"{SITE}/#top"
