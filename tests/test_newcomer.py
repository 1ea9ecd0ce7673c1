"""Fixes from a newcomer's walk through the site (issue 16): what a browser, a crawler and a
clinic embedding the directory meet first."""

from __future__ import annotations

import re

from PIL import Image

from tests import factories

DENVER = (39.7392, -104.9903)


def test_the_api_may_be_read_from_any_site(app, client):
    with app.app_context():
        p = factories.listed_at(*DENVER, "Avery Api")
        practitioner_id = p.id
    for url in ("/api/v1/practitioners?near=80202", f"/api/v1/practitioners/{practitioner_id}",
                "/api/v1/openapi.json", "/api/v1/practitioners?near=80202&radius=x",
                "/api/v1/practitioners/999999"):
        response = client.get(url, headers={"Origin": "https://clinic.example"})
        assert response.headers.get("Access-Control-Allow-Origin") == "*", url
        assert "Access-Control-Allow-Credentials" not in response.headers
    # The site's own pages are not opened to other sites.
    assert "Access-Control-Allow-Origin" not in client.get("/?near=80202").headers


def test_accepting_false_is_no_filter_and_the_document_says_so(app, client):
    with app.app_context():
        factories.listed_at(*DENVER, "Ann Accepting", accepting=True)
        factories.listed_at(*DENVER, "Noel Notaccepting", accepting=False)

    def names(query: str) -> list[str]:
        found = client.get(f"/api/v1/practitioners?near=80202{query}").get_json()
        return sorted(item["name"] for item in found["items"])

    assert names("") == names("&accepting=false") == ["Ann Accepting", "Noel Notaccepting"]
    assert names("&accepting=true") == ["Ann Accepting"]
    document = client.get("/api/v1/openapi.json").get_json()
    accepting = next(p for p in document["paths"]["/practitioners"]["get"]["parameters"]
                     if p["name"] == "accepting")
    assert accepting["description"].endswith("false is the same as leaving it out.")


def test_every_page_has_an_icon(client, tmp_path):
    page = client.get("/about").get_data(as_text=True)
    links = re.findall(r'<link rel="icon" href="([^"]+)"', page)
    assert links == ["/static/favicon.svg", "/favicon.ico"]
    with client.get(links[0]) as svg:
        assert svg.status_code == 200 and svg.mimetype == "image/svg+xml"
        assert svg.get_data(as_text=True).startswith("<svg")
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200 and icon.mimetype == "image/vnd.microsoft.icon"
    (tmp_path / "favicon.ico").write_bytes(icon.data)
    with Image.open(tmp_path / "favicon.ico") as image:
        assert image.format == "ICO" and (32, 32) in image.info["sizes"]


def test_robots_keep_crawlers_to_the_public_pages(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200 and response.mimetype == "text/plain"
    lines = response.get_data(as_text=True).splitlines()
    assert lines[0] == "User-agent: *"
    disallowed = {line.split(": ", 1)[1] for line in lines[1:]}
    assert {"/admin/", "/account/", "/dashboard", "/issuer/"} <= disallowed
    assert not any(path in ("/", "/p/", "/verify", "/learn/") for path in disallowed)
