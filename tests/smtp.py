"""A real SMTP server on a loopback port (aiosmtpd), which can refuse and then accept."""

from __future__ import annotations

import email
import email.policy
import socket
import threading
from email.message import Message

from aiosmtpd.controller import Controller


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class SmtpSink:
    """An SMTP server that keeps what it accepts. `refuse` answers the message with a temporary
    (451) or permanent (550) error instead; stop() takes it off the network (connections are
    refused) and start() brings it back on the same port."""

    def __init__(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.received: list[Message] = []
        self.refuse: str | None = None  # e.g. "451 4.3.0 Try again later"
        self.attempts = 0
        self._lock = threading.Lock()
        self._controller: Controller | None = None

    async def handle_DATA(self, server, session, envelope):  # noqa: N802 — aiosmtpd's hook name
        with self._lock:
            self.attempts += 1
            if self.refuse:
                return self.refuse
            message = email.message_from_bytes(envelope.original_content or envelope.content,
                                               policy=email.policy.default)
            message["X-Envelope-To"] = ", ".join(envelope.rcpt_tos)
            self.received.append(message)
        return "250 OK"

    def start(self) -> SmtpSink:
        self._controller = Controller(self, hostname="127.0.0.1", port=self.port)
        self._controller.start()
        return self

    def stop(self) -> None:
        if self._controller is not None:
            self._controller.stop()
            self._controller = None

    def to(self, address: str) -> list[Message]:
        """The accepted messages addressed to this address."""
        return [m for m in self.messages() if m["To"] == address]

    def messages(self) -> list[Message]:
        """Every message accepted so far (a copy of the list, safe to read while it grows)."""
        with self._lock:
            return list(self.received)
