"""Settings, read once from the environment (prefix FRONTDESK_). The only reader of os.environ."""

from __future__ import annotations

import ipaddress
import re
from datetime import timedelta
from typing import Annotated, Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from frontdesk.errors import ConfigurationError

_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?")
_UNITS = {"ms": 0.001, "s": 1, None: 1, "m": 60, "h": 3600, "d": 86400}


def parse_duration(text: str) -> timedelta | str:
    """Durations in the environment: seconds (`600`), with a unit (`250ms`, `10m`, `168h`, `730d`),
    or ISO 8601 (`PT10M`, left to pydantic)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        return text
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2)])


class Settings(BaseSettings):
    """Everything frontdesk can be told. Frozen: construct a new one instead of mutating."""

    model_config = SettingsConfigDict(env_prefix="FRONTDESK_", frozen=True, extra="ignore")

    database_url: str = "sqlite:///./frontdesk.db"
    public_url: str = "http://127.0.0.1:8000"
    allowed_origins: Annotated[tuple[str, ...], NoDecode] = ()
    trusted_proxies: Annotated[tuple[str, ...], NoDecode] = ()
    secret: SecretStr | None = None
    env: Literal["development", "production"] = "development"
    smtp_url: SecretStr | None = None
    mail_from: str = "frontdesk <no-reply@localhost>"
    product_name: str = "frontdesk"

    # lifetimes (seed defaults; login link per OWASP ASVS 5.0)
    session_ttl: timedelta = timedelta(days=730)
    session_idle_ttl: timedelta = timedelta(hours=168)
    login_token_ttl: timedelta = timedelta(minutes=10)
    reset_token_ttl: timedelta = timedelta(hours=2)
    signup_token_ttl: timedelta = timedelta(hours=48)
    api_key_default_days: int = Field(default=365, ge=1, le=730)

    # rate limits: attempts per window, counted in the database so they hold across processes
    rate_limit_window: timedelta = timedelta(minutes=15)
    login_failures_per_account: int = Field(default=10, ge=1)
    login_failures_per_ip: int = Field(default=100, ge=1)
    emails_per_address: int = Field(default=5, ge=1)
    emails_per_ip: int = Field(default=50, ge=1)
    # signup attempts per IP address, counted before any password hashing
    signups_per_ip: int = Field(default=20, ge=1)

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
        "rate_limit_window",
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

    @field_validator("public_url")
    @classmethod
    def _check_public_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("FRONTDESK_PUBLIC_URL must be an absolute http(s) URL")
        return value.rstrip("/")

    @field_validator("trusted_proxies")
    @classmethod
    def _check_proxies(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        for net in value:
            ipaddress.ip_network(net, strict=False)
        return value

    @model_validator(mode="after")
    def _production_needs_secret(self) -> Settings:
        if self.env == "production" and (self.secret is None or len(self.secret.get_secret_value()) < 32):
            raise ValueError("FRONTDESK_SECRET (32+ characters) is required when FRONTDESK_ENV=production")
        return self

    @property
    def public_origin(self) -> str:
        parts = urlsplit(self.public_url)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def secure_cookies(self) -> bool:
        """Secure unless the public URL is plain-http localhost (contract section 3)."""
        parts = urlsplit(self.public_url)
        local = parts.hostname in ("localhost", "127.0.0.1", "::1")
        return not (parts.scheme == "http" and local)

    @property
    def is_production(self) -> bool:
        return self.env == "production"


def load_settings() -> Settings:
    """Read settings from the environment, turning validation failures into one readable error."""
    from pydantic import ValidationError

    try:
        return Settings()
    except ValidationError as exc:
        problems = "; ".join(
            f"FRONTDESK_{'_'.join(str(p) for p in err['loc']).upper() or '?'}: {err['msg']}" for err in exc.errors()
        )
        raise ConfigurationError(f"bad configuration: {problems}") from None
