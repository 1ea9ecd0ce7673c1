"""Licence checks: record an outcome, void a check when the licence changes, the re-check queue
and the sweep (lapse, reminders). Change → flush → audit → commit; e-mail through the outbox.

"In good standing" (what a listing needs of a licence) is defined once, in directory/listing.py
(licence_good_until); this module only writes what that rule reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

from sqlalchemy import and_, or_, select

from directory import listing, outbox
from directory.dates import months_after
from directory.extensions import db
from directory.links import absolute_url
from directory.models import Licence, Practitioner, User, record
from directory.models.base import utcnow
from directory.vocab import LicenceMethod, LicenceStatus

# A check counts this long unless the register gives an earlier expiry.
RECHECK_MONTHS = 12
# The practitioner is told this many days before the licence's last good day.
REMINDER_DAYS = 30
# The re-check queue shows licences this close to their last good day, and past it.
QUEUE_DAYS = 30
# What a check looked at: the licence as the practitioner states it.
IDENTITY_FIELDS = ("licence_number", "licence_country", "licence_region", "npi")


def jurisdiction_of(practitioner: Practitioner) -> str:
    """Where the licence was issued: its region's ISO 3166-2 code, or the country's."""
    return practitioner.licence_region or practitioner.licence_country or ""


def licence_of(practitioner: Practitioner) -> Licence:
    """The practitioner's licence check, created unverified when there is none yet."""
    if practitioner.licence is None:
        practitioner.licence = Licence(status=LicenceStatus.UNVERIFIED)
    return practitioner.licence


def next_due_for(verified_on: date, register_expires_on: date | None) -> date:
    """The last day a check counts: RECHECK_MONTHS later, or the register's expiry if sooner."""
    due = months_after(verified_on, RECHECK_MONTHS)
    return min(due, register_expires_on) if register_expires_on else due


class LicenceError(ValueError):
    """A check that cannot be recorded as given (the message says why)."""


def record_check(practitioner: Practitioner, *, verified: bool, method: LicenceMethod,
                 source: str, actor: User | None, note: str = "",
                 checked_on: date | None = None, register_expires_on: date | None = None,
                 commit: bool = True) -> Licence:
    """Record the outcome of a licence check (verified, or failed with its reason in `note`),
    audited, and tell the practitioner when it failed."""
    today = utcnow().date()
    checked_on = checked_on or today
    if checked_on > today:
        raise LicenceError("A check cannot be recorded for a day that has not come yet.")
    if not practitioner.licence_number and not practitioner.npi:
        raise LicenceError("The practitioner has given no licence number to check.")
    if verified and register_expires_on is not None and register_expires_on < checked_on:
        raise LicenceError("The register's expiry is before the check: record it as failed.")
    licence = licence_of(practitioner)
    before = licence.status
    licence.status = LicenceStatus.VERIFIED if verified else LicenceStatus.FAILED
    licence.method = method
    licence.source = source[:300]
    licence.checked_number = practitioner.licence_number or practitioner.npi or ""
    licence.checked_jurisdiction = jurisdiction_of(practitioner)
    licence.verified_on = checked_on
    licence.verified_by = actor
    licence.register_expires_on = register_expires_on
    licence.next_due = next_due_for(checked_on, register_expires_on) if verified else None
    licence.note = note
    licence.grace_until = None  # a check, either way, ends the grace period
    licence.due_reminder_sent_at = None
    db.session.flush()
    record("licence.verified" if verified else "licence.failed", practitioner, actor=actor,
           status_before=before, method=str(method), source=licence.source,
           number=licence.checked_number, jurisdiction=licence.checked_jurisdiction,
           checked_on=checked_on.isoformat(),
           next_due=licence.next_due.isoformat() if licence.next_due else None,
           note=note or None)
    if not verified:
        outbox.queue(practitioner.user.email, "We could not verify your licence",
                     "licence_failed", p=practitioner, licence=licence,
                     link=absolute_url("profiles.edit", _anchor="licence"))
    if commit:
        db.session.commit()
    return licence


def identity_changed(practitioner: Practitioner, changed: set[str], actor: User | None) -> bool:
    """Void the check when the licence it looked at changed (call before the commit of the
    change, inside its transaction). True when a check was voided."""
    if not changed & set(IDENTITY_FIELDS):
        return False
    licence = practitioner.licence
    if licence is None or licence.status == LicenceStatus.UNVERIFIED:
        return False
    before = licence.status
    licence.status = LicenceStatus.UNVERIFIED
    licence.next_due = None
    licence.due_reminder_sent_at = None
    db.session.flush()
    record("licence.unverified", practitioner, actor=actor, status_before=before,
           reason="licence details changed", fields=sorted(changed & set(IDENTITY_FIELDS)))
    return True


# ------------------------------------------------------------------------------ the queue

@dataclass
class QueueEntry:
    """A practitioner whose licence waits for a check, and why."""

    practitioner: Practitioner
    licence: Licence | None
    good_until: date | None  # the day it stops (or stopped) counting; None: never counted
    reason: str


def check_queue(today: date | None = None) -> list[QueueEntry]:
    """Licences waiting for a check, oldest need first: overdue and lapsed ones, those due
    within QUEUE_DAYS, then never checked ones (graced ones by their grace day)."""
    today = today or utcnow().date()
    soon = today + timedelta(days=QUEUE_DAYS)
    rows = db.session.execute(
        select(Practitioner, Licence)
        .join(User, User.id == Practitioner.user_id)
        .outerjoin(Licence, Licence.practitioner_id == Practitioner.id)
        .where(User.is_active.is_(True),
               or_(Practitioner.licence_number != "", Practitioner.npi.is_not(None)),
               or_(Licence.id.is_(None),
                   Licence.status.in_([LicenceStatus.UNVERIFIED, LicenceStatus.LAPSED]),
                   and_(Licence.status == LicenceStatus.VERIFIED, Licence.next_due <= soon)))
    ).all()
    entries = []
    for p, licence in rows:
        if licence is None or licence.status == LicenceStatus.UNVERIFIED:
            day = licence.grace_until if licence is not None else None
            reason = ("Never checked" if day is None
                      else f"Never checked; listed unchecked until {day.isoformat()}")
        elif licence.status == LicenceStatus.LAPSED:
            day = licence.next_due
            reason = f"Lapsed: its re-check was due by {day.isoformat()}"
        else:
            day = licence.next_due
            reason = f"Re-check due by {day.isoformat()}"
        entries.append(QueueEntry(p, licence, day, reason))
    # Oldest need first: by the day the licence stops (or stopped) counting; never checked
    # and not graced last, by practitioner.
    entries.sort(key=lambda e: (e.good_until is None, e.good_until or date.min,
                                e.practitioner.id))
    return entries


# ------------------------------------------------------------------------------- the sweep

@dataclass
class LicenceSweep:
    """What one licence sweep did."""

    lapsed: int = 0
    reminders: int = 0
    grace_notices: int = 0


def sweep_licences(today: date) -> LicenceSweep:
    """Mark verified licences past their next check lapsed, announce the grace period, and
    remind practitioners REMINDER_DAYS before their licence stops counting, each exactly once
    (each mark committed with its message)."""
    result = LicenceSweep()
    for licence in db.session.scalars(select(Licence).where(
            Licence.status == LicenceStatus.VERIFIED, Licence.next_due < today)).all():
        licence.status = LicenceStatus.LAPSED
        db.session.flush()
        record("licence.lapsed", licence.practitioner, next_due=licence.next_due.isoformat())
        outbox.queue(licence.practitioner.user.email, "Your licence check is overdue",
                     "licence_due", p=licence.practitioner, licence=licence, lapsed=True,
                     good_until=licence.next_due,
                     link=absolute_url("profiles.dashboard", _anchor="licence"))
        db.session.commit()
        result.lapsed += 1
    for licence in db.session.scalars(select(Licence).where(
            Licence.status == LicenceStatus.UNVERIFIED, Licence.grace_until >= today,
            Licence.grace_notice_sent_at.is_(None))).all():
        licence.grace_notice_sent_at = utcnow()
        db.session.flush()
        record("licence.grace_notice_sent", licence.practitioner,
               grace_until=licence.grace_until.isoformat())
        outbox.queue(licence.practitioner.user.email,
                     "We now check licences: please help us verify yours",
                     "licence_grace", p=licence.practitioner, licence=licence,
                     link=absolute_url("profiles.edit", _anchor="licence"))
        db.session.commit()
        result.grace_notices += 1
    soon = today + timedelta(days=REMINDER_DAYS)
    for licence in db.session.scalars(select(Licence).where(
            Licence.due_reminder_sent_at.is_(None),
            or_(and_(Licence.status == LicenceStatus.VERIFIED, Licence.next_due <= soon),
                and_(Licence.status == LicenceStatus.UNVERIFIED,
                     Licence.grace_until <= soon, Licence.grace_until >= today)))).all():
        good_until = listing.licence_good_until(licence)
        licence.due_reminder_sent_at = utcnow()
        db.session.flush()
        record("licence.reminder_sent", licence.practitioner, good_until=good_until.isoformat())
        outbox.queue(licence.practitioner.user.email,
                     f"Your licence needs a check by {good_until.isoformat()}",
                     "licence_due", p=licence.practitioner, licence=licence, lapsed=False,
                     good_until=good_until,
                     link=absolute_url("profiles.dashboard", _anchor="licence"))
        db.session.commit()
        result.reminders += 1
    return result


# ------------------------------------------------------------------- what the public sees

def _iso(day: date | None) -> str | None:
    return day.isoformat() if day else None


def licence_record(practitioner: Practitioner) -> dict:
    """The licence as the API record shows it: number, jurisdiction, NPI and its check."""
    licence = practitioner.licence
    status = licence.status if licence else LicenceStatus.UNVERIFIED
    return {
        "number": practitioner.licence_number or None,
        "jurisdiction": jurisdiction_of(practitioner) or None,
        "npi": practitioner.npi,
        "verification": {
            "status": str(status),
            "method": licence.method if licence else None,
            "source": (licence.source or None) if licence else None,
            "verified_on": _iso(licence.verified_on) if licence else None,
            "next_due": _iso(licence.next_due) if licence else None,
            # Listed before licences were checked: stays listed unchecked until this day.
            "grace_until": _iso(licence.grace_until) if licence else None,
        },
    }
