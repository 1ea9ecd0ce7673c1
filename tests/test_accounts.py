"""Accounts: sign-up, confirmation, login, password reset, settings and the create-admin command."""

from __future__ import annotations

import base64
import html
import io
import json
import re
import zlib
from contextlib import contextmanager

import pytest
from itsdangerous import TimestampSigner
from sqlalchemy import func, select

from directory.accounts import services
from directory.accounts.passwords import verify_password
from directory.extensions import db
from directory.models import Practitioner, User
from directory.models.base import utcnow
from directory.search.names import document
from tests.factories import PASSWORD, audit_events, login, make_admin, make_user
from tests.pages import field_error, flashes

NEW_PASSWORD = "lantern orbit marmalade 42"
JANE = "jane@example.com"

TOO_SHORT = "Use at least 12 characters."
TOO_LONG = "Use at most 128 characters."
COMMON = "That password is too common. Choose one that is harder to guess."
REPEATS = "That password repeats too few characters. Choose one that is harder to guess."
IS_EMAIL = "Do not use your e-mail address as your password."
MISMATCH = "The two passwords are not the same."
BAD_EMAIL = "Enter an e-mail address like name@example.com."
TAKEN = "An account with that e-mail address already exists."
BAD_LOGIN = "That e-mail address and password do not match an account."
WRONG_CURRENT = "Your current password is not correct."
FORGOT_SENT = ("If an account uses that address, we have sent it a link to reset the password. "
               "The link works for one hour.")
RESET_USED = "This link has already been used or is not valid. Ask for a new one."
EXPIRED = "This link has expired. Please ask for a new one."
NOT_VALID = "This link is not valid. Please ask for a new one."


# --- reading pages, mail and the database ------------------------------------------------------

def input_value(response, name: str) -> str | None:
    """The value an <input> is rendered with (None when it has no value attribute)."""
    tag = re.search(rf'<input\b[^>]*\bname="{re.escape(name)}"[^>]*>', response.text)
    assert tag, f"no input named {name}"
    value = re.search(r'\bvalue="([^"]*)"', tag.group(0))
    return html.unescape(value.group(1)) if value else None


def token_of(path: str) -> str:
    """The token at the end of an e-mail link's path."""
    return path.rsplit("/", 1)[1]


def user_count(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(User))


def account(app, email: str) -> dict | None:
    """The stored account with this exact address, as plain values."""
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == email))
        if user is None:
            return None
        p = user.practitioner
        return {"id": user.id, "email": user.email, "role": user.role,
                "confirmed": user.email_confirmed_at is not None,
                "password_hash": user.password_hash, "last_login_at": user.last_login_at,
                "full_name": p.full_name if p else None, "slug": p.slug if p else None}


def can_log_in(app, email: str, password: str) -> bool:
    """Whether a fresh browser can log in with these credentials."""
    response = login(app.test_client(), email, password)
    assert response.status_code in (200, 302)
    return response.status_code == 302


def is_logged_in(client) -> bool:
    """Whether this browser is logged in (any role may see account settings)."""
    response = client.get("/account/settings")
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    assert response.location.startswith("/account/login")
    return False


@contextmanager
def clock_back(monkeypatch, seconds: int):
    """Links signed inside the block carry a timestamp this many seconds in the past."""
    real = TimestampSigner.get_timestamp
    with monkeypatch.context() as m:
        m.setattr(TimestampSigner, "get_timestamp", lambda self: real(self) - seconds)
        yield


def forge(token: str, **changes) -> str:
    """The token with its payload edited and the original signature kept."""
    payload, rest = token.lstrip(".").split(".", 1)
    raw = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    data = json.loads(zlib.decompress(raw) if token.startswith(".") else raw)
    data.update(changes)
    edited = base64.urlsafe_b64encode(json.dumps(data, separators=(",", ":")).encode())
    return f"{edited.rstrip(b'=').decode()}.{rest}"


@pytest.fixture
def jane(app) -> str:
    """A confirmed practitioner, jane@example.com, with the factories' password."""
    with app.app_context():
        make_user(JANE)
    return JANE


@pytest.fixture
def logged_in(client, auth, jane):
    """The test client, logged in as Jane."""
    assert auth.login(jane).status_code == 302
    return client


# --- 1. sign-up ---------------------------------------------------------------------------------

def signup_data(**overrides) -> dict:
    return {"full_name": "Jane Doe", "email": JANE, "password": NEW_PASSWORD,
            "confirm": NEW_PASSWORD} | overrides


CHECK_INBOX = "Check your inbox"


def sent_page(client, response) -> str:
    """The page sign-up sends a browser to, as text without the address."""
    assert response.status_code == 302
    assert response.location == "/account/signup/sent"
    page = client.get(response.location)
    assert page.status_code == 200
    return page.text


def test_signup_creates_a_practitioner_and_sends_a_confirmation_that_logs_in(app, client,
                                                                              outbox):
    response = client.post("/account/signup", data=signup_data())
    page = sent_page(client, response)
    assert CHECK_INBOX in page
    assert f"We sent a link to <strong>{JANE}</strong>." in page
    assert not is_logged_in(client)  # not before the address is confirmed

    stored = account(app, JANE)
    assert stored["role"] == "practitioner"
    assert stored["full_name"] == "Jane Doe"
    assert stored["slug"] == "jane-doe"
    assert not stored["confirmed"]
    assert stored["password_hash"] != NEW_PASSWORD
    with app.app_context():
        assert verify_password(stored["password_hash"], NEW_PASSWORD)
    assert [e.subject_id for e in audit_events(app, "account.signed_up")] == [stored["id"]]

    [message] = outbox.messages()
    assert message["To"] == JANE
    assert message["Subject"].startswith("Confirm your e-mail address")
    body = message.get_payload(decode=True).decode()
    assert "Hello Jane Doe" in body
    assert "The link works for 72 hours." in body
    link = outbox.link(message)
    assert link.startswith("/account/confirm/")

    # In the browser that signed up, the link confirms and logs in.
    confirmed = client.get(link, follow_redirects=True)
    assert confirmed.request.path == "/dashboard"
    assert f"Thank you: {JANE} is confirmed." in flashes(confirmed)
    assert "Hello, Jane Doe" in confirmed.text
    assert account(app, JANE)["confirmed"]
    assert len(audit_events(app, "account.email_confirmed")) == 1

    # Once: after logging out, the same link in the same browser logs in no more.
    client.post("/account/logout")
    again = client.get(link, follow_redirects=True)
    assert again.request.path == "/account/login"
    assert not is_logged_in(client)


def test_confirmation_link_works_in_a_logged_out_browser(app, client, outbox):
    client.post("/account/signup", data=signup_data())
    other_browser = app.test_client()
    response = other_browser.get(outbox.link(outbox.last(JANE)), follow_redirects=True)
    assert response.request.path == "/account/login"
    assert f"Thank you: {JANE} is confirmed." in flashes(response)
    assert account(app, JANE)["confirmed"]
    assert not is_logged_in(other_browser)  # a link alone (a mail scanner's visit) logs no one in
    # The browser that signed up is not logged in by it afterwards either (it is used).
    assert client.get(outbox.link(outbox.last(JANE)), follow_redirects=True
                      ).request.path == "/account/login"
    assert not is_logged_in(client)


def test_signup_makes_each_slug_unique_and_ascii(app):
    for n, name in enumerate(["Jane Doe", "Jane  Doe", "Zoë O'Brien-Núñez"]):
        response = app.test_client().post(
            "/account/signup", data=signup_data(full_name=name, email=f"p{n}@example.com"))
        assert response.status_code == 302
    assert account(app, "p0@example.com")["slug"] == "jane-doe"
    assert account(app, "p1@example.com")["slug"] == "jane-doe-2"
    assert account(app, "p2@example.com")["slug"] == "zoe-o-brien-nunez"


def test_signup_stores_the_email_lower_case(app, client):
    client.post("/account/signup", data=signup_data(email="Jane.Doe@Example.COM"))
    assert account(app, "jane.doe@example.com") is not None
    assert user_count(app) == 1
    assert can_log_in(app, "JANE.DOE@example.com", NEW_PASSWORD)


FULLWIDTH = "Bob@ｅｘａｍｐｌｅ.net"  # the domain in fullwidth letters: example.net


def test_addresses_are_stored_and_compared_in_one_normalised_form(app, runner, outbox):
    """`bob@ｅｘａｍｐｌｅ.net` is bob@example.net everywhere: sign-up, login, reset, change of
    address and create-admin."""
    assert services.normalise_email(" Bob@ｅｘａｍｐｌｅ.NET ") == "bob@example.net"
    assert services.normalise_email("ｂｏｂ@Bücher.de") == "bob@bücher.de"
    assert services.normalise_email("bob@xn--bcher-kva.de") == "bob@bücher.de"
    assert services.normalise_email("not an address") == "not an address"

    client = app.test_client()
    client.post("/account/signup", data=signup_data(email=FULLWIDTH))
    assert account(app, "bob@example.net") is not None
    client.post("/account/signup", data=signup_data(email="bob@example.net"))
    assert user_count(app) == 1  # no second account beside it
    client.get(outbox.link(outbox.last("bob@example.net")))  # confirmed
    assert can_log_in(app, "bob@example.net", NEW_PASSWORD)
    assert can_log_in(app, FULLWIDTH, NEW_PASSWORD)

    app.test_client().post("/account/forgot", data={"email": FULLWIDTH})
    assert outbox.last("bob@example.net")["Subject"].startswith("Reset your password")

    with app.app_context():
        make_user("taken@example.com")
    browser = app.test_client()
    login(browser, "bob@example.net", NEW_PASSWORD)
    response = change_email(browser, "taken@ｅｘａｍｐｌｅ.com", NEW_PASSWORD)
    assert field_error(response, "em-email") == TAKEN

    result = runner.invoke(args=["create-admin", "Boss@ｅｘａｍｐｌｅ.org"],
                           env={"DIRECTORY_ADMIN_PASSWORD": NEW_PASSWORD})
    assert result.exit_code == 0, result.output
    assert account(app, "boss@example.org")["role"] == "admin"
    result = runner.invoke(args=["create-admin", "boss@example.org"],
                           env={"DIRECTORY_ADMIN_PASSWORD": NEW_PASSWORD})
    assert f"Error: {TAKEN}" in result.output


@pytest.mark.parametrize(("overrides", "field", "message"), [
    pytest.param({"full_name": ""}, "full_name", "Enter your full name.", id="no-name"),
    pytest.param({"full_name": "   "}, "full_name", "Enter your full name.", id="blank-name"),
    pytest.param({"email": ""}, "email", "Enter your e-mail address.", id="no-email"),
    pytest.param({"email": "jane.example.com"}, "email", BAD_EMAIL, id="no-at"),
    pytest.param({"email": "jane@"}, "email", BAD_EMAIL, id="no-domain"),
    pytest.param({"password": "", "confirm": ""}, "password", "Choose a password.",
                 id="no-password"),
    pytest.param({"password": "Tr0ub4dor&3", "confirm": "Tr0ub4dor&3"}, "password", TOO_SHORT,
                 id="11-characters"),
    pytest.param({"password": "x7" * 64 + "!", "confirm": "x7" * 64 + "!"}, "password",
                 TOO_LONG, id="129-characters"),
    pytest.param({"password": "password1234", "confirm": "password1234"}, "password", COMMON,
                 id="common"),
    pytest.param({"password": "1q2w3e4r5t6y", "confirm": "1q2w3e4r5t6y"}, "password", COMMON,
                 id="common-keyboard-walk"),
    pytest.param({"password": "Iloveyou2024!", "confirm": "Iloveyou2024!"}, "password", COMMON,
                 id="common-word-with-digits"),
    pytest.param({"password": "abababababab", "confirm": "abababababab"}, "password", REPEATS,
                 id="too-few-different-characters"),
    pytest.param({"email": "marmalade.orbit@example.com", "password": "marmalade.orbit@example.com",
                  "confirm": "marmalade.orbit@example.com"}, "password", IS_EMAIL,
                 id="password-is-email"),
    pytest.param({"email": "marmalade.orbit@example.com", "password": "Marmalade.Orbit",
                  "confirm": "Marmalade.Orbit"}, "password", IS_EMAIL,
                 id="password-is-email-name"),
    pytest.param({"confirm": NEW_PASSWORD + "!"}, "confirm", MISMATCH, id="repeat-differs"),
    pytest.param({"confirm": ""}, "confirm", "Repeat your password.", id="no-repeat"),
])
def test_signup_field_rules(app, client, outbox, overrides, field, message):
    data = signup_data(**overrides)
    response = client.post("/account/signup", data=data)
    assert response.status_code == 200
    assert message in field_error(response, field)
    # No other field complains (an empty password also leaves the repeat empty).
    others = {"full_name", "email", "password", "confirm"} - {field, "confirm"}
    assert [name for name in others if field_error(response, name)] == []
    assert input_value(response, "full_name") == data["full_name"].strip()
    assert input_value(response, "email") == data["email"]
    assert not input_value(response, "password")
    assert not input_value(response, "confirm")
    assert user_count(app) == 0
    assert outbox.messages() == []
    assert not is_logged_in(client)


@pytest.mark.parametrize("typed", ["jane@example.com", "Jane@Example.com", "JANE@EXAMPLE.COM",
                                   "jane@ｅｘａｍｐｌｅ.com"])
def test_signup_with_an_address_in_use_answers_alike_and_tells_its_owner(app, jane, outbox,
                                                                          typed):
    """Nobody learns from sign-up whether an address has an account: the same answer, no login,
    and the owner gets a note instead of a confirmation link."""
    taken = app.test_client()
    free = app.test_client()
    taken_page = sent_page(taken, taken.post("/account/signup", data=signup_data(email=typed)))
    free_page = sent_page(free, free.post("/account/signup",
                                          data=signup_data(email="fresh@example.com")))
    assert taken_page.replace(JANE, "ADDRESS") == free_page.replace("fresh@example.com",
                                                                    "ADDRESS")
    assert CHECK_INBOX in taken_page
    assert not is_logged_in(taken)
    assert not is_logged_in(free)
    assert user_count(app) == 2  # Jane and fresh@: no second account for Jane's address
    assert can_log_in(app, JANE, PASSWORD)  # the existing account is untouched
    assert not can_log_in(app, JANE, NEW_PASSWORD)

    [note] = [m for m in outbox.messages() if m["To"] == JANE]
    assert note["Subject"].startswith("Someone tried to sign up with your address")
    body = note.get_payload(decode=True).decode()
    assert "which already has an account" in body
    assert "http://127.0.0.1:5000/account/login" in body
    assert "http://127.0.0.1:5000/account/forgot" in body
    assert "/account/confirm/" not in body
    assert outbox.last("fresh@example.com")["Subject"].startswith("Confirm your e-mail address")


def message_count(app) -> int:
    """Rows in the outbox, whatever their state."""
    from sqlalchemy import func, select

    from directory.models import OutboxMessage

    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(OutboxMessage))


def test_signup_with_an_address_in_use_does_the_same_work(app, jane, monkeypatch):
    """Both answers hash the password once, queue one message and commit: the time an answer
    takes does not tell which addresses have accounts (speed itself is not timed in tests)."""
    from directory.accounts import services as account_services

    real_hash = account_services.hash_password
    hashed: list[str] = []

    def counting_hash(password: str) -> str:
        hashed.append(password)
        return real_hash(password)

    monkeypatch.setattr(account_services, "hash_password", counting_hash)
    work = {}
    for kind, email in (("taken", JANE), ("free", "new@example.com")):
        hashed.clear()
        before = message_count(app)
        response = app.test_client().post("/account/signup", data=signup_data(email=email))
        work[kind] = (response.status_code, response.headers["Location"], len(hashed),
                      message_count(app) - before)
    assert work["taken"] == work["free"] == (302, "/account/signup/sent", 1, 1)


@pytest.mark.parametrize(("field", "message"), [
    ("full_name", "At most 120 characters (this has 10,000)."),
    ("email", "At most 254 characters (this has 10,000)."),
    ("password", TOO_LONG),
])
def test_signup_with_10000_characters_gives_a_message(app, client, field, message):
    huge = "a" * 9988 + "@example.com" if field == "email" else "Ab3$" * 2500
    overrides = {field: huge} | ({"confirm": huge} if field == "password" else {})
    response = client.post("/account/signup", data=signup_data(**overrides))
    assert response.status_code == 200
    assert message in field_error(response, field)
    assert user_count(app) == 0


def test_signup_ignores_a_role_and_other_fields_it_does_not_offer(app, client, outbox):
    response = client.post("/account/signup", data=signup_data(
        role="admin", is_admin="y", email_confirmed_at="2020-01-01T00:00:00",
        is_active="0", session_version="99"))
    assert response.status_code == 302
    stored = account(app, JANE)
    assert stored["role"] == "practitioner"
    assert not stored["confirmed"]
    client.get(outbox.link(outbox.last(JANE)))  # confirmed and logged in
    assert is_logged_in(client)
    assert client.get("/admin/").status_code == 403


# Request bodies no form would send: each page must answer with a page, never an error.
def _repeated_fields():
    return {"data": {"full_name": ["Jane Doe", "Mallory"], "email": [JANE, "m@example.com"],
                     "password": [NEW_PASSWORD, "x"], "confirm": [NEW_PASSWORD, "y"]}}


def _json_object():
    return {"json": {"full_name": ["Jane"], "email": 5, "password": {"x": 1},
                     "confirm": None, "remember": [True]}}


def _json_list():
    return {"json": [1, 2, 3]}


def _json_string():
    return {"json": JANE}


def _file_for_email():
    return {"data": {"full_name": "Jane Doe", "email": (io.BytesIO(JANE.encode()), "email.txt"),
                     "password": NEW_PASSWORD, "confirm": NEW_PASSWORD}}


@pytest.mark.parametrize("url", ["/account/signup", "/account/login", "/account/forgot"])
@pytest.mark.parametrize("body", [_json_object, _json_list, _json_string, _file_for_email])
def test_account_forms_answer_odd_bodies_with_a_message(app, client, jane, outbox, url, body):
    response = client.post(url, **body())
    assert response.status_code == 200
    assert field_error(response, "email") == "Enter your e-mail address."
    assert user_count(app) == 1
    assert outbox.messages() == []
    assert not is_logged_in(client)


def test_repeated_fields_use_the_first_value(app, client):
    response = client.post("/account/signup", **_repeated_fields())
    assert response.status_code == 302
    assert account(app, JANE)["full_name"] == "Jane Doe"
    assert account(app, "m@example.com") is None


def test_settings_forms_answer_odd_bodies_with_a_message(app, logged_in):
    for url, field in [("/account/settings/password", "pw-current_password"),
                       ("/account/settings/email", "em-email")]:
        response = logged_in.post(url, json={"pw-current_password": 1, "em-email": [1],
                                             "pw-password": {"a": 1}})
        assert response.status_code == 200
        assert field_error(response, field)
    assert can_log_in(app, JANE, PASSWORD)


# --- 2. confirmation ------------------------------------------------------------------------------

def _unconfirmed(app, email: str = JANE) -> int:
    with app.app_context():
        return make_user(email, confirmed=False).id


def _send_confirmation(app, user_id: int) -> None:
    with app.test_request_context():
        services.send_confirmation(db.session.get(User, user_id))


@pytest.mark.parametrize(("age", "accepted"), [
    (3 * 24 * 3600 - 60, True),
    (3 * 24 * 3600 + 60, False),
])
def test_confirmation_link_lasts_three_days(app, client, outbox, monkeypatch, age, accepted):
    user_id = _unconfirmed(app)
    with clock_back(monkeypatch, age):
        _send_confirmation(app, user_id)
    response = client.get(outbox.link(outbox.last(JANE)), follow_redirects=True)
    assert response.request.path == "/account/login"
    if accepted:
        assert f"Thank you: {JANE} is confirmed." in flashes(response)
    else:
        assert flashes(response) == [EXPIRED]
    assert account(app, JANE)["confirmed"] is accepted


def test_tampered_confirmation_links_are_refused(app, client, outbox):
    jane_id = _unconfirmed(app)
    mallory_id = _unconfirmed(app, "mallory@example.com")
    _send_confirmation(app, mallory_id)
    token = token_of(outbox.link(outbox.last("mallory@example.com")))

    forged = forge(token, uid=jane_id, email=JANE)
    for bad in [forged, token[:-6] + ("AAAAAA" if not token.endswith("AAAAAA") else "BBBBBB"),
                "not-a-token", token + "x"]:
        response = client.get(f"/account/confirm/{bad}", follow_redirects=True)
        assert response.request.path == "/account/login"
        assert flashes(response) == [NOT_VALID]
    assert not account(app, JANE)["confirmed"]
    assert not account(app, "mallory@example.com")["confirmed"]

    # The untouched link still works: the refusals above were about the tampering.
    client.get(f"/account/confirm/{token}")
    assert account(app, "mallory@example.com")["confirmed"]
    assert not account(app, JANE)["confirmed"]


def test_a_reset_link_does_not_confirm_an_address(app, client, outbox):
    _unconfirmed(app)
    token = token_of(_reset_link(client, outbox))
    response = client.get(f"/account/confirm/{token}", follow_redirects=True)
    assert flashes(response) == [NOT_VALID]
    assert not account(app, JANE)["confirmed"]


def test_confirmation_link_for_an_address_since_changed_is_refused(app, client, outbox):
    user_id = _unconfirmed(app)
    _send_confirmation(app, user_id)
    link = outbox.link(outbox.last(JANE))
    with app.app_context():
        db.session.get(User, user_id).email = "jane.new@example.com"
        db.session.commit()
    response = client.get(link, follow_redirects=True)
    assert flashes(response) == ["This link is not valid any more. Please ask for a new one."]
    assert not account(app, "jane.new@example.com")["confirmed"]


def test_logged_in_user_with_a_bad_link_lands_on_settings(app, client, auth):
    _unconfirmed(app)
    auth.login(JANE)
    response = client.get("/account/confirm/not-a-token", follow_redirects=True)
    assert response.request.path == "/account/settings"
    assert NOT_VALID in flashes(response)


def test_resend_confirmation_sends_a_new_working_link(app, client, auth, outbox):
    _unconfirmed(app)
    auth.login(JANE)
    settings = client.get("/account/settings")
    assert "not confirmed yet" in settings.text
    assert "Send a new confirmation link" in settings.text

    response = client.post("/account/confirm/resend", follow_redirects=True)
    assert response.request.path == "/account/settings"
    assert f"We sent a new confirmation link to {JANE}." in flashes(response)
    [message] = outbox.messages()
    assert message["To"] == JANE

    client.get(outbox.link(message))
    assert account(app, JANE)["confirmed"]
    assert "not confirmed yet" not in client.get("/account/settings").text


def test_resend_for_a_confirmed_account_says_already_confirmed(client, logged_in, outbox):
    response = logged_in.post("/account/confirm/resend", follow_redirects=True)
    assert "Your e-mail address is already confirmed." in flashes(response)
    assert outbox.messages() == []


def test_resend_needs_a_login(client, jane, outbox):
    response = client.post("/account/confirm/resend")
    assert response.status_code == 302
    assert response.location.startswith("/account/login")
    assert outbox.messages() == []


# --- 3. login -------------------------------------------------------------------------------------

def test_login_takes_a_practitioner_to_the_dashboard(app, client, auth, jane):
    response = auth.login("Jane@Example.COM")
    assert response.status_code == 302
    assert response.location == "/dashboard"
    page = client.get("/dashboard")
    assert page.status_code == 200
    assert "You are logged in." in flashes(page)
    assert account(app, JANE)["last_login_at"] is not None


def test_login_takes_an_admin_to_the_admin_pages(app, client, auth):
    with app.app_context():
        make_admin("boss@example.com")
    response = auth.login("boss@example.com")
    assert response.location == "/admin/"
    assert client.get("/admin/").status_code == 200


def test_unknown_address_and_wrong_password_look_the_same(app, client, jane):
    unknown = client.post("/account/login",
                          data={"email": "nobody@example.com", "password": PASSWORD})
    wrong = client.post("/account/login", data={"email": JANE, "password": PASSWORD + "!"})
    assert unknown.status_code == wrong.status_code == 200
    assert field_error(unknown, "password") == field_error(wrong, "password") == BAD_LOGIN
    assert (unknown.text.replace("nobody@example.com", "ADDRESS")
            == wrong.text.replace(JANE, "ADDRESS"))
    assert not is_logged_in(client)
    assert account(app, JANE)["last_login_at"] is None


def test_inactive_account_cannot_log_in(app, client, auth):
    with app.app_context():
        make_user("idle@example.com", active=False)
    response = auth.login("idle@example.com")
    assert response.status_code == 200
    assert field_error(response, "password") == BAD_LOGIN
    assert client.get("/dashboard").location.startswith("/account/login")


def test_a_deactivated_account_is_logged_out(app, client, logged_in):
    with app.app_context():
        db.session.scalar(select(User).where(User.email == JANE)).is_active = False
        db.session.commit()
    assert not is_logged_in(logged_in)


@pytest.mark.parametrize(("data", "field", "message"), [
    ({"email": "", "password": PASSWORD}, "email", "Enter your e-mail address."),
    ({"email": "jane", "password": PASSWORD}, "email", BAD_EMAIL),
    ({"email": JANE, "password": ""}, "password", "Enter your password."),
    ({"email": "j" * 10000, "password": PASSWORD}, "email",
     "At most 254 characters (this has 10,000)."),
    ({"email": JANE, "password": "p" * 10000}, "password",
     "Field cannot be longer than 128 characters."),
])
def test_login_field_rules(client, jane, data, field, message):
    response = client.post("/account/login", data=data)
    assert response.status_code == 200
    assert message in field_error(response, field)
    assert not is_logged_in(client)


def test_remember_me_keeps_the_login_after_the_browser_closes(client, auth, jane):
    auth.login(jane, remember="y")
    assert client.get_cookie("remember_token") is not None
    client.delete_cookie("session")
    assert client.get("/dashboard").status_code == 200


def test_without_remember_me_closing_the_browser_logs_out(client, auth, jane):
    auth.login(jane)
    assert client.get_cookie("remember_token") is None
    assert client.get("/dashboard").status_code == 200
    client.delete_cookie("session")
    assert client.get("/dashboard").location.startswith("/account/login")


def test_login_returns_to_the_page_that_asked_for_it(client, jane):
    response = client.get("/profile/edit")
    assert response.status_code == 302
    assert response.location.startswith("/account/login?next=")
    response = client.post(response.location, data={"email": JANE, "password": PASSWORD})
    assert response.location == "/profile/edit"
    assert client.get("/profile/edit").status_code == 200


def test_next_may_also_come_with_the_form(client, jane):
    response = client.post("/account/login",
                           data={"email": JANE, "password": PASSWORD, "next": "/account/settings"})
    assert response.location == "/account/settings"


@pytest.mark.parametrize("target", [
    "https://evil.example", "//evil.example", "/\\evil.example", "javascript:alert(1)",
    "http:/evil", "\\\\evil", "///evil.example", "/\t/evil.example", " //evil.example",
    "https:evil.example",
])
def test_login_refuses_to_send_people_off_site(client, jane, target):
    response = client.post("/account/login", query_string={"next": target},
                           data={"email": JANE, "password": PASSWORD})
    assert response.status_code == 302
    assert response.location == "/dashboard"


@pytest.mark.parametrize("path", ["/account/login", "/account/signup"])
def test_logged_in_people_are_sent_home_from_login_and_signup(app, client, auth, path):
    with app.app_context():
        make_user(JANE)
        make_admin("boss@example.com")
    auth.login(JANE)
    response = client.get(path)
    assert response.location == "/dashboard"
    assert "You are already logged in." in flashes(client.get("/dashboard"))
    assert client.post(path, data=signup_data(email="new@example.com")).location == "/dashboard"
    assert user_count(app) == 2

    auth.logout()
    auth.login("boss@example.com")
    assert client.get(path).location == "/admin/"


def test_logout_is_post_only_and_ends_the_session(client, auth, jane):
    auth.login(jane, remember="y")
    response = client.get("/account/logout")
    assert response.status_code == 405
    assert is_logged_in(client)

    response = client.post("/account/logout", follow_redirects=True)
    assert response.request.path == "/"
    assert "You are logged out." in flashes(response)
    assert not is_logged_in(client)
    client.delete_cookie("session")  # the remember-me cookie is gone too
    assert not is_logged_in(client)


# --- 4. password reset ----------------------------------------------------------------------------

def test_forgot_password_says_the_same_for_known_and_unknown_addresses(app, client, jane, outbox):
    known = client.post("/account/forgot", data={"email": "JANE@example.com"},
                        follow_redirects=True)
    assert [m["To"] for m in outbox.messages()] == [JANE]
    assert outbox.messages()[0]["Subject"].startswith("Reset your password")
    unknown = client.post("/account/forgot", data={"email": "nobody@example.com"},
                          follow_redirects=True)
    assert len(outbox.messages()) == 1
    for response in (known, unknown):
        assert response.request.path == "/account/login"
        assert flashes(response) == [FORGOT_SENT]


def test_forgot_password_sends_nothing_to_an_inactive_account(app, client, outbox):
    with app.app_context():
        make_user("idle@example.com", active=False)
    response = client.post("/account/forgot", data={"email": "idle@example.com"},
                           follow_redirects=True)
    assert flashes(response) == [FORGOT_SENT]
    assert outbox.messages() == []


@pytest.mark.parametrize(("email", "message"), [
    ("", "Enter your e-mail address."),
    ("jane@", BAD_EMAIL),
])
def test_forgot_password_field_rules(client, outbox, email, message):
    response = client.post("/account/forgot", data={"email": email})
    assert response.status_code == 200
    assert field_error(response, "email") == message
    assert outbox.messages() == []


def test_the_reset_request_does_not_wait_for_the_mail_server(migrated_database, tmp_path, app,
                                                             jane):
    """The answer comes without talking to SMTP (here a closed port), known address or not:
    the message waits in the outbox for the sender."""
    import socket
    import time

    from directory import create_app
    from directory.models import OutboxMessage
    from tests.conftest import base_config

    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    smtp = create_app(base_config(migrated_database, tmp_path) | {
        "MAIL_BACKEND": "smtp", "MAIL_SERVER": "127.0.0.1", "MAIL_PORT": port,
        "MAIL_TIMEOUT": 5})
    client = smtp.test_client()
    for email in (JANE, "nobody@example.com"):
        start = time.perf_counter()
        response = client.post("/account/forgot", data={"email": email})
        assert response.status_code == 302
        assert time.perf_counter() - start < 2
    with smtp.app_context():
        queued = db.session.scalars(select(OutboxMessage)).all()
        assert [(m.to_address, m.status, m.attempts) for m in queued] == [(JANE, "pending", 0)]
        db.session.remove()
        db.engine.dispose()


def _reset_link(client, outbox, email: str = JANE) -> str:
    client.post("/account/forgot", data={"email": email}, follow_redirects=True)
    return outbox.link(outbox.last(email))


def test_reset_link_sets_a_new_password_once(app, client, jane, outbox):
    link = _reset_link(client, outbox)
    assert link.startswith("/account/reset/")
    page = client.get(link)
    assert page.status_code == 200
    assert f"For {JANE}." in page.text

    response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                           follow_redirects=True)
    assert response.request.path == "/account/login"
    assert "Your password has been changed. Please log in with it." in flashes(response)
    assert not can_log_in(app, JANE, PASSWORD)
    assert can_log_in(app, JANE, NEW_PASSWORD)
    assert len(audit_events(app, "account.password_reset")) == 1

    for again in (client.get(link, follow_redirects=True),
                  client.post(link, data={"password": "another good pass 77",
                                          "confirm": "another good pass 77"},
                              follow_redirects=True)):
        assert again.request.path == "/account/forgot"
        assert flashes(again) == [RESET_USED]
    assert can_log_in(app, JANE, NEW_PASSWORD)


NEW_PASSWORD_RULES = [
    pytest.param("", "", "password", "Choose a password.", id="missing"),
    pytest.param("Tr0ub4dor&3", "Tr0ub4dor&3", "password", TOO_SHORT, id="short"),
    pytest.param("password1234", "password1234", "password", COMMON, id="common"),
    pytest.param("1q2w3e4r5t6y", "1q2w3e4r5t6y", "password", COMMON, id="common-walk"),
    pytest.param("x7" * 65, "x7" * 65, "password", TOO_LONG, id="long"),
    pytest.param(JANE, JANE, "password", IS_EMAIL, id="the-email"),
    pytest.param("Jane@Example.com", "Jane@Example.com", "password", IS_EMAIL,
                 id="the-email-in-capitals"),
    pytest.param(NEW_PASSWORD, NEW_PASSWORD + "?", "confirm", MISMATCH, id="mismatch"),
]


@pytest.mark.parametrize(("password", "confirm", "field", "message"), NEW_PASSWORD_RULES)
def test_reset_enforces_the_password_rules(app, client, jane, outbox, password, confirm, field,
                                           message):
    link = _reset_link(client, outbox)
    response = client.post(link, data={"password": password, "confirm": confirm})
    assert response.status_code == 200
    assert message in field_error(response, field)
    assert not input_value(response, "password")
    assert can_log_in(app, JANE, PASSWORD)
    # The link still works after a refused attempt.
    assert client.get(link).status_code == 200


@pytest.mark.parametrize(("age", "accepted"), [(3600 - 60, True), (3600 + 60, False)])
def test_reset_link_lasts_one_hour(app, client, jane, outbox, monkeypatch, age, accepted):
    with clock_back(monkeypatch, age), app.test_request_context():
        services.request_password_reset(JANE)
    link = outbox.link(outbox.last(JANE))
    response = client.get(link, follow_redirects=True)
    if accepted:
        assert response.request.path == link
    else:
        assert response.request.path == "/account/forgot"
        assert flashes(response) == [EXPIRED]
        response = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
        assert response.location == "/account/forgot"
        assert can_log_in(app, JANE, PASSWORD)


def test_tampered_reset_link_is_refused(app, client, jane, outbox):
    with app.app_context():
        make_user("mallory@example.com")
        jane_id = db.session.scalar(select(User.id).where(User.email == JANE))
    token = token_of(_reset_link(client, outbox, "mallory@example.com"))
    forged = forge(token, uid=jane_id)
    response = client.post(f"/account/reset/{forged}",
                           data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                           follow_redirects=True)
    assert flashes(response) == [NOT_VALID]
    assert can_log_in(app, JANE, PASSWORD)


def test_reset_confirms_an_unconfirmed_address(app, client, outbox):
    _unconfirmed(app)
    link = _reset_link(client, outbox)
    client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})
    assert account(app, JANE)["confirmed"]


def test_reset_logs_out_every_session(app, client, auth, jane, outbox):
    other = app.test_client()
    login(other, JANE, remember=True)
    assert other.get("/dashboard").status_code == 200
    auth.login(jane)

    link = _reset_link(app.test_client(), outbox)
    client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD})

    assert other.get("/dashboard").location.startswith("/account/login")
    other.delete_cookie("session")  # nor does the remember-me cookie bring it back
    assert other.get("/dashboard").location.startswith("/account/login")
    assert client.get("/dashboard").location.startswith("/account/login")


def test_a_reset_link_stops_working_when_the_address_changes(app, client, jane, outbox):
    """The link was sent to the old address: whoever reads that mailbox later cannot use it,
    not even once the account has moved back to that address."""
    link = _reset_link(app.test_client(), outbox)
    assert client.get(link).status_code == 200
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == JANE))
        token = token_of(_change_link(app, user, "jane.new@example.com", outbox))
        services.confirm_email_change(token)
    refused = client.post(link, data={"password": NEW_PASSWORD, "confirm": NEW_PASSWORD},
                          follow_redirects=True)
    assert refused.request.path == "/account/forgot"
    assert flashes(refused) == [RESET_USED]
    with app.app_context():
        user = db.session.scalar(select(User).where(User.email == "jane.new@example.com"))
        services.confirm_email_change(token_of(_change_link(app, user, JANE, outbox)))
    assert client.get(link, follow_redirects=True).request.path == "/account/forgot"
    assert can_log_in(app, JANE, PASSWORD)
    assert not can_log_in(app, JANE, NEW_PASSWORD)


def _change_link(app, user: User, new_email: str, outbox) -> str:
    """Ask for a change of address through the service; the link mailed to the new one."""
    with app.test_request_context():
        services.request_email_change(user, new_email, PASSWORD)
    return outbox.link(outbox.last(new_email))


# --- 5. change password ---------------------------------------------------------------------------

def change_password(client, current=PASSWORD, password=NEW_PASSWORD, confirm=None, **kwargs):
    return client.post("/account/settings/password", data={
        "pw-current_password": current, "pw-password": password,
        "pw-confirm": password if confirm is None else confirm}, **kwargs)


def test_change_password_needs_the_current_one(app, logged_in):
    response = change_password(logged_in, current="not my password")
    assert response.status_code == 200
    assert field_error(response, "pw-current_password") == WRONG_CURRENT
    assert can_log_in(app, JANE, PASSWORD)
    assert not can_log_in(app, JANE, NEW_PASSWORD)


@pytest.mark.parametrize(("password", "confirm", "field", "message"), NEW_PASSWORD_RULES + [
    pytest.param(NEW_PASSWORD, NEW_PASSWORD, "current_password", "Enter your current password.",
                 id="no-current"),
])
def test_change_password_enforces_the_rules(app, logged_in, password, confirm, field, message):
    current = "" if field == "current_password" else PASSWORD
    response = change_password(logged_in, current, password, confirm)
    assert response.status_code == 200
    assert message in field_error(response, f"pw-{field}")
    assert not input_value(response, "pw-password")
    assert can_log_in(app, JANE, PASSWORD)


def test_change_password_keeps_this_session_and_ends_the_others(app, client, auth, jane):
    other = app.test_client()
    login(other, JANE)
    auth.login(jane)

    response = change_password(client, follow_redirects=True)
    assert response.request.path == "/account/settings"
    assert ("Your password has been changed. Other devices have been logged out."
            in flashes(response))
    assert client.get("/dashboard").status_code == 200
    assert other.get("/dashboard").location.startswith("/account/login")
    assert can_log_in(app, JANE, NEW_PASSWORD)
    assert not can_log_in(app, JANE, PASSWORD)
    assert [e.detail for e in audit_events(app, "account.password_changed")] == [{}]


def test_change_password_keeps_remember_me_on_this_device(app, client, auth, jane):
    auth.login(jane, remember="y")
    change_password(client)
    client.delete_cookie("session")  # the browser is closed and opened again
    assert client.get("/dashboard").status_code == 200


def test_change_password_needs_a_login(app, client, jane):
    response = change_password(client)
    assert response.location.startswith("/account/login")
    assert can_log_in(app, JANE, PASSWORD)


# --- 6. change e-mail -----------------------------------------------------------------------------

def change_email(client, email="new@example.com", password=PASSWORD, **kwargs):
    return client.post("/account/settings/email",
                       data={"em-email": email, "em-current_password": password}, **kwargs)


def test_change_email_needs_the_current_password(app, logged_in, outbox):
    response = change_email(logged_in, password="not my password")
    assert response.status_code == 200
    assert field_error(response, "em-current_password") == WRONG_CURRENT
    assert input_value(response, "em-email") == "new@example.com"
    assert outbox.messages() == []


@pytest.mark.parametrize(("email", "password", "field", "message"), [
    pytest.param("taken@example.com", PASSWORD, "email", TAKEN, id="taken"),
    pytest.param("Taken@Example.COM", PASSWORD, "email", TAKEN, id="taken-other-case"),
    pytest.param("JANE@example.com", PASSWORD, "email", "That is already your e-mail address.",
                 id="own-address"),
    pytest.param("", PASSWORD, "email", "Enter your e-mail address.", id="missing"),
    pytest.param("new@", PASSWORD, "email", BAD_EMAIL, id="invalid"),
    pytest.param("n" * 10000, PASSWORD, "email", "At most 254 characters (this has 10,000).",
                 id="huge"),
    pytest.param("new@example.com", "", "current_password", "Enter your current password.",
                 id="no-password"),
])
def test_change_email_field_rules(app, logged_in, outbox, email, password, field, message):
    with app.app_context():
        make_user("taken@example.com")
    response = change_email(logged_in, email, password)
    assert response.status_code == 200
    assert message in field_error(response, f"em-{field}")
    assert outbox.messages() == []
    assert account(app, JANE) is not None


def test_change_email_by_link_to_the_new_address(app, logged_in, outbox):
    response = change_email(logged_in, "New@Example.com", follow_redirects=True)
    assert response.request.path == "/account/settings"
    assert "we sent a link to new@example.com. follow it to finish the change." in [
        f.lower() for f in flashes(response)]
    assert account(app, JANE) is not None  # nothing changes until the link is followed

    to_new = outbox.last("new@example.com")
    assert to_new["Subject"].startswith("Confirm your new e-mail address")
    notice = outbox.last(JANE)
    assert notice["Subject"].startswith("Your e-mail address is being changed")
    assert "new@example.com" in notice.get_payload(decode=True).decode()
    assert len(outbox.messages()) == 2

    link = outbox.link(to_new)
    response = logged_in.get(link, follow_redirects=True)
    assert response.request.path == "/account/settings"
    assert "Your e-mail address is now new@example.com." in flashes(response)
    assert account(app, JANE) is None
    assert account(app, "new@example.com")["confirmed"]
    assert can_log_in(app, "new@example.com", PASSWORD)
    assert not can_log_in(app, JANE, PASSWORD)
    assert is_logged_in(logged_in)

    response = logged_in.get(link, follow_redirects=True)
    assert flashes(response) == ["This link has already been used or is not valid."]
    [event] = audit_events(app, "account.email_changed")
    assert event.detail == {"old": JANE, "new": "new@example.com"}
    assert event.subject_type == "users"
    assert event.subject_id == event.actor_id == account(app, "new@example.com")["id"]


def test_change_email_link_works_once_even_after_changing_back(app, logged_in, outbox):
    """A → B by the link, then back to A: the first link to B must not move the account to B
    again (whoever reads B's mailbox would take the account back)."""
    change_email(logged_in, "b@example.com")
    to_b = outbox.link(outbox.last("b@example.com"))
    assert "now b@example.com" in " ".join(flashes(logged_in.get(to_b, follow_redirects=True)))
    change_email(logged_in, JANE)
    assert f"now {JANE}" in " ".join(
        flashes(logged_in.get(outbox.link(outbox.last(JANE)), follow_redirects=True)))
    assert account(app, JANE) is not None

    again = logged_in.get(to_b, follow_redirects=True)
    assert flashes(again) == ["This link has already been used or is not valid."]
    assert account(app, JANE) is not None
    assert account(app, "b@example.com") is None
    assert len(audit_events(app, "account.email_changed")) == 2


def test_change_email_link_refused_when_the_address_was_taken_meanwhile(app, logged_in, outbox):
    change_email(logged_in)
    with app.app_context():
        make_user("new@example.com")
    response = logged_in.get(outbox.link(outbox.last("new@example.com")), follow_redirects=True)
    assert "Another account now uses that address." in flashes(response)
    assert account(app, JANE) is not None
    assert audit_events(app, "account.email_changed") == []


def test_change_email_link_is_refused_when_tampered(app, logged_in, outbox):
    change_email(logged_in)
    token = token_of(outbox.link(outbox.last("new@example.com")))
    forged = forge(token, new="mallory@example.com")
    response = logged_in.get(f"/account/email/{forged}", follow_redirects=True)
    assert NOT_VALID in flashes(response)
    assert account(app, JANE) is not None
    assert account(app, "mallory@example.com") is None


# --- 7. the create-admin command ------------------------------------------------------------------

def test_create_admin_from_the_environment(app, runner, client, auth):
    result = runner.invoke(args=["create-admin", "Boss@Example.com"],
                           env={"DIRECTORY_ADMIN_PASSWORD": NEW_PASSWORD})
    assert result.exit_code == 0, result.output
    assert "Administrator boss@example.com created." in result.output
    stored = account(app, "boss@example.com")
    assert stored["role"] == "admin"
    assert stored["confirmed"]
    assert stored["full_name"] is None
    assert len(audit_events(app, "account.admin_created")) == 1

    response = auth.login("boss@example.com", NEW_PASSWORD)
    assert response.location == "/admin/"
    assert client.get("/admin/").status_code == 200
    assert client.get("/dashboard").status_code == 403


@pytest.mark.parametrize(("password", "message"), [
    ("short pass", TOO_SHORT),
    ("password1234", COMMON),
    ("boss@example.com", IS_EMAIL),
    ("", TOO_SHORT),
])
def test_create_admin_refuses_a_weak_password(app, runner, password, message):
    result = runner.invoke(args=["create-admin", "boss@example.com"],
                           env={"DIRECTORY_ADMIN_PASSWORD": password})
    assert result.exit_code == 1
    assert f"Error: {message}" in result.output
    assert user_count(app) == 0


def test_create_admin_refuses_an_address_in_use(app, runner):
    with app.app_context():
        make_user("boss@example.com")
    result = runner.invoke(args=["create-admin", "BOSS@example.com"],
                           env={"DIRECTORY_ADMIN_PASSWORD": NEW_PASSWORD})
    assert result.exit_code == 1
    assert f"Error: {TAKEN}" in result.output
    assert user_count(app) == 1
    assert account(app, "boss@example.com")["role"] == "practitioner"
    assert not can_log_in(app, "boss@example.com", NEW_PASSWORD)


@pytest.mark.parametrize("email", ["not an email", "boss@", "  "])
def test_create_admin_refuses_an_invalid_address(app, runner, email):
    result = runner.invoke(args=["create-admin", email],
                           env={"DIRECTORY_ADMIN_PASSWORD": NEW_PASSWORD})
    assert result.exit_code == 1
    assert f"Error: {BAD_EMAIL}" in result.output
    assert user_count(app) == 0


def test_create_admin_asks_for_the_password_twice(app, runner):
    result = runner.invoke(args=["create-admin", "boss@example.com"],
                           env={"DIRECTORY_ADMIN_PASSWORD": None},
                           input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}\n")
    assert result.exit_code == 0, result.output
    assert "Password:" in result.output
    assert "Repeat for confirmation:" in result.output
    assert NEW_PASSWORD not in result.output
    assert account(app, "boss@example.com")["role"] == "admin"
    assert can_log_in(app, "boss@example.com", NEW_PASSWORD)


def test_create_admin_stops_when_the_two_passwords_differ(app, runner):
    result = runner.invoke(args=["create-admin", "boss@example.com"],
                           env={"DIRECTORY_ADMIN_PASSWORD": None},
                           input=f"{NEW_PASSWORD}\n{NEW_PASSWORD}!\n")
    assert result.exit_code == 1
    assert "do not match" in result.output
    assert user_count(app) == 0


# --- 8. no one becomes an administrator through the site ----------------------------------------

def test_a_practitioner_cannot_reach_the_admin_pages(client, logged_in):
    assert logged_in.get("/admin/").status_code == 403


def test_sign_up_race_for_the_same_address_gives_a_message(app, monkeypatch):
    """Two sign-ups that both pass the form check: the database refuses the second one."""
    with app.test_request_context():
        services.register_practitioner("race@example.com", "a long enough passphrase", "First")
        monkeypatch.setattr(services, "email_taken", lambda email: False)
        with pytest.raises(services.AccountError, match="already exists"):
            services.register_practitioner("race@example.com", "a long enough passphrase",
                                           "Second")


def test_sign_up_race_for_the_same_address_through_the_form_tells_the_owner(app, client, outbox,
                                                                           monkeypatch):
    with app.app_context():
        make_user(JANE)
    monkeypatch.setattr(services, "email_taken", lambda email: False)  # both passed the check
    response = client.post("/account/signup", data=signup_data())
    assert response.location == "/account/signup/sent"
    assert user_count(app) == 1
    assert outbox.last(JANE)["Subject"].startswith("Someone tried to sign up")


def test_two_sign_ups_with_the_same_name_at_the_same_moment_both_succeed(app, outbox,
                                                                         monkeypatch):
    """Another sign-up with the same name takes the slug between our choosing it and our
    insert (reproduced: a second connection commits it in between): ours gets the next one."""
    real = services.unique_slug
    calls = []

    def raced(name):
        slug = real(name)
        calls.append(slug)
        if len(calls) == 1:  # the other sign-up commits in between, on its own connection
            with db.engine.begin() as conn:
                inserted = conn.execute(User.__table__.insert().values(
                    email="first@example.com", password_hash="x", role="practitioner",
                    is_active=True, created_at=utcnow(), updated_at=utcnow()))
                uid = inserted.inserted_primary_key[0]
                conn.execute(Practitioner.__table__.insert().values(
                    user_id=uid, slug=slug, full_name="Jane Doe", post_nominals="",
                    licence_number="", bio="", phone="", public_email="", website="",
                    booking_url="", accepting_new_patients=True, insurance_notes="",
                    is_demo=False, version=1, created_at=utcnow(), updated_at=utcnow(),
                    search_words=document("Jane Doe", "", None, [])))  # as the app keeps it
        return slug

    monkeypatch.setattr(services, "unique_slug", raced)
    response = app.test_client().post("/account/signup", data=signup_data())
    assert response.location == "/account/signup/sent"
    assert calls == ["jane-doe", "jane-doe-2"]
    assert account(app, "first@example.com")["slug"] == "jane-doe"
    second = account(app, JANE)
    assert second["slug"] == "jane-doe-2"
    assert second["full_name"] == "Jane Doe"
    assert [e.subject_id for e in audit_events(app, "account.signed_up")] == [second["id"]]
    assert outbox.last(JANE)["Subject"].startswith("Confirm your e-mail address")
    assert [m["To"] for m in outbox.messages()] == [JANE]  # no "address in use" note


def test_the_upgrade_renormalises_stored_addresses_and_leaves_collisions(tmp_path, caplog):
    """0008 stores existing addresses in the normalised form; one that would become another
    account's address stays as it is, and is logged."""
    import logging

    from flask_migrate import upgrade
    from sqlalchemy import text

    from directory import PACKAGE, create_app
    from tests.conftest import base_config

    app = create_app(base_config(f"sqlite:///{tmp_path / 'old.sqlite3'}", tmp_path))
    migrations = str(PACKAGE / "migrations")
    with app.app_context():
        upgrade(directory=migrations, revision="0007")
        with db.engine.begin() as conn:
            for n, email in enumerate(["bob@ｅｘａｍｐｌｅ.net", "amy@example.org",
                                       "amy@ｅｘａｍｐｌｅ.org", "plain@example.com"], 1):
                conn.execute(text(
                    "INSERT INTO users (id, email, password_hash, role, is_active,"
                    " session_version, created_at, updated_at) VALUES (:id, :email, 'x',"
                    " 'practitioner', 1, 1, '2026-01-01 00:00:00', '2026-01-01 00:00:00')"),
                    {"id": n, "email": email})
        with caplog.at_level(logging.WARNING):
            upgrade(directory=migrations)
        with db.engine.connect() as conn:
            stored = dict(conn.execute(text("SELECT id, email FROM users")).all())
        db.engine.dispose()
    assert stored == {1: "bob@example.net", 2: "amy@example.org", 3: "amy@ｅｘａｍｐｌｅ.org",
                      4: "plain@example.com"}
    assert "users 3" in caplog.text and "left as it is" in caplog.text
