"""Builders for test data, with overrides (as Couchers' generate_user)."""

from __future__ import annotations

import itertools
from typing import Any

from frontdesk.models import User
from frontdesk.runtime import Frontdesk
from frontdesk.service.accounts import create_user
from frontdesk.service.context import RequestContext
from frontdesk.service.sessions import IssuedSession, issue_session

PASSWORD = "correct horse battery staple"
_numbers = itertools.count(1)


def make_user(fd: Frontdesk, **overrides: Any) -> User:
    n = next(_numbers)
    fields: dict[str, Any] = {
        "email": f"user{n}@example.com",
        "username": f"user{n}",
        "password": PASSWORD,
        "name": f"User {n}",
        "ctx": RequestContext(ip_address="203.0.113.7", user_agent="pytest"),
    }
    fields.update(overrides)
    return fd.call(create_user, **fields)


def make_session(fd: Frontdesk, user: User, **overrides: Any) -> IssuedSession:
    fields: dict[str, Any] = {"long_lived": False, "is_api_key": False}
    fields.update(overrides)
    ctx = fields.pop("ctx", RequestContext(ip_address="203.0.113.7", user_agent="pytest"))
    return fd.call(issue_session, user, ctx, **fields)
