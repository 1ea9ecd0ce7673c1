"""The outbox: every e-mail the app sends goes through send()."""

from __future__ import annotations

import logging
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

from flask import current_app, render_template

log = logging.getLogger(__name__)


def send(to: str, subject: str, template: str, **context) -> EmailMessage:
    """Render templates/email/<template>.txt and deliver it by the configured backend."""
    config = current_app.config
    msg = EmailMessage()
    msg["From"] = config["MAIL_DEFAULT_SENDER"]
    msg["To"] = to
    msg["Subject"] = f"{subject} — {config['SITE_NAME']}"
    msg["Message-ID"] = make_msgid(domain="dry-needling-directory")
    msg.set_content(render_template(f"email/{template}.txt", subject=subject, **context))
    backend = config["MAIL_BACKEND"]
    if backend == "smtp":
        _send_smtp(msg)
    elif backend == "file":
        _write_file(msg, Path(config["MAIL_OUTBOX"]))
    else:
        raise RuntimeError(f"unknown MAIL_BACKEND {backend!r}")
    return msg


def _write_file(msg: EmailMessage, outbox: Path) -> Path:
    """Write the message to the outbox folder and log where it is."""
    outbox.mkdir(parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = outbox / f"{stamp}-{msg['Message-ID'].strip('<>').split('@')[0]}.eml"
    path.write_bytes(bytes(msg))
    log.info("mail to %s (%s) written to %s", msg["To"], msg["Subject"], path)
    return path


def _send_smtp(msg: EmailMessage) -> None:
    """Send through the configured SMTP server."""
    c = current_app.config
    context = ssl.create_default_context()
    if c["MAIL_USE_SSL"]:
        server = smtplib.SMTP_SSL(c["MAIL_SERVER"], c["MAIL_PORT"], context=context, timeout=10)
    else:
        server = smtplib.SMTP(c["MAIL_SERVER"], c["MAIL_PORT"], timeout=10)
    with server:
        if c["MAIL_USE_TLS"] and not c["MAIL_USE_SSL"]:
            server.starttls(context=context)
        if c["MAIL_USERNAME"]:
            server.login(c["MAIL_USERNAME"], c["MAIL_PASSWORD"] or "")
        server.send_message(msg)
    log.info("mail to %s (%s) sent by SMTP", msg["To"], msg["Subject"])
