"""The password policy (contract section 2)."""

from __future__ import annotations

import pytest

from frontdesk.errors import InsecurePassword
from frontdesk.service.passwords import check_password


@pytest.mark.parametrize(
    ("password", "why"),
    [
        ("aaaaaaaaaaaa", "one character repeated"),
        ("..........", "one character repeated"),
        ("MyNameIsBartholomew!", "your username"),
        ("bartholomew2026", "your username"),
        ("x-BART.SIMPSON-x", "your email"),
    ],
)
def test_refused_with_the_reason(password: str, why: str) -> None:
    with pytest.raises(InsecurePassword, match=why) as caught:
        check_password(password, "frontdesk", username="Bartholomew", email="bart.simpson@example.com")
    assert caught.value.field == "password"


@pytest.mark.parametrize(
    "password",
    ["correct horse battery staple", "aaaaaaab", "bob is my uncle!", "ann went to town"],
)
def test_short_names_and_near_repeats_are_fine(password: str) -> None:
    check_password(password, "frontdesk", username="bob", email="ann@example.com")
