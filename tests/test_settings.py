"""Settings: secrets stay out of reprs and errors; mistakes read as one actionable line each."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from frontdesk.errors import ConfigurationError
from frontdesk.settings import Settings, hide_password, load_settings

DB_PASSWORD = "db-hunter2-pass"
SMTP_PASSWORD = "smtp-hunter2-pass"
SECRET = "s" * 40


def _with_secrets(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "database_url": f"postgresql://app:{DB_PASSWORD}@db.internal:5432/app",
        "smtp_url": f"smtp://mailer:{SMTP_PASSWORD}@smtp.internal:587?starttls=true",
        "secret": SECRET,
        **overrides,
    }
    return Settings.model_validate(values)


def test_repr_and_str_hide_every_password() -> None:
    settings = _with_secrets()
    for text in (repr(settings), str(settings), f"{settings}", f"{settings!r}"):
        assert DB_PASSWORD not in text and SMTP_PASSWORD not in text and SECRET not in text
        assert "postgresql://app:***@db.internal:5432/app" in text
    # the callers still get the real values
    assert settings.database_url == f"postgresql://app:{DB_PASSWORD}@db.internal:5432/app"
    assert settings.smtp_url is not None and SMTP_PASSWORD in settings.smtp_url.get_secret_value()
    assert settings.secret is not None and settings.secret.get_secret_value() == SECRET


def test_validation_errors_hide_the_input() -> None:
    with pytest.raises(ValidationError) as caught:
        _with_secrets(env="production", secret="short")
    for text in (str(caught.value), repr(caught.value)):
        assert DB_PASSWORD not in text and SMTP_PASSWORD not in text and "'short'" not in text


def test_configuration_errors_hide_the_database_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FRONTDESK_DATABASE_URL", f"mysql://app:{DB_PASSWORD}@db/app")
    monkeypatch.setenv("FRONTDESK_SMTP_URL", f"smtp://mailer:{SMTP_PASSWORD}@smtp.internal:587")
    monkeypatch.setenv("FRONTDESK_ENV", "production")
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    text = str(caught.value) + repr(caught.value)
    assert DB_PASSWORD not in text and SMTP_PASSWORD not in text


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("postgresql://app:pw@db/app", "postgresql://app:***@db/app"),
        ("postgresql://app@db/app", "postgresql://app@db/app"),
        ("postgresql://:pw@db:5432/app?sslmode=require", "postgresql://:***@db:5432/app?sslmode=require"),
        ("sqlite:///./frontdesk.db", "sqlite:///./frontdesk.db"),
        ("postgresql://app:p@ss@db/app", "postgresql://app:***@db/app"),
    ],
)
def test_hide_password(url: str, shown: str) -> None:
    assert hide_password(url) == shown


def _problems(monkeypatch: pytest.MonkeyPatch, **env: str) -> list[str]:
    """The lines `load_settings()` answers for this environment (FRONTDESK_ is added to each name)."""
    for name, value in env.items():
        monkeypatch.setenv(f"FRONTDESK_{name}", value)
    with pytest.raises(ConfigurationError) as caught:
        load_settings()
    return str(caught.value).splitlines()


def test_production_without_a_secret_names_the_variable_rule_and_fix(monkeypatch: pytest.MonkeyPatch) -> None:
    (line,) = _problems(monkeypatch, ENV="production")
    assert line.startswith("FRONTDESK_SECRET: must be 32 characters or more when FRONTDESK_ENV=production")
    assert "(it is not set)" in line and "secrets.token_urlsafe(32)" in line
    assert "?" not in line.split(":")[0] and "Value error" not in line


def test_a_short_secret_says_how_long_it_is_but_not_what_it_is(monkeypatch: pytest.MonkeyPatch) -> None:
    (line,) = _problems(monkeypatch, ENV="production", SECRET="tooshort")
    assert "(it has 8)" in line and "tooshort" not in line


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        (
            "ENV",
            "prod",
            "FRONTDESK_ENV: must be 'development' or 'production' (got 'prod'); fix it, or unset it to use the default "
            "(development)",
        ),
        (
            "API_KEY_DEFAULT_DAYS",
            "0",
            "FRONTDESK_API_KEY_DEFAULT_DAYS: must be at least 1 (got '0'); fix it, or unset it to use the default "
            "(365)",
        ),
        ("API_KEY_DEFAULT_DAYS", "999", "FRONTDESK_API_KEY_DEFAULT_DAYS: must be at most 730 (got '999')"),
        ("LOGIN_FAILURES_PER_IP", "ten", "FRONTDESK_LOGIN_FAILURES_PER_IP: must be a whole number (got 'ten')"),
        ("SESSION_TTL", "forever", "FRONTDESK_SESSION_TTL: must be a duration such as 600 (seconds), 250ms, 10m"),
        ("TOUCH_FLUSH_INTERVAL", "soon", "unset it to use the default (250ms)"),
        ("BRAND_COLOR", "red", "FRONTDESK_BRAND_COLOR: must be a colour written #rrggbb (got 'red')"),
        (
            "PUBLIC_URL",
            "auth.example.com",
            "FRONTDESK_PUBLIC_URL: must be an absolute http(s) URL (got 'auth.example.com'); set it to",
        ),
        (
            "TRUSTED_PROXIES",
            "10.0.0.0/8,nginx",
            "FRONTDESK_TRUSTED_PROXIES: 'nginx' is not an IP address or network (got '10.0.0.0/8,nginx'); give",
        ),
        (
            "DATABASE_URL",
            "mysql://app:pw@db/app",
            "FRONTDESK_DATABASE_URL: names 'mysql', a database frontdesk does not support "
            "(got 'mysql://app:***@db/app'); use PostgreSQL or SQLite",
        ),
        (
            "DATABASE_URL",
            "postgresql+asyncpg://app@db/app",
            "FRONTDESK_DATABASE_URL: asks for the driver 'asyncpg', which frontdesk does not use",
        ),
        (
            "DATABASE_URL",
            "not a url",
            "FRONTDESK_DATABASE_URL: is not a database URL (got 'not a url'); use postgresql://",
        ),
        ("DATABASE_URL", "postgresql://app@db:http/app", "FRONTDESK_DATABASE_URL: is not a database URL"),
        ("DATABASE_URL", "postgresql://app@db:70000/app", "FRONTDESK_DATABASE_URL: has a port outside 1-65535"),
    ],
)
def test_each_mistake_is_one_actionable_line(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str, expected: str
) -> None:
    (line,) = _problems(monkeypatch, **{name: value})
    assert expected in line
    assert line.startswith(f"FRONTDESK_{name}: ") and "; " in line  # the variable, the rule; what to do
    assert "pydantic" not in line and "Input should" not in line


def test_several_mistakes_are_one_line_each(monkeypatch: pytest.MonkeyPatch) -> None:
    lines = _problems(monkeypatch, ENV="production", EMAILS_PER_IP="0", BRAND_BACKGROUND="white")
    assert sorted(line.split(":")[0] for line in lines) == [
        "FRONTDESK_BRAND_BACKGROUND",
        "FRONTDESK_EMAILS_PER_IP",
        "FRONTDESK_SECRET",
    ]


@pytest.mark.parametrize(
    "url",
    [
        "sqlite:///./frontdesk.db",
        "sqlite://",
        "postgresql://app@db/app",
        "postgres://app:pw@db:5432/app",
        "postgresql+psycopg://app@db/app",
    ],
)
def test_supported_database_urls_pass(url: str) -> None:
    assert Settings(database_url=url).database_url == url
