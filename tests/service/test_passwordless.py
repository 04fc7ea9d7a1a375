"""Accounts made by social sign-in have no password: password sign-in refuses them like a wrong password."""

from __future__ import annotations

import pytest
from sqlalchemy import update

from frontdesk.errors import InvalidCredentials
from frontdesk.models import User
from frontdesk.runtime import Frontdesk
from frontdesk.service.context import RequestContext
from frontdesk.service.login import login_with_password
from tests.factories import PASSWORD, make_user

CTX = RequestContext(ip_address="198.51.100.9", user_agent="pytest")


def test_an_account_without_a_password_cannot_sign_in_with_one(fd: Frontdesk) -> None:
    user = make_user(fd, username="nopass")
    with fd.factory.begin() as db:
        db.execute(update(User).where(User.id == user.id).values(hashed_password=None))
    for attempt in (PASSWORD, "", "!"):
        with pytest.raises(InvalidCredentials) as refused:
            fd.call(login_with_password, "nopass", attempt, False, CTX)
        assert str(refused.value) == str(InvalidCredentials())
