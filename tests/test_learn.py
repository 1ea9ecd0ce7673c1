"""The patient guides: each page, its key facts, its note, and its links to and from search."""

from __future__ import annotations

import html
import re
from html.parser import HTMLParser
from urllib.parse import urlencode, urlsplit

import pytest

from directory import vocab
from directory.extensions import db
from directory.learn.routes import GUIDES, TECHNIQUE_NOTES
from tests import factories

NEAR_80202 = (39.7525, -104.9995)  # downtown Denver, inside ZIP 80202
NOTE = ("This is general information, not medical advice. "
        "Talk to a qualified health professional about your own situation.")
PAGES = {
    "learn.index": "/learn/",
    "learn.dry_needling": "/learn/dry-needling",
    "learn.techniques": "/learn/techniques",
    "learn.what_to_expect": "/learn/what-to-expect",
    "learn.safety": "/learn/safety",
    "learn.choosing": "/learn/choosing-a-practitioner",
}


class Page(HTMLParser):
    """What the tests read from a page: text, headings, links and the search form's values."""

    def __init__(self, body: str):
        super().__init__(convert_charrefs=True)
        self.headings: list[int] = []
        self.links: list[tuple[str, str]] = []  # (href, text)
        self.fields: dict[str, str] = {}
        self.selected: dict[str, list[str]] = {}
        self.details_open: bool | None = None
        self._link: list | None = None
        self._select: str | None = None
        self._in_form = False
        self.feed(body)
        self.text = " ".join(html.unescape(re.sub(r"<[^>]+>", " ", body)).split())

    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        elif tag == "a" and "href" in a:
            self._link = [a["href"], ""]
        elif tag == "form" and a.get("id") == "search-form":
            self._in_form = True
        elif tag == "details" and "filters" in (a.get("class") or "").split():
            self.details_open = "open" in a
        elif self._in_form and tag == "input" and a.get("name"):
            if a.get("type") in ("checkbox", "radio") and "checked" not in a:
                return
            self.fields[a["name"]] = a.get("value") or ("y" if a.get("type") == "checkbox" else "")
        elif self._in_form and tag == "select":
            self._select = a.get("name")
            self.fields[self._select] = ""
        elif self._select and tag == "option" and "selected" in a:
            self.fields[self._select] = a.get("value", "")
            self.selected.setdefault(self._select, []).append(a.get("value", ""))

    def handle_endtag(self, tag):
        if tag == "a" and self._link is not None:
            self.links.append((self._link[0], " ".join(self._link[1].split())))
            self._link = None
        elif tag == "select":
            self._select = None
        elif tag == "form":
            self._in_form = False

    def handle_data(self, data):
        if self._link is not None:
            self._link[1] += data

    def hrefs(self) -> set[str]:
        return {href for href, _ in self.links}


def get_page(client, url: str) -> Page:
    response = client.get(url)
    assert response.status_code == 200, url
    return Page(response.get_data(as_text=True))


def main_text(client, url: str) -> str:
    """The text of the page's <main> element."""
    body = client.get(url).get_data(as_text=True)
    main = body.split("<main", 1)[1].split("</main>", 1)[0]
    return Page(f"<main{main}</main>").text


def listed_offering(name: str, techniques: list[str]):
    """A listed practitioner in ZIP 80202 offering these techniques."""
    p = factories.make_listed_practitioner(full_name=name, profession="physiotherapist")
    p.set_codes("technique", techniques)
    factories.make_location(p, lat=NEAR_80202[0], lng=NEAR_80202[1], geo_precision="postcode",
                            clinic_name=f"{name} Clinic")
    db.session.commit()
    return p


def sentence_case(label: str) -> str:
    return label[:1].lower() + label[1:]


# --- every page -------------------------------------------------------------------------------

def test_the_index_lists_every_guide(client):
    page = get_page(client, "/learn/")
    for guide in GUIDES:
        assert (PAGES[guide.endpoint], guide.title) in page.links
        assert guide.summary in page.text
    assert set(PAGES) == {"learn.index", *(g.endpoint for g in GUIDES)}


@pytest.mark.parametrize("url", PAGES.values())
def test_every_guide_answers_and_ends_with_the_note(client, url):
    get_page(client, url)
    assert main_text(client, url).endswith(NOTE)


@pytest.mark.parametrize("url", PAGES.values())
def test_every_guide_has_one_h1_and_ordered_headings(client, url):
    page = get_page(client, url)
    assert page.headings.count(1) == 1 and page.headings[0] == 1
    for before, after in zip(page.headings, page.headings[1:], strict=False):
        assert after <= before + 1, f"heading level jumps from h{before} to h{after}"


@pytest.mark.parametrize("url", PAGES.values())
def test_link_texts_are_descriptive(client, url):
    page = get_page(client, url)
    for href, text in page.links:
        assert text and text.casefold() not in ("here", "click here", "read more", "more",
                                                "link"), href


@pytest.mark.parametrize("url", PAGES.values())
def test_every_guide_links_back_to_the_search(client, url):
    assert ("/", "Find a verified dry needling practitioner near you") in get_page(
        client, url).links


# --- the facts the issue lists ----------------------------------------------------------------

FACTS = [
    # What it is, and the difference from acupuncture.
    ("/learn/dry-needling", "thin, solid needles"),
    ("/learn/dry-needling", "nothing is injected"),
    ("/learn/dry-needling", "trigger point"),
    ("/learn/dry-needling", "How it differs from acupuncture"),
    ("/learn/dry-needling", "traditional Chinese medicine"),
    ("/learn/dry-needling", "meridians"),
    ("/learn/dry-needling", "based on Western anatomy"),
    # Each stage of a session.
    ("/learn/what-to-expect", "The assessment"),
    ("/learn/what-to-expect", "ask for your consent"),
    ("/learn/what-to-expect", "Insertion of the needles"),
    ("/learn/what-to-expect", "twitch response"),
    ("/learn/what-to-expect", "sore for a day or two"),
    ("/learn/what-to-expect", "Most people have several"),
    # Who should be cautious.
    ("/learn/safety", "A bleeding disorder"),
    ("/learn/safety", "blood thinners"),
    ("/learn/safety", "Pregnancy"),
    ("/learn/safety", "A pacemaker or another implant"),
    ("/learn/safety", "needle phobia"),
    ("/learn/safety", "An infection or a skin condition where the needles would go"),
    ("/learn/safety", "A weakened immune system"),
    # Rare risks, and when to get urgent help.
    ("/learn/safety", "Rare risks"),
    ("/learn/safety", "Bruising"),
    ("/learn/safety", "Infection where a needle went in"),
    ("/learn/safety", "Fainting"),
    ("/learn/safety", "Pneumothorax (a collapsed lung)"),
    ("/learn/safety", "When to get urgent help"),
    ("/learn/safety", "sudden shortness of breath"),
    ("/learn/safety", "chest pain"),
    ("/learn/safety", "emergency"),
    # How to choose a practitioner.
    ("/learn/choosing-a-practitioner", "Profession"),
    ("/learn/choosing-a-practitioner", "Licence"),
    ("/learn/choosing-a-practitioner", "Recognised training"),
    ("/learn/choosing-a-practitioner", "What “verified” means on this site"),
    ("/learn/choosing-a-practitioner", "approved a dry needling certification from a recognised"
                                       " training program"),
    ("/learn/choosing-a-practitioner", "has not expired and has not been revoked"),
    ("/learn/choosing-a-practitioner", "the administrator who reviewed it, and the date"),
    ("/learn/choosing-a-practitioner", "not a rating of skill or results"),
    # Each technique, by its label.
    *[("/learn/techniques", label) for label in vocab.TECHNIQUES.values()],
]


@pytest.mark.parametrize(("url", "fact"), FACTS)
def test_each_guide_states_its_facts(client, url, fact):
    assert fact.casefold() in get_page(client, url).text.casefold()


def test_choosing_links_to_the_credential_check(client):
    assert "/verify" in get_page(client, "/learn/choosing-a-practitioner").hrefs()


def test_every_technique_has_a_description():
    assert list(TECHNIQUE_NOTES) == list(vocab.TECHNIQUES)
    assert all(TECHNIQUE_NOTES.values())


@pytest.mark.parametrize("url", PAGES.values())
def test_no_claims_of_cure(client, url):
    text = get_page(client, url).text.casefold()
    for claim in ("cure", "guarantee", "proven", "clinically shown", "heals"):
        assert not re.search(rf"\b{claim}", text), claim


# --- technique links run the filtered search --------------------------------------------------

@pytest.mark.parametrize(("code", "label"), vocab.TECHNIQUES.items())
def test_each_technique_link_opens_the_search_with_the_technique_chosen(client, code, label):
    page = get_page(client, "/learn/techniques")
    text = f"Find practitioners who offer {sentence_case(label)}"
    hrefs = [href for href, link_text in page.links if link_text == text]
    assert hrefs == [f"/?{urlencode({'technique': code})}"]
    form = get_page(client, hrefs[0])
    assert form.selected["technique"] == [code]
    assert form.details_open, "the filters are open, so the chosen technique is visible"
    assert "Search results" not in form.text  # nothing searched yet: a place is needed


@pytest.mark.parametrize(("code", "label"), vocab.TECHNIQUES.items())
def test_submitting_the_preset_form_finds_only_practitioners_offering_it(app, client, code,
                                                                          label):
    other = next(c for c in vocab.TECHNIQUES if c != code)
    with app.app_context():
        listed_offering("Offers It", [code])
        listed_offering("Offers Another", [other])
    page = get_page(client, "/learn/techniques")
    href = next(h for h, t in page.links if t.endswith(sentence_case(label)))
    form = get_page(client, href)
    fields = dict(form.fields, near="80202")  # the patient types a place and presses Search
    results = get_page(client, f"{urlsplit(href).path}?{urlencode(fields)}")
    assert "1 verified practitioner within 25 miles of 80202" in results.text
    assert "Offers It" in results.text and "Offers Another" not in results.text
    assert results.selected["technique"] == [code]
    assert results.details_open


# --- the guides are linked from search and profiles -------------------------------------------

def test_every_page_has_learn_in_the_main_nav(client):
    assert ("/learn/", "Learn") in get_page(client, "/about").links


def test_the_home_page_links_to_the_guides(client):
    page = get_page(client, "/")
    assert ("/learn/", "Read our short guides") in page.links
    assert "New to dry needling?" in page.text
    assert {"/learn/techniques", "/learn/what-to-expect", "/learn/safety"} <= page.hrefs()


def test_the_search_results_page_links_to_the_guides(app, client):
    with app.app_context():
        listed_offering("Near Downtown", ["trigger_point"])
    page = get_page(client, "/?near=80202")
    assert "Near Downtown" in page.text
    assert ("/learn/", "Read our short guides") in page.links
    assert "/learn/techniques" in page.hrefs()


def test_a_profile_links_to_the_guides(app, client):
    with app.app_context():
        slug = listed_offering("With Techniques", ["trigger_point", "electrical"]).slug
    page = get_page(client, f"/p/{slug}")
    assert ("/learn/techniques", "What these techniques are") in page.links
    assert ("/learn/what-to-expect", "what to expect in a session") in page.links
    assert {"/learn/safety", "/learn/choosing-a-practitioner"} <= page.hrefs()


def test_a_profile_without_techniques_still_links_to_what_to_expect(app, client):
    with app.app_context():
        slug = listed_offering("No Techniques", []).slug
    page = get_page(client, f"/p/{slug}")
    assert "/learn/techniques" not in page.hrefs()
    assert "/learn/what-to-expect" in page.hrefs()
