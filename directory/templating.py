"""Template filters and globals."""

from __future__ import annotations

from flask import Flask
from markupsafe import Markup, escape

from directory import hours, maps, practice, vocab
from directory.credentials import codes, lifecycle
from directory.dates import format_date
from directory.links import absolute_url


def nl2br(text: str | None) -> Markup:
    """Escape plain text and keep its line breaks."""
    if not text:
        return Markup("")
    lines = escape(text.replace("\r\n", "\n").replace("\r", "\n")).split("\n")
    return Markup("<br>\n").join(lines)


def qr_svg(url: str) -> Markup:
    """An inline SVG QR code for a URL (segno makes it; no image files, works offline)."""
    import segno

    svg = segno.make(url, error="m").svg_inline(scale=3, border=2, title="QR code")
    return Markup(svg)  # noqa: S704 — segno's own markup; the URL inside is encoded


def register(app: Flask) -> None:
    """Add the filters and globals."""
    app.jinja_env.filters["date"] = format_date
    app.jinja_env.filters["credential_code"] = codes.grouped
    app.jinja_env.filters["nl2br"] = nl2br
    app.jinja_env.filters["language_name"] = vocab.language_name
    app.jinja_env.globals.update(
        PROFESSIONS=vocab.PROFESSIONS,
        # Certification statuses: compare with CertStatus.X, test membership in the sets the
        # state machine derives (credentials/lifecycle.py), never a list of literals.
        CertStatus=vocab.CertStatus,
        Permitted=vocab.Permitted,
        CERT_EDITABLE=lifecycle.EDITABLE,
        CERT_REASON_GIVEN=lifecycle.REASON_GIVEN,
        CERT_ONCE_VERIFIED=lifecycle.ONCE_VERIFIED,
        TECHNIQUES=vocab.TECHNIQUES,
        CONDITIONS=vocab.CONDITIONS,
        country_name=vocab.country_name,
        region_name=vocab.region_name,
        language_name=vocab.language_name,
        insurer_name=vocab.insurer_name,
        INSURERS=vocab.INSURERS,
        practice=practice,  # shown contact details, fees, insurers (directory/practice.py)
        qr_svg=qr_svg,
        absolute_url=absolute_url,  # links from SITE_URL, never the request's Host
        hours=hours,  # a location's week and "open now" (directory/hours.py)
        directions_url=maps.directions_url,
    )
