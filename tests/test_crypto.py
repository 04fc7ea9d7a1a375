"""crypto.py: per-purpose keys and AES-GCM sealing."""

from __future__ import annotations

import pytest

from frontdesk import crypto
from frontdesk.errors import SealBroken

ROOT = "a root secret of at least thirty-two characters"


def test_each_purpose_gets_its_own_key() -> None:
    totp = crypto.derive_key(ROOT, "totp-secret")
    assert len(totp) == 32
    assert totp == crypto.derive_key(ROOT, "totp-secret")
    assert totp != crypto.derive_key(ROOT, "csrf")
    assert totp != crypto.derive_key(ROOT + "x", "totp-secret")


def test_an_empty_secret_still_derives_a_key() -> None:
    """Development without FRONTDESK_SECRET: encryption works (production requires a secret)."""
    assert len(crypto.derive_key("", "totp-secret")) == 32


def test_seal_round_trip_with_random_nonces() -> None:
    key = crypto.derive_key(ROOT, "test")
    first = crypto.seal(key, b"JBSWY3DPEHPK3PXP", b"totp:1")
    second = crypto.seal(key, b"JBSWY3DPEHPK3PXP", b"totp:1")
    assert first != second  # a fresh 96-bit nonce each time
    assert b"JBSWY3DPEHPK3PXP" not in first
    assert len(first) == 1 + 12 + 16 + 16
    assert crypto.unseal(key, first, b"totp:1") == b"JBSWY3DPEHPK3PXP"


@pytest.mark.parametrize("what", ["key", "associated_data", "ciphertext", "nonce", "version", "truncated"])
def test_seal_refuses_anything_changed(what: str) -> None:
    key = crypto.derive_key(ROOT, "test")
    box = crypto.seal(key, b"secret", b"totp:1")
    ad = b"totp:1"
    if what == "key":
        key = crypto.derive_key(ROOT, "other")
    elif what == "associated_data":
        ad = b"totp:2"  # the same box on another user's row
    elif what == "ciphertext":
        box = box[:-1] + bytes([box[-1] ^ 1])
    elif what == "nonce":
        box = box[:1] + bytes([box[1] ^ 1]) + box[2:]
    elif what == "version":
        box = b"\x02" + box[1:]
    else:
        box = box[:20]
    with pytest.raises(SealBroken):
        crypto.unseal(key, box, ad)
