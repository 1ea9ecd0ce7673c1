"""Accessibility in chromium: axe-core on the main pages, the keyboard, and announced errors."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from playwright.sync_api import Page, expect

from tests.browser.support import PHONE, axe_violations, describe, log_in, unique
from tests.factories import PASSWORD

pytestmark = pytest.mark.browser

# (name, who is logged in, the page's path from the prepared people): every page a person
# reaches, public and private.
PAGES = [
    ("home", None, lambda people: "/"),
    ("results", None, lambda people: "/?near=80202"),
    ("profile", None, lambda people: f"/p/{people.electrical.slug}"),
    ("verify", None, lambda people: "/verify"),
    ("verify-result", None, lambda people: f"/verify/{people.electrical.code}"),
    ("about", None, lambda people: "/about"),
    ("learn", None, lambda people: "/learn/"),
    ("learn-page", None, lambda people: "/learn/dry-needling"),
    ("signup", None, lambda people: "/account/signup"),
    ("login", None, lambda people: "/account/login"),
    ("forgot", None, lambda people: "/account/forgot"),
    ("dashboard", "practitioner", lambda people: "/dashboard"),
    ("profile-editor", "practitioner", lambda people: "/profile/edit"),
    ("location-form", "practitioner", lambda people: "/profile/locations/new"),
    ("certifications", "practitioner", lambda people: "/certifications/"),
    ("certification-form", "practitioner", lambda people: "/certifications/new"),
    ("settings", "practitioner", lambda people: "/account/settings"),
    ("admin-home", "admin", lambda people: "/admin/"),
    ("admin-queue", "admin", lambda people: "/admin/queue"),
    ("admin-review", "admin", lambda people: f"/admin/certifications/{people.pending_id}"),
    ("admin-audit", "admin", lambda people: "/admin/audit"),
    ("admin-programs", "admin", lambda people: "/admin/registry/programs"),
    ("admin-rules", "admin", lambda people: "/admin/registry/rules"),
    ("admin-rule-form", "admin", lambda people: "/admin/registry/rules/new"),
    ("admin-issuers", "admin", lambda people: "/admin/registry/issuers"),
    ("admin-licences", "admin", lambda people: "/admin/licences"),
    ("admin-mail", "admin", lambda people: "/admin/mail"),
    ("admin-import", "admin", lambda people: "/admin/bulk/"),
    ("admin-verdicts", "admin", lambda people: "/admin/scope-changes"),
    ("issuer-home", "issuer", lambda people: "/issuer/"),
    ("issuer-certification", "issuer",
     lambda people: f"/issuer/certifications/{people.pending_id}"),
    ("issuer-roster", "issuer", lambda people: "/issuer/roster"),
]


def visit(page: Page, people, who: str | None, path: str) -> None:
    """Log in as needed, open the page and wait for what scripts add to it."""
    if who == "practitioner":
        log_in(page, people.manual.email)
    elif who == "admin":
        log_in(page, people.admin.email)
    elif who == "issuer":
        log_in(page, people.issuer_email)
    page.goto(path)
    if path.startswith("/?near="):
        page.locator("#map .leaflet-marker-icon").first.wait_for()


@pytest.fixture(scope="module")
def pages_people(live_server, people):
    """The prepared people, the id of the certification waiting in the queue, and an issuer
    account for the organisation that certificate cites."""
    from sqlalchemy import select

    from directory.extensions import db
    from directory.issuers.services import create_issuer
    from directory.models import Certification

    issuer_email = f"{unique('issuer')}@example.com"
    with live_server.services():
        pending = db.session.scalar(select(Certification).where(
            Certification.public_code == people.pending.code))
        pending_id = pending.id
        create_issuer(issuer_email, pending.program.organisation, password=PASSWORD)
    return SimpleNamespace(**vars(people), pending_id=pending_id, issuer_email=issuer_email)


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
@pytest.mark.parametrize(("name", "who", "path"), PAGES, ids=[p[0] for p in PAGES])
def test_no_wcag_22_aa_violation_and_no_sideways_scrolling(contexts, pages_people, name, who,
                                                          path, viewport):
    """axe-core's WCAG 2.2 A and AA rules and best practices, every impact, on every page at
    both widths; and no page wider than a 390 px phone."""
    page = contexts.new_page(PHONE) if viewport == "phone" else contexts.new_page()
    visit(page, pages_people, who, path(pages_people))
    violations = axe_violations(page)
    assert not violations, f"{name} ({viewport}) at {page.url}:\n{describe(violations)}"
    # The page reflows to the width: no sideways scrolling of the whole page on a phone.
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= page.viewport_size["width"], f"{name} is {width} px wide at {viewport}"


def test_axe_reports_a_planted_violation(page: Page):
    """The check itself works: an unlabelled field added to a page is reported."""
    page.goto("/account/login")
    page.evaluate("() => document.querySelector('form').append(document.createElement('input'))")
    assert "label" in {v["id"] for v in axe_violations(page)}


@pytest.mark.parametrize("form", ["login", "signup", "certification"])
def test_no_serious_or_critical_axe_violation_with_form_errors(contexts, people, form):
    page = contexts.new_page()
    if form == "login":
        page.goto("/account/login")
        page.get_by_role("button", name="Log in").click()
    elif form == "signup":
        page.goto("/account/signup")
        page.get_by_role("button", name="Create account").click()
    else:
        log_in(page, people.manual.email)
        page.goto("/certifications/new")
        page.get_by_role("button", name="Submit for verification").click()
    expect(page.get_by_role("alert")).to_be_visible()
    violations = axe_violations(page)
    assert not violations, f"{form} with errors:\n{describe(violations)}"


# --- the keyboard -------------------------------------------------------------------------

FOCUSED = """() => {
  const el = document.activeElement;
  const style = getComputedStyle(el);
  const rgb = value => (value.match(/[\\d.]+/g) || []).slice(0, 4).map(Number);
  const luminance = ([r, g, b]) => {
    const c = [r, g, b].map(v => {
      v /= 255;
      return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
    });
    return 0.2126 * c[0] + 0.7152 * c[1] + 0.0722 * c[2];
  };
  const contrast = (a, b) => {
    const [x, y] = [luminance(a), luminance(b)].sort((p, q) => q - p);
    return (x + 0.05) / (y + 0.05);
  };
  // The colour behind the element: the nearest ancestor with an opaque background.
  let behind = [255, 255, 255];
  for (let node = el.parentElement; node; node = node.parentElement) {
    const bg = rgb(getComputedStyle(node).backgroundColor);
    if (bg.length === 3 || (bg.length === 4 && bg[3] === 1)) { behind = bg.slice(0, 3); break; }
  }
  const rings = [];
  if (style.outlineStyle !== "none" && parseFloat(style.outlineWidth) >= 2) {
    rings.push(contrast(rgb(style.outlineColor), behind));
  }
  if (style.boxShadow && style.boxShadow !== "none") {
    rings.push(contrast(rgb(style.boxShadow), behind));
  }
  const box = el.getBoundingClientRect();
  return {
    // A date field's own calendar button: the field is not :focus, chromium draws the ring.
    nativePart: el.matches("input[type=date]") && !el.matches(":focus"),
    tag: el.tagName.toLowerCase(), id: el.id, classes: el.getAttribute("class") || "",
    text: (el.getAttribute("aria-label") || el.getAttribute("alt") || el.innerText || el.value
           || "").trim(),
    named: Boolean(el.getAttribute("aria-label") || el.getAttribute("aria-labelledby")
                   || el.getAttribute("alt") || el.getAttribute("title")
                   || (el.labels && el.labels.length) || (el.innerText || "").trim()
                   || (el.matches("input[type=submit], input[type=button]") && el.value)),
    header: !!el.closest("header"), nav: !!el.closest('nav[aria-label="Main"]'),
    onScreen: box.width > 0 && box.height > 0 && box.right > 0 && box.bottom > 0
              && box.left < innerWidth && box.top < innerHeight,
    ring: rings.length ? Math.max(...rings) : 0,
  };
}"""


def focused(page: Page) -> dict:
    """What has the keyboard focus, whether it is on screen, and its focus ring's contrast."""
    return page.evaluate(FOCUSED)


def assert_visible_focus(info: dict) -> None:
    assert info["named"], f"a keyboard stop with no name: {info}"
    assert info["onScreen"], f"focused but off screen: {info}"
    assert info["ring"] >= 3 or info["nativePart"], f"no focus outline with 3:1 contrast: {info}"


def test_tab_from_the_top_reaches_skip_link_then_nav_then_search_field(page: Page):
    page.goto("/")
    page.keyboard.press("Tab")
    first = focused(page)
    assert "skip-link" in first["classes"], first
    assert_visible_focus(first)

    seen = []
    for _ in range(30):
        page.keyboard.press("Tab")
        info = focused(page)
        if info["id"] == "near":
            break
        seen.append(info)
        assert_visible_focus(info)
    else:
        pytest.fail(f"Tab never reached the search field; focus went through {seen}")
    assert_visible_focus(info)
    assert all(i["header"] for i in seen), seen  # nothing else comes between them
    nav = page.get_by_role("navigation", name="Main")
    expected = [t.strip() for t in nav.locator("a, button").all_inner_texts()]
    assert [i["text"] for i in seen if i["nav"]] == expected

    # The skip link itself moves the focus past the header to the content.
    page.goto("/")
    page.keyboard.press("Tab")
    page.keyboard.press("Enter")
    assert page.evaluate("() => document.activeElement.id") == "main"


# Tabbing round a page: the pages people use most (the registry's long tables would take
# hundreds of stops).
TAB_PAGES = [p for p in PAGES if p[0] in (
    "home", "results", "profile", "verify", "verify-result", "signup", "login",
    "profile-editor", "certification-form", "admin-queue")]


@pytest.mark.parametrize(("name", "who", "path"), TAB_PAGES, ids=[p[0] for p in TAB_PAGES])
def test_tab_goes_round_every_page_with_a_visible_focus(page: Page, people, name, who, path):
    visit(page, people, who, path(people))
    page.locator("body").focus()  # start from the top, as after loading the page
    stops = []
    for _ in range(150):
        page.keyboard.press("Tab")
        info = focused(page)
        if info["tag"] == "body" or (stops and "skip-link" in info["classes"]
                                     and info["text"] == stops[0]["text"]):
            break  # round the page and back to the start
        stops.append(info)
        assert_visible_focus(info)
    else:
        pytest.fail(f"Tab did not come round on {name}: {[s['text'] for s in stops]}")
    assert "skip-link" in stops[0]["classes"]
    if name == "results":  # the list's links, and the map's markers, are all reachable
        assert [s["text"] for s in stops[:2]] == ["Skip to content", "Skip to results"], stops
        names = sorted([people.electrical.name, people.manual.name])
        links = [s["text"] for s in stops if s["tag"] == "a" and s["text"] in names]
        markers = [s["text"] for s in stops if "leaflet-marker-icon" in s["classes"]]
        assert sorted(set(links)) == names and sorted(markers) == names, stops


def test_search_filter_and_open_a_profile_by_keyboard_alone(page: Page, people):
    page.goto("/")
    for _ in range(30):
        page.keyboard.press("Tab")
        if focused(page)["id"] == "near":
            break
    page.keyboard.type("80202")
    page.keyboard.press("Enter")
    expect(page.locator("#results-list")).to_be_visible()

    for _ in range(30):  # the filters open from the keyboard
        page.keyboard.press("Tab")
        if focused(page)["tag"] == "summary":
            break
    page.keyboard.press("Enter")
    expect(page.locator("details.filters")).to_have_attribute("open", "")

    page.locator("#results-list a").first.focus()
    name = focused(page)["text"]
    page.keyboard.press("Enter")
    expect(page.get_by_role("heading", level=1)).to_contain_text(name)


def test_the_map_has_a_list_alternative(page: Page):
    page.goto("/?near=80202")
    markers = page.locator("#map .leaflet-marker-icon")
    markers.first.wait_for()
    region = page.get_by_role("region", name="Map of the results")
    expect(region).to_have_attribute("aria-label", "Map of the results (the list has the same "
                                                   "information)")
    listed = page.locator("#results-list li.result h3 a").all_inner_texts()
    on_map = [m.get_attribute("alt") for m in markers.all()]
    assert sorted(on_map) == sorted(listed)


# --- form errors --------------------------------------------------------------------------

def test_login_errors_are_announced_and_linked_to_their_fields(page: Page):
    page.goto("/account/login")
    page.get_by_role("button", name="Log in").click()

    summary = page.get_by_role("alert")
    expect(summary).to_contain_text("Please correct 2 fields")
    expect(summary.get_by_role("link", name="E-mail address: Enter your e-mail address.")
           ).to_have_attribute("href", "#email")
    expect(summary.get_by_role("link", name="Password: Enter your password.")
           ).to_have_attribute("href", "#password")

    for field, message in (("email", "Enter your e-mail address."),
                           ("password", "Enter your password.")):
        control = page.locator(f"#{field}")
        expect(control).to_have_attribute("aria-invalid", "true")
        described = control.get_attribute("aria-describedby").split()
        assert f"{field}-error" in described
        expect(page.locator(f"#{field}-error")).to_have_text(message)
        expect(control).to_have_accessible_description(message)

    # The summary's link takes the keyboard to the field.
    summary.get_by_role("link", name="Password: Enter your password.").click()
    assert page.evaluate("() => document.activeElement.id") == "password"


def test_long_unbroken_words_do_not_widen_a_phone_page(contexts, live_server, people):
    """A web address in a bio, long post-nominals and a long clinic name wrap on a 390 px
    phone: the profile and the results stay as wide as the screen."""
    from directory.accounts.services import find_user
    from directory.profiles import services as profiles
    from tests.browser.conftest import _practitioner

    person = _practitioner(live_server, people.admin, "Wendy Wordsworth", techniques=["deep"],
                           postcode="80202", city="Denver", region="CO", approve=True)
    with live_server.services():
        user = find_user(person.email)
        p = user.practitioner
        values = {k: getattr(p, k) for k in profiles.PROFILE_FIELDS} | {
            "post_nominals": "DPT,OCS,FAAOMPT,CSCS,CertDN,CMTPT,FellowAAOMPT,MScPhysiotherapy",
            "bio": "Read more: https://www.example.com/" + "a-very-long-path-segment" * 8}
        profiles.update_profile(p, user, p.version, values, techniques=["deep"],
                                conditions=["neck_pain"], languages=["en"])
        location = p.locations[0]
        values = {k: getattr(location, k) for k in profiles.LOCATION_FIELDS} | {
            "clinic_name": "Interdisciplinaryphysiotherapyandsportsrehabilitationcentre"}
        profiles.update_location(location, user, values)
    page = contexts.new_page(PHONE)
    for path in (f"/p/{person.slug}", "/?near=80202"):
        page.goto(path)
        assert page.get_by_text("Interdisciplinaryphysio", exact=False).first.is_visible()
        width = page.evaluate("() => document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"{path} is {width} px wide on a phone"


def test_the_map_says_when_its_background_is_missing_and_refits_to_the_window(contexts, people):
    """The tests serve no tiles (as offline): the map says so instead of a grey box. Made
    narrower, it fits the results again: every marker stays inside it."""
    page = contexts.new_page()
    page.goto("/?near=80202")
    page.locator("#map .leaflet-marker-icon").first.wait_for()
    expect(page.locator("#map-note")).to_be_visible()
    expect(page.locator("#map-note")).to_have_text(
        "The map's background could not be loaded. The markers show where each practitioner "
        "is, and the list has every result.")
    page.set_viewport_size(PHONE)
    page.wait_for_timeout(600)  # the refit waits for the resizing to settle (150 ms)
    inside = page.evaluate("""() => {
      const box = document.getElementById('map').getBoundingClientRect();
      return [...document.querySelectorAll('#map .leaflet-marker-icon')].map(m => {
        const r = m.getBoundingClientRect();
        return r.left >= box.left && r.right <= box.right && r.top >= box.top
          && r.bottom <= box.bottom;
      });
    }""")
    assert inside and all(inside), inside


@pytest.mark.parametrize("viewport", ["desktop", "phone"])
def test_required_field_asterisks_stay_beside_their_labels(contexts, viewport):
    """Each required field's "*" sits on its label's line, just after the label's text."""
    page = contexts.new_page(PHONE) if viewport == "phone" else contexts.new_page()
    page.goto("/account/signup")
    pairs = page.evaluate("""() => [...document.querySelectorAll('.field .required')].map(star => {
      const label = star.parentElement.querySelector('label');
      const range = document.createRange();
      range.selectNodeContents(label);
      const lines = [...range.getClientRects()];
      const last = lines[lines.length - 1];
      const s = star.getBoundingClientRect();
      return {label: label.textContent, gap: s.left - last.right,
              sameLine: Math.abs((s.top + s.bottom) / 2 - (last.top + last.bottom) / 2) < 4};
    })""")
    assert len(pairs) >= 3, pairs  # name, e-mail, password...
    for pair in pairs:
        assert pair["sameLine"] and 0 <= pair["gap"] < 12, pair


def test_the_map_stays_in_view_beside_a_long_list_on_a_desktop(contexts, live_server, people):
    """Scrolled to the bottom of a long list of results, the map is still on the screen."""
    from tests.browser.conftest import _practitioner

    for n in range(8):
        _practitioner(live_server, people.admin, f"Ava Atlanta {n}", techniques=["deep"],
                      postcode="30303", city="Atlanta", region="GA", approve=True)
    page = contexts.new_page({"width": 1280, "height": 700})
    page.goto("/?near=30303")
    page.locator("#map .leaflet-marker-icon").first.wait_for()
    assert page.locator("#results-list li.result").count() >= 8
    last = page.locator("#results-list li.result").last
    last.scroll_into_view_if_needed()
    page.evaluate("() => window.scrollTo(0, document.documentElement.scrollHeight)")
    assert page.evaluate("() => window.scrollY") > 300  # the list is longer than the window
    box = page.locator("#map").bounding_box()
    assert box["y"] >= 0 and box["y"] + box["height"] <= 700, box
    assert last.is_visible()


def test_the_admin_queue_shows_its_review_column_on_a_phone(contexts, pages_people):
    """At 390 px each waiting certification is a card whose Review link is on the screen,
    with no sideways scrolling inside the table's box either."""
    page = contexts.new_page(PHONE)
    log_in(page, pages_people.admin.email)
    page.goto("/admin/queue")
    link = page.get_by_role("link", name=f"Review {pages_people.pending.name}")
    expect(link).to_be_visible()
    box = link.bounding_box()
    assert 0 <= box["x"] and box["x"] + box["width"] <= PHONE["width"], box
    region = page.get_by_role("region", name="Certifications")
    assert region.evaluate("el => el.scrollWidth <= el.clientWidth")
    # Each value is named by its column, as the table's header does on a wide screen.
    cell = page.get_by_role("row").filter(has_text=pages_people.pending.name) \
        .get_by_role("cell").first
    assert cell.evaluate("td => getComputedStyle(td, '::before').content") == '"Submitted: "'


def test_printed_results_and_profile_are_the_information_alone(page: Page, people):
    """Printed, the results are the list without the map, the search form, the sort links or
    the header's links; a profile keeps its heading and facts without its buttons."""
    page.goto("/?near=80202")
    page.locator("#map .leaflet-marker-icon").first.wait_for()
    page.emulate_media(media="print")
    for hidden in ("#map", "#search-form", "nav[aria-label='Main']", ".sort-by"):
        expect(page.locator(hidden)).to_be_hidden()
    expect(page.get_by_role("link", name=people.electrical.name)).to_be_visible()
    expect(page.locator("#results-heading")).to_be_visible()
    page.emulate_media(media="screen")
    expect(page.locator("#map")).to_be_visible()

    page.goto(f"/p/{people.electrical.slug}")
    page.emulate_media(media="print")
    expect(page.get_by_role("heading", level=1)).to_contain_text(people.electrical.name)
    expect(page.locator("nav[aria-label='Main']")).to_be_hidden()
    assert all(not b.is_visible() for b in page.locator("main button, main .button").all())
