"""Queue emails the way the service layer does: one transaction, links from the public URL."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from frontdesk.clock import FrozenClock
from frontdesk.mail import enqueue_email
from frontdesk.models import OutboxEmail
from frontdesk.settings import Settings

TOKEN = "q8Vn3Zk1Lm5Rt7Yw9Xb2Cd4Ef6Gh8Jk0Mn2Pq4Rs6T"
API_KEY = "fdk_" + TOKEN
CODE = "493817"


def context(settings: Settings, kind: str, name: str = "Ann") -> dict[str, str]:
    url = settings.public_url
    return {
        "signup_confirm": {"name": name, "link": f"{url}/signup/confirm?token={TOKEN}"},
        "signup_existing": {"name": name, "login_link": f"{url}/login", "reset_link": f"{url}/reset-password"},
        "login_link": {"name": name, "link": f"{url}/login-link/confirm?token={TOKEN}", "code": CODE},
        "password_reset": {"name": name, "link": f"{url}/reset-password?token={TOKEN}"},
        "password_changed": {
            "name": name,
            "when": "2026-01-01 12:00 UTC",
            "ip_address": "203.0.113.9",
            "browser": "Firefox on Linux",
        },
        "api_key_created": {"name": name, "key_name": "ci", "token": API_KEY, "expiry": "2027-01-01"},
        "api_key_notice": {"name": name, "key_name": "ci", "expiry": "2027-01-01", "device": "Firefox, 203.0.113.9"},
        **{
            linked: {
                "name": name,
                "provider": "corp",
                "when": "2026-01-01 12:00 UTC",
                "ip_address": "203.0.113.9",
                "browser": "Firefox on Linux",
            }
            for linked in ("identity_linked", "identity_unlinked")
        },
        **{
            notice: {
                "name": name,
                "factor": "an authenticator app",
                "when": "2026-01-01 12:00 UTC",
                "ip_address": "203.0.113.9",
                "browser": "Firefox on Linux",
            }
            for notice in ("second_factor_added", "second_factor_removed")
        },
        "recovery_codes_regenerated": {
            "name": name,
            "when": "2026-01-01 12:00 UTC",
            "ip_address": "203.0.113.9",
            "browser": "Firefox on Linux",
        },
        "recovery_code_used": {
            "name": name,
            "codes_left": "7",
            "when": "2026-01-01 12:00 UTC",
            "ip_address": "203.0.113.9",
            "browser": "Firefox on Linux",
        },
        "second_factors_reset": {"name": name, "when": "2026-01-01 12:00 UTC"},
        # account lifecycle (contract section 7)
        "email_change_confirm": {"name": name, "link": f"{url}/email/confirm?token={TOKEN}"},
        "email_change_requested": {
            "name": name,
            "new_email": "new@example.com",
            "when": "2026-01-01 12:00 UTC",
            "ip_address": "203.0.113.9",
            "browser": "Firefox on Linux",
        },
        "email_change_taken": {"name": name},
        "email_changed": {"name": name, "new_email": "new@example.com", "link": f"{url}/email/revert?token={TOKEN}"},
        "email_reverted": {"name": name, "link": f"{url}/reset-password?token={TOKEN}"},
        "account_deleted": {
            "name": name,
            "link": f"{url}/account/restore?token={TOKEN}",
            "erase_on": "2026-01-08 12:00 UTC",
        },
        "new_sign_in": {
            "name": name,
            "device": "Firefox on Windows",
            "location": "Germany",
            "ip_address": "203.0.113.9",
            "when": "2026-01-01 12:00 UTC",
            "window": "90 days",
            "link": f"{url}/sign-ins/not-me?token={TOKEN}",
        },
        "sign_in_disowned": {"name": name, "ended": "that device", "link": f"{url}/reset-password?token={TOKEN}"},
    }[kind]


def enqueue(
    factory: sessionmaker[Session],
    settings: Settings,
    clock: FrozenClock,
    *,
    kind: str = "login_link",
    to: str = "ann@example.com",
    count: int = 1,
) -> None:
    with factory.begin() as db:
        for n in range(count):
            address = to if count == 1 else to.replace("@", f"+{n}@")
            enqueue_email(db, settings, clock.now(), kind=kind, to=address, context=context(settings, kind))


def rows(factory: sessionmaker[Session]) -> list[OutboxEmail]:
    with factory() as db:
        return list(db.scalars(select(OutboxEmail).order_by(OutboxEmail.id)))
