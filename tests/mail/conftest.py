"""A real SMTP server on loopback (aiosmtpd), plain, STARTTLS, SMTPS and with AUTH LOGIN.

The handler keeps what it received and refuses some recipients on purpose:
`bounce…@` gets 550 (permanent), `busy…@` gets 451 (temporary).
"""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

import pytest
import trustme
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

from tests.live import free_port

SMTP_USER = "mailer"
SMTP_PASSWORD = "s3cret p@ss/word"
SMTPS_WARNING = "ignore:Requiring AUTH while not requiring TLS:UserWarning"


@dataclass
class Received:
    mail_from: str
    rcpt_tos: list[str]
    message: EmailMessage


@dataclass
class Collector:
    """aiosmtpd handler: accepts, refuses by recipient prefix, and records messages."""

    received: list[Received] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    async def handle_RCPT(
        self, server: SMTP, session: Session, envelope: Envelope, address: str, rcpt_options: list[str]
    ) -> str:
        if address.startswith("bounce"):
            return "550 5.1.1 No such user here"
        if address.startswith("busy"):
            return "451 4.3.0 Mailbox busy, try later"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        message = message_from_bytes(content, policy=policy.default)
        assert isinstance(message, EmailMessage)
        with self.lock:
            self.received.append(Received(str(envelope.mail_from), list(envelope.rcpt_tos), message))
        return "250 Message accepted"

    def messages(self) -> list[EmailMessage]:
        with self.lock:
            return [r.message for r in self.received]


def _authenticator(server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any) -> AuthResult:
    ok = (
        isinstance(data, LoginPassword)
        and data.login == SMTP_USER.encode()
        and data.password == (SMTP_PASSWORD.encode())
    )
    return AuthResult(success=ok, handled=False)


@dataclass
class SmtpServer:
    port: int
    collector: Collector
    controller: Controller | None = None

    def url(self, scheme: str = "smtp", query: str = "", login: bool = False) -> str:
        auth = (
            f"{SMTP_USER}:{SMTP_PASSWORD.replace(' ', '%20').replace('@', '%40').replace('/', '%2F')}@" if login else ""
        )
        return f"{scheme}://{auth}127.0.0.1:{self.port}{query}"

    def start(self, **kwargs: Any) -> SmtpServer:
        self.controller = Controller(self.collector, hostname="127.0.0.1", port=self.port, **kwargs)
        self.controller.start()
        return self

    def stop(self) -> None:
        if self.controller is not None:
            self.controller.stop()
            self.controller = None

    def messages(self) -> list[EmailMessage]:
        return self.collector.messages()


@pytest.fixture
def smtp_server() -> Iterator[SmtpServer]:
    """Plain SMTP, no login."""
    server = SmtpServer(free_port(), Collector()).start()
    yield server
    server.stop()


@pytest.fixture
def smtp_down() -> Iterator[SmtpServer]:
    """A port nobody listens on yet; `.start()` brings the server up there."""
    server = SmtpServer(free_port(), Collector())
    yield server
    server.stop()


@pytest.fixture(scope="session")
def tls_ca() -> trustme.CA:
    return trustme.CA()


@pytest.fixture
def client_tls(tls_ca: trustme.CA) -> ssl.SSLContext:
    """What frontdesk's SmtpTransport is given: trusts the test CA only."""
    context = ssl.create_default_context()
    tls_ca.configure_trust(context)
    return context


def _server_tls(ca: trustme.CA) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1", "localhost").configure_cert(context)
    return context


@pytest.fixture
def starttls_server(tls_ca: trustme.CA) -> Iterator[SmtpServer]:
    """STARTTLS required, then AUTH LOGIN/PLAIN required."""
    server = SmtpServer(free_port(), Collector()).start(
        tls_context=_server_tls(tls_ca),
        require_starttls=True,
        auth_required=True,
        auth_require_tls=True,
        authenticator=_authenticator,
    )
    yield server
    server.stop()


@pytest.fixture
def smtps_server(tls_ca: trustme.CA) -> Iterator[SmtpServer]:
    """Implicit TLS (smtps://), with AUTH required.

    aiosmtpd only counts STARTTLS as TLS, so AUTH must be allowed "without" it here; tests using
    this fixture add `SMTPS_WARNING` to their filterwarnings.
    """
    server = SmtpServer(free_port(), Collector()).start(
        ssl_context=_server_tls(tls_ca),
        auth_required=True,
        auth_require_tls=False,
        authenticator=_authenticator,
    )
    yield server
    server.stop()
