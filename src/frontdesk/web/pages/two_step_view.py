"""What the account page's "Two-step verification" section shows by default, and its notices
(kept apart from the routes in `two_step.py`, which render the account page)."""

from __future__ import annotations

from typing import Any

from frontdesk.web.pages.forms import Form

TWO_STEP_NOTICES = {
    "totp-added": "Your authenticator app is set up. Use its codes when you sign in.",
    "totp-removed": "The authenticator app is removed: its codes no longer work.",
    "key-added": "Your security key is added. Use it when you sign in.",
    "passkey-added": "Your passkey is added. You can sign in with it, without your password.",
    "key-removed": "That security key or passkey is removed.",
    "key-gone": "That security key or passkey had already been removed.",
}


def two_step_defaults() -> dict[str, Any]:
    """The section's state when none of its forms was just sent."""
    return {
        "totp_enrolment": None,  # a new authenticator-app secret being set up (QR code, text)
        "totp_form": Form(),
        "webauthn_form": Form(),
        "two_step_banner": None,  # an error about the section as a whole
        "recovery_codes": None,  # a new set, shown once
        "recovery_codes_why": None,
    }
