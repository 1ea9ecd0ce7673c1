"""Issuer services: accounts for training organisations, their answers (confirm or dispute) on
the certifications citing their programs, and revocations. Change → flush → audit → commit.

An issuer reads only what it needs to recognise its graduate: the holder's name, the
certificate number, the program and level, and the dates (never the evidence, the e-mail
address or the practice addresses). A revocation goes through the state machine like an
administrator's, and tells the practitioner by e-mail in the same transaction.
"""

from __future__ import annotations

import secrets
from datetime import datetime

from flask import current_app
from sqlalchemy import Select, func, or_, select
from sqlalchemy.orm.exc import StaleDataError

from directory import field_rules
from directory.accounts.passwords import hash_password
from directory.accounts.services import email_taken, normalise_email, reset_token
from directory.credentials import lifecycle
from directory.credentials import services as credentials
from directory.extensions import db
from directory.links import absolute_url
from directory.models import (
    Certification,
    Issuer,
    IssuerConfirmation,
    Practitioner,
    TrainingProgram,
    User,
    record,
)
from directory.models.base import utcnow
from directory.models.issuer import (
    confirmed_clause,
    disputed_clause,
    facts_of,
    programs_of_clause,
)
from directory.outbox import queue
from directory.vocab import CertStatus, IssuerAnswer, Role

S = CertStatus
# What an issuer sees of the certifications citing its programs: every status but a rejected
# one (the directory refused that claim already).
SHOWN = (S.PENDING, S.CHANGES_REQUESTED, S.VERIFIED, S.EXPIRED, S.REVOKED)
# The claims still standing, which the issuer may confirm or dispute.
ANSWERABLE = frozenset({S.PENDING, S.CHANGES_REQUESTED, S.VERIFIED})
# The answers an issuer's list filters by: name → label.
ANSWER_FILTERS = {"": "All", "unanswered": "Not answered yet",
                  IssuerAnswer.CONFIRMED.value: "Confirmed",
                  IssuerAnswer.DISPUTED.value: "Disputed"}
# No password matches a hash with this prefix: the account sets one from the e-mailed link.
UNUSABLE_PREFIX = "!issuer:"


class IssuerError(Exception):
    """A request that cannot be carried out; the message is shown beside the named field."""

    def __init__(self, message: str, field: str = "email") -> None:
        super().__init__(message)
        self.field = field


class ConflictError(Exception):
    """Someone changed the certification while the page was open."""


# --------------------------------------------------------------------------- accounts


def organisations() -> list[str]:
    """The organisations of the registry's programs, in alphabetical order."""
    return sorted(set(db.session.scalars(select(TrainingProgram.organisation).distinct())),
                  key=str.casefold)


def resolve_organisation(name: str) -> str | None:
    """The organisation as the registry spells it, from a name in any case and spacing."""
    wanted = " ".join((name or "").split()).casefold()
    return next((o for o in organisations() if " ".join(o.split()).casefold() == wanted), None)


def create_issuer(email: str, organisation: str, *, actor: User | None = None,
                  password: str | None = None) -> Issuer:
    """An issuer account for one organisation of the registry, its address confirmed. Without
    a password (an administrator creates it) the person gets an e-mail with a link to set one;
    the command line gives one."""
    email = normalise_email(email)
    try:
        field_rules.email(email)
    except field_rules.RuleError as exc:
        raise IssuerError(str(exc)) from exc
    if not email:
        raise IssuerError(field_rules.EMAIL_MESSAGE)
    message = field_rules.too_long("email", email)
    if message:
        raise IssuerError(message)
    if email_taken(email):
        raise IssuerError("An account with that e-mail address already exists.")
    found = resolve_organisation(organisation)
    if found is None:
        raise IssuerError(f"“{organisation}” is not an organisation of the registry's "
                          "programs: add its program first, or check the spelling.",
                          field="organisation")
    user = User(email=email, role=Role.ISSUER, email_confirmed_at=utcnow(),
                password_hash=hash_password(password) if password
                else UNUSABLE_PREFIX + secrets.token_hex(16))
    issuer = Issuer(user=user, organisation=found)
    db.session.add(issuer)
    db.session.flush()
    record("issuer.created", issuer, actor=actor, organisation=found, email=email)
    if password is None:
        minutes = current_app.config["RESET_PASSWORD_MAX_AGE"] // 60
        queue(email, "Your issuer account", "issuer_welcome", issuer=issuer, minutes=minutes,
              link=absolute_url("accounts.reset_password", token=reset_token(user)),
              forgot=absolute_url("accounts.forgot_password"))
    db.session.commit()
    return issuer


def list_issuers() -> list[Issuer]:
    """Every issuer account, by organisation and address."""
    return list(db.session.scalars(select(Issuer).join(User, Issuer.user_id == User.id)
                                   .order_by(Issuer.organisation, User.email)))


# --------------------------------------------------------------------------- what an issuer sees


def certifications_query(issuer: Issuer, answer: str = "", text: str = "") -> Select:
    """The certifications citing the issuer's programs, newest submission first; answer
    filters by its answer (ANSWER_FILTERS), text by the holder's name or certificate number."""
    query = (select(Certification)
             .join(Practitioner, Certification.practitioner_id == Practitioner.id)
             .where(programs_of_clause(issuer.organisation), Certification.status.in_(SHOWN))
             .order_by(Certification.submitted_at.desc(), Certification.id.desc()))
    if answer == IssuerAnswer.CONFIRMED:
        query = query.where(confirmed_clause())
    elif answer == IssuerAnswer.DISPUTED:
        query = query.where(disputed_clause())
    elif answer == "unanswered":
        query = query.where(~confirmed_clause(), ~disputed_clause())
    text = " ".join((text or "").split())
    if text:
        query = query.where(or_(
            Practitioner.full_name.icontains(text, autoescape=True),
            func.lower(Certification.certificate_number) == text.lower()))
    return query


def certification_for(issuer: Issuer, cert_id: int) -> Certification | None:
    """One certification, when it cites the issuer's programs (else None: a 404, as for an
    id nobody has)."""
    return db.session.scalar(select(Certification).where(
        Certification.id == cert_id, programs_of_clause(issuer.organisation),
        Certification.status.in_(SHOWN)))


def can_answer(cert: Certification) -> bool:
    """Whether the issuer may confirm or dispute it now."""
    return cert.status in ANSWERABLE


# --------------------------------------------------------------------------- answers


def set_answer(issuer: Issuer, actor: User, cert: Certification, answer: IssuerAnswer,
               reason: str = "", *, roster_upload: str | None = None,
               now: datetime | None = None) -> IssuerConfirmation:
    """Record the organisation's answer on the facts the certification states now, with its
    audit event (the caller commits)."""
    if not issuer.covers(cert):
        raise lifecycle.IllegalTransition("This certification does not cite one of "
                                          f"{issuer.organisation}'s programs.")
    if not can_answer(cert):
        raise lifecycle.IllegalTransition(
            f"A certification that is {lifecycle.STATUS_LABELS[cert.status]} cannot be "
            f"{'confirmed' if answer == IssuerAnswer.CONFIRMED else 'disputed'}.")
    reason = (reason or "").strip()
    if answer == IssuerAnswer.DISPUTED and not reason:
        raise lifecycle.ReasonRequired("Give a reason: the directory's administrators read it.")
    row = cert.issuer_confirmation
    previous = row.answer if row is not None and row.stands else None
    if row is None:
        row = IssuerConfirmation(certification=cert)
        db.session.add(row)
    row.organisation = issuer.organisation
    row.answer = answer
    row.reason = reason
    row.answered_by = actor
    row.answered_at = now or utcnow()
    row.roster_upload = roster_upload
    for name, value in facts_of(cert).items():
        setattr(row, name, value)
    db.session.flush()
    record(f"certification.issuer_{answer}", cert, actor=actor, organisation=issuer.organisation,
           reason=reason or None, previous=previous, roster_upload=roster_upload,
           practitioner_id=cert.practitioner_id)
    return row


def answer(issuer: Issuer, actor: User, cert: Certification, answer: IssuerAnswer,
           reason: str = "") -> IssuerConfirmation:
    """The issuer confirms or disputes one certification."""
    try:
        row = set_answer(issuer, actor, cert, answer, reason)
        db.session.commit()
    except Exception:
        db.session.rollback()
        raise
    return row


def revoke(issuer: Issuer, actor: User, cert: Certification, reason: str) -> Certification:
    """The issuer revokes a certificate it issued: the certification is revoked through the
    state machine with the reason, and the practitioner is told by e-mail."""
    if not issuer.covers(cert):
        raise lifecycle.IllegalTransition("This certification does not cite one of "
                                          f"{issuer.organisation}'s programs.")
    try:
        lifecycle.apply(cert, "revoke", actor, reason)
        db.session.flush()
    except StaleDataError as exc:
        db.session.rollback()
        raise ConflictError("This certification changed a moment ago. Here is its current "
                            "state.") from exc
    except Exception:
        db.session.rollback()
        raise
    credentials.notify_decision(cert)  # the revocation and its e-mail, or neither
    db.session.commit()
    return cert
