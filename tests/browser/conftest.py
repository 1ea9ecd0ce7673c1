"""Browser tests: the real app behind a real server on a loopback port, driven by chromium.

The server has its own database (a SQLite file, or `<name>_browser` beside the PostgreSQL test
database), so it never meets the tables the rest of the suite empties between tests. It lives for
the session: each test makes its accounts under fresh e-mail addresses.
"""

from __future__ import annotations

import email
import io
import os
import re
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import date
from email.message import Message
from pathlib import Path

import pytest
from flask import Flask
from flask_migrate import upgrade
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Route,
    expect,
    sync_playwright,
)
from sqlalchemy.engine import make_url
from werkzeug.serving import WSGIRequestHandler, make_server

from directory import PACKAGE, create_app, normalise_database_url
from directory.extensions import db
from tests.browser.support import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    TIMEOUT_MS,
    unique,
)
from tests.factories import PASSWORD, pdf_bytes

# Waits for elements, never sleeps: as patient as the actions when the machine is busy.
expect.set_options(timeout=TIMEOUT_MS)

# --- the database -------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser_database_url(tmp_path_factory) -> Iterator[str]:
    """A database for the browser server only, created empty and dropped at the end."""
    base = os.environ.get("DIRECTORY_TEST_DATABASE_URL")
    if not base:
        yield f"sqlite:///{tmp_path_factory.mktemp('browser-db') / 'browser.sqlite3'}"
        return
    import psycopg
    from psycopg import sql

    url = make_url(normalise_database_url(base))
    name = f"{url.database}_browser"
    conninfo = psycopg.conninfo.make_conninfo(
        host=url.host or "", port=url.port or "", user=url.username or "",
        password=url.password or "", dbname=url.database or "postgres")

    def run(statement: sql.Composable) -> None:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            conn.execute(statement)

    drop = sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
    run(drop)  # left behind by a run that was killed
    run(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.set(database=name).render_as_string(hide_password=False)
    finally:
        run(drop)


# --- the server ---------------------------------------------------------------------------


class QuietHandler(WSGIRequestHandler):
    """No access-log line per request (errors are still logged)."""

    def log_request(self, *args, **kwargs) -> None:
        pass


def buffered(app: Flask):
    """The app with each response read whole and closed before werkzeug writes it.

    When the browser leaves a page while a file is still being sent (a marker's shadow image,
    say), werkzeug's development server can fail before it closes the response, leaving the
    file open; the warning then fails whichever test is running when it is collected."""

    def wsgi(environ, start_response):
        chunks = app(environ, start_response)
        try:
            return [b"".join(chunks)]
        finally:
            if hasattr(chunks, "close"):
                chunks.close()

    return wsgi


@dataclass
class LiveServer:
    """The running app: its base URL, the app itself (for services) and its outbox."""

    url: str
    app: Flask
    outbox: Path

    def messages(self, to: str) -> list[Message]:
        """The e-mails delivered to this address so far, oldest first. The server's own sender
        (a thread, as with `make run`) delivers within moments; running a sender here as well
        makes sure a message committed just now is there when a test looks."""
        from directory.outbox import send_due

        with self.app.app_context():
            send_due()
        found = []
        for path in sorted(self.outbox.glob("*.eml")):
            message = email.message_from_bytes(path.read_bytes())
            if message["To"] == to:
                found.append(message)
        return found

    def newest_link(self, to: str) -> str:
        """The first link in the newest e-mail to this address. The server's sender may have
        claimed the message a moment before this sender looked and be writing it still: wait
        for it (a few seconds at most)."""
        deadline = time.monotonic() + 10
        messages = self.messages(to)
        while not messages and time.monotonic() < deadline:
            time.sleep(0.1)
            messages = self.messages(to)
        assert messages, f"no e-mail to {to} in {self.outbox}"
        body = messages[-1].get_payload(decode=True).decode()
        match = re.search(r"https?://\S+", body)
        assert match, body
        return match.group(0)

    def services(self):
        """A request context on the live app, to prepare data through the app's services."""
        return self.app.test_request_context(base_url=self.url)


@pytest.fixture(scope="session")
def live_server(browser_database_url, tmp_path_factory) -> Iterator[LiveServer]:
    """The app served by werkzeug on 127.0.0.1 and a free port, in a background thread."""
    tmp = tmp_path_factory.mktemp("browser-server")
    app = create_app({
        "TESTING": True,
        "SECRET_KEY": "browser-test-secret-key-not-for-production",
        "SQLALCHEMY_DATABASE_URI": browser_database_url,
        "AUTO_UPGRADE": False,
        "WTF_CSRF_ENABLED": True,  # a real browser sends the token like anyone's would
        "MAIL_BACKEND": "file",
        "MAIL_OUTBOX": str(tmp / "outbox"),
        "OUTBOX_IN_PROCESS": True,  # as with `make run`: a thread of the server delivers mail
        "UPLOAD_FOLDER": str(tmp / "uploads"),
        "PASSWORD_HASH_METHOD": "pbkdf2:sha256:1000",
        "RATELIMIT_ENABLED": False,  # every journey logs in from 127.0.0.1
        # Offline: tiles from a path of this server that does not exist; the list is the page.
        "MAP_TILE_URL": "/static/nonexistent/{z}/{x}/{y}.png",
    })
    with app.app_context():
        from directory.credentials.reference import load_reference_data

        upgrade(directory=str(PACKAGE / "migrations"))
        load_reference_data()
        db.session.remove()

    server = make_server("127.0.0.1", 0, buffered(app), threaded=True,
                         request_handler=QuietHandler)
    url = f"http://127.0.0.1:{server.server_port}"
    app.config["SITE_URL"] = url
    thread = threading.Thread(target=server.serve_forever, name="browser-test-server",
                              daemon=True)
    thread.start()
    try:
        yield LiveServer(url=url, app=app, outbox=tmp / "outbox")
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)
        app.extensions["directory.outbox_sender"].stop()
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


# --- data prepared through the app's services (before a journey starts) --------------------


@dataclass(frozen=True)
class Person:
    """An account made for the tests, with what the tests look for."""

    email: str
    name: str = ""
    slug: str = ""
    code: str = ""  # the public code of its certification


def _admin(server: LiveServer) -> Person:
    """An administrator, as `flask create-admin` makes one."""
    from directory.accounts.services import create_admin

    address = f"{unique('admin')}@example.com"
    with server.services():
        create_admin(address, PASSWORD)
    return Person(email=address)


def _practitioner(server: LiveServer, admin: Person, name: str, *, techniques: list[str],
                  postcode: str, city: str, region: str, approve: bool) -> Person:
    """Sign-up, confirmation, profile, location and a certification, through the services."""
    from directory.accounts import services as accounts
    from directory.credentials import services as credentials
    from directory.licences import services as licences
    from directory.profiles import services as profiles
    from directory.vocab import LicenceMethod

    address = f"{unique('practitioner')}@example.com"
    with server.services():
        user = accounts.register_practitioner(address, PASSWORD, name)
        accounts.confirm_email(server.newest_link(address).rsplit("/", 1)[1])
        p = user.practitioner
        # What a new profile holds (empty text, the contact choices on, no fees), then theirs.
        values = {k: getattr(p, k) for k in profiles.PROFILE_FIELDS} | {
            "full_name": name, "post_nominals": "DPT", "profession": "physiotherapist",
            "licence_number": "PT-1234", "licence_country": "US", "licence_region": f"US-{region}",
            "bio": "Sports and spine physiotherapy.", "phone": "+1 303 555 0100",
            "accepting_new_patients": True}
        profiles.update_profile(p, user, p.version, values, techniques=techniques,
                                conditions=["neck_pain"], languages=["en"])
        profiles.add_location(p, user, {"clinic_name": f"{city} Spine Clinic",
                                        "street": "1600 Main Street", "city": city,
                                        "region": region, "postcode": postcode,
                                        "country": "US", "wheelchair_accessible": True})
        programs = credentials.active_programs()
        program = next((x for x in programs if x.key == "kinetacore-fdn-1"), programs[0])
        cert = credentials.submit(
            p, user, {"completed_on": date(2024, 3, 1), "hours": 27.0, "in_person_hours": 27.0,
                      "certificate_number": unique("FDN-")},
            program, "", credentials.Upload(io.BytesIO(pdf_bytes(name)), "certificate.pdf"))
        if approve:
            reviewer = accounts.find_user(admin.email)
            licences.record_check(p, verified=True, method=LicenceMethod.REGISTER,
                                  source="Colorado DORA license lookup", actor=reviewer)
            credentials.decide(cert, reviewer, "approve", "", cert.version, program=program)
        return Person(email=address, name=name, slug=p.slug, code=cert.public_code)


@dataclass(frozen=True)
class People:
    """The accounts several tests share: an admin and practitioners near Denver 80202."""

    admin: Person
    electrical: Person  # listed, offers electrical stimulation through needles
    manual: Person  # listed, does not
    pending: Person  # a certification waiting in the admin queue


@pytest.fixture(scope="session")
def people(live_server) -> People:
    """Prepared once per session through the app's own services."""
    admin = _admin(live_server)
    return People(
        admin=admin,
        electrical=_practitioner(live_server, admin, "Elena Voltaire",
                                 techniques=["trigger_point", "electrical"], postcode="80202",
                                 city="Denver", region="CO", approve=True),
        manual=_practitioner(live_server, admin, "Marcus Handley",
                             techniques=["trigger_point", "deep"], postcode="80203",
                             city="Denver", region="CO", approve=True),
        pending=_practitioner(live_server, admin, "Priya Pending", techniques=["superficial"],
                              postcode="80301", city="Boulder", region="CO", approve=False),
    )


# --- the browser --------------------------------------------------------------------------


@pytest.fixture(scope="session")
def browser(live_server) -> Iterator[Browser]:
    """Debian's chromium, headless (closed before the server stops)."""
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"The browser tests need Debian's chromium at {CHROMIUM}: `make test` "
                    "installs it (apt-get install chromium); or deselect them with "
                    "-m 'not browser'.", pytrace=False)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(headless=True, executable_path=CHROMIUM,
                                              args=CHROMIUM_ARGS)
        try:
            yield chromium
        finally:
            chromium.close()


@dataclass
class Contexts:
    """Fresh browser contexts (one person each) that may reach the live server only."""

    browser: Browser
    server: LiveServer
    opened: list[BrowserContext] = field(default_factory=list)
    refused: list[str] = field(default_factory=list)
    csp_violations: list[str] = field(default_factory=list)

    def new_page(self, viewport: dict[str, int] = DESKTOP) -> Page:
        """A page in a new context: no cookies, desktop size unless told."""
        ctx = self.browser.new_context(base_url=self.server.url, viewport=viewport,
                                       locale="en-US", timezone_id="UTC")
        self.opened.append(ctx)
        ctx.set_default_timeout(TIMEOUT_MS)
        ctx.set_default_navigation_timeout(TIMEOUT_MS)
        port = self.server.url.rsplit(":", 1)[1]
        ctx.route(re.compile(rf"^(?!http://127\.0\.0\.1:{port}/)(https?|wss?|ftp)://"),
                  self._refuse)
        page = ctx.new_page()
        page.on("console", self._console)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        """Chromium reports what the Content-Security-Policy blocked as a console error."""
        if "Content Security Policy" in message.text:
            self.csp_violations.append(f"{message.location.get('url')}: {message.text}")

    def _refuse(self, route: Route) -> None:
        self.refused.append(route.request.url)
        route.abort()

    def close(self) -> None:
        for ctx in self.opened:
            ctx.close()


@pytest.fixture
def contexts(browser, live_server) -> Iterator[Contexts]:
    """Make browser contexts; after the test they are closed, and none may have reached out."""
    made = Contexts(browser, live_server)
    try:
        yield made
    finally:
        made.close()
    assert not made.refused, f"requests outside the test server: {made.refused}"
    assert not made.csp_violations, "\n".join(["blocked by the CSP:", *made.csp_violations])


@pytest.fixture
def page(contexts) -> Page:
    """A page in a fresh context, at desktop size."""
    return contexts.new_page()


@pytest.fixture
def phone(contexts) -> Page:
    """A page in a fresh context, at phone size (390 px wide)."""
    return contexts.new_page(PHONE)
