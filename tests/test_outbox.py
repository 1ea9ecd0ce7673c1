"""Mail through the outbox: written with the change, delivered by a sender to a real SMTP server
(which refuses, is down, then accepts), retried with backoff, never twice, never lost."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select, update

from directory import outbox
from directory.extensions import db
from directory.models import AuditEvent, Certification, OutboxMessage, User
from directory.models.base import utcnow
from directory.vocab import OutboxStatus
from tests import factories
from tests.factories import login_client
from tests.smtp import SmtpSink, free_port

TEMPORARY = "451 4.3.0 Mailbox busy, try again later"
PERMANENT = "550 5.1.1 No such user here"


@pytest.fixture
def smtp(app):
    """A real SMTP server on a loopback port, and the app sending to it."""
    sink = SmtpSink().start()
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=sink.port,
                      MAIL_TIMEOUT=5)
    yield sink
    sink.stop()


def send_due(app) -> outbox.SendResult:
    with app.app_context():
        return outbox.send_due()


def rows(app) -> list[OutboxMessage]:
    with app.app_context():
        found = db.session.scalars(select(OutboxMessage).order_by(OutboxMessage.id)).all()
        db.session.expunge_all()
        return found


def queue_message(user, subject: str = "Hello") -> None:
    """Queue one e-mail to this account, as a service would, and commit it."""
    outbox.queue(user.email, subject, "email_change_notice", user=user,
                 new_email="new@example.com")
    db.session.commit()


def make_due_now(app) -> None:
    """Move every pending message's next try to now (as if the backoff had passed)."""
    with app.app_context():
        db.session.execute(update(OutboxMessage).where(
            OutboxMessage.status == OutboxStatus.PENDING).values(next_attempt_at=utcnow()))
        db.session.commit()


def signup(client, email: str):
    return client.post("/account/signup", data={
        "full_name": "Sam Signup", "email": email, "password": "a long enough passphrase 42",
        "confirm": "a long enough passphrase 42", "accept": "y"})


# --------------------------------------------------------------------- the request never waits


def test_signup_while_the_mail_server_is_down_commits_and_mails_once_it_is_back(app, client):
    port = free_port()  # nothing listens there yet
    app.config.update(MAIL_BACKEND="smtp", MAIL_SERVER="127.0.0.1", MAIL_PORT=port,
                      MAIL_TIMEOUT=5)
    response = signup(client, "sam@example.com")
    assert response.status_code in (200, 302)
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User).where(
            User.email == "sam@example.com")) == 1
    [row] = rows(app)
    assert (row.to_address, row.status, row.attempts) == ("sam@example.com", "pending", 0)

    result = send_due(app)  # refused: the server is not there
    assert (result.sent, result.retrying) == (0, 1)
    [row] = rows(app)
    assert row.status == "pending" and row.attempts == 1
    assert "ConnectionRefusedError" in row.last_error

    sink = SmtpSink(port).start()
    try:
        assert send_due(app).sent == 0  # not due yet: the backoff holds it for 30 s
        make_due_now(app)
        assert send_due(app).sent == 1
        [mail] = sink.to("sam@example.com")
        assert mail["Subject"].startswith("Confirm your e-mail address")
        assert "/account/confirm/" in mail.get_content()
        assert send_due(app).sent == 0  # delivered once
        assert len(sink.received) == 1
    finally:
        sink.stop()
    [row] = rows(app)
    assert row.status == "sent" and row.sent_at is not None
    assert row.body == ""  # the link with its token left the database


def test_an_approval_while_smtp_refuses_is_kept_and_its_mail_arrives_later(app, smtp):
    with app.app_context():
        owner = factories.make_practitioner("owner@example.com", full_name="Olive Owner")
        cert_id = factories.make_certification(owner).id
        factories.make_admin("admin@example.com")
    admin = login_client(app, "admin@example.com")
    smtp.refuse = TEMPORARY
    response = admin.post(f"/admin/certifications/{cert_id}",
                          data={"action": "approve", "reason": "", "version": "1"})
    assert response.status_code == 302
    with app.app_context():
        assert db.session.get(Certification, cert_id).status == "verified"
    assert send_due(app).retrying == 1
    assert smtp.attempts == 1 and smtp.received == []
    [row] = rows(app)
    assert "451" in row.last_error

    smtp.refuse = None
    make_due_now(app)
    assert send_due(app).sent == 1
    [mail] = smtp.to("owner@example.com")
    assert mail["Subject"].startswith("Your certification is verified")


def test_a_decision_that_rolls_back_sends_nothing(app, smtp):
    with app.app_context():
        owner = factories.make_practitioner("owner@example.com")
        cert_id = factories.make_certification(owner).id
        factories.make_admin("admin@example.com")
    admin = login_client(app, "admin@example.com")
    response = admin.post(f"/admin/certifications/{cert_id}",  # a stale version: refused
                          data={"action": "approve", "reason": "", "version": "7"})
    assert response.status_code == 200
    assert rows(app) == []
    assert send_due(app).sent == 0 and smtp.received == []


def test_the_sweep_with_smtp_down_marks_and_queues_each_reminder_exactly_once(app, runner,
                                                                           smtp):
    with app.app_context():
        owner = factories.make_practitioner("owner@example.com", attested_at=utcnow())
        factories.make_certification(owner, status="verified",
                                     expires_on=utcnow().date() + timedelta(days=20))
        late = factories.make_practitioner("late@example.com",
                                           attested_at=utcnow() - timedelta(days=340))
        factories.make_certification(late, status="verified")
    smtp.stop()  # down
    result = runner.invoke(args=["credentials", "sweep"])
    assert result.exit_code == 0, result.output
    assert "sent 1 reminder(s). Sent 1 yearly" in result.output
    assert [r.to_address for r in rows(app)] == ["owner@example.com", "late@example.com"]
    assert send_due(app).retrying == 2

    again = runner.invoke(args=["credentials", "sweep"])  # nothing is queued twice
    assert "sent 0 reminder(s). Sent 0 yearly" in again.output
    assert len(rows(app)) == 2

    smtp.start()
    make_due_now(app)
    assert send_due(app).sent == 2
    assert [m["Subject"].split(" — ")[0] for m in smtp.received] == [
        "Your certification expires in 20 days",
        "Please confirm your details are still accurate"]


# --------------------------------------------------------------------------- retries and failure


def test_backoff_doubles_from_30_seconds_to_at_most_two_hours(app_ctx):
    assert [outbox.backoff(n).total_seconds() for n in range(1, 11)] == [
        30, 60, 120, 240, 480, 960, 1920, 3840, 7200, 7200]


def test_after_ten_attempts_a_message_fails_and_an_admin_sends_it_again(app, smtp):
    with app.app_context():
        owner = factories.make_practitioner("owner@example.com")
        queue_message(owner.user)
        factories.make_admin("admin@example.com")
    smtp.refuse = TEMPORARY
    for attempt in range(1, 11):
        make_due_now(app)
        result = send_due(app)
        [row] = rows(app)
        assert row.attempts == attempt
        if attempt < 10:
            assert result.retrying == 1 and row.status == "pending"
            waited = (row.next_attempt_at - utcnow()).total_seconds()
            with app.app_context():
                expected = outbox.backoff(attempt).total_seconds()
            assert expected - 5 < waited <= expected
    assert result.failed == 1 and row.status == "failed"
    assert smtp.attempts == 10

    admin = login_client(app, "admin@example.com")
    page = admin.get("/admin/mail").get_data(as_text=True)
    assert "owner@example.com" in page and "451 4.3.0 Mailbox busy" in page
    assert "Send again" in page
    assert "(1 failed)" in admin.get("/admin/").get_data(as_text=True)

    smtp.refuse = None
    response = admin.post(f"/admin/mail/{row.id}/send-again")
    assert response.status_code == 302
    assert send_due(app).sent == 1
    assert len(smtp.to("owner@example.com")) == 1
    with app.app_context():
        [event] = db.session.scalars(select(AuditEvent).where(
            AuditEvent.action == "mail.sent_again")).all()
        assert event.subject_id == row.id and event.detail["to"] == "owner@example.com"
    # A message that did not fail cannot be "sent again" (a second click, an old page).
    response = admin.post(f"/admin/mail/{row.id}/send-again", follow_redirects=True)
    assert "Only a message that failed can be sent again." in response.get_data(as_text=True)
    assert send_due(app).sent == 0


def test_a_permanent_refusal_fails_at_once(app, smtp):
    with app.app_context():
        user = factories.make_user("gone@example.com")
        queue_message(user)
    smtp.refuse = PERMANENT
    assert send_due(app).failed == 1
    [row] = rows(app)
    assert row.status == "failed" and row.attempts == 1 and "550" in row.last_error


def test_a_sender_that_died_mid_delivery_leaves_the_message_due_after_its_lease(app, smtp):
    with app.app_context():
        user = factories.make_user("owner@example.com")
        queue_message(user)
        claimed = outbox._claim(utcnow())  # claimed, then the process died
        assert claimed is not None
        db.session.remove()
    assert send_due(app).sent == 0  # held by the lease
    with app.app_context():
        later = utcnow() + timedelta(seconds=app.config["OUTBOX_LEASE_SECONDS"] + 1)
        assert outbox._claim(later) is not None


# ----------------------------------------------------------------------------- two senders


def test_two_senders_at_once_deliver_every_message_exactly_once(app, smtp):
    with app.app_context():
        user = factories.make_user("many@example.com")
        for n in range(40):
            outbox.queue(user.email, f"Message {n}", "email_change_notice", user=user,
                         new_email=f"n{n}@example.com")
        db.session.commit()
    results: list[outbox.SendResult] = []
    errors: list[BaseException] = []
    start = threading.Barrier(3)

    def sender() -> None:
        try:
            start.wait()
            results.append(send_due(app))
        except BaseException as exc:  # noqa: BLE001 — reported below
            errors.append(exc)

    threads = [threading.Thread(target=sender) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert errors == []
    assert sum(r.sent for r in results) == 40
    ids = [m["Message-ID"] for m in smtp.received]
    assert len(ids) == len(set(ids)) == 40
    assert all(r.status == "sent" for r in rows(app))


def test_mail_send_command_delivers_what_is_due_and_says_so(app, runner, smtp):
    with app.app_context():
        user = factories.make_user("owner@example.com")
        queue_message(user)
    result = runner.invoke(args=["mail", "send"])
    assert result.exit_code == 0, result.output
    assert "Mail: 1 sent, 0 to try again later, 0 failed." in result.output
    assert len(smtp.received) == 1
    status = runner.invoke(args=["mail", "status"])
    assert "0 pending, 1 sent, 0 failed" in status.output


def test_the_worker_delivers_and_sweeps_until_stopped(app, smtp):
    from directory.jobs import Worker

    app.config.update(OUTBOX_POLL_SECONDS=0.1)
    with app.app_context():
        late = factories.make_practitioner("late@example.com",
                                           attested_at=utcnow() - timedelta(days=340))
        factories.make_certification(late, status="verified")
    worker = Worker(app)
    thread = threading.Thread(target=worker.run)
    thread.start()
    try:
        deadline = time.monotonic() + 20
        while not smtp.to("late@example.com") and time.monotonic() < deadline:
            time.sleep(0.05)
        [mail] = smtp.to("late@example.com")  # the sweep's reminder, delivered by the sender
        assert mail["Subject"].startswith("Please confirm your details")
    finally:
        worker.stop.set()
        thread.join(timeout=30)
    assert not thread.is_alive()


# ------------------------------------------------------------------ the default: make run


def test_with_the_default_settings_mail_reaches_the_outbox_folder_within_seconds(app):
    app.config.update(OUTBOX_IN_PROCESS=True, OUTBOX_POLL_SECONDS=0.5)
    outbox.init_app(app)  # as create_app does when the setting is on
    folder = Path(app.config["MAIL_OUTBOX"])
    try:
        response = signup(app.test_client(), "sam@example.com")
        assert response.status_code in (200, 302)
        deadline = time.monotonic() + 5
        while not list(folder.glob("*.eml")) and time.monotonic() < deadline:
            time.sleep(0.05)
        [path] = folder.glob("*.eml")
        assert "To: sam@example.com" in path.read_text()
        assert path.stat().st_mode & 0o777 == 0o600  # it holds a link that logs in
    finally:
        app.extensions["directory.outbox_sender"].stop()


def test_the_in_process_sender_is_off_in_production_and_tests(app):
    assert not outbox.in_process(app)
    app.config.update(TESTING=False, PRODUCTION=True)
    assert not outbox.in_process(app)
    app.config.update(PRODUCTION=False)
    assert outbox.in_process(app)


def test_production_with_the_default_site_url_warns_that_links_point_at_loopback(tmp_path,
                                                                               caplog):
    from directory import create_app
    from tests.conftest import base_config

    config = base_config(f"sqlite:///{tmp_path / 'site.sqlite3'}", tmp_path) | {
        "PRODUCTION": True}
    with caplog.at_level("WARNING", logger="directory"):
        create_app(config)
    assert "SITE_URL is the default http://127.0.0.1:5000" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", logger="directory"):
        create_app(config | {"SITE_URL": "https://directory.example.org"})
    assert "SITE_URL" not in caplog.text



def test_a_message_the_email_library_refuses_fails_at_once_and_the_rest_go(app, outbox):
    """A header that cannot be written (a line break in an address) fails that message for
    good, with the reason for the administrators; the sender goes on with the others."""
    from directory.outbox import queue
    with app.app_context():
        queue("bad\naddress@example.com", "Broken", "email_change_notice",
              user=factories.make_user("owner-of-broken@example.com"),
              new_email="new@example.com")
        queue("fine@example.com", "Line\r\nbreaks are folded", "email_change_notice",
              user=factories.make_user("owner-of-fine@example.com"),
              new_email="new@example.com")
        db.session.commit()
    delivered = outbox.messages()
    assert [m["To"] for m in delivered] == ["fine@example.com"]
    assert delivered[0]["Subject"].startswith("Line breaks are folded")
    with app.app_context():
        broken = db.session.scalars(select(OutboxMessage).where(
            OutboxMessage.subject.startswith("Broken"))).one()
        assert broken.status == "failed" and broken.last_error.startswith("Not a valid message")
