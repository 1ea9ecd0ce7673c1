"""Mail backends: how the outbox's sender hands over one message (directory/outbox.py decides
what to send and when; nothing else calls these)."""

from __future__ import annotations

import logging
import os
import smtplib
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage
from pathlib import Path

from flask import current_app

log = logging.getLogger(__name__)


def deliver(msg: EmailMessage) -> None:
    """Deliver by the configured backend; raises OSError or SMTPException when it could not."""
    config = current_app.config
    backend = config["MAIL_BACKEND"]
    if backend == "smtp":
        _send_smtp(msg)
    elif backend == "file":
        _write_file(msg, Path(config["MAIL_OUTBOX"]))
    else:
        raise RuntimeError(f"unknown MAIL_BACKEND {backend!r}")


def _write_file(msg: EmailMessage, outbox: Path) -> Path:
    """Write the message to the outbox folder (readable by this user only: it holds reset
    links) and log where it is."""
    outbox.mkdir(mode=0o700, parents=True, exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%f")
    path = outbox / f"{stamp}-{msg['Message-ID'].strip('<>').split('@')[0]}.eml"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(bytes(msg))
    log.info("mail to %s (%s) written to %s", msg["To"], msg["Subject"], path)
    return path


def _send_smtp(msg: EmailMessage) -> None:
    """Send through the configured SMTP server."""
    c = current_app.config
    context = ssl.create_default_context()
    timeout = c["MAIL_TIMEOUT"]
    if c["MAIL_USE_SSL"]:
        server = smtplib.SMTP_SSL(c["MAIL_SERVER"], c["MAIL_PORT"], context=context,
                                  timeout=timeout)
    else:
        server = smtplib.SMTP(c["MAIL_SERVER"], c["MAIL_PORT"], timeout=timeout)
    with server:
        if c["MAIL_USE_TLS"] and not c["MAIL_USE_SSL"]:
            server.starttls(context=context)
        if c["MAIL_USERNAME"]:
            server.login(c["MAIL_USERNAME"], c["MAIL_PASSWORD"] or "")
        server.send_message(msg)
    log.info("mail to %s (%s) sent by SMTP", msg["To"], msg["Subject"])
