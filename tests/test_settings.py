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
