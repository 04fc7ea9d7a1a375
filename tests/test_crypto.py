"""crypto.py: per-purpose keys and AES-GCM sealing."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import threading

import pytest

from frontdesk import crypto
from frontdesk.errors import Overloaded, SealBroken
from tests.waiting import wait_until

ROOT = "a root secret of at least thirty-two characters"
KEY_HEX = "8b6020a15c2fd50d42427c6abb5d898637875d903f7747d7cabe88af33108538"
TAG = "PKJpZKOyoEqAwBPi1nRSEg"


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


@pytest.mark.parametrize("what", ["key", "associated_data", "ciphertext", "nonce", "version", "version 0", "truncated"])
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
    elif what == "version 0":  # the version byte is not under the tag: it is checked on its own
        box = b"\x00" + box[1:]
    else:
        box = box[:20]
    with pytest.raises(SealBroken):
        crypto.unseal(key, box, ad)


def test_tokens_carry_256_random_bits_in_the_url_safe_alphabet() -> None:
    for make, prefix in ((crypto.new_session_token, ""), (crypto.new_email_token, ""), (crypto.new_api_key, "fdk_")):
        tokens = {make() for _ in range(20)}
        assert len(tokens) == 20
        for token in tokens:
            assert token.startswith(prefix)
            assert re.fullmatch(r"[A-Za-z0-9_-]{43}", token[len(prefix) :])  # 32 bytes, no padding
            assert len(token) <= crypto.MAX_TOKEN_LENGTH


def test_sign_in_codes_are_six_digits_drawn_from_all_million() -> None:
    """Six ASCII digits, leading zeros kept, from the whole range: codes drawn from a smaller one
    (say 60 values, or 100,000) would be guessed in far fewer than the million tries."""
    codes = [crypto.new_sign_in_code() for _ in range(1000)]
    assert all(re.fullmatch(r"[0-9]{6}", code) for code in codes)
    values = sorted(int(code) for code in codes)
    # a uniform draw from 0..999,999 fails each of these by chance less than once in 10**10 runs
    assert values[0] < 100_000 and values[-1] >= 900_000
    assert len(set(values)) > 989


def test_digests_are_sha256_of_the_utf8_bytes() -> None:
    assert crypto.digest("caf\u00e9") == hashlib.sha256("caf\u00e9".encode()).digest()
    assert crypto.digest("\ud800") == hashlib.sha256(b"\xed\xa0\x80").digest()  # a lone surrogate does not raise
    assert crypto.digest_bytes(b"\x00\xff") == hashlib.sha256(b"\x00\xff").digest()
    assert crypto.equals(b"abc", b"abc") and not crypto.equals(b"abc", b"abd")


@pytest.mark.parametrize(
    ("token", "masked"),
    [("abcdefgh", "abcd\u2026"), ("abcde", "abcd\u2026"), ("abcd", "\u2026"), ("abc", "\u2026"), ("", "\u2026")],
)
def test_a_masked_token_shows_at_most_four_characters(token: str, masked: str) -> None:
    assert crypto.mask(token) == masked


def test_keys_and_tags_are_the_rfc_algorithms() -> None:
    """Known answers: HKDF-SHA256 with info `frontdesk/<purpose>`, HMAC-SHA256 cut to 128 bits."""
    key = crypto.derive_key(ROOT, "csrf")
    assert key.hex() == KEY_HEX
    tag = crypto.sign(key, "a message")
    assert tag == TAG
    assert len(tag) == 22 and "=" not in tag  # 16 bytes of URL-safe base64, unpadded
    assert tag != crypto.sign(key, "a message!") != crypto.sign(crypto.derive_key(ROOT, "other"), "a message")


def test_an_empty_plaintext_seals_into_the_shortest_box() -> None:
    key = crypto.derive_key(ROOT, "test")
    box = crypto.seal(key, b"", b"ad")
    assert len(box) == 1 + 12 + 16 and box[:1] == b"\x01"
    assert crypto.unseal(key, box, b"ad") == b""
    for short in (box[:-1], box[:5], b"\x01", b""):  # too short to hold a nonce and a tag: refused unread
        with pytest.raises(SealBroken):
            crypto.unseal(key, short, b"ad")


def test_sealed_text_opens_only_with_its_secret_and_purpose() -> None:
    box = crypto.seal_text("a random token", "export", "caf\u00e9 au lait")
    assert crypto.unseal_text("a random token", "export", box) == "caf\u00e9 au lait"
    assert crypto.unseal_text("another token", "export", box) is None
    assert crypto.unseal_text("a random token", "import", box) is None
    assert crypto.unseal(crypto.derive_key("a random token", "export"), box, b"export") == "caf\u00e9 au lait".encode()


CHEAP = crypto.Argon2Parameters(time_cost=1, memory_cost_kib=64, parallelism=1)


def test_the_default_password_hash_is_argon2id_at_owasp_cost() -> None:
    hasher = crypto.PasswordHasher()
    hashed = hasher.hash("correct horse")
    assert hashed.startswith("$argon2id$v=19$m=65536,t=3,p=1$")
    assert repr(hasher) == "PasswordHasher(time_cost=3, memory_cost=65536)"
    assert hasher.verify(hashed, "correct horse")


def test_passwords_verify_only_against_their_own_hash() -> None:
    hasher = crypto.PasswordHasher(CHEAP)
    hashed = hasher.hash("correct horse")
    assert hashed.startswith("$argon2id$v=19$m=64,t=1,p=1$")
    assert hasher.verify(hashed, "correct horse") is True
    assert hasher.verify(hashed, "correct horsf") is False
    assert hasher.verify("not a hash", "correct horse") is False
    assert hasher.verify(None, "correct horse") is False
    hasher.burn("correct horse")  # costs a verification, answers nothing
    assert not hasher.needs_rehash(hashed)
    assert crypto.PasswordHasher(crypto.Argon2Parameters(time_cost=2, memory_cost_kib=64)).needs_rehash(hashed)


def test_hashing_runs_on_one_low_priority_thread_per_usable_cpu() -> None:
    hasher = crypto.PasswordHasher(CHEAP)
    base = os.getpriority(os.PRIO_PROCESS, 0)
    ran = hasher._threads.submit(lambda: os.getpriority(os.PRIO_PROCESS, threading.get_native_id())).result()
    assert ran == min(19, base + 10)
    assert hasher._threads._max_workers == len(os.sched_getaffinity(0))


@pytest.mark.parametrize(("count", "threads"), [(None, 1), (1, 1), (3, 3)])
def test_without_cpu_affinity_the_cpu_count_decides(
    monkeypatch: pytest.MonkeyPatch, count: int | None, threads: int
) -> None:
    monkeypatch.delattr(os, "sched_getaffinity")
    monkeypatch.setattr(os, "cpu_count", lambda: count)
    assert crypto.PasswordHasher(CHEAP)._threads._max_workers == threads


def test_one_usable_cpu_means_one_hashing_thread() -> None:
    usable = os.sched_getaffinity(0)
    os.sched_setaffinity(0, {min(usable)})
    try:
        assert crypto.PasswordHasher(CHEAP)._threads._max_workers == 1
    finally:
        os.sched_setaffinity(0, usable)


def test_32_hashes_may_wait_and_the_33rd_is_refused() -> None:
    hasher = crypto.PasswordHasher(CHEAP)
    release = threading.Event()
    real = hasher._verify

    def slow(hashed: str, password: str) -> bool:
        release.wait(20)
        return real(hashed, password)

    hasher._verify = slow  # type: ignore[method-assign]
    busy = [threading.Thread(target=hasher.burn, args=("x",)) for _ in range(32)]
    for thread in busy:
        thread.start()
    try:
        assert wait_until(lambda: hasher._slots is not None and hasher._slots._value == 0)
        with pytest.raises(Overloaded):
            hasher.burn("one too many")
    finally:
        release.set()
        for thread in busy:
            thread.join(20)
    assert hasher.verify(hasher.hash("room again"), "room again")


def test_no_queue_means_every_hash_is_refused() -> None:
    for none in (0, -1):
        with pytest.raises(Overloaded):
            crypto.PasswordHasher(CHEAP, max_waiting=none).hash("x")
    assert crypto.PasswordHasher(CHEAP, max_waiting=1).verify(None, "x") is False


def test_hashing_parameters_cannot_change_once_made() -> None:
    with pytest.raises(dataclasses.FrozenInstanceError):
        CHEAP.time_cost = 2  # type: ignore[misc]
