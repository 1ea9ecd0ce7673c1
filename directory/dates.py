"""How dates are written for people, on pages, in e-mails and in the automatic checks alike."""

from __future__ import annotations

import calendar
from datetime import date, datetime


def format_date(value: date | datetime | None) -> str:
    """An unambiguous date: 22 Nov 2026."""
    if value is None:
        return ""
    return f"{value.day} {value.strftime('%b %Y')}"


def months_after(day: date, months: int) -> date:
    """The same day `months` later (the month's last day when it has no such day)."""
    month = day.month - 1 + months
    year, month = day.year + month // 12, month % 12 + 1
    return day.replace(year=year, month=month,
                       day=min(day.day, calendar.monthrange(year, month)[1]))
