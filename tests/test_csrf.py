"""CSRF protection is on for every state-changing request."""

from __future__ import annotations

import re

from tests import factories


def _token(html: str) -> str:
    match = re.search(r'name="csrf_token" type="hidden" value="([^"]+)"', html) or re.search(
        r'name="csrf_token" value="([^"]+)"', html)
    assert match, "no CSRF token in the page"
    return match.group(1)


# A form whose view checks the token itself, so a refusal gives the form back as typed: the
# profile's message form (tests/test_caching.py checks it refuses a message without the token).
CHECKS_ITS_OWN_TOKEN = {"public.enquiry"}


def _post_urls(app) -> list[str]:
    """Every POST route a browser form can reach. The JSON API's (what patients send) take
    only an application/json body, which no cross-site form can send without the browser asking
    first, and act for nobody's session: test_the_api_takes_only_json checks the first."""
    urls = []
    for rule in app.url_map.iter_rules():
        if ("POST" in rule.methods and not rule.endpoint.startswith("api.")
                and rule.endpoint not in CHECKS_ITS_OWN_TOKEN):
            urls.append(re.sub(r"<(?:\w+:)?(\w+)>", "1", rule.rule))
    return urls


def test_every_post_route_refuses_a_request_without_a_token(csrf_app):
    urls = _post_urls(csrf_app)
    assert "/account/login" in urls and "/profile/edit" in urls
    client = csrf_app.test_client()
    for url in urls:
        response = client.post(url, data={"email": "x@example.com", "password": "y"})
        assert response.status_code == 400, url
        assert b"Your form expired or was sent from elsewhere" in response.data, url


def test_login_and_profile_save_work_with_the_token_from_the_page(csrf_app):
    with csrf_app.app_context():
        p = factories.make_practitioner("csrf@example.com")
        slug = p.slug
    client = csrf_app.test_client()
    token = _token(client.get("/account/login").get_data(as_text=True))
    response = client.post("/account/login", data={
        "csrf_token": token, "email": "csrf@example.com", "password": factories.PASSWORD})
    assert response.status_code == 302

    page = client.get("/profile/edit").get_data(as_text=True)
    response = client.post("/profile/edit", data={
        "csrf_token": _token(page), "full_name": "Csrf Checked", "profession": "chiropractor",
        "version": re.search(r'name="version" type="hidden" value="(\d+)"', page).group(1),
    }, follow_redirects=True)
    assert b"Your profile has been saved." in response.data
    assert "Csrf Checked" in client.get(f"/p/{slug}").get_data(as_text=True)


def test_a_token_from_another_session_is_refused(csrf_app):
    stranger = csrf_app.test_client()
    token = _token(stranger.get("/account/login").get_data(as_text=True))
    victim = csrf_app.test_client()
    victim.get("/account/login")
    response = victim.post("/account/login", data={
        "csrf_token": token, "email": "a@example.com", "password": "whatever-password"})
    assert response.status_code == 400


def test_an_issuers_answer_needs_the_token_from_its_page(csrf_app):
    with csrf_app.app_context():
        p = factories.make_practitioner("graduate@example.com")
        cert_id = factories.make_certification(p, status="verified").id
        factories.make_issuer("issuer@example.com")
    client = csrf_app.test_client()
    token = _token(client.get("/account/login").get_data(as_text=True))
    assert client.post("/account/login", data={
        "csrf_token": token, "email": "issuer@example.com",
        "password": factories.PASSWORD}).headers["Location"] == "/issuer/"
    for url, data in ((f"/issuer/certifications/{cert_id}", {"answer": "confirmed"}),
                      (f"/issuer/certifications/{cert_id}/revoke", {"revoke_reason": "Withdrawn."}),
                      ("/issuer/roster", {})):
        response = client.post(url, data=data)
        assert response.status_code == 400, url
        assert b"Your form expired or was sent from elsewhere" in response.data, url
    page = client.get(f"/issuer/certifications/{cert_id}").get_data(as_text=True)
    assert "not answered yet" in page.lower()
    response = client.post(f"/issuer/certifications/{cert_id}", data={
        "csrf_token": _token(page), "answer": "confirmed"})
    assert response.status_code == 302
    assert "Confirmed on" in client.get(f"/issuer/certifications/{cert_id}").get_data(
        as_text=True)


def test_the_api_takes_only_json(csrf_app):
    """A form posted from another site (urlencoded, multipart or text/plain: what a page may
    send without asking) is refused by the API's POST routes, whatever it holds."""
    with csrf_app.app_context():
        practitioner_id = factories.make_listed_practitioner(full_name="Json Only").id
    client = csrf_app.test_client()
    fields = {"name": "Forged", "email": "forged@example.com", "message": "Hi", "kind": "closed"}
    for route in ("enquiries", "reports"):
        url = f"/api/v1/practitioners/{practitioner_id}/{route}"
        for sent in ({"data": fields}, {"data": "name=Forged", "content_type": "text/plain"},
                     {"data": fields, "content_type": "multipart/form-data"}):
            response = client.post(url, **sent)
            assert response.status_code == 400, (url, sent)
            assert response.get_json()["error"]["code"] == "invalid_body"
