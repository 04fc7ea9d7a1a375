"""Security keys and passkeys (WebAuthn, through py_webauthn): register, authenticate, remove.

Every ceremony's challenge is random, kept server-side as its SHA-256 for 5 minutes and used
once (a conditional UPDATE finds it by the challenge the browser signed). Relying-party id and
accepted origins come from the settings. The signature counter follows the contract: zero
counters (synced passkeys) are fine; a counter that does not move forward, both non-zero, is
refused and audited as a possibly cloned authenticator.
"""

from __future__ import annotations

import json
import logging
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from sqlalchemy.orm import Session
from webauthn import (
    generate_authentication_options,
    generate_registration_options,
    options_to_json,
    verify_authentication_response,
    verify_registration_response,
)
from webauthn.helpers import (
    parse_authentication_credential_json,
    parse_client_data_json,
    parse_registration_credential_json,
)
from webauthn.helpers.exceptions import WebAuthnException
from webauthn.helpers.structs import (
    AuthenticationCredential,
    AuthenticatorSelectionCriteria,
    AuthenticatorTransport,
    CredentialDeviceType,
    PublicKeyCredentialDescriptor,
    ResidentKeyRequirement,
    UserVerificationRequirement,
)

from frontdesk import crypto
from frontdesk.errors import InvalidInput, NotFound
from frontdesk.models import WebAuthnChallenge, WebAuthnCredential
from frontdesk.service import audit, factor_events, factors
from frontdesk.service.context import RequestContext
from frontdesk.service.deps import Deps
from frontdesk.store import users as user_store
from frontdesk.store import webauthn as store

log = logging.getLogger(__name__)

CHALLENGE_TTL = timedelta(minutes=5)
_TIMEOUT_MS = int(CHALLENGE_TTL.total_seconds() * 1000)
_CHALLENGE_BYTES = 32
_USER_HANDLE_BYTES = 32
_PARSE_ERRORS = (WebAuthnException, ValueError, TypeError, KeyError, AttributeError)

JsonObject = dict[str, Any]
_TRANSPORTS = {t.value for t in AuthenticatorTransport}
REAUTHENTICATION = "reauth"  # a challenge's purpose: a signed-in user's re-authentication


@dataclass(frozen=True, slots=True)
class RegisteredCredential:
    """A new security key or passkey; `recovery_codes` only when it is the user's first factor."""

    id: int
    passkey: bool
    recovery_codes: list[str] | None

    def __repr__(self) -> str:
        return f"RegisteredCredential(id={self.id}, passkey={self.passkey})"


def _descriptor(credential: WebAuthnCredential) -> PublicKeyCredentialDescriptor:
    transports = [AuthenticatorTransport(t) for t in credential.transports.split(",") if t in _TRANSPORTS]
    return PublicKeyCredentialDescriptor(id=credential.credential_id, transports=transports or None)


def _new_challenge(
    db: Session,
    deps: Deps,
    purpose: str,
    *,
    user_id: int | None = None,
    second_factor_challenge_id: int | None = None,
    user_handle: bytes | None = None,
) -> bytes:
    challenge = secrets.token_bytes(_CHALLENGE_BYTES)
    now = deps.clock.now()
    store.add_challenge(
        db,
        WebAuthnChallenge(
            challenge_hash=crypto.digest_bytes(challenge),
            purpose=purpose,
            user_id=user_id,
            second_factor_challenge_id=second_factor_challenge_id,
            user_handle=user_handle,
            created=now,
            expiry=now + CHALLENGE_TTL,
        ),
    )
    return challenge


def registration_options(db: Session, deps: Deps, user_id: int) -> JsonObject:
    """PublicKeyCredentialCreationOptionsJSON for a new key or passkey: resident key preferred,
    the user's existing credentials excluded, and the `credProps` extension asked for."""
    user = user_store.get(db, user_id)
    if user is None:
        raise NotFound("user")
    existing = store.credentials_of(db, user_id)
    handle = store.user_handle_of(db, user_id) or secrets.token_bytes(_USER_HANDLE_BYTES)
    challenge = _new_challenge(db, deps, "registration", user_id=user_id, user_handle=handle)
    options = generate_registration_options(
        rp_id=deps.settings.rp_id,
        rp_name=deps.settings.product_name,
        user_name=user.username,
        user_id=handle,
        user_display_name=user.name or user.username,
        challenge=challenge,
        timeout=_TIMEOUT_MS,
        authenticator_selection=AuthenticatorSelectionCriteria(
            resident_key=ResidentKeyRequirement.PREFERRED,
            user_verification=UserVerificationRequirement.PREFERRED,
        ),
        exclude_credentials=[_descriptor(c) for c in existing],
    )
    result: JsonObject = json.loads(options_to_json(options))
    result["extensions"] = {"credProps": True}
    return result


def register_credential(
    db: Session, deps: Deps, user_id: int, name: str, credential: Mapping[str, Any], ctx: RequestContext
) -> RegisteredCredential:
    """Verify a RegistrationResponseJSON against this user's open registration challenge and store
    the credential. InvalidInput (nothing stored) when it does not verify."""
    name = name.strip()
    if not 1 <= len(name) <= 100:
        raise InvalidInput("Names are 1 to 100 characters.", field="name")
    refused = InvalidInput("That security key's answer could not be verified; try again.", field="credential")
    try:
        parsed = parse_registration_credential_json(dict(credential))
        challenge = parse_client_data_json(parsed.response.client_data_json).challenge
    except _PARSE_ERRORS:
        raise refused from None
    row = store.consume_challenge(db, crypto.digest_bytes(challenge), "registration", deps.clock.now())
    if row is None or row.user_id != user_id or row.user_handle is None:
        raise refused
    try:
        verified = verify_registration_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=deps.settings.rp_id,
            expected_origin=deps.settings.webauthn_origins,
        )
    except _PARSE_ERRORS:
        raise refused from None
    if store.by_credential_id(db, verified.credential_id) is not None:
        raise InvalidInput("That security key is already registered.", field="credential")
    backup_eligible = verified.credential_device_type == CredentialDeviceType.MULTI_DEVICE
    was_first = not factors.has_second_factor(db, deps, user_id)
    row_added = store.add_credential(
        db,
        WebAuthnCredential(
            user_id=user_id,
            credential_id=verified.credential_id,
            public_key=verified.credential_public_key,
            sign_count=verified.sign_count,
            transports=",".join(t.value for t in parsed.response.transports or []),
            aaguid=verified.aaguid,
            user_handle=row.user_handle,
            backup_eligible=backup_eligible,
            backed_up=verified.credential_backed_up,
            passkey=_is_passkey(credential, verified.user_verified, backup_eligible),
            name=name,
            created=deps.clock.now(),
        ),
    )
    factor_events.enrolled(db, deps, user_id, "webauthn", ctx, name=name, detail=f"credential={row_added.id}")
    codes = factors.after_enrolment(db, deps, user_id, was_first=was_first, ctx=ctx)
    return RegisteredCredential(row_added.id, row_added.passkey, codes)


def _is_passkey(credential: Mapping[str, Any], user_verified: bool, backup_eligible: bool) -> bool:
    """Discoverable, by the browser's `credProps.rk`; when the browser does not say, a user-verified,
    backup-eligible credential (a synced passkey, which is always discoverable)."""
    extensions = credential.get("clientExtensionResults")
    props = extensions.get("credProps") if isinstance(extensions, dict) else None
    rk = props.get("rk") if isinstance(props, dict) else None
    if isinstance(rk, bool):
        return rk
    return user_verified and backup_eligible


def authentication_options(
    db: Session,
    deps: Deps,
    *,
    user_id: int | None,
    second_factor_challenge_id: int | None = None,
    reauthentication: bool = False,
) -> JsonObject:
    """PublicKeyCredentialRequestOptionsJSON: for a second step (or, with `reauthentication`, a
    signed-in user's re-authentication), the user's credentials (user verification preferred);
    without a user, passkey sign-in (discoverable, verification required)."""
    if user_id is None:
        challenge = _new_challenge(db, deps, "passkey")
        options = generate_authentication_options(
            rp_id=deps.settings.rp_id,
            challenge=challenge,
            timeout=_TIMEOUT_MS,
            user_verification=UserVerificationRequirement.REQUIRED,
        )
    else:
        challenge = _new_challenge(
            db,
            deps,
            REAUTHENTICATION if reauthentication else "authentication",
            user_id=user_id,
            second_factor_challenge_id=second_factor_challenge_id,
        )
        options = generate_authentication_options(
            rp_id=deps.settings.rp_id,
            challenge=challenge,
            timeout=_TIMEOUT_MS,
            allow_credentials=[_descriptor(c) for c in store.credentials_of(db, user_id)],
            user_verification=UserVerificationRequirement.PREFERRED,
        )
    result: JsonObject = json.loads(options_to_json(options))
    return result


def verify_assertion(
    db: Session,
    deps: Deps,
    credential: Mapping[str, Any],
    ctx: RequestContext,
    *,
    user_id: int | None,
    second_factor_challenge_id: int | None = None,
    reauthentication: bool = False,
) -> WebAuthnCredential | None:
    """The credential that signed this AuthenticationResponseJSON, or None.

    With `user_id`, a second step (or, with `reauthentication`, a re-authentication): the
    challenge must be one made for that user (and that second-factor challenge) and the
    credential theirs. Without, passkey sign-in: user verification is required. The challenge
    is used up even when the answer is wrong.
    """
    try:
        parsed = parse_authentication_credential_json(dict(credential))
        challenge = parse_client_data_json(parsed.response.client_data_json).challenge
    except _PARSE_ERRORS:
        return None
    purpose = "passkey" if user_id is None else REAUTHENTICATION if reauthentication else "authentication"
    now = deps.clock.now()
    row = store.consume_challenge(db, crypto.digest_bytes(challenge), purpose, now)
    if row is None or row.user_id != user_id or row.second_factor_challenge_id != second_factor_challenge_id:
        return None
    found = store.by_credential_id(db, parsed.raw_id)
    if found is None or (user_id is not None and found.user_id != user_id) or not _handle_matches(parsed, found):
        return None
    new_count = _verified_count(deps, parsed, challenge, found, require_uv=user_id is None)
    if new_count is None:
        return None
    old_count = found.sign_count
    if new_count != 0 and old_count != 0 and new_count <= old_count:
        audit.record(
            db,
            deps,
            "webauthn.counter_regressed",
            ctx,
            user_id=found.user_id,
            detail=f"credential={found.id} stored={old_count} presented={new_count}",
        )
        return None
    if not store.advance_counter(db, found.id, old_count, max(old_count, new_count), now):
        return None  # a concurrent use of this credential moved the counter first
    return found


def _handle_matches(parsed: AuthenticationCredential, found: WebAuthnCredential) -> bool:
    handle = parsed.response.user_handle
    return handle is None or crypto.equals(handle, found.user_handle)


def _verified_count(
    deps: Deps, parsed: AuthenticationCredential, challenge: bytes, found: WebAuthnCredential, *, require_uv: bool
) -> int | None:
    try:
        verified = verify_authentication_response(
            credential=parsed,
            expected_challenge=challenge,
            expected_rp_id=deps.settings.rp_id,
            expected_origin=deps.settings.webauthn_origins,
            credential_public_key=found.public_key,
            # 0 turns off py_webauthn's own counter check: ours runs after the signature is
            # verified, so only a genuine signature with a stale counter is audited as a clone
            credential_current_sign_count=0,
            require_user_verification=require_uv,
        )
    except _PARSE_ERRORS:
        return None
    return verified.new_sign_count


def remove_credential(db: Session, deps: Deps, user_id: int, credential_pk: int, ctx: RequestContext) -> None:
    """Remove one of the user's keys; NotFound if it is not theirs. The last factor takes the codes."""
    name = next((c.name for c in store.credentials_of(db, user_id) if c.id == credential_pk), None)
    if name is None or not store.remove_credential(db, user_id, credential_pk):
        raise NotFound("security key")
    factor_events.removed(db, deps, user_id, "webauthn", ctx, name=name, detail=f"credential={credential_pk}")
    factors.after_removal(db, deps, user_id, ctx)
