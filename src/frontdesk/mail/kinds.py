"""Every kind of email frontdesk sends, described once: its subject, templates, the context they
need, whether it carries a secret, the page its link opens and how long that link works.
Rendering, queueing, the sender and the pages all read this table."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from frontdesk.settings import Settings


@dataclass(frozen=True, slots=True)
class EmailKind:
    name: str
    subject: str  # "{product}" becomes the product name
    context: frozenset[str]  # the keys its templates need (all already-formatted strings)
    # a usable secret (a token link or an API key) in the body: the sender blanks it once the
    # message is delivered or given up on, so the outbox keeps no usable secret
    carries_secret: bool
    link_path: str | None = None  # the page its link opens (it asks for a button press: mail scanners open links)
    lifetime: Callable[[Settings], timedelta] | None = None  # how long the emailed link works

    @property
    def template(self) -> str:
        """The templates' name: `mail/templates/<template>.txt` and `.html`."""
        return self.name

    def lifetime_text(self, settings: Settings) -> str:
        """ "10 minutes", "48 hours": the link's lifetime as the email and the pages say it; "" without a link."""
        return human_duration(self.lifetime(settings)) if self.lifetime is not None else ""


def _kinds(*kinds: EmailKind) -> Mapping[str, EmailKind]:
    return {kind.name: kind for kind in kinds}


KINDS: Mapping[str, EmailKind] = _kinds(
    EmailKind(
        "signup_confirm",
        "Confirm your email to finish signing up for {product}",
        frozenset({"name", "link"}),
        carries_secret=True,
        link_path="/signup/confirm",
        lifetime=lambda s: s.signup_token_ttl,
    ),
    EmailKind(
        "signup_existing",
        "Someone tried to sign up for {product} with your email",
        frozenset({"name", "login_link", "reset_link"}),
        carries_secret=True,
    ),
    EmailKind(
        "login_link",
        "Your {product} sign-in link",
        frozenset({"name", "link", "code"}),  # the code: the same grant, typed on another device
        carries_secret=True,
        link_path="/login-link/confirm",
        lifetime=lambda s: s.login_token_ttl,
    ),
    EmailKind(
        "password_reset",
        "Reset your {product} password",
        frozenset({"name", "link"}),
        carries_secret=True,
        link_path="/reset-password",
        lifetime=lambda s: s.reset_token_ttl,
    ),
    EmailKind(
        "password_changed",
        "Your {product} password was changed",
        frozenset({"name", "when", "ip_address", "browser"}),
        carries_secret=False,
    ),
    EmailKind(
        "api_key_created",
        "A new API key for your {product} account",
        frozenset({"name", "key_name", "token", "expiry"}),
        carries_secret=True,
    ),
    EmailKind(
        "api_key_notice",
        "A new API key was created for your {product} account",
        frozenset({"name", "key_name", "expiry", "device"}),
        carries_secret=False,
    ),
    EmailKind(
        "identity_linked",
        "A sign-in provider was linked to your {product} account",
        frozenset({"name", "provider", "when", "ip_address", "browser"}),
        carries_secret=False,
    ),
    EmailKind(
        "identity_unlinked",
        "A sign-in provider was removed from your {product} account",
        frozenset({"name", "provider", "when", "ip_address", "browser"}),
        carries_secret=False,
    ),
    # second factors (contract section 6): notices only, never a code or a secret
    EmailKind(
        "second_factor_added",
        "A second factor was added to your {product} account",
        frozenset({"name", "factor", "when", "ip_address", "browser"}),
        carries_secret=False,
    ),
    EmailKind(
        "second_factor_removed",
        "A second factor was removed from your {product} account",
        frozenset({"name", "factor", "when", "ip_address", "browser"}),
        carries_secret=False,
    ),
    EmailKind(
        "recovery_codes_regenerated",
        "New recovery codes were made for your {product} account",
        frozenset({"name", "when", "ip_address", "browser"}),
        carries_secret=False,
    ),
    EmailKind(
        "recovery_code_used",
        "A recovery code was used to sign in to your {product} account",
        frozenset({"name", "codes_left", "when", "ip_address", "browser"}),
        carries_secret=False,
    ),
    EmailKind(
        "second_factors_reset",
        "An administrator removed the second factors of your {product} account",
        frozenset({"name", "when"}),
        carries_secret=False,
    ),
    # account lifecycle (contract section 7)
    EmailKind(
        "email_change_confirm",
        "Confirm your new email address for {product}",
        frozenset({"name", "link"}),
        carries_secret=True,
        link_path="/email/confirm",
        lifetime=lambda s: s.email_change_token_ttl,
    ),
    EmailKind(
        "email_change_requested",
        "Someone asked to change the email address of your {product} account",
        frozenset({"name", "new_email", "when", "ip_address", "browser"}),
        carries_secret=False,
    ),
    EmailKind(
        "email_change_taken",
        "Someone tried to move a {product} account to your email address",
        frozenset({"name"}),
        carries_secret=False,
    ),
    EmailKind(
        "email_changed",
        "The email address of your {product} account was changed",
        frozenset({"name", "new_email", "link"}),
        carries_secret=True,
        link_path="/email/revert",
        lifetime=lambda s: s.email_revert_token_ttl,
    ),
    EmailKind(
        "email_reverted",
        "Your {product} email address is back: choose a new password",
        frozenset({"name", "link"}),
        carries_secret=True,
        link_path="/reset-password",
        lifetime=lambda s: s.reset_token_ttl,
    ),
    EmailKind(
        "account_deleted",
        "Your {product} account is deleted: you can still restore it",
        frozenset({"name", "link", "erase_on"}),
        carries_secret=True,
        link_path="/account/restore",
        lifetime=lambda s: s.account_deletion_grace,
    ),
    EmailKind(
        "new_sign_in",
        "New sign-in to your {product} account from a new device",
        frozenset({"name", "device", "location", "ip_address", "when", "window", "link"}),
        carries_secret=True,
        link_path="/sign-ins/not-me",
        lifetime=lambda s: s.not_me_token_ttl,
    ),
    EmailKind(
        "sign_in_disowned",
        "Signed out as you asked: choose a new password for your {product} account",
        frozenset({"name", "ended", "link"}),
        carries_secret=True,
        link_path="/reset-password",
        lifetime=lambda s: s.reset_token_ttl,
    ),
)


def kind_of(name: str) -> EmailKind:
    """The kind named `name`; `ValueError` for an unknown one."""
    kind = KINDS.get(name)
    if kind is None:
        raise ValueError(f"unknown email kind {name!r}; known kinds: {', '.join(sorted(KINDS))}")
    return kind


def carries_secret(name: str) -> bool:
    kind = KINDS.get(name)
    return kind is None or kind.carries_secret  # an unknown kind (an older version's row): assume it does


def human_duration(delta: timedelta) -> str:
    """`10 minutes`, `2 hours`, `48 hours`, `7 days`, `2 years`: the largest unit that divides the
    duration, and days only beyond two (a link that works "48 hours" reads clearer than "2 days")."""
    seconds = int(delta.total_seconds())
    for unit, size in (("year", 365 * 86400), ("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0 and not (unit == "day" and seconds <= 2 * 86400):
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"
