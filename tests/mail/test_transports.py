"""Transports: one shared suite for every real transport, then SMTP's error classification."""

from __future__ import annotations

import logging
import ssl
from datetime import UTC, datetime
from email.message import EmailMessage

import pytest
from pydantic import SecretStr

from frontdesk.errors import ConfigurationError
from frontdesk.mail.message import Outgoing, build_message
from frontdesk.mail.transports import (
    ConsoleTransport,
    MemoryTransport,
    PermanentDeliveryError,
    SmtpConfig,
    SmtpTransport,
    TemporaryDeliveryError,
    Transport,
    TransportUnavailable,
    redact,
    transport_from_settings,
)
from frontdesk.settings import Settings
from tests.mail.conftest import SMTP_USER, SMTPS_WARNING, SmtpServer

SETTINGS = Settings(mail_from="Acme <no-reply@acme.test>")
TOKEN = "Zr1cVh3Qp0yT8wE5uI2oP7aS4dF6gH9jK1lZ3xC5vB7"
CODE = "493817"
NOW = datetime(2026, 1, 1, 12, tzinfo=UTC)


def message(to: str = "ann@example.com", n: int = 1) -> EmailMessage:
    email = Outgoing(
        id=n,
        attempts=1,
        kind="login_link",
        to=to,
        subject=f"Your sign-in link #{n}",
        text=f"Sign in: https://id.example.com/login-link/confirm?token={TOKEN}\n\nOr type this code:\n\n{CODE}\n",
        html=f'<p><a href="https://id.example.com/login-link/confirm?token={TOKEN}">Sign in</a></p>\n',
        created=NOW,
    )
    return build_message(email, SETTINGS, NOW)


class TestMemoryTransport:
    """Every transport that delivers must pass these; subclasses swap the transport."""

    @pytest.fixture
    def transport(self) -> MemoryTransport:
        return MemoryTransport()

    def received(self, transport: Transport) -> list[EmailMessage]:
        assert isinstance(transport, MemoryTransport)
        return transport.messages

    def test_delivers_both_parts_to_the_recipient(self, transport: Transport) -> None:
        transport.send(message())
        transport.close()
        [got] = self.received(transport)
        assert got["To"] == "ann@example.com"
        assert got["From"] == "Acme <no-reply@acme.test>"
        assert got["Subject"] == "Your sign-in link #1"
        assert got.get_content_type() == "multipart/alternative"
        plain, html = got.get_body(("plain",)), got.get_body(("html",))
        assert isinstance(plain, EmailMessage) and isinstance(html, EmailMessage)
        assert f"token={TOKEN}" in plain.get_content()
        assert f"token={TOKEN}" in html.get_content()

    def test_sends_each_message_once_in_order(self, transport: Transport) -> None:
        for n in range(3):
            transport.send(message(n=n))
        transport.close()
        assert [m["Subject"] for m in self.received(transport)] == [f"Your sign-in link #{n}" for n in range(3)]
        assert len({m["Message-ID"] for m in self.received(transport)}) == 3

    def test_can_send_again_after_close(self, transport: Transport) -> None:
        transport.send(message(n=1))
        transport.close()
        transport.send(message(n=2))
        transport.close()
        assert len(self.received(transport)) == 2

    def test_delivers(self, transport: Transport) -> None:
        assert transport.delivers is True


class TestSmtpTransport(TestMemoryTransport):
    @pytest.fixture
    def server(self, smtp_server: SmtpServer) -> SmtpServer:
        return smtp_server

    @pytest.fixture
    def transport(self, server: SmtpServer, client_tls: ssl.SSLContext) -> SmtpTransport:
        return SmtpTransport(server.url(), ssl_context=client_tls)

    def received(self, transport: Transport) -> list[EmailMessage]:
        assert isinstance(transport, SmtpTransport)
        return self._server.messages()

    @pytest.fixture(autouse=True)
    def _keep_server(self, server: SmtpServer) -> None:
        self._server = server


class TestSmtpStarttlsWithLogin(TestSmtpTransport):
    @pytest.fixture
    def server(self, starttls_server: SmtpServer) -> SmtpServer:
        return starttls_server

    @pytest.fixture
    def transport(self, server: SmtpServer, client_tls: ssl.SSLContext) -> SmtpTransport:
        return SmtpTransport(server.url(query="?starttls=true", login=True), ssl_context=client_tls)


@pytest.mark.filterwarnings(SMTPS_WARNING)
class TestSmtpsWithLogin(TestSmtpTransport):
    @pytest.fixture
    def server(self, smtps_server: SmtpServer) -> SmtpServer:
        return smtps_server

    @pytest.fixture
    def transport(self, server: SmtpServer, client_tls: ssl.SSLContext) -> SmtpTransport:
        return SmtpTransport(server.url("smtps", login=True), ssl_context=client_tls)


# --- SMTP errors: temporary or permanent --------------------------------------------------------


def test_unknown_recipient_is_permanent(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(smtp_server.url())
    with pytest.raises(PermanentDeliveryError, match="550"):
        transport.send(message(to="bounce@example.com"))
    transport.send(message(to="ann@example.com"))  # the transport recovers
    transport.close()
    assert [m["To"] for m in smtp_server.messages()] == ["ann@example.com"]


def test_busy_mailbox_is_temporary_but_not_an_outage(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(smtp_server.url())
    with pytest.raises(TemporaryDeliveryError, match="451") as caught:
        transport.send(message(to="busy@example.com"))
    assert not isinstance(caught.value, TransportUnavailable)
    transport.close()


def test_closed_port_is_an_outage(smtp_down: SmtpServer) -> None:
    with pytest.raises(TransportUnavailable, match="cannot connect"):
        SmtpTransport(smtp_down.url()).send(message())


def test_wrong_password_is_an_outage_not_a_bounce(starttls_server: SmtpServer, client_tls: ssl.SSLContext) -> None:
    url = starttls_server.url(query="?starttls=true").replace("smtp://", f"smtp://{SMTP_USER}:wrong@")
    with pytest.raises(TransportUnavailable, match="login refused"):
        SmtpTransport(url, ssl_context=client_tls).send(message())


def test_missing_login_is_an_outage(starttls_server: SmtpServer, client_tls: ssl.SSLContext) -> None:
    with pytest.raises(TransportUnavailable):
        SmtpTransport(starttls_server.url(query="?starttls=true"), ssl_context=client_tls).send(message())


def test_untrusted_certificate_is_refused(starttls_server: SmtpServer) -> None:
    transport = SmtpTransport(starttls_server.url(query="?starttls=true", login=True))  # system CAs only
    with pytest.raises(TransportUnavailable, match="TLS"):
        transport.send(message())
    assert starttls_server.messages() == []


def test_starttls_asked_of_a_server_without_it(smtp_server: SmtpServer, client_tls: ssl.SSLContext) -> None:
    with pytest.raises(TransportUnavailable, match="STARTTLS"):
        SmtpTransport(smtp_server.url(query="?starttls=true"), ssl_context=client_tls).send(message())


def test_reconnects_when_the_server_dropped_the_connection(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(smtp_server.url())
    transport.send(message(n=1))
    smtp_server.stop()
    smtp_server.start()
    transport.send(message(n=2))
    transport.close()
    assert len(smtp_server.messages()) == 2


def test_non_ascii_address_travels_with_smtputf8(smtp_server: SmtpServer) -> None:
    transport = SmtpTransport(smtp_server.url())
    transport.send(message(to="zoë@exämple.com"))
    transport.close()
    assert [r.rcpt_tos for r in smtp_server.collector.received] == [["zoë@exämple.com"]]


def test_non_ascii_address_without_smtputf8_is_permanent(smtp_down: SmtpServer) -> None:
    smtp_down.start(enable_SMTPUTF8=False)
    transport = SmtpTransport(smtp_down.url())
    with pytest.raises(PermanentDeliveryError, match="SMTPUTF8"):
        transport.send(message(to="zoë@exämple.com"))
    transport.send(message(to="ann@example.com"))
    transport.close()
    assert len(smtp_down.messages()) == 1


def test_invalid_recipient_is_permanent_before_any_connection() -> None:
    with pytest.raises(PermanentDeliveryError, match="invalid recipient"):
        message(to="not an address")


# --- configuration ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("smtp://mail.test", SmtpConfig("mail.test", 25)),
        ("smtp://mail.test:2525", SmtpConfig("mail.test", 2525)),
        ("smtp://u:p@mail.test?starttls=true", SmtpConfig("mail.test", 587, "u", "p", starttls=True)),
        ("smtps://u%40x:p%2Fw@mail.test", SmtpConfig("mail.test", 465, "u@x", "p/w", implicit_tls=True)),
        ("smtp://mail.test?timeout=3", SmtpConfig("mail.test", 25, timeout=3.0)),
        ("smtp://u@mail.test", SmtpConfig("mail.test", 25, "u", None)),
    ],
)
def test_smtp_url(url: str, expected: SmtpConfig) -> None:
    assert SmtpConfig.from_url(url) == expected


@pytest.mark.parametrize(
    "url",
    [
        "http://mail.test",
        "smtp://",
        "smtp://mail.test?tls=1",
        "smtps://mail.test?starttls=true",
        "smtp://mail.test?starttls=maybe",
        "smtp://mail.test:notaport",
    ],
)
def test_bad_smtp_url(url: str) -> None:
    with pytest.raises(ConfigurationError):
        SmtpConfig.from_url(url)


def test_password_never_in_repr() -> None:
    transport = SmtpTransport(f"smtp://{SMTP_USER}:hunter2hunter2@mail.test")
    assert "hunter2" not in repr(transport)
    assert "hunter2" not in repr(transport.config)


def test_transport_from_settings() -> None:
    assert isinstance(transport_from_settings(Settings()), ConsoleTransport)
    smtp = transport_from_settings(Settings(smtp_url=SecretStr("smtp://mail.test:2525")))
    assert isinstance(smtp, SmtpTransport) and smtp.config.port == 2525
    with pytest.raises(ConfigurationError, match="SMTP_URL"):
        transport_from_settings(Settings(env="production", secret=SecretStr("x" * 40)))


# --- the development console never logs a secret ------------------------------------------------


def test_console_masks_tokens_and_addresses(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        transport = ConsoleTransport()
        transport.send(message(to="ann.smith@example.com"))
    assert transport.delivers is False
    assert TOKEN not in caplog.text
    assert "ann.smith@example.com" not in caplog.text
    assert "a…@example.com" in caplog.text
    assert "Your sign-in link #1" in caplog.text
    assert f"token={TOKEN[:4]}…" in caplog.text
    assert CODE not in caplog.text and CODE[:4] not in caplog.text, "a sign-in code in the log"


def test_redact_masks_api_keys_and_long_tokens() -> None:
    text = f"key fdk_{TOKEN} link ?token={TOKEN} mail bob@example.org word short_token_ok"
    out = redact(text)
    assert TOKEN not in out and "bob@example.org" not in out
    assert "short_token_ok" in out


def test_redact_masks_a_sign_in_code_whole() -> None:
    text = "Type this code there:\n\n493817\n\nor 493817. Sent 2026-12-02 14:05:09.123456, id 1234567, x-493817-y"
    out = redact(text)
    assert "493817" not in out.replace("x-493817-y", "") and "4938" not in out.replace("x-493817-y", "")
    assert "\u2022" * 6 in out
    assert "1234567" in out and "2026-12-02" in out  # longer numbers and dates stay
