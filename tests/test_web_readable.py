"""A directory the web can read: each public profile carries schema.org JSON-LD and link-preview
tags with its canonical address (from SITE_URL), the sitemap lists the searchable profiles (an
index of files past the per-file limit), and robots.txt names it. Nothing of the kind for a
profile that is not public, and noindex on a profile search engines should not list."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from datetime import timedelta
from html.parser import HTMLParser
from urllib.parse import urlsplit

import pytest

from directory.extensions import db
from directory.models import Certification
from directory.models.base import utcnow
from directory.public.seo import SITE_PAGES
from tests import factories
from tests.factories import DENVER, listed_at

# With a path, so an address that drops it (or takes the request's host instead) shows.
SITE = "https://directory.example.org/dn"
EVIL = {"Host": "evil.example"}
NS = "{http://www.sitemaps.org/schemas/sitemap/0.9}"
SCRIPT_BIO = 'Runners welcome.</script><script>alert("bio")</script> <!-- & "quotes"'


@pytest.fixture
def site(app) -> str:
    """The app's public address: not the host the test client names."""
    app.config["SITE_URL"] = SITE
    return SITE


class _Head(HTMLParser):
    """The <meta>, <link rel> and JSON-LD <script> elements of a page."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.meta: dict[str, list[str]] = {}
        self.links: dict[str, list[str]] = {}
        self.jsonld: list[str] = []
        self._in_jsonld = False

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta" and (key := attrs.get("property") or attrs.get("name")):
            self.meta.setdefault(key, []).append(attrs.get("content", ""))
        elif tag == "link" and attrs.get("rel"):
            self.links.setdefault(attrs["rel"], []).append(attrs.get("href", ""))
        elif tag == "script" and attrs.get("type") == "application/ld+json":
            self._in_jsonld = True
            self.jsonld.append("")

    def handle_endtag(self, tag):
        if tag == "script":
            self._in_jsonld = False

    def handle_data(self, data):
        if self._in_jsonld:
            self.jsonld[-1] += data


def head(response) -> _Head:
    """What a crawler or a link preview reads of the page (as a browser splits it)."""
    parsed = _Head()
    parsed.feed(response.get_data(as_text=True))
    return parsed


def structured(response) -> dict:
    """The page's one JSON-LD block, parsed."""
    (block,) = head(response).jsonld
    return json.loads(block)


def make_profile(name="Ana Gómez", *, profession="physiotherapist", **fields):
    """A searchable practitioner with a phone, a bio, a verified certification beside pending
    and revoked ones, and two practice locations (the second only known to its town)."""
    values = {"phone": "+1 303 555 0100", "post_nominals": "DPT", "bio": "Runners."} | fields
    p = listed_at(*DENVER, name, profession=profession, **values)
    p.locations[0].street = "1600 Glenarm Pl"
    factories.make_location(p, clinic_name="Boulder Studio", city="Boulder", postcode="80302",
                            lat=40.0150, lng=-105.2705, geo_precision="place")
    factories.make_certification(p, status="pending", submitted_name="Pending course",
                                 program=None)
    factories.make_certification(p, status="revoked", program=factories.make_program(
        "revoked-program", name="Revoked course", organisation="Revoked Org"))
    db.session.commit()
    return p


@pytest.fixture
def profile(app, site):
    """A searchable physiotherapist: slug and the verified certification's public code."""
    with app.app_context():
        p = make_profile(bio=SCRIPT_BIO)
        code = db.session.scalar(db.select(Certification.public_code).where(
            Certification.practitioner_id == p.id, Certification.status == "verified"))
        return {"slug": p.slug, "code": code, "url": f"{SITE}/p/{p.slug}"}


# ------------------------------------------------------------------------------- profiles

def test_a_profile_describes_the_practice_in_json_ld_as_its_page_does(client, profile):
    response = client.get(f"/p/{profile['slug']}", headers=EVIL)
    assert response.status_code == 200
    data = structured(response)
    assert data["@context"] == "https://schema.org"
    assert data["@type"] == "Physiotherapy"
    assert data["url"] == profile["url"]  # SITE_URL, never the Host the request named
    assert data["name"] == "Ana Gómez, DPT"
    assert data["telephone"] == "+1 303 555 0100"
    assert data["address"] == {"@type": "PostalAddress", "streetAddress": "1600 Glenarm Pl",
                               "addressLocality": "Denver", "addressRegion": "Colorado",
                               "postalCode": "80202", "addressCountry": "US"}
    assert data["geo"] == {"@type": "GeoCoordinates", "latitude": DENVER[0],
                           "longitude": DENVER[1]}
    denver, boulder = data["location"]
    assert denver["name"] == "Ana Gómez Clinic" and denver["geo"] == data["geo"]
    # Boulder's point is only the town's centre: its address, but no point claimed for it.
    assert boulder["address"]["addressLocality"] == "Boulder" and "geo" not in boulder
    assert "evil.example" not in response.get_data(as_text=True)


def test_only_the_verified_training_is_a_credential(client, profile):
    data = structured(client.get(f"/p/{profile['slug']}"))
    (credential,) = data["hasCredential"]  # not the pending or the revoked one
    assert credential["@type"] == "EducationalOccupationalCredential"
    assert credential["name"] == "Test Dry Needling Level 1"
    assert credential["credentialCategory"] == "certificate"
    assert credential["recognizedBy"] == {"@type": "Organization", "name": "Test Organisation"}
    assert credential["url"] == f"{SITE}/verify/{profile['code']}"
    assert credential["dateCreated"] == "2024-01-15"
    check = client.get(urlsplit(credential["url"]).path.removeprefix("/dn"))
    assert check.status_code == 200 and "This certification is verified" in check.get_data(
        as_text=True)


def test_a_credential_says_when_it_expires_and_a_lapsed_one_is_left_out(app, client, site):
    with app.app_context():
        p = make_profile()
        factories.make_certification(
            p, status="verified", expires_on=factories.today() + timedelta(days=30),
            program=factories.make_program("expiring", name="Expiring course"))
        factories.make_certification(  # approved, but past its expiry day before the sweep
            p, status="verified", expires_on=factories.today() - timedelta(days=1),
            program=factories.make_program("lapsed", name="Lapsed course"))
        slug, expiry = p.slug, (factories.today() + timedelta(days=30)).isoformat()
    credentials = {c["name"]: c for c in structured(client.get(f"/p/{slug}"))["hasCredential"]}
    assert set(credentials) == {"Test Dry Needling Level 1", "Expiring course"}
    assert credentials["Expiring course"]["expires"] == expiry
    assert "expires" not in credentials["Test Dry Needling Level 1"]


def test_a_script_tag_in_the_bio_cannot_leave_the_json_ld(client, profile):
    response = client.get(f"/p/{profile['slug']}")
    raw = response.get_data(as_text=True)
    assert "</script><script>alert" not in raw
    # The block a browser delimits (up to the first </script>) is the whole JSON, bio intact.
    assert structured(response)["description"] == SCRIPT_BIO
    assert '<p>Runners welcome.&lt;/script&gt;' in raw  # the page itself still shows it


@pytest.mark.parametrize(("profession", "kind"), [
    ("physiotherapist", "Physiotherapy"), ("medical_doctor", "Physician"),
    ("osteopathic_physician", "Physician"), ("chiropractor", "MedicalBusiness"),
    ("acupuncturist", "MedicalBusiness"), (None, "MedicalBusiness")])
def test_the_schema_type_follows_the_profession(app, client, site, profession, kind):
    with app.app_context():
        slug = make_profile(profession=profession, npi="1234567893").slug
    data = structured(client.get(f"/p/{slug}"))
    assert data["@type"] == kind
    # The NPI the page shows is the Physician type's own property, and no other type's.
    assert ("usNPI" in data) == (kind == "Physician")


def test_a_shared_profile_link_previews_with_its_canonical_address(client, profile):
    tags = head(client.get(f"/p/{profile['slug']}?utm_source=mail", headers=EVIL))
    assert tags.links["canonical"] == [profile["url"]]
    assert tags.meta["og:url"] == [profile["url"]]
    assert tags.meta["og:type"] == ["profile"]
    assert tags.meta["og:title"] == ["Ana Gómez, DPT"]
    assert tags.meta["og:site_name"] == ["Dry Needling Directory"]
    (description,) = tags.meta["og:description"]
    assert description.startswith("Physical therapist / physiotherapist in Denver, Colorado")
    assert "Verified dry needling training: Test Dry Needling Level 1." in description
    assert "Pending course" not in description and "Revoked course" not in description
    assert tags.meta["twitter:card"] == ["summary"]
    assert "robots" not in tags.meta  # a searchable profile may be indexed


def test_an_unlisted_profile_shown_to_its_owner_leaks_nothing(app, client, site):
    with app.app_context():
        p = factories.make_practitioner("owner@example.com", full_name="Not Yet Listed",
                                        phone="+1 303 555 0199")
        factories.make_location(p, lat=DENVER[0], lng=DENVER[1], geo_precision="exact")
        factories.make_certification(p)  # pending
        slug = p.slug
    assert client.get(f"/p/{slug}").status_code == 404
    factories.login(client, "owner@example.com")
    response = client.get(f"/p/{slug}")
    assert response.status_code == 200
    tags = head(response)
    assert tags.meta["robots"] == ["noindex"]
    assert tags.jsonld == [] and "canonical" not in tags.links
    assert "og:title" not in tags.meta and "og:url" not in tags.meta
    assert "application/ld+json" not in response.get_data(as_text=True)


def test_a_listed_profile_not_confirmed_this_year_answers_but_is_not_indexed(app, client, site):
    with app.app_context():
        slug = make_profile(attested_at=utcnow() - timedelta(days=400)).slug
    tags = head(client.get(f"/p/{slug}"))
    assert tags.meta["robots"] == ["noindex"]
    assert tags.links["canonical"] == [f"{SITE}/p/{slug}"]  # public: a shared link previews
    assert json.loads(tags.jsonld[0])["@type"] == "Physiotherapy"
    assert f"{SITE}/p/{slug}" not in sitemap_urls(client)


def test_a_demo_profile_says_so_in_its_data_and_is_not_indexed(app, client, site):
    with app.app_context():
        slug = make_profile(is_demo=True, bio="Sees runners.").slug
    response = client.get(f"/p/{slug}")
    tags = head(response)
    assert tags.meta["robots"] == ["noindex"]
    assert structured(response)["description"] == (
        "Demo data — not a real practitioner.\n\nSees runners.")
    assert tags.meta["og:description"][0].startswith("Demo data — not a real practitioner.")
    assert f"{SITE}/p/{slug}" not in sitemap_urls(client)


# --------------------------------------------------------------------------- site pages

def test_site_pages_name_their_canonical_address_without_the_query(client, site):
    for path in ("/", "/about?utm_source=newsletter", "/learn/safety"):
        tags = head(client.get(path, headers=EVIL))
        canonical = f"{SITE}{urlsplit(path).path}"
        assert tags.links["canonical"] == [canonical], path
        assert tags.meta["og:url"] == [canonical], path
        assert tags.meta["og:type"] == ["website"] and tags.meta["twitter:card"] == ["summary"]
        assert "robots" not in tags.meta, path


def test_search_results_are_followed_but_not_indexed(app, client, site):
    with app.app_context():
        listed_at(*DENVER, "Near Denver")
    response = client.get("/?near=80202&radius=25")
    assert "Near Denver" in response.get_data(as_text=True)
    tags = head(response)
    assert tags.meta["robots"] == ["noindex, follow"]
    assert "canonical" not in tags.links and "og:url" not in tags.meta


# ------------------------------------------------------------------------------- sitemap

def xml_root(response) -> ET.Element:
    """The response parsed as XML (well-formed, or the test fails)."""
    return ET.fromstring(response.data)  # noqa: S314 — the app's own answer, in a test


def parse_xml(response, root: str) -> ET.Element:
    """A sitemap answer: XML of the right type, rooted in the protocol's namespace."""
    assert response.status_code == 200
    assert response.mimetype == "application/xml"
    document = xml_root(response)
    assert document.tag == f"{NS}{root}"
    return document


def urlset(response) -> dict[str, str | None]:
    """address → lastmod of a sitemap file."""
    document = parse_xml(response, "urlset")
    return {url.findtext(f"{NS}loc"): url.findtext(f"{NS}lastmod")
            for url in document.findall(f"{NS}url")}


def local(url: str) -> str:
    """The path the test client asks for an absolute address of the site."""
    assert url.startswith(SITE + "/"), url
    return url.removeprefix(SITE)


def sitemap_urls(client) -> dict[str, str | None]:
    """Every URL the sitemap lists, through its index when it has one."""
    response = client.get("/sitemap.xml")
    if xml_root(response).tag == f"{NS}sitemapindex":
        found: dict[str, str | None] = {}
        for loc in parse_xml(response, "sitemapindex").iter(f"{NS}loc"):
            found |= urlset(client.get(local(loc.text)))
        return found
    return urlset(response)


@pytest.fixture
def population(app, site):
    """Searchable practitioners, and some that must stay out of the sitemap."""
    with app.app_context():
        searchable = [listed_at(*DENVER, f"Searchable {n}").slug for n in range(3)]
        unlisted = listed_at(*DENVER, "Unlisted", listed=False)
        factories.make_certification(unlisted)  # pending
        lapsed = listed_at(*DENVER, "Lapsed", attested_at=utcnow() - timedelta(days=400))
        unconfirmed = listed_at(*DENVER, "Unconfirmed")
        unconfirmed.user.email_confirmed_at = None
        demo = listed_at(*DENVER, "Demo", is_demo=True)
        db.session.commit()
        return {"in": searchable,
                "out": [unlisted.slug, lapsed.slug, unconfirmed.slug, demo.slug]}


def test_the_sitemap_lists_the_site_pages_and_the_searchable_profiles_only(
        client, population):
    response = client.get("/sitemap.xml", headers=EVIL)
    found = urlset(response)
    profiles = {url for url in found if "/p/" in url}
    assert profiles == {f"{SITE}/p/{slug}" for slug in population["in"]}
    for url in profiles:  # when each profile last changed, as a W3C datetime in UTC
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", found[url]), found[url]
    for path in ("/", "/about", "/learn/", "/learn/safety"):
        assert f"{SITE}{path}" in found
    assert len(found) == len(SITE_PAGES) + 3
    for url in found:  # each one answers
        assert client.get(local(url)).status_code == 200, url


def test_past_the_per_file_limit_the_sitemap_is_an_index_of_files(app, client, population):
    app.config["SITEMAP_URLS_PER_FILE"] = 3
    everything = len(SITE_PAGES) + 3
    index = parse_xml(client.get("/sitemap.xml"), "sitemapindex")
    files = [loc.text for loc in index.iter(f"{NS}loc")]
    assert files == [f"{SITE}/sitemap-{n}.xml" for n in range(1, -(-everything // 3) + 1)]
    seen: list[str] = []
    for file in files:
        urls = urlset(client.get(local(file)))
        assert 1 <= len(urls) <= 3, file
        seen += urls
    assert len(seen) == len(set(seen)) == everything  # each URL once, none lost at a seam
    assert {url for url in seen if "/p/" in url} == {
        f"{SITE}/p/{slug}" for slug in population["in"]}


@pytest.mark.parametrize("path", ["/sitemap-0.xml", "/sitemap-5.xml", "/sitemap-abc.xml",
                                  "/sitemap--1.xml", "/sitemap-99999999999999999999.xml"])
def test_a_sitemap_file_that_does_not_exist_is_not_found(app, client, population, path):
    app.config["SITEMAP_URLS_PER_FILE"] = 3  # files 1 to 4
    assert client.get("/sitemap-4.xml").status_code == 200
    assert client.get(path).status_code == 404


def test_robots_txt_names_the_sitemap(client, site):
    lines = client.get("/robots.txt", headers=EVIL).get_data(as_text=True).splitlines()
    assert f"Sitemap: {SITE}/sitemap.xml" in lines
    assert parse_xml(client.get("/sitemap.xml"), "urlset") is not None
