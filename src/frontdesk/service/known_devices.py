"""Devices that have signed in before: a signed, long-lived cookie naming the accounts signed in on it.

The per-IP failure limit never locks out a correct password from such a device (contract
section 4): many people behind one address (or every client, when a proxy hides them) can be
shut out by one attacker's guesses, but not from a browser that has signed in to that account.
The per-account limit still applies to every device.

The value is `1.<issued, Unix seconds>.<user ids, most recent first, joined by "-">.<HMAC tag>`,
tagged with a key derived from SECRET ("device-cookie"), so it can't be forged or edited. It holds
no secret (the user id is in `frontdesk-user-id` already) and is kept on logout.
"""

from __future__ import annotations

import secrets
from datetime import datetime, timedelta
from functools import lru_cache

from frontdesk import crypto
from frontdesk.service.deps import Deps

VERSION = "1"
LIFETIME = timedelta(days=400)  # the longest cookie lifetime browsers keep (RFC 6265bis)
MAX_ACCOUNTS = 8
_PROCESS_KEY = secrets.token_bytes(32)  # only without SECRET (development): valid until a restart


@lru_cache(maxsize=4)
def _key(secret: str | None) -> bytes:
    return crypto.derive_key(secret, "device-cookie") if secret else _PROCESS_KEY


def _key_of(deps: Deps) -> bytes:
    secret = deps.settings.secret
    return _key(secret.get_secret_value() if secret is not None else None)


def accounts_on(deps: Deps, value: str | None) -> tuple[int, ...]:
    """The accounts a device cookie names, most recent first; none when it is absent, edited,
    signed with another key or older than its lifetime."""
    if not value or len(value) > 512:
        return ()
    parts = value.split(".")
    if len(parts) != 4 or parts[0] != VERSION or not parts[1].isdigit():
        return ()
    payload = ".".join(parts[:3])
    if not crypto.equals(crypto.sign(_key_of(deps), payload).encode(), parts[3].encode()):
        return ()
    issued = int(parts[1])
    if not 0 <= deps.clock.now().timestamp() - issued <= LIFETIME.total_seconds():
        return ()
    ids = parts[2].split("-")
    if not all(i.isdigit() and len(i) < 20 for i in ids):
        return ()
    return tuple(int(i) for i in ids)


def knows(deps: Deps, value: str | None, user_id: int) -> bool:
    """Whether this device has signed in to this account before."""
    return user_id in accounts_on(deps, value)


def remember(deps: Deps, value: str | None, user_id: int) -> str:
    """The cookie value after a sign-in to `user_id` on a device that sent `value`."""
    ids = [user_id, *(i for i in accounts_on(deps, value) if i != user_id)][:MAX_ACCOUNTS]
    now: datetime = deps.clock.now()
    payload = f"{VERSION}.{int(now.timestamp())}.{'-'.join(str(i) for i in ids)}"
    return f"{payload}.{crypto.sign(_key_of(deps), payload)}"
