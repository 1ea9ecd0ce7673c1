"""Certification services: submit, edit, decide, sweep. Change → flush → audit → commit."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any, BinaryIO

from sqlalchemy import select
from sqlalchemy.orm.exc import StaleDataError

from directory import listing, outbox
from directory.credentials import codes, evidence, lifecycle
from directory.credentials.matching import ProgramMatcher
from directory.extensions import db
from directory.links import absolute_url
from directory.models import Certification, Practitioner, TrainingProgram, User, record
from directory.models.base import utcnow
from directory.vocab import CertStatus

CERT_FIELDS = ("level", "certificate_number", "completed_on", "expires_on", "hours",
               "in_person_hours", "supervised_sessions")
REMINDER_DAYS = (30, 7)


class ConflictError(Exception):
    """Someone else changed the certification since the page was loaded."""


@dataclass(frozen=True)
class Upload:
    """An uploaded file as the view hands it over."""

    stream: BinaryIO
    filename: str


def new_public_code() -> str:
    """An unguessable code for the public credential check (credentials.codes: 100 bits in
    Crockford's base32)."""
    return codes.new_code()


def active_programs() -> list[TrainingProgram]:
    """Programs a new certification may cite (retired ones are kept only for old ones)."""
    return list(db.session.scalars(
        select(TrainingProgram).where(TrainingProgram.retired_at.is_(None))
        .order_by(TrainingProgram.organisation, TrainingProgram.level, TrainingProgram.name)))


def match_program(text: str) -> tuple[TrainingProgram | None, float, str]:
    """The registry program a typed name refers to, its score and outcome."""
    programs = active_programs()
    matcher = ProgramMatcher([{
        "key": p.key, "organisation": p.organisation,
        "organisation_acronym": p.organisation_acronym, "name": p.name, "level": p.level,
        "aliases": [a.alias for a in p.aliases],
    } for p in programs])
    result = matcher.match(text)
    if result.outcome == "unrecognised" or result.key is None:
        return None, result.score, "unrecognised"
    program = next(p for p in programs if p.key == result.key)
    return program, result.score, result.outcome


def _apply_program(cert: Certification, program: TrainingProgram | None, typed_name: str) -> None:
    """Set the program either as chosen from the registry or as matched from the typed name."""
    if program is not None:
        cert.program, cert.match_score, cert.match_outcome = program, None, "chosen"
        cert.submitted_name = f"{program.organisation}: {program.name}"
        return
    cert.submitted_name = typed_name.strip()
    matched, score, outcome = match_program(typed_name)
    cert.program, cert.match_score, cert.match_outcome = matched, score, outcome


def submit(practitioner: Practitioner, actor: User, values: dict[str, Any],
           program: TrainingProgram | None, typed_name: str, upload: Upload) -> Certification:
    """A practitioner submits a certification with its evidence; it waits for review."""
    stored = evidence.store(upload.stream, upload.filename)
    cert = Certification(practitioner=practitioner, status=CertStatus.PENDING,
                         submitted_at=utcnow(), public_code=new_public_code(),
                         **{k: values.get(k) for k in CERT_FIELDS})
    _apply_program(cert, program, typed_name)
    _attach(cert, stored)
    db.session.add(cert)
    try:
        db.session.flush()
        record("certification.submitted", cert, actor=actor, practitioner_id=practitioner.id,
               program=cert.program.key if cert.program else None,
               match=cert.match_outcome, score=cert.match_score)
        db.session.commit()
    except Exception:
        db.session.rollback()
        evidence.remove(stored.stored_name)
        raise
    return cert


def _attach(cert: Certification, stored: evidence.StoredEvidence) -> None:
    cert.evidence_stored_name = stored.stored_name
    cert.evidence_sha256 = stored.sha256
    cert.evidence_mime = stored.mime
    cert.evidence_size = stored.size
    cert.evidence_original_name = stored.original_name


def update(cert: Certification, actor: User, expected_version: int, values: dict[str, Any],
           program: TrainingProgram | None, typed_name: str, upload: Upload | None
           ) -> Certification:
    """The practitioner edits a certification; anything but a pending one goes back to review."""
    if cert.status not in lifecycle.EDITABLE:
        raise lifecycle.IllegalTransition(
            f"A {lifecycle.STATUS_LABELS[cert.status]} certification cannot be changed; "
            "submit a new one instead.")
    if expected_version != cert.version:
        raise ConflictError("This certification changed since you opened the page.")
    stored = evidence.store(upload.stream, upload.filename) if upload else None
    old_file = cert.evidence_stored_name if stored else None
    try:
        if values.get("expires_on") != cert.expires_on:
            # A renewed certificate: its new expiry date earns its own reminders.
            cert.reminder_30_sent_at = cert.reminder_7_sent_at = None
        for key in CERT_FIELDS:
            setattr(cert, key, values.get(key))
        _apply_program(cert, program, typed_name)
        if stored:
            _attach(cert, stored)
        if cert.status != CertStatus.PENDING:
            lifecycle.apply(cert, "resubmit", actor)
        else:
            cert.submitted_at = cert.submitted_at or utcnow()
        db.session.flush()
        record("certification.edited", cert, actor=actor, practitioner_id=cert.practitioner_id,
               new_evidence=bool(stored))
        db.session.commit()
    except StaleDataError as exc:
        db.session.rollback()
        if stored:
            evidence.remove(stored.stored_name)
        raise ConflictError("This certification changed since you opened the page.") from exc
    except Exception:
        db.session.rollback()
        if stored:
            evidence.remove(stored.stored_name)
        raise
    if old_file:
        evidence.remove(old_file)
    return cert


def decide(cert: Certification, admin: User, action: str, reason: str,
           expected_version: int, program: TrainingProgram | None = None) -> Certification:
    """An administrator approves, rejects, requests changes or revokes; one decision wins.

    On approval the administrator confirms (or corrects) the recognised program.
    """
    if expected_version != cert.version:
        raise ConflictError("Another administrator changed this certification while you were "
                            "looking at it. Here is its current state.")
    if action == "approve" and program is not None and program.id != cert.program_id:
        previous = cert.program.key if cert.program else None
        cert.program = program
        cert.match_outcome = "confirmed"
        record("certification.program_set", cert, actor=admin, previous=previous,
               program=program.key, practitioner_id=cert.practitioner_id)
    lifecycle.apply(cert, action, admin, reason)
    try:
        db.session.flush()
    except StaleDataError as exc:
        db.session.rollback()
        raise ConflictError("Another administrator decided this certification a moment ago. "
                            "Here is its current state.") from exc
    notify_decision(cert)  # in the same transaction: the decision and its e-mail, or neither
    db.session.commit()
    return cert


DECISION_SUBJECTS = {
    CertStatus.VERIFIED: "Your certification is verified",
    CertStatus.REJECTED: "Your certification was not verified",
    CertStatus.CHANGES_REQUESTED: "Your certification needs changes",
    CertStatus.REVOKED: "Your certification has been revoked",
}


def notify_decision(cert: Certification) -> None:
    """Queue the e-mail that tells the practitioner about a decision (the caller commits)."""
    subject = DECISION_SUBJECTS.get(cert.status)
    if subject is None:
        return
    outbox.queue(cert.practitioner.user.email, subject, "certification_decision", cert=cert,
                 link=absolute_url("certifications.index"),
                 verify_link=absolute_url("public.verify_code", code=cert.public_code))


@dataclass
class CertificationSweep:
    """What one sweep of the certifications did."""

    expired: int = 0
    reminders: int = 0


def sweep_certifications(today: date) -> CertificationSweep:
    """Expire certifications whose date has passed and queue the due expiry reminders, each
    exactly once (jobs.sweep runs this with the yearly confirmation reminders)."""
    result = CertificationSweep()
    due = db.session.scalars(select(Certification).where(
        listing.verified_clause(), ~listing.unexpired_clause(today))).all()
    for cert in due:
        lifecycle.apply(cert, "expire", None)
        db.session.flush()
        outbox.queue(cert.practitioner.user.email, "Your certification has expired",
                     "certification_expired", cert=cert,
                     link=absolute_url("certifications.index"))
        db.session.commit()  # the expiry and its e-mail together
        result.expired += 1

    horizon = today + timedelta(days=max(REMINDER_DAYS))
    soon = db.session.scalars(select(Certification).where(
        listing.shown_clause(today), Certification.expires_on <= horizon)).all()
    for cert in soon:
        days_left = (cert.expires_on - today).days
        column = "reminder_7_sent_at" if days_left <= 7 else "reminder_30_sent_at"
        if getattr(cert, column) is not None:
            continue
        setattr(cert, column, utcnow())
        if column == "reminder_7_sent_at" and cert.reminder_30_sent_at is None:
            cert.reminder_30_sent_at = cert.reminder_7_sent_at  # one reminder is enough then
        db.session.flush()
        record("certification.reminder_sent", cert, days_left=days_left,
               practitioner_id=cert.practitioner_id)
        outbox.queue(
            cert.practitioner.user.email,
            "Your certification expires today" if days_left == 0 else
            f"Your certification expires in {days_left} day{'s' if days_left != 1 else ''}",
            "certification_reminder", cert=cert, days_left=days_left,
            link=absolute_url("certifications.index"))
        db.session.commit()  # marked sent with the message queued: exactly once
        result.reminders += 1
    return result
