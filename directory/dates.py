"""How dates are written for people, on pages, in e-mails and in the automatic checks alike."""

from __future__ import annotations

from datetime import date, datetime


def format_date(value: date | datetime | None) -> str:
    """An unambiguous date: 22 Nov 2026."""
    if value is None:
        return ""
    return f"{value.day} {value.strftime('%b %Y')}"
