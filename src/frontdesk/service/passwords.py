"""The password policy: 8 to 256 characters as typed, not among the 10,000 most common, not the product's name."""

from __future__ import annotations

from functools import cache
from importlib import resources

from frontdesk.errors import InsecurePassword, PasswordTooLong, PasswordTooShort

MIN_LENGTH = 8
MAX_LENGTH = 256


@cache
def common_passwords() -> frozenset[str]:
    text = resources.files("frontdesk").joinpath("data/common-passwords.txt").read_text("utf-8")
    return frozenset(line for line in text.splitlines() if line and not line.startswith("#"))


def check_password(
    password: str,
    product_name: str,
    field: str = "password",
    *,
    username: str | None = None,
    email: str | None = None,
) -> None:
    """Raise a PasswordRejected subclass when the password breaks the policy.

    Length counts characters exactly as typed: no trimming, truncation or case folding. The
    common-password, product-name, username and email checks ignore case, since "Password" is no
    safer than "password"; the username and the email's local part count when they have 4+ characters.
    """
    if len(password) < MIN_LENGTH:
        raise PasswordTooShort(f"Passwords need at least {MIN_LENGTH} characters.", field=field)
    if len(password) > MAX_LENGTH:
        raise PasswordTooLong(f"Passwords can have at most {MAX_LENGTH} characters.", field=field)
    lowered = password.lower()
    names = {"frontdesk", product_name.lower()}
    if lowered in common_passwords() or any(lowered == n or (len(n) >= 4 and n in lowered) for n in names):
        raise InsecurePassword("That password is too common; choose another.", field=field)
    if len(set(password)) == 1:
        raise InsecurePassword("That password is one character repeated; choose another.", field=field)
    for part, what in ((username, "your username"), (email.rpartition("@")[0] if email else None, "your email")):
        if part and len(part) >= 4 and part.casefold() in password.casefold():
            raise InsecurePassword(f"That password contains {what}; choose another.", field=field)
