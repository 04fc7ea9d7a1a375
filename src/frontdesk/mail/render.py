"""Turn an email kind and its context into a subject, a plain-text body and an HTML body.

Jinja2 with StrictUndefined, so a missing value fails loudly instead of sending "Hello ,";
autoescape is on for the `.html` templates only, so a name like `<b>` stays text everywhere.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from frontdesk.settings import Settings

# kind -> the context keys its templates need (all already-formatted strings)
KINDS: Mapping[str, frozenset[str]] = {
    "signup_confirm": frozenset({"name", "link"}),
    "signup_existing": frozenset({"name", "login_link", "reset_link"}),
    "login_link": frozenset({"name", "link"}),
    "password_reset": frozenset({"name", "link"}),
    "password_changed": frozenset({"name", "when", "ip_address", "browser"}),
    "api_key_created": frozenset({"name", "key_name", "token", "expiry"}),
    "api_key_notice": frozenset({"name", "key_name", "expiry", "device"}),
    "identity_linked": frozenset({"name", "provider", "when", "ip_address", "browser"}),
    "identity_unlinked": frozenset({"name", "provider", "when", "ip_address", "browser"}),
}

# Kinds whose bodies carry a usable secret (a token link or an API key): the sender blanks
# them once the message is delivered or given up on, so the outbox keeps no usable secret.
SECRET_KINDS = frozenset({"signup_confirm", "signup_existing", "login_link", "password_reset", "api_key_created"})

_SUBJECTS: Mapping[str, str] = {
    "signup_confirm": "Confirm your email to finish signing up for {product}",
    "signup_existing": "Someone tried to sign up for {product} with your email",
    "login_link": "Your {product} sign-in link",
    "password_reset": "Reset your {product} password",
    "password_changed": "Your {product} password was changed",
    "api_key_created": "A new API key for your {product} account",
    "api_key_notice": "A new API key was created for your {product} account",
    "identity_linked": "A sign-in provider was linked to your {product} account",
    "identity_unlinked": "A sign-in provider was removed from your {product} account",
}

_env = Environment(
    loader=PackageLoader("frontdesk.mail", "templates"),
    autoescape=select_autoescape(enabled_extensions=("html",), default_for_string=True),
    undefined=StrictUndefined,
    trim_blocks=False,
    keep_trailing_newline=True,
)


@dataclass(frozen=True, slots=True)
class RenderedEmail:
    """What goes into the outbox. `repr` hides the bodies: they may hold a live token."""

    subject: str
    text: str
    html: str

    def __repr__(self) -> str:
        sizes = f"text=<{len(self.text)} chars>, html=<{len(self.html)} chars>"
        return f"RenderedEmail(subject={self.subject!r}, {sizes})"


def render(settings: Settings, kind: str, context: Mapping[str, str]) -> RenderedEmail:
    """Render one email; `ValueError` for an unknown kind or a missing context key."""
    required = KINDS.get(kind)
    if required is None:
        raise ValueError(f"unknown email kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")
    missing = required - context.keys()
    if missing:
        raise ValueError(f"email kind {kind!r} needs context keys {sorted(missing)}")
    subject = _one_line(_SUBJECTS[kind].format(product=settings.product_name))
    values: dict[str, str] = {
        **{key: str(context[key]) for key in required},
        "product": settings.product_name,
        "public_url": settings.public_url,
        "subject": subject,
        "ttl": _ttl_for(settings, kind),
    }
    text = _env.get_template(f"{kind}.txt").render(values)
    html = _env.get_template(f"{kind}.html").render(values)
    return RenderedEmail(subject=subject, text=text.strip() + "\n", html=html.strip() + "\n")


def _ttl_for(settings: Settings, kind: str) -> str:
    ttl = {
        "signup_confirm": settings.signup_token_ttl,
        "login_link": settings.login_token_ttl,
        "password_reset": settings.reset_token_ttl,
    }.get(kind)
    return human_duration(ttl) if ttl is not None else ""


def human_duration(delta: timedelta) -> str:
    """`timedelta(minutes=10)` -> "10 minutes"; whole hours and minutes read best in an email."""
    seconds = int(delta.total_seconds())
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size and seconds % size == 0 and not (unit == "day" and seconds <= 2 * 86400):
            count = seconds // size
            return f"{count} {unit}{'' if count == 1 else 's'}"
    return f"{seconds} second{'' if seconds == 1 else 's'}"


def _one_line(value: str) -> str:
    """Header values must not carry line breaks (header injection)."""
    return " ".join(value.split())
