"""Work done outside requests: the outbox's sender and the credentials sweep, once
(`flask --app wsgi mail send`, `credentials sweep`) or continuously (`flask --app wsgi worker`)."""

from __future__ import annotations

import logging
import signal
import threading
import time
from dataclasses import dataclass
from datetime import date

import click
from flask import Flask, current_app
from flask.cli import AppGroup
from sqlalchemy.exc import SQLAlchemyError

from directory.extensions import db
from directory.models.base import utcnow

log = logging.getLogger(__name__)

mail_group = AppGroup("mail", help="Outgoing e-mail (the outbox).")


@mail_group.command("send")
def mail_send() -> None:
    """Deliver the e-mail that is due, once, and exit (safe from cron, and safe to run twice at
    the same time: two senders never take the same message)."""
    from directory import outbox

    result = outbox.send_due()
    click.echo(f"Mail: {result}.")


@mail_group.command("status")
def mail_status() -> None:
    """How many messages wait, were sent, or failed."""
    from directory import outbox

    click.echo(", ".join(f"{n} {status}" for status, n in outbox.counts().items()))


@dataclass
class SweepResult:
    """What one sweep did."""

    expired: int = 0
    reminders: int = 0
    attestation_reminders: int = 0
    licences_lapsed: int = 0
    licence_reminders: int = 0
    licence_grace_notices: int = 0


def sweep(today: date | None = None) -> SweepResult:
    """The credentials sweep: expire certifications past their date, queue the expiry reminders
    and the yearly "details still accurate" reminders, lapse licences past their check and tell
    their practitioners, each exactly once (safe hourly)."""
    from directory import listing
    from directory.credentials.services import sweep_certifications
    from directory.licences.services import sweep_licences
    from directory.profiles.services import send_attestation_reminders

    today = today or utcnow().date()
    certifications = sweep_certifications(today)
    # Now, moved to the day swept (the real today unless a caller asks about another day).
    attested = send_attestation_reminders(listing.now_on(today))
    licences = sweep_licences(today)
    return SweepResult(certifications.expired, certifications.reminders, attested,
                       licences.lapsed, licences.reminders, licences.grace_notices)


def run_sweep() -> str:
    """The credentials sweep (expiry, reminders), described in one line."""
    result = sweep()
    return (f"Expired {result.expired} certification(s); sent {result.reminders} "
            f"reminder(s). Sent {result.attestation_reminders} yearly \"details still "
            f"accurate\" reminder(s). Lapsed {result.licences_lapsed} licence(s); sent "
            f"{result.licence_reminders} licence reminder(s) and "
            f"{result.licence_grace_notices} licence grace notice(s).")


class Worker:
    """Delivers due mail every few seconds and runs the sweep every WORKER_SWEEP_SECONDS, until
    stopped. A database or mail server that is away costs a warning and a later try, never the
    process."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self.stop = threading.Event()

    def run(self) -> None:
        config = self.app.config
        poll, every = config["OUTBOX_POLL_SECONDS"], config["WORKER_SWEEP_SECONDS"]
        next_sweep = time.monotonic()
        log.info("worker: delivering mail every %s s, sweeping every %s s", poll, every)
        while not self.stop.is_set():
            with self.app.app_context():
                try:
                    self._send()
                    if time.monotonic() >= next_sweep:
                        log.info("worker: sweep: %s", run_sweep())
                        next_sweep = time.monotonic() + every
                except SQLAlchemyError as exc:
                    log.warning("worker: the database does not answer: %s",
                                str(exc).splitlines()[0])
                    db.session.rollback()
                finally:
                    db.session.remove()
            self.stop.wait(poll)
        log.info("worker: stopped")

    def _send(self) -> None:
        from directory import outbox

        result = outbox.send_due()
        if result.sent or result.retrying or result.failed:
            log.info("worker: mail: %s", result)


@click.command("worker")
def worker_command() -> None:
    """Run the mail sender continuously and the credentials sweep hourly (beside gunicorn;
    stop with SIGTERM or Ctrl-C)."""
    worker = Worker(current_app._get_current_object())

    def _stop(_signum, _frame) -> None:
        worker.stop.set()

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)
    worker.run()


def register(app: Flask) -> None:
    """Add the commands to the app."""
    app.cli.add_command(mail_group)
    app.cli.add_command(worker_command)
