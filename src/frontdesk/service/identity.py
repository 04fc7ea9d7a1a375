"""Usernames, emails and display names: validation and the canonical forms used for uniqueness."""

from __future__ import annotations

import re
import unicodedata

from confusable_homoglyphs import confusables
from email_validator import EmailNotValidError, validate_email

from frontdesk.errors import InvalidEmail, InvalidInput, InvalidUsername

USERNAME_RULE = re.compile(r"[a-z][a-z0-9_]{1,30}[a-z0-9]")
USERNAME_HELP = (
    "Usernames are 3 to 32 characters: letters, digits and underscores, "
    "starting with a letter and not ending with an underscore."
)


def canonical(value: str) -> str:
    """NFKC then case folding: look-alike full-width or compatibility forms become one key."""
    return unicodedata.normalize("NFKC", value).casefold().strip()


def username_forms(username: str) -> tuple[str, str]:
    """(username as shown, canonical key), or InvalidUsername when it breaks the rule.

    The shown form is the NFKC form, which the rule keeps to ASCII (so it is safe in headers);
    the key is its lower case.
    """
    shown = unicodedata.normalize("NFKC", username).strip()
    key = shown.lower()
    if not shown.isascii() or not USERNAME_RULE.fullmatch(key):
        raise InvalidUsername(USERNAME_HELP)
    return shown, key


def username_key(username: str) -> str:
    """The canonical username, or InvalidUsername when it breaks the rule."""
    return username_forms(username)[1]


# A new address that mixes scripts where a letter could pass for another script's (a Cyrillic a
# among Latin letters) is refused: it could pose as someone else's address. The test looks at the
# address alone (Unicode's confusables data), so refusing it says nothing about who is registered.
LOOK_ALIKE = (
    "That address mixes alphabets with letters that look alike (such as a Cyrillic letter among"
    " Latin ones). Type it in one alphabet."
)


def normalise_email(email: str) -> tuple[str, str]:
    """(email as it will be shown and mailed to, canonical key) or InvalidEmail (also for a
    look-alike address)."""
    if len(email) > 320 or "\x00" in email:
        raise InvalidEmail()
    try:
        result = validate_email(unicodedata.normalize("NFKC", email).strip(), check_deliverability=False)
    except EmailNotValidError:
        raise InvalidEmail() from None
    if confusables.is_dangerous(result.normalized):
        raise InvalidEmail(LOOK_ALIKE)
    return result.normalized, canonical(result.normalized)


def login_key(login: str) -> str:
    """The canonical form of what someone typed to sign in (username or email)."""
    return canonical(login)


def clean_name(name: str) -> str:
    name = unicodedata.normalize("NFKC", name).strip()
    if not name or len(name) > 200 or any(unicodedata.category(ch) == "Cc" for ch in name):
        raise InvalidInput("Names are 1 to 200 printable characters.", field="name")
    return name
