"""How a built message leaves: SMTP in production, the log in development, a list in tests.

Every transport raises one of two errors, and the worker acts on the difference:
`TemporaryDeliveryError` (try again later: server down, 4xx, bad credentials, TLS trouble) and
`PermanentDeliveryError` (never retry: 5xx for this recipient or message, unusable address).
`TransportUnavailable` is the temporary error that says the server can't be used at all,
so the rest of the batch need not be tried either.
"""

from __future__ import annotations

import logging
import re
import smtplib
import ssl
import threading
from dataclasses import dataclass, field
from email.message import EmailMessage
from typing import Protocol
from urllib.parse import parse_qsl, unquote, urlsplit

from frontdesk.crypto import mask
from frontdesk.errors import ConfigurationError, FrontdeskError
from frontdesk.settings import Settings

log = logging.getLogger(__name__)


class DeliveryError(FrontdeskError):
    """An email could not be handed over; `reason` is short and safe to store."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class TemporaryDeliveryError(DeliveryError):
    """Worth another try later."""


class TransportUnavailable(TemporaryDeliveryError):
    """The server can't be reached or used right now, for any message."""


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help (the recipient or the message was refused)."""


class Transport(Protocol):
    """Hands a message to the next hop. Not thread-safe: one per worker."""

    @property
    def delivers(self) -> bool:
        """False for the development console: the outbox then keeps bodies for /dev/mail."""
        ...

    def send(self, message: EmailMessage) -> None:
        """Send one message, or raise a `DeliveryError`."""
        ...

    def close(self) -> None:
        """Drop any open connection (the worker calls it after every batch)."""
        ...


@dataclass(frozen=True, slots=True)
class SmtpConfig:
    """`FRONTDESK_SMTP_URL`, parsed: `smtp://user:pass@host:port`, `smtps://…`, `?starttls=true`."""

    host: str
    port: int
    username: str | None = None
    password: str | None = field(default=None, repr=False)
    implicit_tls: bool = False  # smtps:// (port 465)
    starttls: bool = False  # smtp://…?starttls=true (port 587)
    timeout: float = 20.0  # seconds per SMTP command

    @classmethod
    def from_url(cls, url: str) -> SmtpConfig:
        parts = urlsplit(url)
        if parts.scheme not in ("smtp", "smtps"):
            raise ConfigurationError("FRONTDESK_SMTP_URL must start with smtp:// or smtps://")
        if not parts.hostname:
            raise ConfigurationError("FRONTDESK_SMTP_URL needs a host")
        options = dict(parse_qsl(parts.query, keep_blank_values=True))
        unknown = set(options) - {"starttls", "timeout"}
        if unknown:
            raise ConfigurationError(f"FRONTDESK_SMTP_URL: unknown options {sorted(unknown)}")
        starttls = _flag(options.get("starttls", "false"))
        implicit = parts.scheme == "smtps"
        if implicit and starttls:
            raise ConfigurationError("FRONTDESK_SMTP_URL: smtps:// already uses TLS; drop starttls")
        try:
            port = parts.port or (465 if implicit else 587 if starttls else 25)
            timeout = float(options.get("timeout", "20"))
        except ValueError:
            raise ConfigurationError("FRONTDESK_SMTP_URL: bad port or timeout") from None
        return cls(
            host=parts.hostname,
            port=port,
            username=unquote(parts.username) if parts.username else None,
            password=unquote(parts.password) if parts.password is not None else None,
            implicit_tls=implicit,
            starttls=starttls,
            timeout=timeout,
        )


def _flag(value: str) -> bool:
    if value.lower() in ("true", "1", "yes"):
        return True
    if value.lower() in ("false", "0", "no", ""):
        return False
    raise ConfigurationError("FRONTDESK_SMTP_URL: starttls must be true or false")


class SmtpTransport:
    """Sends over one SMTP connection, opened lazily and reused until `close()`.

    Certificates are checked against the system store (`SSL_CERT_FILE` points OpenSSL
    elsewhere), or against the `ssl_context` given.
    """

    delivers = True

    def __init__(self, config: SmtpConfig | str, *, ssl_context: ssl.SSLContext | None = None) -> None:
        self.config = SmtpConfig.from_url(config) if isinstance(config, str) else config
        self._context = ssl_context or ssl.create_default_context()
        self._conn: smtplib.SMTP | None = None

    def __repr__(self) -> str:
        c = self.config
        scheme = "smtps" if c.implicit_tls else "smtp"
        return f"SmtpTransport({scheme}://{c.host}:{c.port}, starttls={c.starttls}, login={c.username is not None})"

    def send(self, message: EmailMessage) -> None:
        conn = self._connection()
        try:
            conn.send_message(message)
        except smtplib.SMTPRecipientsRefused as exc:
            self.close()
            code, text = next(iter(exc.recipients.values()), (550, b"recipient refused"))
            raise _by_code(code, text, "recipient refused") from None
        except smtplib.SMTPSenderRefused as exc:
            self.close()  # a refused sender is our configuration, not this message
            raise TransportUnavailable(f"sender refused: {_reply(exc.smtp_code, exc.smtp_error)}") from None
        except smtplib.SMTPNotSupportedError:
            self.close()  # e.g. a non-ASCII address and a server without SMTPUTF8
            raise PermanentDeliveryError("the server cannot carry this address (no SMTPUTF8)") from None
        except (smtplib.SMTPDataError, smtplib.SMTPResponseException) as exc:
            self.close()
            raise _by_code(exc.smtp_code, exc.smtp_error, "message refused") from None
        except (smtplib.SMTPException, OSError) as exc:
            self.close()
            raise TransportUnavailable(f"connection lost: {type(exc).__name__}") from None

    def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        try:
            conn.quit()
        except (smtplib.SMTPException, OSError):
            conn.close()

    def _connection(self) -> smtplib.SMTP:
        if self._conn is not None:
            try:
                if self._conn.noop()[0] == 250:
                    return self._conn
            except (smtplib.SMTPException, OSError):
                pass
            self.close()
        self._conn = self._connect()
        return self._conn

    def _connect(self) -> smtplib.SMTP:
        c = self.config
        conn: smtplib.SMTP | None = None
        try:
            if c.implicit_tls:
                conn = smtplib.SMTP_SSL(c.host, c.port, timeout=c.timeout, context=self._context)
            else:
                conn = smtplib.SMTP(c.host, c.port, timeout=c.timeout)
            conn.ehlo()
            if c.starttls:
                conn.starttls(context=self._context)
                conn.ehlo()
            if c.username is not None:
                conn.login(c.username, c.password or "")
            return conn
        except smtplib.SMTPAuthenticationError as exc:
            reason = f"login refused: {_reply(exc.smtp_code, exc.smtp_error)}"
        except smtplib.SMTPNotSupportedError:
            reason = "server does not offer STARTTLS or AUTH"
        except ssl.SSLError as exc:
            reason = f"TLS failed: {exc.reason or type(exc).__name__}"
        except smtplib.SMTPResponseException as exc:
            reason = f"server refused the session: {_reply(exc.smtp_code, exc.smtp_error)}"
        except (smtplib.SMTPException, OSError) as exc:
            reason = f"cannot connect to {c.host}:{c.port}: {type(exc).__name__}"
        if conn is not None:
            conn.close()
        raise TransportUnavailable(reason)


def _reply(code: int, text: bytes | str) -> str:
    raw = text.decode("utf-8", "replace") if isinstance(text, bytes) else text
    return f"{code} {' '.join(raw.split())}"[:200]


def _by_code(code: int, text: bytes | str, what: str) -> DeliveryError:
    """5xx means never; anything else (4xx, odd codes) means later."""
    reason = f"{what}: {_reply(code, text)}"
    return PermanentDeliveryError(reason) if 500 <= code < 600 else TemporaryDeliveryError(reason)


class MemoryTransport:
    """Keeps messages in a list, for tests and for embedding apps that want to look."""

    delivers = True

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self._lock = threading.Lock()

    def send(self, message: EmailMessage) -> None:
        with self._lock:
            self.messages.append(message)

    def close(self) -> None:
        pass


class ConsoleTransport:
    """Development: logs each email with tokens, links' secrets and addresses masked.

    The full email stays in the outbox and is read at /dev/mail, never from the log.
    """

    delivers = False

    def __init__(self, logger: logging.Logger | None = None) -> None:
        self._log = logger or log

    def send(self, message: EmailMessage) -> None:
        body = message.get_body(("plain",))
        text = body.get_content() if isinstance(body, EmailMessage) else ""
        self._log.info(
            "mail.dev_mailbox to=%s subject=%s (full message at /dev/mail)\n%s",
            redact(str(message["To"])),
            redact(str(message["Subject"])),
            redact(str(text)).strip(),
        )

    def close(self) -> None:
        pass


_TOKENISH = re.compile(r"(?:fdk_)?[A-Za-z0-9_\-]{20,}")
_EMAIL = re.compile(r"([^\s@<>\"',;:]+)@([^\s@<>\"',;:]+)")
# a sign-in code: 6 digits on their own (not part of a longer number or word); masked whole,
# since a code's first digits would be a real part of it
_CODE = re.compile(r"(?<![\w.:/-])[0-9]{6}(?!\w|[.:/-]\w)")


def redact(text: str) -> str:
    """Mask anything that looks like a token (20+ URL-safe characters), a 6-digit sign-in code
    and every email address."""
    text = _TOKENISH.sub(lambda m: mask(m.group(0)), text)
    text = _CODE.sub("\u2022" * 6, text)
    return _EMAIL.sub(lambda m: f"{m.group(1)[:1]}…@{m.group(2)}", text)


def transport_from_settings(settings: Settings, *, ssl_context: ssl.SSLContext | None = None) -> Transport:
    """SMTP when `FRONTDESK_SMTP_URL` is set; else the development console (refused in production)."""
    if settings.smtp_url is not None:
        return SmtpTransport(settings.smtp_url.get_secret_value(), ssl_context=ssl_context)
    if settings.is_production:
        raise ConfigurationError("FRONTDESK_SMTP_URL is required when FRONTDESK_ENV=production")
    return ConsoleTransport()
