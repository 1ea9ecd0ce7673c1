"""Login sessions kept on the server: logging out ends that session (a copy of its cookies opens
nothing afterwards), other browsers stay logged in, a password change ends the others, and
sessions nobody has used for a month end."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update

from directory.accounts import services
from directory.extensions import db
from directory.models import User, UserSession
from tests.factories import PASSWORD, login_client, make_user

JANE = "jane@example.com"
NEW_PASSWORD = "lantern orbit marmalade 42"


@pytest.fixture
def jane(app) -> str:
    with app.app_context():
        make_user(JANE)
    return JANE


def opens_dashboard(browser) -> bool:
    response = browser.get("/dashboard")
    if response.status_code == 200:
        return True
    assert response.status_code == 302
    assert response.location.startswith("/account/login")
    return False


def with_cookies(app, cookies: dict[str, str]):
    """A fresh browser holding only these cookies (a copy taken from another one)."""
    browser = app.test_client()
    for name, value in cookies.items():
        browser.set_cookie(name, value)
    return browser


def copy_cookie(browser, name: str) -> str:
    cookie = browser.get_cookie(name)
    assert cookie is not None, name
    return cookie.value


def session_rows(app) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(UserSession))


def test_a_copied_session_cookie_opens_nothing_after_logout(app, jane):
    browser = login_client(app, JANE)
    stolen = copy_cookie(browser, "session")
    assert opens_dashboard(with_cookies(app, {"session": stolen}))  # the copy works meanwhile

    assert browser.post("/account/logout").status_code == 302
    assert not opens_dashboard(browser)
    assert not opens_dashboard(with_cookies(app, {"session": stolen}))
    assert session_rows(app) == 0


def test_a_copied_remember_me_cookie_opens_nothing_after_logout(app, jane):
    browser = login_client(app, JANE, remember=True)
    stolen = {"remember_token": copy_cookie(browser, "remember_token")}
    assert opens_dashboard(with_cookies(app, stolen))  # it would log a new browser in

    browser.post("/account/logout")
    assert not opens_dashboard(with_cookies(app, stolen))
    # Nor both copies together.
    both = with_cookies(app, stolen | {"session": copy_cookie(browser, "session")})
    assert not opens_dashboard(both)


def test_logging_out_ends_only_that_session(app, jane):
    laptop, phone = login_client(app, JANE, remember=True), login_client(app, JANE, remember=True)
    laptop.post("/account/logout")
    assert not opens_dashboard(laptop)
    assert opens_dashboard(phone)
    phone.delete_cookie("session")  # the phone's browser restarts: its remember-me still works
    assert opens_dashboard(phone)
    assert session_rows(app) == 1


def test_a_password_change_ends_the_other_sessions_and_keeps_this_one(app, jane):
    here, there = login_client(app, JANE, remember=True), login_client(app, JANE, remember=True)
    there_cookies = {"session": copy_cookie(there, "session"),
                     "remember_token": copy_cookie(there, "remember_token")}
    response = here.post("/account/settings/password", data={
        "pw-current_password": PASSWORD, "pw-password": NEW_PASSWORD,
        "pw-confirm": NEW_PASSWORD})
    assert response.location == "/account/settings"
    assert opens_dashboard(here)
    here.delete_cookie("session")
    assert opens_dashboard(here)  # and its remember-me cookie
    assert not opens_dashboard(there)
    assert not opens_dashboard(with_cookies(app, there_cookies))
    assert session_rows(app) == 1


def test_a_made_up_or_old_style_identity_opens_nothing(app, jane):
    with app.app_context():
        user_id = db.session.scalar(select(User.id))
    for identity in (f"{user_id}.1", f"{user_id}.", f"{user_id}", "x.y", f"{user_id}.guess"):
        browser = app.test_client()
        with browser.session_transaction() as session:
            session["_user_id"] = identity
            session["_fresh"] = True
        assert not opens_dashboard(browser), identity


def test_the_session_is_checked_in_one_query(app, jane):
    """The loader costs one indexed lookup per request: user and session row together."""
    from sqlalchemy import event

    browser = login_client(app, JANE)
    statements = []
    with app.app_context():
        engine = db.engine

    def seen(conn, cursor, statement, *args):
        if "user_sessions" in statement:
            statements.append(statement)

    event.listen(engine, "before_cursor_execute", seen)
    try:
        assert browser.get("/account/settings").status_code == 200
    finally:
        event.remove(engine, "before_cursor_execute", seen)
    assert len(statements) == 1
    assert "JOIN user_sessions" in statements[0] and "users" in statements[0]


def test_last_seen_moves_at_most_every_few_minutes(app, jane):
    browser = login_client(app, JANE)
    with app.app_context():
        first = db.session.scalar(select(UserSession.last_seen_at))
    browser.get("/account/settings")
    with app.app_context():
        assert db.session.scalar(select(UserSession.last_seen_at)) == first  # not every request
        db.session.execute(update(UserSession).values(
            last_seen_at=first - services.SESSION_TOUCH - timedelta(seconds=1)))
        db.session.commit()
    browser.get("/account/settings")
    with app.app_context():
        assert db.session.scalar(select(UserSession.last_seen_at)) > first


def test_a_session_unused_for_longer_than_remember_me_lasts_is_over(app, jane):
    browser = login_client(app, JANE, remember=True)
    with app.app_context():
        row = db.session.scalar(select(UserSession))
        row.last_seen_at -= app.config["REMEMBER_COOKIE_DURATION"] + timedelta(minutes=1)
        db.session.commit()
    assert not opens_dashboard(browser)
    login_client(app, JANE)  # the next login clears the stale row away
    assert session_rows(app) == 1


def test_a_deactivated_account_is_logged_out_and_its_sessions_end_with_it(app, jane):
    browser = login_client(app, JANE)
    with app.app_context():
        db.session.scalar(select(User)).is_active = False
        db.session.commit()
    assert not opens_dashboard(browser)
    with app.app_context():
        db.session.execute(delete(User))  # the rows go with the account
        db.session.commit()
    assert session_rows(app) == 0
