"""Every cryptographic primitive frontdesk uses, in one place. Pure: no I/O, no clock."""

from __future__ import annotations

import base64
import contextlib
import hashlib
import hmac
import os
import secrets
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TypeVar

import argon2
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

from frontdesk.errors import Overloaded, SealBroken

T = TypeVar("T")

TOKEN_BYTES = 32
API_KEY_PREFIX = "fdk_"
# The longest token any frontdesk credential or link can carry (ours are 43-47 characters); a
# longer one is refused unread wherever a token arrives: header, cookie, JSON body or form.
MAX_TOKEN_LENGTH = 512


def new_session_token() -> str:
    """A cookie-safe session token (URL-safe base64 alphabet, no padding), 256 random bits."""
    return secrets.token_urlsafe(TOKEN_BYTES)


def new_api_key() -> str:
    """An API key; the `fdk_` prefix lets secret scanners recognise a leaked one."""
    return API_KEY_PREFIX + secrets.token_urlsafe(TOKEN_BYTES)


def new_email_token() -> str:
    """A URL-safe token for links sent by email."""
    return secrets.token_urlsafe(TOKEN_BYTES)


SIGN_IN_CODE_DIGITS = 6


def new_sign_in_code() -> str:
    """A 6-digit code for signing in on another device (about 20 bits, from the CSPRNG): short
    enough to type, so it is stored with the password hasher and allows only a few tries."""
    return f"{secrets.randbelow(10**SIGN_IN_CODE_DIGITS):0{SIGN_IN_CODE_DIGITS}d}"


def digest(token: str) -> bytes:
    """SHA-256 of the token's UTF-8 bytes: what the database stores instead of the token."""
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).digest()


def digest_bytes(value: bytes) -> bytes:
    """SHA-256 of raw bytes (a WebAuthn challenge): what the database stores instead."""
    return hashlib.sha256(value).digest()


def equals(a: bytes, b: bytes) -> bool:
    """Constant-time comparison."""
    return hmac.compare_digest(a, b)


def mask(token: str) -> str:
    """A token fit for a log line: its first four characters only."""
    return token[:4] + "…" if len(token) > 4 else "…"


def derive_key(secret: str, purpose: str) -> bytes:
    """A 256-bit key for one purpose, derived from the root SECRET (HKDF-SHA256, RFC 5869).

    Each purpose gets an unrelated key, so a key leaked or misused in one place opens nothing else.
    """
    info = b"frontdesk/" + purpose.encode("utf-8")
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=info).derive(secret.encode("utf-8"))


def sign(key: bytes, message: str) -> str:
    """A URL-safe HMAC-SHA256 tag of `message` (128 bits, enough for a cookie's integrity)."""
    tag = hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()[:16]
    return base64.urlsafe_b64encode(tag).decode("ascii").rstrip("=")


_SEAL_VERSION = b"\x01"  # AES-256-GCM, 96-bit random nonce
_NONCE_BYTES = 12


def seal(key: bytes, plaintext: bytes, associated_data: bytes) -> bytes:
    """Encrypt and authenticate with AES-256-GCM: version byte, random 96-bit nonce, ciphertext and tag.

    `associated_data` (e.g. `b"totp:42"`) is bound to the box but not stored in it: opening needs
    the same value, so a box copied to another row (another user) does not open.
    """
    nonce = secrets.token_bytes(_NONCE_BYTES)
    return _SEAL_VERSION + nonce + AESGCM(key).encrypt(nonce, plaintext, associated_data)


def unseal(key: bytes, box: bytes, associated_data: bytes) -> bytes:
    """The plaintext of a `seal`ed box; SealBroken if the key, the associated data or a byte differs."""
    if len(box) < 1 + _NONCE_BYTES + 16 or box[:1] != _SEAL_VERSION:
        raise SealBroken()
    nonce, ciphertext = box[1 : 1 + _NONCE_BYTES], box[1 + _NONCE_BYTES :]
    try:
        return AESGCM(key).decrypt(nonce, ciphertext, associated_data)
    except InvalidTag:
        raise SealBroken() from None


@dataclass(frozen=True, slots=True)
class Argon2Parameters:
    time_cost: int = 3
    memory_cost_kib: int = 65536
    parallelism: int = 1


def _lower_priority() -> None:
    """Run this thread at nice +10 (Linux applies niceness per thread), so hashing takes idle CPU
    first and does not starve the event loop that answers /v1/verify."""
    with contextlib.suppress(AttributeError, OSError):
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), 10)


def _usable_cpus() -> int:
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:
        return max(1, os.cpu_count() or 1)


class PasswordHasher:
    """Argon2id hashing with rehash-on-login and equal cost for unknown users.

    The hash string names its own parameters, so old hashes keep verifying after the
    parameters change, and `needs_rehash` tells the caller to store a fresh one.

    Hashing runs on a few low-priority threads, one per usable CPU: a burst of logins queues
    there (argon2 releases the GIL, so they use every CPU) instead of crowding out verification.
    """

    def __init__(self, params: Argon2Parameters | None = None, *, max_waiting: int = 32) -> None:
        # at most this many hashes running or queued; beyond it, Overloaded (a 503) instead of a
        # queue that grows, holding requests (and their database connections) while it does
        self._slots = threading.BoundedSemaphore(max_waiting) if max_waiting > 0 else None
        self._threads = ThreadPoolExecutor(
            max_workers=_usable_cpus(), thread_name_prefix="frontdesk-argon2", initializer=_lower_priority
        )
        p = params or Argon2Parameters()
        self._hasher = argon2.PasswordHasher(
            time_cost=p.time_cost,
            memory_cost=p.memory_cost_kib,
            parallelism=p.parallelism,
            type=argon2.Type.ID,
        )
        # A real hash of a random password: verifying against it costs what a real check costs.
        self._decoy = self._hasher.hash(secrets.token_urlsafe(16))

    def __repr__(self) -> str:
        return f"PasswordHasher(time_cost={self._hasher.time_cost}, memory_cost={self._hasher.memory_cost})"

    def _run(self, work: Callable[..., T], *args: str) -> T:
        if self._slots is None or not self._slots.acquire(blocking=False):
            raise Overloaded()
        try:
            return self._threads.submit(work, *args).result()
        finally:
            self._slots.release()

    def hash(self, password: str) -> str:
        return self._run(self._hasher.hash, password)

    def verify(self, hashed: str | None, password: str) -> bool:
        """True iff `password` matches; with `hashed=None` it burns the same time and answers False."""
        return self._run(self._verify, self._decoy if hashed is None else hashed, password) and hashed is not None

    def burn(self, password: str) -> None:
        """Spend the time of one verification, for a user who does not exist."""
        self._run(self._verify, self._decoy, password)

    def _verify(self, hashed: str, password: str) -> bool:
        try:
            return self._hasher.verify(hashed, password)
        except (VerificationError, InvalidHashError):
            return False

    def needs_rehash(self, hashed: str) -> bool:
        return self._hasher.check_needs_rehash(hashed)


def seal_text(secret: str, purpose: str, plaintext: str) -> bytes:
    """`seal` under a key derived from `secret` (a random token, never a password) for `purpose`."""
    return seal(derive_key(secret, purpose), plaintext.encode(), purpose.encode())


def unseal_text(secret: str, purpose: str, box: bytes) -> str | None:
    """What `seal_text` was given, or None when `secret` or `purpose` is not the one it was sealed with."""
    try:
        return unseal(derive_key(secret, purpose), box, purpose.encode()).decode()
    except SealBroken:
        return None
