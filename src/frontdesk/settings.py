"""Settings, read once from the environment (prefix FRONTDESK_); the only reader of FRONTDESK_
variables. The one other variable frontdesk touches is prometheus_client's own
PROMETHEUS_MULTIPROC_DIR (`frontdesk serve --workers N` sets it, `/metrics` checks it)."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated, Literal
from urllib.parse import urlsplit, urlunsplit

from pydantic import Field, SecretStr, ValidationInfo, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from frontdesk.devsecret import development_secret
from frontdesk.errors import ConfigurationError

if TYPE_CHECKING:
    from pydantic._internal._repr import ReprArgs
    from pydantic_core import ErrorDetails

# An API key lives 1 to 730 days (the seed's longest session); the default is a setting.
API_KEY_MIN_DAYS = 1
API_KEY_MAX_DAYS = 730

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?")
_UNITS = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta | str:
    """Durations in the environment: seconds (`600`), with a unit (`250ms`, `10m`, `168h`, `730d`),
    or ISO 8601 (`PT10M`, left to pydantic)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return text
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


def hide_password(url: str) -> str:
    """`url` with the password of its user part (if any) replaced by `***`, for reprs and messages."""
    try:
        parts = urlsplit(url)
        if parts.password is None:
            return url
    except ValueError:  # not a URL we can take apart: show nothing of it
        return "***"
    host = parts.netloc.rpartition("@")[2]
    user = parts.netloc.rpartition("@")[0].partition(":")[0]
    return urlunsplit(parts._replace(netloc=f"{user}:***@{host}"))


class SettingRule(ValueError):
    """A setting breaks `rule`; `todo` says how to fix it. Raised by the validators below."""

    def __init__(self, rule: str, todo: str) -> None:
        super().__init__(f"{rule}; {todo}")
        self.rule, self.todo = rule, todo


_DATABASE_EXAMPLES = "postgresql://user:password@host:5432/dbname or sqlite:///./frontdesk.db"
_DATABASE_DRIVERS = {"postgresql": ("psycopg",), "postgres": ("psycopg",), "sqlite": ("pysqlite",)}


def check_database_url(url: str) -> str:
    """The URL names a database and driver frontdesk runs on (PostgreSQL via psycopg, or SQLite)."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError):
        raise SettingRule("is not a database URL", f"use {_DATABASE_EXAMPLES}") from None
    backend = parsed.get_backend_name()
    if backend not in _DATABASE_DRIVERS:
        rule = f"names {backend!r}, a database frontdesk does not support"
        raise SettingRule(rule, f"use PostgreSQL or SQLite: {_DATABASE_EXAMPLES}")
    if "+" in parsed.drivername and parsed.get_driver_name() not in _DATABASE_DRIVERS[backend]:
        raise SettingRule(
            f"asks for the driver {parsed.get_driver_name()!r}, which frontdesk does not use",
            f"drop '+{parsed.get_driver_name()}' (write {backend}://...) and frontdesk picks its driver",
        )
    if parsed.port is not None and not 0 < parsed.port < 65536:
        raise SettingRule("has a port outside 1-65535", f"use {_DATABASE_EXAMPLES}")
    return url


class Settings(BaseSettings):
    """Everything frontdesk can be told. Frozen: construct a new one instead of mutating.

    Secrets never show in `repr()`/`str()` or in validation errors: `secret` and `smtp_url` are
    `SecretStr` (read them with `.get_secret_value()`), and the password in `database_url` (a plain
    `str`, as callers pass it on to drivers) is shown as `***`.
    """

    model_config = SettingsConfigDict(env_prefix="FRONTDESK_", frozen=True, extra="ignore", hide_input_in_errors=True)

    database_url: str = "sqlite:///./frontdesk.db"
    public_url: str = "http://127.0.0.1:8000"
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    env: Literal["development", "production"] = "development"
    secret: SecretStr | None = Field(default=None, validate_default=True)  # checked against `env`
    smtp_url: SecretStr | None = None
    mail_from: str = "frontdesk <no-reply@localhost>"
    product_name: str = "frontdesk"
    # operations: `/metrics` needs `Authorization: Bearer <metrics_token>` when set; unset, it is
    # open in development and answers only local scrapers in production (docs/operations.md)
    metrics_token: SecretStr | None = Field(default=None, min_length=16)
    # `/docs` and `/redoc` (on|off); unset: on in development, off in production
    api_docs: bool | None = None
    # WebAuthn relying-party id; default: the public URL's host (contract section 6)
    webauthn_rp_id: str | None = None

    # lifetimes (seed defaults; login link per OWASP ASVS 5.0)
    session_ttl: timedelta = timedelta(days=730)
    session_idle_ttl: timedelta = timedelta(hours=168)
    login_token_ttl: timedelta = timedelta(minutes=10)
    reset_token_ttl: timedelta = timedelta(hours=2)
    signup_token_ttl: timedelta = timedelta(hours=48)
    api_key_default_days: int = Field(default=365, ge=API_KEY_MIN_DAYS, le=API_KEY_MAX_DAYS)
    # account lifecycle (contract section 7): an email change's confirm link, its undo link, and
    # how long a deleted account can be restored before `frontdesk cleanup` erases it
    email_change_token_ttl: timedelta = Field(default=timedelta(hours=24), ge=timedelta(minutes=1))
    email_revert_token_ttl: timedelta = Field(default=timedelta(days=7), ge=timedelta(minutes=1))
    account_deletion_grace: timedelta = Field(default=timedelta(days=7), ge=timedelta(0))
    # new-device notices: a sign-in from a (browser, OS, country) unused this long emails the owner
    # a "this wasn't me" link that works this long
    new_device_window: timedelta = Field(default=timedelta(days=90), gt=timedelta(0))
    not_me_token_ttl: timedelta = Field(default=timedelta(days=7), ge=timedelta(minutes=1))
    # second factors and step-up (contract section 6): how recently a factor must have been proved
    # for a sensitive action, and who must have a second factor before using anything but enrolment
    reauth_max_age: timedelta = Field(default=timedelta(minutes=10), gt=timedelta(0))
    require_second_factor: Literal["none", "superusers", "everyone"] = "none"

    # rate limits: attempts per window, counted in the database so they hold across processes
    rate_limit_window: timedelta = timedelta(minutes=15)
    login_failures_per_account: int = Field(default=10, ge=1)
    login_failures_per_ip: int = Field(default=100, ge=1)
    emails_per_address: int = Field(default=5, ge=1)
    emails_per_ip: int = Field(default=50, ge=1)
    # signup attempts per IP address, counted before any password hashing
    signups_per_ip: int = Field(default=20, ge=1)
    # a 429 is sent this long after it is decided: a client flooding past a limit gets one refusal
    # per connection per delay, so refusing it costs little (the wait holds no thread or connection)
    rate_limited_delay: timedelta = Field(default=timedelta(seconds=1), ge=timedelta(0), le=timedelta(seconds=10))

    # password hashing (Argon2id; RFC 9106 "second recommended" profile by default)
    argon2_time_cost: int = Field(default=3, ge=1)
    argon2_memory_cost_kib: int = Field(default=65536, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)
    # password hashes running or waiting per process; beyond it requests get 503 + Retry-After
    hash_queue_limit: int = Field(default=32, ge=1)

    # how often pending last_seen/api_calls touches are written (contract: visible within 1 s)
    touch_flush_interval: timedelta = timedelta(milliseconds=250)
    db_pool_size: int = Field(default=10, ge=1)
    # connections per worker for /v1/verify on PostgreSQL; concurrent checks share them in batches.
    # 0 turns the fast path off: verify is then answered by the framework route on the pool
    verify_connections: int = Field(default=2, ge=0)
    db_statement_timeout: timedelta = timedelta(seconds=5)

    # hosted pages: `product_name` above names the product; these colour the sign-in pages.
    # Text on each colour is black or white, whichever reads better, and links are darkened
    # until they reach 4.5:1, so any colour stays readable.
    brand_color: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = "#2b5c8a"  # buttons, links, focus
    brand_background: Annotated[str, Field(pattern=r"^#[0-9a-fA-F]{6}$")] = "#f4f5f7"  # behind the cards

    @field_validator(
        "session_ttl",
        "session_idle_ttl",
        "login_token_ttl",
        "reset_token_ttl",
        "signup_token_ttl",
        "email_change_token_ttl",
        "email_revert_token_ttl",
        "account_deletion_grace",
        "new_device_window",
        "not_me_token_ttl",
        "reauth_max_age",
        "rate_limit_window",
        "rate_limited_delay",
        "touch_flush_interval",
        "db_statement_timeout",
        mode="before",
    )
    @classmethod
    def _durations(cls, value: object) -> object:
        return parse_duration(value) if isinstance(value, str) else value

    @field_validator("allowed_origins", "trusted_proxies", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return tuple(part.strip() for part in value.split(",") if part.strip())
        return value

    @field_validator("database_url")
    @classmethod
    def _check_database_url(cls, value: str) -> str:
        return check_database_url(value)

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise SettingRule(
                "must be an absolute http(s) URL", "set it to the address people open, e.g. https://auth.example.com"
            )
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for net in value:
            try:
                ipaddress.ip_network(net, strict=False)
            except ValueError:
                raise SettingRule(
                    f"{net!r} is not an IP address or network",
                    "give a comma-separated list of addresses or networks, e.g. 10.0.0.0/8,192.168.1.5",
                ) from None
        return value

    @model_validator(mode="before")
    @classmethod
    def _development_secret(cls, data: object) -> object:
        """Development without FRONTDESK_SECRET: a random secret kept in a file (see `devsecret`)."""
        if (
            isinstance(data, dict)
            and data.get("secret") in (None, "")
            and data.get("env", "development") == "development"
        ):
            url = data.get("database_url", cls.model_fields["database_url"].default)
            text = url.get_secret_value() if isinstance(url, SecretStr) else str(url)
            return {**data, "secret": development_secret(text)}
        return data

    @field_validator("secret")
    @classmethod
    def _production_needs_secret(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        length = 0 if value is None else len(value.get_secret_value())
        if info.data.get("env") == "production" and length < 32:
            got = f" (it has {length})" if length else " (it is not set)"
            raise SettingRule(
                f"must be 32 characters or more when FRONTDESK_ENV=production{got}",
                "generate one with python3 -c 'import secrets; print(secrets.token_urlsafe(32))' and set it",
            )
        return value

    def __repr_args__(self) -> ReprArgs:
        for name, value in super().__repr_args__():
            yield name, (hide_password(value) if name == "database_url" and isinstance(value, str) else value)

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def rp_id(self) -> str:
        """The WebAuthn relying-party id: FRONTDESK_WEBAUTHN_RP_ID, else the public URL's host."""
        return self.webauthn_rp_id or urlsplit(self.public_url).hostname or "localhost"

    @property
    def webauthn_origins(self) -> list[str]:
        """Origins a WebAuthn response may come from: the public URL's and ALLOWED_ORIGINS."""
        return [self.public_origin, *(o.rstrip("/") for o in self.allowed_origins)]

    @property
    def secure_cookies(self) -> bool:
        """Secure unless the public URL is plain-http localhost (contract section 3)."""
        parts = urlsplit(self.public_url)
        local = parts.hostname in ("localhost", "127.0.0.1", "::1")
        return not (parts.scheme == "http" and local)

    @property
    def is_production(self) -> bool:
        return self.env == "production"

    @property
    def api_docs_enabled(self) -> bool:
        return self.api_docs if self.api_docs is not None else not self.is_production


def load_settings() -> Settings:
    """Read settings from the environment. Validation failures become one `ConfigurationError`
    with one line per mistake: the variable, the rule it breaks, and what to do."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        raise ConfigurationError("\n".join(explain(err) for err in exc.errors())) from None


_SECRET_FIELDS = frozenset({"secret", "smtp_url"})
_DURATION_HELP = "a duration such as 600 (seconds), 250ms, 10m, 168h, 30d or PT10M"
_RULES = {
    "int_parsing": "must be a whole number",
    "int_from_float": "must be a whole number",
    "greater_than_equal": "must be at least {ge}",
    "greater_than": "must be more than {gt}",
    "less_than_equal": "must be at most {le}",
    "literal_error": "must be {expected}",
    "time_delta_parsing": f"must be {_DURATION_HELP}",
    "time_delta_type": f"must be {_DURATION_HELP}",
    "string_pattern_mismatch": "must be a colour written #rrggbb",  # the only patterns are colours
}


def explain(err: ErrorDetails) -> str:
    """One validation error as `FRONTDESK_NAME: rule (got value); what to do`. Secrets never show."""
    field = str(err["loc"][0]) if err["loc"] else ""
    name = f"FRONTDESK_{field.upper()}" if field else "settings"
    cause = err.get("ctx", {}).get("error")
    if isinstance(cause, SettingRule):
        rule, todo = cause.rule, cause.todo
    else:
        template = _RULES.get(err["type"])
        rule = template.format(**err.get("ctx", {})) if template else err["msg"]
        todo = _unset_for_default(field)
    shown = _shown(field, err.get("input"))
    shown = "" if shown in rule else shown
    return f"{name}: {rule}{f' (got {shown})' if shown else ''}; {todo}"


def _shown(field: str, value: object) -> str:
    if field in _SECRET_FIELDS or not isinstance(value, str):
        return ""
    return repr(hide_password(value) if field == "database_url" else value)


def _unset_for_default(field: str) -> str:
    info = Settings.model_fields.get(field)
    if info is None or info.default is None:
        return "fix or unset it"
    default = info.default
    if isinstance(default, timedelta):
        text = _duration_text(default)
    elif isinstance(default, tuple):
        text = ",".join(default) or "empty"
    else:
        text = str(default)
    return f"fix it, or unset it to use the default ({text})"


def _duration_text(value: timedelta) -> str:
    seconds = value.total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        if seconds >= size and seconds % size == 0:
            return f"{int(seconds // size)}{unit}"
    return f"{int(seconds * 1000)}ms"
