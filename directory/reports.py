"""Reports of wrong information on a listing: a patient submits one, the practitioner is told,
an administrator decides it (corrected or dismissed). Domain code: no request, no blueprint."""

from __future__ import annotations

from sqlalchemy import func, select, update

from directory import outbox
from directory.extensions import db
from directory.links import absolute_url
from directory.models import ListingReport, Practitioner, User, record
from directory.models.base import utcnow
from directory.vocab import REPORT_KINDS, ReportKind, ReportStatus

# The longest text a patient's details and an administrator's note may hold (both are stored as
# Text, unbounded; this is the one place their limit is set).
DETAILS_MAX_LENGTH = 2000
RESOLUTION_MAX_LENGTH = 2000

# The decisions an administrator takes on an open report.
DECISIONS: dict[str, str] = {
    ReportStatus.CORRECTED: "Corrected: the listing was wrong and has been put right",
    ReportStatus.DISMISSED: "Dismissed: the listing is right, or the report is not a real one",
}
# How each status reads in a sentence ("This report is corrected").
STATUS_LABELS: dict[str, str] = {
    ReportStatus.OPEN: "open",
    ReportStatus.CORRECTED: "corrected",
    ReportStatus.DISMISSED: "dismissed",
}


class DuplicateReport(ValueError):
    """The same problem, in the same words, is already waiting for an administrator."""


class AlreadyResolved(ValueError):
    """The report was decided already (perhaps by another administrator a moment ago)."""


def submit_report(practitioner: Practitioner, kind: str, details: str, reporter_email: str,
                  client_key: str) -> ListingReport:
    """A patient's report: stored, audited and e-mailed to the practitioner in one transaction."""
    kind = ReportKind(kind)
    details = (details or "").strip()
    if find_duplicate(practitioner, kind, details) is not None:
        raise DuplicateReport("Thank you: this problem has already been reported, and an "
                              "administrator will look at it shortly.")
    report = ListingReport(practitioner=practitioner, kind=kind, details=details,
                           reporter_email=(reporter_email or "").strip(), client_key=client_key,
                           status=ReportStatus.OPEN)
    db.session.add(report)
    db.session.flush()
    record("report.submitted", report, kind=str(kind))
    # Never the reporter's address: the practitioner hears what, not who.
    outbox.queue(practitioner.user.email, "A patient reported a problem with your listing",
                 "listing_report", p=practitioner, kind_label=REPORT_KINDS[kind],
                 details=details, profile_link=absolute_url("profiles.edit"),
                 dashboard_link=absolute_url("profiles.dashboard"))
    db.session.commit()
    return report


def find_duplicate(practitioner: Practitioner, kind: str, details: str) -> ListingReport | None:
    """An open report on this listing of the same kind with the same words, if there is one.
    The words are compared in Python (casefold): SQLite's lower() folds ASCII only, so the
    same rule in SQL would differ between the databases. A listing has few open reports."""
    wanted = details.casefold()
    return next((report for report in db.session.scalars(
        select(ListingReport).where(ListingReport.practitioner_id == practitioner.id,
                                    ListingReport.status == ReportStatus.OPEN,
                                    ListingReport.kind == kind)
        .order_by(ListingReport.id)) if report.details.casefold() == wanted), None)


def resolve_report(report: ListingReport, actor: User, status: str,
                   resolution: str) -> ListingReport:
    """An administrator decides an open report: corrected or dismissed, with a note; audited."""
    status = ReportStatus(status)
    if status not in DECISIONS:
        raise ValueError(f"A report is decided as {' or '.join(DECISIONS)}, not {status}.")
    resolution = (resolution or "").strip()
    if not resolution:
        raise ValueError("Say what you found or did.")
    if report.status != ReportStatus.OPEN:
        raise AlreadyResolved(already_resolved_message(report))
    # Only an open report changes: of two administrators deciding at once, the first wins.
    changed = db.session.execute(
        update(ListingReport)
        .where(ListingReport.id == report.id, ListingReport.status == ReportStatus.OPEN)
        .values(status=status, resolved_at=utcnow(), resolved_by_id=actor.id,
                resolution=resolution)
        .execution_options(synchronize_session="fetch"))
    if changed.rowcount != 1:
        db.session.rollback()
        db.session.refresh(report)
        raise AlreadyResolved(already_resolved_message(report))
    db.session.flush()
    record("report.resolved", report, actor=actor, status=str(status), note=resolution)
    db.session.commit()
    return report


def already_resolved_message(report: ListingReport) -> str:
    """What an administrator is told when a report they decide was decided already."""
    return (f"This report is already {STATUS_LABELS[report.status]}: there is nothing left "
            "to decide.")


def open_reports(practitioner: Practitioner) -> list[ListingReport]:
    """The open reports about one practitioner's listing, newest first."""
    return list(db.session.scalars(
        select(ListingReport).where(ListingReport.practitioner_id == practitioner.id,
                                    ListingReport.status == ReportStatus.OPEN)
        .order_by(ListingReport.created_at.desc(), ListingReport.id.desc())))


def open_count() -> int:
    """How many reports wait for an administrator."""
    return db.session.scalar(select(func.count()).select_from(ListingReport)
                             .where(ListingReport.status == ReportStatus.OPEN)) or 0
