"""The export of everything held about a user (contract section 7), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pyotp
from sqlalchemy import select

from frontdesk.clock import FrozenClock
from frontdesk.models import (
    Base,
    LoginToken,
    NewDeviceNotice,
    OutboxEmail,
    RecoveryCode,
    TotpFactor,
    User,
    UserSession,
    WebAuthnCredential,
)
from frontdesk.runtime import Frontdesk
from frontdesk.service.context import RequestContext
from frontdesk.service.email_change import request_email_change
from frontdesk.service.export import export_account
from frontdesk.service.login import login_with_password, request_login_link
from frontdesk.service.totp import begin_totp_enrolment, confirm_totp
from frontdesk.service.webauthn import register_credential, registration_options
from frontdesk.store.lifecycle import addresses_of
from tests.factories import PASSWORD, make_session, make_user
from tests.service.authenticator import SoftAuthenticator
from tests.service.test_deletion import link_identity
from tests.service.test_email_change import principal

CTX = RequestContext(ip_address="203.0.113.50", user_agent="Mozilla/5.0 (X11; Linux x86_64; rv:120.0) Firefox/120.0")
ELSEWHERE = RequestContext(ip_address="198.51.100.8", user_agent="curl/8.5.0")

# Where each table's rows for the user appear in the export. A table with a user_id that is not
# here fails the test: decide where its rows go (or why they are not about the person) first.
SECTIONS: dict[str, Any] = {
    "sessions": lambda e: [s["id"] for s in e["sessions"]] + [k["id"] for k in e["api_keys"]],
    "totp_factors": lambda e: [t["id"] for t in e["second_factors"]["totp"]],
    "webauthn_credentials": lambda e: [c["id"] for c in e["second_factors"]["webauthn"]],
    "recovery_codes": lambda e: [r["id"] for r in e["second_factors"]["recovery_codes"]],
    "identities": lambda e: [i["id"] for i in e["identities"]],
    "auth_events": lambda e: [a["id"] for a in e["audit_events"]],
    "sign_in_devices": lambda e: [d["id"] for d in e["sign_in_devices"]],
    "new_device_notices": lambda e: [n["id"] for n in e["new_device_notices"]],
    **{
        name: (lambda table: lambda e: [x["id"] for x in e["links"] if x["kind"] == table])(name)
        for name in (
            "login_tokens",
            "password_reset_tokens",
            "email_change_tokens",
            "email_revert_tokens",
            "account_restore_tokens",
        )
    },
    **{
        name: (lambda table: lambda e: [x["id"] for x in e["sign_ins_in_progress"] if x["kind"] == table])(name)
        for name in ("second_factor_challenges", "webauthn_challenges", "oauth_flows")
    },
}
# Tables without a user_id: how their rows about the user are found, or why there are none.
NOT_BY_USER_ID = {
    "users": "the profile",
    "email_outbox": "the emails section, by the account's addresses",
    "signup_tokens": "a pending signup belongs to nobody yet",
    "rate_limit_buckets": "counters under hashed keys, gone within two windows",
}


def busy_user(fd: Frontdesk, clock: FrozenClock) -> tuple[User, dict[str, Any]]:
    """A user with a row in as many tables as can hold one; returns it and its secrets."""
    user = make_user(fd, username="xena", email="xena@example.com", name="Xena Export", ctx=CTX)
    make_user(fd, username="other")  # someone else's rows must not appear
    fd.call(login_with_password, "xena", PASSWORD, False, CTX)  # the account's first device
    fd.call(login_with_password, "xena", PASSWORD, False, ELSEWHERE)  # a new one: a notice
    cookie = make_session(fd, user, ctx=CTX)
    key = make_session(fd, user, is_api_key=True, long_lived=True, ctx=CTX)
    enrolment = fd.call(begin_totp_enrolment, user.id, CTX)
    codes = fd.call(confirm_totp, user.id, pyotp.TOTP(enrolment.secret).at(clock.now()), CTX)
    authenticator = SoftAuthenticator()
    options = fd.call(registration_options, user.id)
    fd.call(register_credential, user.id, "laptop key", authenticator.register(options), CTX)
    link_identity(fd, user, "xena-at-corp")
    fd.call(request_login_link, "xena", CTX)
    fd.call(request_email_change, principal(fd, cookie.token), "xena.new@example.com", CTX)
    return user, {"tokens": [cookie.token, key.token], "totp": enrolment.secret, "codes": codes}


def test_the_export_holds_every_row_about_the_user_table_by_table(fd: Frontdesk, clock: FrozenClock) -> None:
    user, _ = busy_user(fd, clock)
    me = principal(fd, make_session(fd, user).token)
    exported = fd.read(export_account, me)
    assert exported["profile"]["email"] == "xena@example.com" and exported["profile"]["name"] == "Xena Export"
    with fd.factory() as db:
        for table in Base.metadata.sorted_tables:
            if "user_id" not in table.c:
                assert table.name in NOT_BY_USER_ID, f"where does {table.name} go in the export?"
                continue
            assert table.name in SECTIONS, f"{table.name} has a user_id but no section of the export"
            ids = sorted(db.scalars(select(table.c.id).where(table.c.user_id == user.id)))
            assert sorted(SECTIONS[table.name](exported)) == ids, table.name
        row = db.get(User, user.id)
        assert row is not None
        sent = db.scalars(select(OutboxEmail.id).where(OutboxEmail.to_address.in_(addresses_of(db, row))))
        assert sorted(m["id"] for m in exported["emails"]) == sorted(sent)
        assert {m["kind"] for m in exported["emails"]} >= {"login_link", "email_change_confirm"}
    assert [s["ip_address"] for s in exported["sessions"]][:1] == ["203.0.113.50"]
    assert exported["sessions"][0]["browser"] == "Firefox"


def test_no_secret_or_hash_is_exported(fd: Frontdesk, clock: FrozenClock) -> None:
    user, secrets = busy_user(fd, clock)
    text = json.dumps(fd.read(export_account, principal(fd, make_session(fd, user).token)))
    with fd.factory() as db:
        row = db.get(User, user.id)
        assert row is not None and row.hashed_password
        held: list[str] = [row.hashed_password, secrets["totp"], *secrets["tokens"], *secrets["codes"]]
        for model in (UserSession, RecoveryCode, NewDeviceNotice):
            held += [h.hex() for h in db.scalars(select(model.__table__.c[_hash_column(model)]))]
        held += [b.hex() for b in db.scalars(select(TotpFactor.secret_box))]
        held += [b.hex() for b in db.scalars(select(WebAuthnCredential.public_key))]
        held += [e.text_body for e in db.scalars(select(OutboxEmail))]
        code_hashes = [h for h in db.scalars(select(LoginToken.code_hash)) if h]
        assert code_hashes, "the sign-in link's code is held (as a hash) but never exported"
        held += code_hashes
    leaked = [h[:12] for h in held if h and h in text]
    assert leaked == []
    assert "$argon2" not in text and "fdk_" not in text and "token=" not in text
    keys: set[str] = set()

    def walk(value: object) -> None:
        if isinstance(value, dict):
            keys.update(value)
            for v in value.values():
                walk(v)
        elif isinstance(value, list):
            for v in value:
                walk(v)

    walk(json.loads(text))
    named = [k for k in keys - {"has_password"} if any(w in k for w in ("hash", "secret", "token", "password", "body"))]
    assert named == []


def _hash_column(model: Any) -> str:
    return "code_hash" if model is RecoveryCode else "token_hash"
