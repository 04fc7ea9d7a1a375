"""Rendering: every kind, both parts, escaping, and loud failures."""

from __future__ import annotations

from datetime import timedelta

import pytest

from frontdesk.mail.kinds import KINDS, human_duration
from frontdesk.mail.render import render
from frontdesk.settings import Settings
from frontdesk.theme import Theme

SETTINGS = Settings(product_name="Acme ID", public_url="https://id.example.com")


def context_for(kind: str) -> dict[str, str]:
    return {key: f"value-of-{key}" for key in KINDS[kind].context}


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_every_kind_renders_every_value_in_both_parts(kind: str) -> None:
    email = render(SETTINGS, kind, context_for(kind))
    assert "Acme ID" in email.subject
    for value in context_for(kind).values():
        assert value in email.text
        assert value in email.html
    assert email.html.lstrip().startswith("<!DOCTYPE html>")
    assert "{{" not in email.text + email.html


def test_subjects_say_what_the_email_is_for() -> None:
    subjects = {kind: render(SETTINGS, kind, context_for(kind)).subject for kind in KINDS}
    assert subjects["signup_confirm"] == "Confirm your email to finish signing up for Acme ID"
    assert subjects["login_link"] == "Your Acme ID sign-in link"
    assert subjects["password_reset"] == "Reset your Acme ID password"
    assert subjects["password_changed"] == "Your Acme ID password was changed"
    assert len(set(subjects.values())) == len(KINDS)


def test_links_expire_as_the_settings_say() -> None:
    settings = Settings(login_token_ttl=timedelta(minutes=10), reset_token_ttl=timedelta(hours=2))
    assert "expires in 10 minutes" in render(settings, "login_link", context_for("login_link")).text
    assert "expires in 2 hours" in render(settings, "password_reset", context_for("password_reset")).html
    assert "expires in 48 hours" in render(settings, "signup_confirm", context_for("signup_confirm")).text


def test_html_escapes_values_and_text_keeps_them() -> None:
    email = render(
        SETTINGS, "login_link", {"name": "<script>x</script>", "link": "https://h/c?token=a&b=1", "code": "493817"}
    )
    assert "<script>" not in email.html
    assert "&lt;script&gt;" in email.html
    assert 'href="https://h/c?token=a&amp;b=1"' in email.html
    assert "Hello <script>x</script>," in email.text
    assert "https://h/c?token=a&b=1" in email.text


def test_subject_never_spans_lines() -> None:
    settings = Settings(product_name="Evil\r\nBcc: victim@example.com")
    subject = render(settings, "login_link", context_for("login_link")).subject
    assert "\n" not in subject and "\r" not in subject


def test_unknown_kind_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown email kind"):
        render(SETTINGS, "newsletter", {"name": "x"})


def test_missing_context_is_refused() -> None:
    with pytest.raises(ValueError, match="link"):
        render(SETTINGS, "login_link", {"name": "Ann"})


def test_repr_hides_the_bodies() -> None:
    email = render(SETTINGS, "login_link", {"name": "Ann", "link": "https://h/c?token=SECRETSECRET", "code": "493817"})
    assert "SECRETSECRET" not in repr(email) and "493817" not in repr(email)


def test_a_sign_in_email_carries_its_code_on_a_line_of_its_own() -> None:
    email = render(SETTINGS, "login_link", {"name": "Ann", "link": "https://h/c?token=x", "code": "493817"})
    assert "\n\n493817\n\n" in email.text
    assert ">493817</p>" in email.html
    assert "expires in 10 minutes" in email.text and "another device" in email.text


def test_only_the_notices_carry_no_secret() -> None:
    assert [name for name, kind in KINDS.items() if not kind.carries_secret] == [
        "password_changed",
        "api_key_notice",
        "identity_linked",
        "identity_unlinked",
        "second_factor_added",
        "second_factor_removed",
        "recovery_codes_regenerated",
        "recovery_code_used",
        "second_factors_reset",
        "email_change_requested",
        "email_change_taken",
    ]


def test_every_kind_with_a_link_says_how_long_it_works() -> None:
    settings = Settings(signup_token_ttl=timedelta(hours=48), login_token_ttl=timedelta(minutes=10))
    linked = {name: kind.lifetime_text(settings) for name, kind in KINDS.items() if kind.link_path}
    assert linked == {
        "signup_confirm": "48 hours",
        "login_link": "10 minutes",
        "password_reset": "2 hours",
        "email_change_confirm": "24 hours",
        "email_changed": "7 days",
        "email_reverted": "2 hours",
        "account_deleted": "7 days",
        "new_sign_in": "7 days",
        "sign_in_disowned": "2 hours",
    }


def test_buttons_and_links_wear_the_brand_colour_readably() -> None:
    html = render(Settings(brand_color="#8a2b5c"), "login_link", context_for("login_link")).html
    assert "background:#8a2b5c;color:#ffffff;" in html and "color:#8a2b5c;" in html
    pale = Theme.from_settings(Settings(brand_color="#ffd23f"))  # too pale for white text or links on white
    html = render(Settings(brand_color="#ffd23f"), "signup_existing", context_for("signup_existing")).html
    assert f"background:#ffd23f;color:{pale.on_accent};" in html
    assert pale.link != "#ffd23f" and f"color:{pale.link};" in html


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(minutes=10), "10 minutes"),
        (timedelta(minutes=1), "1 minute"),
        (timedelta(hours=2), "2 hours"),
        (timedelta(hours=48), "48 hours"),
        (timedelta(days=7), "7 days"),
        (timedelta(seconds=90), "90 seconds"),
        (timedelta(days=730), "2 years"),
    ],
)
def test_human_duration(delta: timedelta, text: str) -> None:
    assert human_duration(delta) == text
