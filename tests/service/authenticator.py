"""A tiny software WebAuthn authenticator, for tests only: one EC P-256 credential, attestation "none".

It builds what a browser would send (RegistrationResponseJSON, AuthenticationResponseJSON) from
the server's options, so the service's py_webauthn verification runs for real.
"""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
import struct
from typing import Any

import cbor2
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec

UP, UV, BE, BS, AT = 0x01, 0x04, 0x08, 0x10, 0x40
AAGUID = bytes.fromhex("0123456789abcdef0123456789abcdef")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class SoftAuthenticator:
    """One credential on one authenticator. `sign_count=None` makes it a synced passkey (always 0)."""

    def __init__(
        self,
        origin: str = "http://127.0.0.1:8000",
        *,
        counting: bool = True,
        backup_eligible: bool = False,
        discoverable: bool = True,
    ) -> None:
        self.origin = origin
        self.key = ec.generate_private_key(ec.SECP256R1())
        self.credential_id = secrets.token_bytes(32)
        self.counting = counting
        self.sign_count = 0
        self.flags_extra = (BE | BS) if backup_eligible else 0
        self.discoverable = discoverable
        self.user_handle: bytes | None = None

    def _cose_key(self) -> bytes:
        numbers = self.key.public_key().public_numbers()
        key = {1: 2, 3: -7, -1: 1, -2: numbers.x.to_bytes(32, "big"), -3: numbers.y.to_bytes(32, "big")}
        return cbor2.dumps(key)

    def _client_data(self, kind: str, challenge: str, origin: str | None) -> bytes:
        body = {"type": kind, "challenge": challenge, "origin": origin or self.origin, "crossOrigin": False}
        return json.dumps(body).encode()

    def _next_count(self) -> int:
        if self.counting:
            self.sign_count += 1
            return self.sign_count
        return 0

    def register(
        self, options: dict[str, Any], *, user_verified: bool = True, origin: str | None = None
    ) -> dict[str, Any]:
        """A RegistrationResponseJSON answering PublicKeyCredentialCreationOptionsJSON."""
        self.user_handle = unb64url(options["user"]["id"])
        rp_hash = hashlib.sha256(options["rp"]["id"].encode()).digest()
        flags = UP | AT | self.flags_extra | (UV if user_verified else 0)
        attested = AAGUID + struct.pack(">H", len(self.credential_id)) + self.credential_id + self._cose_key()
        auth_data = rp_hash + bytes([flags]) + struct.pack(">I", self._next_count()) + attested
        attestation = cbor2.dumps({"fmt": "none", "attStmt": {}, "authData": auth_data})
        client_data = self._client_data("webauthn.create", options["challenge"], origin)
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": {
                "clientDataJSON": b64url(client_data),
                "attestationObject": b64url(attestation),
                "transports": ["usb", "nfc"],
            },
            "clientExtensionResults": {"credProps": {"rk": self.discoverable}},
        }

    def assertion(
        self,
        options: dict[str, Any],
        *,
        user_verified: bool = True,
        origin: str | None = None,
        count: int | None = None,
    ) -> dict[str, Any]:
        """An AuthenticationResponseJSON answering PublicKeyCredentialRequestOptionsJSON."""
        rp_hash = hashlib.sha256(options["rpId"].encode()).digest()
        flags = UP | self.flags_extra | (UV if user_verified else 0)
        sign_count = self._next_count() if count is None else count
        auth_data = rp_hash + bytes([flags]) + struct.pack(">I", sign_count)
        client_data = self._client_data("webauthn.get", options["challenge"], origin)
        signature = self.key.sign(auth_data + hashlib.sha256(client_data).digest(), ec.ECDSA(hashes.SHA256()))
        response: dict[str, Any] = {
            "clientDataJSON": b64url(client_data),
            "authenticatorData": b64url(auth_data),
            "signature": b64url(signature),
        }
        if self.user_handle is not None:
            response["userHandle"] = b64url(self.user_handle)
        return {
            "id": b64url(self.credential_id),
            "rawId": b64url(self.credential_id),
            "type": "public-key",
            "response": response,
            "clientExtensionResults": {},
        }
