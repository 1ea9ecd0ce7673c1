"""The outbox: every e-mail the app sends is a row written in the transaction of the change it
reports (queue()), and delivered afterwards by a sender (send_due()) with retries and backoff.

A request never talks to the mail server: a mail server that is down or slow costs the request
nothing, and a message is never lost when the change commits, nor sent when it rolls back.
Senders: `flask --app wsgi worker` (production, beside gunicorn), `flask --app wsgi mail send`
(once, from cron), and, with the default settings (`make run`), a thread in the web process.
"""

from __future__ import annotations

import logging
import smtplib
import threading
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from email.utils import format_datetime

from flask import Flask, current_app, has_app_context, render_template
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.orm import Session

from directory import mail
from directory.extensions import db
from directory.models import OutboxMessage, User, record
from directory.models.base import utcnow
from directory.vocab import OutboxStatus

log = logging.getLogger(__name__)

QUEUED_FLAG = "directory.outbox_queued"


def queue(to: str, subject: str, template: str, *, reply_to: str | None = None,
          **context) -> OutboxMessage:
    """Render templates/email/<template>.txt into an outbox row in the current transaction: it
    is delivered once the caller commits, and never if the caller rolls back."""
    config = current_app.config
    # A header is one line: a line break typed into a name (a patient's, in an enquiry's
    # subject) would make the message impossible to send, not a second header.
    subject = " ".join(subject.split())
    message = OutboxMessage(
        kind=template, to_address=to, reply_to=reply_to,
        subject=f"{subject} — {config['SITE_NAME']}",
        body=render_template(f"email/{template}.txt", subject=subject, **context),
        message_id=new_message_id(),
        status=OutboxStatus.PENDING, attempts=0, next_attempt_at=utcnow(), last_error="")
    db.session.add(message)
    db.session.info[QUEUED_FLAG] = True
    return message


def new_message_id() -> str:
    """A Message-ID no other message has: from the operating system's randomness (email's
    make_msgid draws from the random module, which a seeded generator repeats)."""
    return f"<{uuid.uuid4().hex}@dry-needling-directory>"


def backoff(attempts: int) -> timedelta:
    """How long to wait after the n-th failed attempt: 30 s, doubling, at most 2 hours."""
    config = current_app.config
    seconds = config["OUTBOX_RETRY_FIRST"] * 2 ** max(attempts - 1, 0)
    return timedelta(seconds=min(seconds, config["OUTBOX_RETRY_MAX"]))


@dataclass
class SendResult:
    """What one run of the sender did."""

    sent: int = 0
    retrying: int = 0
    failed: int = 0

    def __str__(self) -> str:
        return f"{self.sent} sent, {self.retrying} to try again later, {self.failed} failed"


def _claim(now: datetime) -> OutboxMessage | None:
    """Take the oldest due message for this sender: count the attempt and push it forward by the
    lease, in a transaction of its own. Two senders never take the same message: on PostgreSQL
    the row is locked and skipped by the other (FOR UPDATE SKIP LOCKED); SQLite runs one
    writing statement at a time, and the second sees it no longer due."""
    lease = timedelta(seconds=current_app.config["OUTBOX_LEASE_SECONDS"])
    due = (OutboxMessage.status == OutboxStatus.PENDING) & (OutboxMessage.next_attempt_at <= now)
    oldest = (select(OutboxMessage.id).where(due)
              .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(1)
              .with_for_update(skip_locked=True).scalar_subquery())
    claimed = db.session.scalar(
        update(OutboxMessage).where(OutboxMessage.id == oldest, due)
        .values(attempts=OutboxMessage.attempts + 1, next_attempt_at=now + lease)
        .returning(OutboxMessage.id))
    db.session.commit()
    return db.session.get(OutboxMessage, claimed) if claimed is not None else None


def as_email(message: OutboxMessage) -> EmailMessage:
    """The stored message as an e-mail."""
    msg = EmailMessage()
    msg["From"] = current_app.config["MAIL_DEFAULT_SENDER"]
    msg["To"] = message.to_address
    if message.reply_to:
        msg["Reply-To"] = message.reply_to
    msg["Subject"] = message.subject
    msg["Date"] = format_datetime(message.created_at)
    msg["Message-ID"] = message.message_id
    msg.set_content(message.body)
    return msg


def _permanent(exc: Exception) -> bool:
    """The mail server refused the message for good (a 5xx answer): retrying will not help."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    code = getattr(exc, "smtp_code", None)
    return isinstance(code, int) and code >= 500 and not isinstance(
        exc, smtplib.SMTPServerDisconnected)


def describe(exc: Exception) -> str:
    """The mail server's answer (or why there was none), as an administrator reads it."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(f"{to}: {code} {text.decode(errors='replace')}"
                         for to, (code, text) in exc.recipients.items())
    if isinstance(exc, smtplib.SMTPResponseException):
        text = exc.smtp_error.decode(errors="replace") if isinstance(
            exc.smtp_error, bytes) else str(exc.smtp_error)
        return f"{exc.smtp_code} {text}"
    return f"{type(exc).__name__}: {exc}"


def _deliver(message: OutboxMessage, result: SendResult) -> None:
    """Hand one claimed message to the backend and record how it went."""
    try:
        email = as_email(message)
    except ValueError as exc:  # an address or header the e-mail library refuses: for good
        message.status = OutboxStatus.FAILED
        message.last_error = f"Not a valid message: {exc}"[:500]
        result.failed += 1
        log.error("mail %s to %s cannot be sent: %s", message.id, message.to_address, exc)
        db.session.commit()
        return
    try:
        mail.deliver(email)
    except (OSError, smtplib.SMTPException) as exc:
        message.last_error = describe(exc)[:500]
        if _permanent(exc) or message.attempts >= current_app.config["OUTBOX_MAX_ATTEMPTS"]:
            message.status = OutboxStatus.FAILED
            result.failed += 1
            log.error("mail %s to %s failed after %d attempts: %s", message.id,
                      message.to_address, message.attempts, message.last_error)
        else:
            message.next_attempt_at = utcnow() + backoff(message.attempts)
            result.retrying += 1
            log.warning("mail %s to %s not delivered (attempt %d), trying again at %s: %s",
                        message.id, message.to_address, message.attempts,
                        message.next_attempt_at.isoformat(timespec="seconds"),
                        message.last_error)
    else:
        message.status = OutboxStatus.SENT
        message.sent_at = utcnow()
        message.body = ""  # delivered: reset links and people's words leave the database
        message.last_error = ""
        result.sent += 1
    db.session.commit()


def send_due(limit: int | None = None) -> SendResult:
    """Deliver the messages that are due, one at a time, until none is left (or `limit`)."""
    result = SendResult()
    while limit is None or result.sent + result.retrying + result.failed < limit:
        message = _claim(utcnow())
        if message is None:
            break
        _deliver(message, result)
    return result


def send_again(message: OutboxMessage, actor: User) -> None:
    """An administrator puts a failed message back in the queue, due now."""
    if message.status != OutboxStatus.FAILED:
        raise ValueError("Only a message that failed can be sent again.")
    message.status = OutboxStatus.PENDING
    message.attempts = 0
    message.next_attempt_at = utcnow()
    db.session.info[QUEUED_FLAG] = True
    db.session.flush()
    record("mail.sent_again", message, actor=actor, to=message.to_address, kind=message.kind)
    db.session.commit()


def counts() -> dict[str, int]:
    """How many messages are in each state."""
    found = dict(db.session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)).all())
    return {str(status): found.get(str(status), 0) for status in OutboxStatus}


# --- the sender inside the web process (the default settings) ---------------------------------


class InProcessSender:
    """A thread of the web process that delivers due messages every few seconds, and at once
    after a commit that queued one. Started by the first request (so commands that only build
    the app start no thread); for `make run`, where nobody starts a worker."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.wake = threading.Event()
        self.stopping = threading.Event()
        self.thread: threading.Thread | None = None
        self.lock = threading.Lock()

    def start(self) -> None:
        with self.lock:
            if self.thread is None or not self.thread.is_alive():
                self.thread = threading.Thread(target=self._run, name="outbox-sender",
                                               daemon=True)
                self.thread.start()

    def stop(self) -> None:
        """End the thread (after the message it is delivering, if any)."""
        self.stopping.set()
        self.wake.set()
        if self.thread is not None:
            self.thread.join(timeout=30)

    def _run(self) -> None:
        interval = self.app.config["OUTBOX_POLL_SECONDS"]
        while not self.stopping.is_set():
            self.wake.wait(interval)
            self.wake.clear()
            if self.stopping.is_set():
                break
            try:
                with self.app.app_context():
                    send_due()
            except SQLAlchemyError as exc:  # the database is away: try again next time
                log.warning("outbox: the database does not answer: %s",
                            str(exc).splitlines()[0])
            except Exception:  # a thread that dies would silently stop all mail
                log.exception("outbox: the sender failed; trying again shortly")


def in_process(app: Flask) -> bool:
    """Whether this app delivers mail from a thread of its own (the default outside production
    and tests)."""
    setting = app.config.get("OUTBOX_IN_PROCESS")
    if setting is None:
        return not (app.config.get("PRODUCTION") or app.testing)
    return bool(setting)


def init_app(app: Flask) -> None:
    """Start the in-process sender with the first request when it is on (it is woken after each
    commit that queued a message)."""
    if not in_process(app):
        return
    sender = InProcessSender(app)
    app.extensions["directory.outbox_sender"] = sender

    @app.before_request
    def _start_sender() -> None:
        sender.start()


@event.listens_for(Session, "after_commit")
def _wake(session: Session) -> None:
    if session.info.pop(QUEUED_FLAG, False) and has_app_context():
        sender = current_app.extensions.get("directory.outbox_sender")
        if sender is not None:
            sender.wake.set()


@event.listens_for(Session, "after_rollback")
def _forget(session: Session) -> None:
    session.info.pop(QUEUED_FLAG, None)
