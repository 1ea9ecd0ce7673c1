"""Hardening: rate limits and lockout, security headers, production cookies, size limit, hashing."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import subprocess
import sys
import textwrap

import pytest
from werkzeug.security import generate_password_hash

from directory import ROOT, create_app
from directory.accounts.passwords import hash_password
from directory.config import Defaults
from directory.extensions import db, limiter
from directory.models import User
from tests import factories
from tests.conftest import base_config
from tests.factories import login
from tests.pages import page

REDIS_URL = os.environ.get("DIRECTORY_TEST_REDIS_URL", "redis://127.0.0.1:6379/0")
BAD_LOGIN = "That e-mail address and password do not match an account."
JANE = "jane@example.com"
NOBODY = "nobody@example.com"
WRONG = "wrong password 1234"  # noqa: S105
GENEROUS = "1000 per minute"
TRY_AGAIN = re.compile(r"Too many requests\. Please try again in (\d+) (second|minute|hour)s?\.")


@pytest.fixture
def make_limited(app, migrated_database, tmp_path):
    """Build apps with the rate limits on (memory counters unless told), over the test database.

    The `app` fixture empties the database afterwards.
    """
    made = []

    def make(**settings):
        config = base_config(migrated_database, tmp_path) | {
            "RATELIMIT_ENABLED": True,
            "RATELIMIT_LOGIN": GENEROUS, "RATELIMIT_LOGIN_ACCOUNT": GENEROUS,
            "RATELIMIT_SIGNUP": GENEROUS, "RATELIMIT_RESET_REQUEST": GENEROUS,
            "RATELIMIT_RESET_ACCOUNT": GENEROUS, "RATELIMIT_RESET_USE": GENEROUS,
            "RATELIMIT_VERIFY": GENEROUS, "RATELIMIT_API": GENEROUS,
            "RATELIMIT_LOGIN_ACCOUNT_ANYWHERE": GENEROUS,
            "RATELIMIT_RESET_ACCOUNT_ANYWHERE": GENEROUS,
            "RATELIMIT_LOGIN_DEVICE": GENEROUS, "RATELIMIT_SIGNUP_ACCOUNT": GENEROUS,
            "RATELIMIT_CONFIRM_RESEND": GENEROUS,
        } | settings
        made.append(create_app(config))
        return made[-1]

    yield make
    for limited in made:
        with limited.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.fixture
def jane(app):
    """A practitioner account."""
    with app.app_context():
        factories.make_user(JANE)
        db.session.remove()


def assert_too_many_page(response) -> int:
    """The site's 429 page: says when to try again, with a matching Retry-After header."""
    assert response.status_code == 429
    assert response.mimetype == "text/html"
    text = page(response)
    match = TRY_AGAIN.search(text)
    assert match, text
    assert "Go to the home page" in text  # the site's error page, not a bare one
    seconds = int(response.headers["Retry-After"])
    number, unit = int(match[1]), match[2]
    in_seconds = number * {"second": 1, "minute": 60, "hour": 3600}[unit]
    assert 0 < seconds <= in_seconds < seconds + {"second": 1, "minute": 60, "hour": 3600}[unit]
    return seconds


# =========================================================================== the limits


def test_login_attempts_per_address_are_limited(make_limited):
    limited = make_limited(RATELIMIT_LOGIN="3 per minute")
    client = limited.test_client()
    for n in range(3):
        assert BAD_LOGIN in page(login(client, f"person{n}@example.com", WRONG))
    seconds = assert_too_many_page(login(client, "person9@example.com", WRONG))
    assert seconds <= 60
    assert client.get("/account/login").status_code == 200  # reading the form is not limited
    # Another address is not held back by this one.
    other = limited.test_client()
    response = login(other, "person9@example.com", WRONG, environ_base={"REMOTE_ADDR": "192.0.2.7"})
    assert BAD_LOGIN in page(response)


def test_lockout_answers_alike_for_known_and_unknown_addresses(make_limited, jane):
    limited = make_limited(RATELIMIT_LOGIN_ACCOUNT="3 per 10 minutes")
    client = limited.test_client()
    answers = {}
    for email in (JANE, NOBODY):
        answers[email] = [login(client, email, WRONG) for _ in range(4)]
        answers[email].append(login(client, email, factories.PASSWORD))  # the right password
    for known, unknown in zip(answers[JANE], answers[NOBODY], strict=True):
        assert known.status_code == unknown.status_code
        assert (known.get_data(as_text=True).replace(JANE, "EMAIL")
                == unknown.get_data(as_text=True).replace(NOBODY, "EMAIL"))
    codes = [r.status_code for r in answers[JANE]]
    assert codes == [200, 200, 200, 429, 429]  # locked: even the right password waits
    assert BAD_LOGIN in page(answers[JANE][0])
    assert 9 * 60 < assert_too_many_page(answers[JANE][3]) <= 600
    assert abs(int(answers[JANE][4].headers["Retry-After"])
               - int(answers[NOBODY][4].headers["Retry-After"])) <= 2
    # The lockout is for that address only, and the capitalised address is the same one.
    assert login(client, "Jane@Example.com ", factories.PASSWORD).status_code == 429
    with limited.app_context():
        factories.make_user("sam@example.com")
    assert login(client, "sam@example.com", factories.PASSWORD).status_code == 302


def test_a_lockout_from_one_address_does_not_lock_the_owner_out_elsewhere(make_limited, jane):
    """Someone guessing Jane's password from their address cannot stop Jane logging in."""
    limited = make_limited(RATELIMIT_LOGIN_ACCOUNT="3 per 10 minutes")
    attacker = {"REMOTE_ADDR": "198.51.100.66"}
    attempts = [login(limited.test_client(), JANE, WRONG, environ_base=attacker) for _ in range(4)]
    assert [r.status_code for r in attempts] == [200, 200, 200, 429]
    owner = limited.test_client()
    response = login(owner, JANE, factories.PASSWORD, environ_base={"REMOTE_ADDR": "192.0.2.10"})
    assert response.status_code == 302


def test_failures_from_many_addresses_together_are_capped(make_limited, jane):
    limited = make_limited(RATELIMIT_LOGIN_ACCOUNT_ANYWHERE="3 per day")
    for n in range(3):
        response = login(limited.test_client(), JANE, WRONG,
                         environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"})
        assert BAD_LOGIN in page(response)
    fourth = login(limited.test_client(), JANE, WRONG, environ_base={"REMOTE_ADDR": "198.51.100.9"})
    assert_too_many_page(fourth)


def test_guessing_from_many_addresses_does_not_lock_the_owners_browser_out(make_limited, jane):
    """OWASP device cookies: the owner's browser, which logged in before, is counted on its own;
    the "from anywhere" cap that 40 guessing addresses exhausted holds back only browsers
    without one."""
    limited = make_limited(RATELIMIT_LOGIN_ACCOUNT_ANYWHERE="5 per day")
    owner = limited.test_client()
    home = {"REMOTE_ADDR": "192.0.2.10"}
    assert login(owner, JANE, factories.PASSWORD, environ_base=home).status_code == 302
    device = [c for c in cookies_of(owner) if c.key.startswith("device-")]
    assert len(device) == 1 and device[0].http_only
    assert owner.post("/account/logout", environ_base=home).status_code == 302

    for n in range(40):  # an attacker with 40 client addresses
        login(limited.test_client(), JANE, WRONG,
              environ_base={"REMOTE_ADDR": f"198.51.100.{n + 1}"})
    assert_too_many_page(login(limited.test_client(), JANE, factories.PASSWORD,
                               environ_base={"REMOTE_ADDR": "203.0.113.5"}))
    # A browser without the device cookie is refused with the usual message, even at home.
    assert_too_many_page(login(limited.test_client(), JANE, factories.PASSWORD,
                               environ_base=home))
    # The owner's browser with its device cookie logs in, and a typo there is a typo.
    assert BAD_LOGIN in page(login(owner, JANE, WRONG, environ_base=home))
    assert login(owner, JANE, factories.PASSWORD, environ_base=home).status_code == 302


def test_a_device_cookie_is_counted_on_its_own_and_only_for_its_account(make_limited, jane):
    limited = make_limited(RATELIMIT_LOGIN_DEVICE="3 per 10 minutes",
                           RATELIMIT_LOGIN_ACCOUNT="2 per 10 minutes")
    browser = limited.test_client()
    assert login(browser, JANE, factories.PASSWORD).status_code == 302
    browser.post("/account/logout")
    # Guessing from a trusted browser: its own limit (3), not the address's (2).
    assert [login(browser, JANE, WRONG).status_code for _ in range(4)] == [200, 200, 200, 429]
    # For another account the cookie counts for nothing: the untrusted limits apply.
    assert [login(browser, NOBODY, WRONG).status_code for _ in range(3)] == [200, 200, 429]
    # A forged or tampered cookie is no device cookie.
    other = limited.test_client()
    for cookie in cookies_of(browser):
        if cookie.key.startswith("device-"):
            other.set_cookie(cookie.key, cookie.value[:-4] + "AAAA", path="/account/")
    assert [login(other, JANE, WRONG).status_code for _ in range(3)] == [200, 200, 429]


def cookies_of(client) -> list:
    """The cookies a test client holds."""
    return list(client._cookies.values())


def test_the_lockout_counts_an_address_in_any_form_as_one(make_limited, jane):
    limited = make_limited(RATELIMIT_LOGIN_ACCOUNT_ANYWHERE="2 per day")
    for n, typed in enumerate(["jane@example.com", "JANE@ｅｘａｍｐｌｅ.com"]):
        login(limited.test_client(), typed, WRONG, environ_base={"REMOTE_ADDR": f"198.51.100.{n}"})
    assert_too_many_page(login(limited.test_client(), " Jane@Example.COM", WRONG,
                               environ_base={"REMOTE_ADDR": "198.51.100.9"}))


def test_resending_the_confirmation_is_limited_per_account(make_limited, outbox):
    limited = make_limited(RATELIMIT_CONFIRM_RESEND="2 per hour")
    with limited.app_context():
        factories.make_user(JANE, confirmed=False)
        factories.make_user("sam@example.com", confirmed=False)
    client = limited.test_client()
    login(client, JANE, factories.PASSWORD)
    codes = [client.post("/account/confirm/resend").status_code for _ in range(40)]
    assert codes[:2] == [302, 302]
    assert set(codes[2:]) == {429}
    assert_too_many_page(client.post("/account/confirm/resend"))
    assert len([m for m in outbox.messages() if m["To"] == JANE]) == 2
    # Another account has its own count; a visitor is sent to log in, not counted.
    other = limited.test_client()
    login(other, "sam@example.com", factories.PASSWORD)
    assert other.post("/account/confirm/resend").status_code == 302
    anonymous = limited.test_client()
    assert anonymous.post("/account/confirm/resend").location.startswith("/account/login")


def test_sign_ups_for_one_address_are_limited_alike_whether_it_has_an_account(make_limited,
                                                                               jane, outbox):
    limited = make_limited(RATELIMIT_SIGNUP_ACCOUNT="2 per hour")
    codes = {}
    for email in (JANE, NOBODY):
        codes[email] = [limited.test_client().post("/account/signup", data={
            "full_name": "Jane Doe", "email": email, "password": "lantern orbit marmalade 42",
            "confirm": "lantern orbit marmalade 42"}).status_code for _ in range(3)]
    assert codes[JANE] == codes[NOBODY] == [302, 302, 429]
    assert len([m for m in outbox.messages() if m["To"] == JANE]) == 2  # no mail bombing


def test_successful_logins_do_not_count_towards_the_lockout(make_limited, jane):
    limited = make_limited(RATELIMIT_LOGIN_ACCOUNT="2 per 10 minutes")
    client = limited.test_client()
    for _ in range(4):
        assert login(client, JANE, factories.PASSWORD).status_code == 302
        assert client.post("/account/logout").status_code == 302
    assert BAD_LOGIN in page(login(client, JANE, WRONG))
    assert login(client, JANE, factories.PASSWORD).status_code == 302


def test_signup_is_limited(make_limited):
    limited = make_limited(RATELIMIT_SIGNUP="2 per minute")
    client = limited.test_client()
    for n in range(2):
        response = client.post("/account/signup", data={
            "full_name": f"Person {n}", "email": f"new{n}@example.com",
            "password": "lantern orbit marmalade 42", "confirm": "lantern orbit marmalade 42"})
        assert response.status_code == 302
    assert client.get("/account/signup").status_code == 200
    assert_too_many_page(client.post("/account/signup", data={"email": "x@example.com"}))


def test_reset_requests_are_limited_per_address_alike_for_unknown_ones(make_limited, jane,
                                                                       outbox):
    limited = make_limited(RATELIMIT_RESET_ACCOUNT="2 per hour")
    client = limited.test_client()
    answers = {}
    for email in (JANE, NOBODY):
        answers[email] = [client.post("/account/forgot", data={"email": email})
                          for _ in range(3)]
    for known, unknown in zip(answers[JANE], answers[NOBODY], strict=True):
        assert known.status_code == unknown.status_code
        assert known.get_data() == unknown.get_data()
    assert [r.status_code for r in answers[JANE]] == [302, 302, 429]
    assert 55 * 60 < assert_too_many_page(answers[JANE][2]) <= 3600
    assert len([m for m in outbox.messages() if m["To"] == JANE]) == 2  # no mail bombing


def test_reset_requests_are_limited_per_client_address(make_limited):
    limited = make_limited(RATELIMIT_RESET_REQUEST="2 per minute")
    client = limited.test_client()
    for n in range(2):
        assert client.post("/account/forgot", data={"email": f"p{n}@example.com"}
                           ).status_code == 302
    assert_too_many_page(client.post("/account/forgot", data={"email": "p9@example.com"}))


def test_reset_links_are_limited(make_limited):
    limited = make_limited(RATELIMIT_RESET_USE="2 per minute")
    client = limited.test_client()
    for _ in range(2):
        assert client.get("/account/reset/not-a-token").status_code == 302
    assert_too_many_page(client.get("/account/reset/not-a-token"))
    assert_too_many_page(client.post("/account/reset/another", data={"password": "x"}))


@pytest.mark.parametrize("url", ["/verify?code=ABCD-EFGH", "/verify/ABCD-EFGH"])
def test_credential_lookups_are_limited(make_limited, url):
    limited = make_limited(RATELIMIT_VERIFY="2 per minute")
    client = limited.test_client()
    for _ in range(2):
        assert client.get(url).status_code in (302, 404)
    assert_too_many_page(client.get(url))


def test_the_api_is_limited_with_a_json_answer(make_limited):
    limited = make_limited(RATELIMIT_API="2 per minute")
    client = limited.test_client()
    assert client.get("/api/v1/openapi.json").status_code == 200
    assert client.get("/api/v1/practitioners?near=80202").status_code == 200
    for url in ("/api/v1/practitioners/1", "/api/v1/openapi.json"):
        response = client.get(url)
        assert response.status_code == 429
        assert response.mimetype == "application/json"
        error = response.get_json()["error"]
        assert error["code"] == "rate_limited"
        assert error["field"] is None
        assert TRY_AGAIN.fullmatch(error["message"])
        assert 0 < int(response.headers["Retry-After"]) <= 60
    # The rest of the site is not counted against the API's limit.
    assert limited.test_client().get("/about").status_code == 200
    assert client.get("/about").status_code == 200


def test_forwarded_addresses_count_only_behind_a_trusted_proxy(make_limited):
    direct = make_limited(RATELIMIT_API="2 per minute")
    client = direct.test_client()
    for n in range(3):  # a made-up X-Forwarded-For does not escape the limit
        forwarded = {"X-Forwarded-For": f"203.0.113.{n}"}
        response = client.get("/api/v1/openapi.json", headers=forwarded)
    assert response.status_code == 429

    proxied = make_limited(RATELIMIT_API="2 per minute", PROXY_FIX=1)
    client = proxied.test_client()
    for n in range(3):  # each client behind the proxy has its own count
        forwarded = {"X-Forwarded-For": f"198.51.100.{n}"}
        assert client.get("/api/v1/openapi.json", headers=forwarded).status_code == 200
    one = {"X-Forwarded-For": "198.51.100.200"}
    assert [client.get("/api/v1/openapi.json", headers=one).status_code
            for _ in range(3)] == [200, 200, 429]


def test_limits_are_off_when_disabled(app, client):
    assert not app.config["RATELIMIT_ENABLED"]
    for _ in range(30):
        assert BAD_LOGIN in page(login(client, JANE, WRONG))


def test_redis_counters_are_shared_between_processes(make_limited, migrated_database, tmp_path):
    """Two app processes over one Redis: requests to either count against the same limit."""
    settings = {"REDIS_URL": REDIS_URL, "RATELIMIT_API": "3 per minute", "PROXY_FIX": 1}
    limited = make_limited(**settings)
    with limited.app_context():
        assert type(limiter.storage).__name__ == "RedisStorage"
        assert limiter.storage.check(), f"Redis does not answer at {REDIS_URL}"
    # A client address no other run uses, so runs sharing this Redis do not collide.
    client_ip = f"10.{secrets.randbelow(256)}.{secrets.randbelow(256)}.{secrets.randbelow(256)}"
    headers = {"X-Forwarded-For": client_ip}
    client = limited.test_client()
    assert [client.get("/api/v1/openapi.json", headers=headers).status_code
            for _ in range(2)] == [200, 200]

    # A second process, configured from the environment as a deployment is.
    script = textwrap.dedent(f"""
        import json
        from directory import create_app
        app = create_app()
        client = app.test_client()
        codes = [client.get("/api/v1/openapi.json",
                            headers={{"X-Forwarded-For": {client_ip!r}}}).status_code
                 for _ in range(2)]
        print(json.dumps(codes))
    """)
    env = os.environ | {
        "DIRECTORY_INSTANCE_PATH": str(tmp_path / "second-instance"),
        "DIRECTORY_DATABASE_URL": migrated_database,
        "DIRECTORY_AUTO_UPGRADE": "false",
        "DIRECTORY_SECRET_KEY": "second-process-test-key",
        "DIRECTORY_REDIS_URL": REDIS_URL,
        "DIRECTORY_PROXY_FIX": "1",
        "DIRECTORY_RATELIMIT_API": "3 per minute",
    }
    done = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=env,  # noqa: S603
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout.strip().splitlines()[-1]) == [200, 429]
    assert client.get("/api/v1/openapi.json", headers=headers).status_code == 429


# =========================================================================== headers


def csp(response) -> dict[str, str]:
    """The Content-Security-Policy as directive → sources."""
    directives = {}
    for part in response.headers["Content-Security-Policy"].split(";"):
        name, _, value = part.strip().partition(" ")
        directives[name] = value
    return directives


def assert_security_headers(response, frame_ancestors: str = "'none'") -> None:
    policy = csp(response)
    assert "unsafe-inline" not in response.headers["Content-Security-Policy"]
    assert "unsafe-eval" not in response.headers["Content-Security-Policy"]
    assert policy["frame-ancestors"] == frame_ancestors
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Referrer-Policy"] == "strict-origin-when-cross-origin"
    assert "Strict-Transport-Security" not in response.headers  # plain http


@pytest.mark.parametrize("url", ["/", "/account/login", "/no-such-page",
                                 "/api/v1/openapi.json", "/api/v1/practitioners/999"])
def test_every_answer_has_the_security_headers(client, url):
    response = client.get(url)
    assert_security_headers(response)
    policy = csp(response)
    assert policy["default-src"] == "'self'"
    assert policy["script-src"] == "'self'"
    assert policy["style-src"] == "'self'"
    assert policy["object-src"] == "'none'"
    assert policy["base-uri"] == "'self'"
    assert policy["form-action"] == "'self'"
    assert policy["img-src"].split() == ["'self'", "data:", "https://tile.openstreetmap.org"]


@pytest.mark.parametrize(("tiles", "img_src"), [
    ("https://{s}.tile.example.org/{z}/{x}/{y}.png", ["'self'", "data:", "https://*.tile.example.org"]),
    ("http://tiles.example.net:8080/{z}/{x}/{y}.png", ["'self'", "data:", "http://tiles.example.net:8080"]),
    ("/static/tiles/{z}/{x}/{y}.png", ["'self'", "data:"]),
    ("", ["'self'", "data:"]),
])
def test_map_tiles_are_allowed_from_their_configured_origin(migrated_database, tmp_path, tiles,
                                                            img_src):
    app = create_app(base_config(migrated_database, tmp_path) | {"MAP_TILE_URL": tiles})
    response = app.test_client().get("/about")
    assert csp(response)["img-src"].split() == img_src
    with app.app_context():
        db.engine.dispose()


def test_the_evidence_file_may_be_framed_by_the_site_only(app, client):
    with app.app_context():
        p = factories.make_practitioner("owner@example.com")
        cert_id = factories.make_certification(p).id
        db.session.remove()
    assert login(client, "owner@example.com", factories.PASSWORD).status_code == 302
    response = client.get(f"/certifications/{cert_id}/evidence?inline=1")
    assert response.status_code == 200
    assert_security_headers(response, frame_ancestors="'self'")
    policy = csp(response)
    assert "sandbox" in policy  # the route's own policy is kept
    assert policy["default-src"] == "'none'"
    assert response.headers["X-Frame-Options"] == "SAMEORIGIN"
    assert client.get("/certifications/").headers["X-Frame-Options"] == "DENY"


def test_hsts_only_over_https(client, make_limited):
    assert "Strict-Transport-Security" not in client.get("/").headers
    response = client.get("/", base_url="https://directory.example.org")
    assert response.headers["Strict-Transport-Security"] == "max-age=31536000; includeSubDomains"
    # Behind a trusted proxy that says the client came over HTTPS; never on a client's word.
    https = {"X-Forwarded-Proto": "https"}
    assert "Strict-Transport-Security" not in client.get("/", headers=https).headers
    proxied = make_limited(PROXY_FIX=1).test_client()
    assert "Strict-Transport-Security" in proxied.get("/", headers=https).headers


# =========================================================================== production


def cookies(response) -> dict[str, str]:
    """Set-Cookie headers by cookie name."""
    return {value.split("=", 1)[0]: value for value in response.headers.getlist("Set-Cookie")}


def test_production_cookies_are_secure(migrated_database, tmp_path, app, jane):
    prod = create_app(base_config(migrated_database, tmp_path)
                      | {"PRODUCTION": True, "SITE_URL": "https://directory.example.org"})
    response = prod.test_client().post("/account/login", base_url="https://directory.example.org",
                                       data={"email": JANE, "password": factories.PASSWORD,
                                             "remember": "y"})
    assert response.status_code == 302
    set_cookies = cookies(response)
    for name in ("session", "remember_token"):
        flags = [f.strip().lower() for f in set_cookies[name].split(";")]
        assert "secure" in flags and "httponly" in flags and "samesite=lax" in flags, name
    with prod.app_context():
        db.engine.dispose()

    # Not in production (`make run` over http): the same cookies, without Secure.
    response = login(app.test_client(), JANE, factories.PASSWORD, remember=True)
    for name in ("session", "remember_token"):
        flags = [f.strip().lower() for f in cookies(response)[name].split(";")]
        assert "secure" not in flags and "httponly" in flags and "samesite=lax" in flags, name


def test_production_without_redis_warns_that_limits_are_per_process(migrated_database, tmp_path,
                                                                    caplog):
    config = base_config(migrated_database, tmp_path) | {"PRODUCTION": True,
                                                         "RATELIMIT_ENABLED": True}
    with caplog.at_level(logging.WARNING):
        create_app(config)
    assert "without DIRECTORY_REDIS_URL" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        create_app(config | {"REDIS_URL": "redis://127.0.0.1:6379/15"})
    assert "without DIRECTORY_REDIS_URL" not in caplog.text


def test_production_refuses_to_start_without_a_secret_key(monkeypatch, tmp_path):
    monkeypatch.setenv("DIRECTORY_PRODUCTION", "true")
    monkeypatch.setenv("DIRECTORY_INSTANCE_PATH", str(tmp_path))
    monkeypatch.delenv("DIRECTORY_SECRET_KEY", raising=False)
    (tmp_path / "secret_key").write_text("a key in instance/ is not an explicit setting")
    with pytest.raises(RuntimeError, match="DIRECTORY_SECRET_KEY"):
        create_app()


# =========================================================================== size limit


@pytest.mark.parametrize("limits_on", [False, True])
def test_a_body_over_the_size_limit_gets_the_413_page(app, make_limited, limits_on):
    target = make_limited() if limits_on else app
    body = b"email=a%40example.com&password=" + b"x" * (33 * 1024 * 1024)
    response = target.test_client().post(
        "/account/login", data=body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 413
    assert "That upload is too large." in page(response)


# =========================================================================== password hashes


def test_default_hashing_is_scrypt_with_current_parameters(migrated_database, tmp_path):
    app = create_app(base_config(migrated_database, tmp_path)
                     | {"PASSWORD_HASH_METHOD": Defaults.PASSWORD_HASH_METHOD})
    with app.app_context():
        method, n, r, p = hash_password("lantern orbit marmalade 42").split("$")[0].split(":")
        db.engine.dispose()
    assert method == "scrypt"
    # OWASP's Password Storage Cheat Sheet: N=2^17,r=8,p=1 or one of its equivalents.
    owasp = {(2**17, 8, 1), (2**16, 8, 2), (2**15, 8, 3), (2**14, 8, 5), (2**13, 8, 10)}
    assert (int(n), int(r), int(p)) in owasp


def test_an_older_hash_is_replaced_at_login(app, client):
    with app.app_context():
        user = factories.make_user(JANE)
        user.password_hash = generate_password_hash(factories.PASSWORD, method="pbkdf2:sha256:600")
        db.session.commit()
        db.session.remove()
    assert BAD_LOGIN in page(login(client, JANE, WRONG))
    with app.app_context():
        assert db.session.scalar(db.select(User.password_hash)).startswith("pbkdf2:sha256:600$")
    assert login(client, JANE, factories.PASSWORD).status_code == 302
    with app.app_context():
        stored = db.session.scalar(db.select(User.password_hash))
    assert stored.startswith(app.config["PASSWORD_HASH_METHOD"] + "$")
    client.post("/account/logout")
    assert login(client, JANE, factories.PASSWORD).status_code == 302  # the new hash works


def test_sign_up_forms_sent_back_with_a_mistake_do_not_count(make_limited):
    """The limit counts sign-ups that went through: a typo, five times over, still leaves the
    person their sign-up (and the page keeps what they typed)."""
    limited = make_limited(RATELIMIT_SIGNUP="2 per minute", RATELIMIT_SIGNUP_ACCOUNT="2 per hour")
    client = limited.test_client()
    good = "lantern orbit marmalade 42"
    for _ in range(6):
        response = client.post("/account/signup", data={
            "full_name": "Tia Typo", "email": "tia@example.com", "password": good,
            "confirm": good + "x"})
        assert response.status_code == 200
        assert 'value="tia@example.com"' in response.get_data(as_text=True)
    for n in range(2):
        assert client.post("/account/signup", data={
            "full_name": "Tia Typo", "email": f"tia{n}@example.com", "password": good,
            "confirm": good}).status_code == 302
    assert_too_many_page(client.post("/account/signup", data={
        "full_name": "Tia Typo", "email": "tia9@example.com", "password": good, "confirm": good}))
