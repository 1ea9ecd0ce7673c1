"""Enquiries: a patient's message to a practitioner, sent from the profile without either side
seeing the other's address until the practitioner replies.

The message goes through the outbox to the practitioner's account e-mail, with Reply-To the
patient's address, and a copy goes to the patient; both rows lose their words once delivered
(directory.outbox). The database keeps only an Enquiry row of metadata for abuse review: who
(the name and reply address typed), to whom, when, how long, how many links, and the client's
address hashed with the secret key.

Spam is held off without a third-party CAPTCHA: a hidden field robots fill in (their message is
dropped, and they are told it was sent), a limit on links, and limits per client address, per
reply address and per practitioner over the last day (ENQUIRY_LIMITS in the configuration).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta

from flask import current_app
from sqlalchemy import func, select

from directory import outbox, practice
from directory.extensions import db
from directory.links import absolute_url
from directory.models import Enquiry, Practitioner, record
from directory.models.base import utcnow
from directory.vocab import EnquiryStatus

# The longest message accepted (characters), and the most links it may hold.
MAX_MESSAGE = 3000
LINK = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|net|org|info|biz|ru|xyz|"
                  r"top|io|co)(?:/\S*)?\b")
WINDOW = timedelta(days=1)

TOO_MANY_LINKS = ("Your message holds {count} links; we send at most {limit}. Remove the "
                  "others and send it again.")
LIMIT_MESSAGES = {
    "client": "Too many messages have been sent from your connection today. Please try again "
              "tomorrow, or use the practitioner's phone or website.",
    "sender": "You have sent as many messages as we allow from one address in a day. Please "
              "try again tomorrow.",
    "practitioner": "This practitioner has received as many messages through the directory "
                    "as we pass on in a day. Please try again tomorrow, or use their phone or "
                    "website.",
}


class EnquiryRefused(Exception):
    """An enquiry we do not send; str(exc) tells the patient why and what to do, `status` is
    the HTTP status of the answer (429: past a limit) and `code` the API error's code."""

    status, code = 429, "rate_limited"


class EnquiriesClosed(EnquiryRefused):
    """The practitioner takes no enquiries through the directory."""

    status, code = 409, "enquiries_closed"


class TooManyLinks(EnquiryRefused):
    """More links than a message may hold (the form says so beside the field first)."""

    status, code = 400, "invalid_parameter"


def link_count(message: str) -> int:
    """How many web addresses the message holds."""
    return len(LINK.findall(message))


def link_problem(message: str) -> str | None:
    """The message for the patient when their text holds more links than we send, else None."""
    limit = current_app.config["ENQUIRY_MAX_LINKS"]
    count = link_count(message)
    return TOO_MANY_LINKS.format(count=count, limit=limit) if count > limit else None


@dataclass(frozen=True)
class Sent:
    """What happened to an enquiry: the row (None: a robot past its limit, not recorded), and
    whether it was really sent."""

    enquiry: Enquiry | None
    delivered: bool


def _recent(column, value, since: datetime, status: str = EnquiryStatus.SENT) -> int:
    return db.session.scalar(select(func.count()).select_from(Enquiry).where(
        column == value, Enquiry.created_at >= since, Enquiry.status == status))


def _check_limits(practitioner: Practitioner, sender_email: str, client_key: str,
                  now: datetime) -> None:
    limits = current_app.config["ENQUIRY_LIMITS"]
    since = now - WINDOW
    for name, column, value in (("client", Enquiry.client_key, client_key),
                                ("sender", func.lower(Enquiry.sender_email),
                                 sender_email.lower()),
                                ("practitioner", Enquiry.practitioner_id, practitioner.id)):
        if _recent(column, value, since) >= limits[name]:
            raise EnquiryRefused(LIMIT_MESSAGES[name])


def send_enquiry(practitioner: Practitioner, *, sender_name: str, sender_email: str,
                 message: str, client_key: str, trapped: bool = False,
                 now: datetime | None = None) -> Sent:
    """Queue a patient's message to the practitioner and its copy to the patient, with the
    metadata row, in one transaction. A trapped message (the hidden field was filled in) is
    recorded and not sent. Raises EnquiryRefused (nothing written) past a limit."""
    now = now or utcnow()
    if not practice.takes_enquiries(practitioner):
        raise EnquiriesClosed(f"{practitioner.full_name} does not take messages through the "
                              "directory. Use the contact details on the profile.")
    links = link_count(message)
    if trapped and _recent(Enquiry.client_key, client_key, now - WINDOW,
                           EnquiryStatus.TRAPPED) >= current_app.config["ENQUIRY_LIMITS"]["client"]:
        return Sent(None, delivered=False)  # a robot's flood: not even its metadata is kept
    if not trapped:
        if problem := link_problem(message):
            raise TooManyLinks(problem)
        _check_limits(practitioner, sender_email, client_key, now)
    enquiry = Enquiry(practitioner=practitioner, created_at=now, sender_name=sender_name,
                      sender_email=sender_email, client_key=client_key,
                      message_length=len(message), link_count=links,
                      status=EnquiryStatus.TRAPPED if trapped else EnquiryStatus.SENT)
    db.session.add(enquiry)
    db.session.flush()
    record("enquiry.trapped" if trapped else "enquiry.sent", enquiry,
           practitioner_id=practitioner.id, length=len(message), links=links)
    if not trapped:
        profile = absolute_url("public.practitioner", slug=practitioner.slug)
        outbox.queue(practitioner.user.email, f"A message from {sender_name}", "enquiry",
                     reply_to=sender_email, p=practitioner, sender_name=sender_name,
                     message=message, settings=absolute_url("profiles.edit",
                                                            _anchor="contact-choices"))
        outbox.queue(sender_email, f"Your message to {practitioner.full_name}", "enquiry_copy",
                     p=practitioner, sender_name=sender_name, message=message, profile=profile)
    db.session.commit()
    return Sent(enquiry, delivered=not trapped)


def recent(limit: int = 200) -> list[Enquiry]:
    """The latest enquiries' metadata, newest first (for administrators reviewing abuse)."""
    return list(db.session.scalars(select(Enquiry).order_by(Enquiry.created_at.desc(),
                                                           Enquiry.id.desc()).limit(limit)))
