"""Provider settings: presets, generic discovery, and one clear line per mistake."""

from __future__ import annotations

import pytest

from frontdesk.errors import ConfigurationError
from frontdesk.oidc_settings import MICROSOFT_CONSUMERS_TENANT, parse_providers

P = "FRONTDESK_OIDC_"


def creds(*names: str) -> dict[str, str]:
    env = {f"{P}PROVIDERS": ",".join(names)}
    for name in names:
        env[f"{P}{name.upper()}_CLIENT_ID"] = f"{name}-id"
        env[f"{P}{name.upper()}_CLIENT_SECRET"] = f"{name}-secret"
    return env


def test_nothing_configured_means_no_providers() -> None:
    assert len(parse_providers({})) == 0


def test_presets_by_name_and_a_generic_provider() -> None:
    env = creds("google", "github", "corp") | {f"{P}CORP_ISSUER": "https://id.example.com/"}
    google, github, corp = parse_providers(env)
    assert (google.kind, google.issuer, google.trust_email, google.label) == (
        "oidc",
        "https://accounts.google.com",
        True,
        "Google",
    )
    assert (github.kind, github.api_url, github.trust_email) == ("github", "https://api.github.com", True)
    assert "user:email" in github.scopes
    assert (corp.kind, corp.issuer, corp.trust_email, corp.scopes) == (
        "oidc",
        "https://id.example.com",
        False,
        ("openid", "email", "profile"),
    )


def test_a_preset_by_setting_and_trust_overridden() -> None:
    env = creds("work") | {f"{P}WORK_PRESET": "gitlab", f"{P}WORK_TRUST_EMAIL": "true"}
    (work,) = parse_providers(env)
    assert (work.issuer, work.trust_email, work.label) == ("https://gitlab.com", True, "GitLab")


def test_microsoft_needs_a_tenant() -> None:
    env = creds("microsoft") | {f"{P}MICROSOFT_TENANT": "consumers"}
    (ms,) = parse_providers(env)
    assert ms.issuer == f"https://login.microsoftonline.com/{MICROSOFT_CONSUMERS_TENANT}/v2.0"
    assert ms.trust_email is False
    with pytest.raises(ConfigurationError, match="MICROSOFT_TENANT: required"):
        parse_providers(creds("microsoft"))


def test_secrets_stay_out_of_repr() -> None:
    (google,) = parse_providers(creds("google"))
    assert "google-secret" not in repr(google)


def test_every_mistake_is_one_line() -> None:
    env = {
        f"{P}PROVIDERS": "corp,Bad-Name,google,corp,plain",
        f"{P}CORP_ISSUER": "http://id.example.com",
        f"{P}CORP_TRUST_EMAIL": "maybe",
        f"{P}GOOGLE_CLIENT_ID": "x",
        f"{P}PLAIN_CLIENT_ID": "x",
        f"{P}PLAIN_CLIENT_SECRET": "y",
        f"{P}PLAIN_SCOPES": "email",
    }
    with pytest.raises(ConfigurationError) as caught:
        parse_providers(env)
    lines = str(caught.value).splitlines()[1:]
    assert lines == [
        f"{P}CORP_CLIENT_ID: required",
        f"{P}CORP_CLIENT_SECRET: required",
        f"{P}CORP_ISSUER: must use https (plain http is only accepted on loopback, for tests)",
        f"{P}CORP_TRUST_EMAIL: true or false, not 'maybe'",
        f"{P}PROVIDERS: 'Bad-Name' is not a provider name (a-z, 0-9, _; up to 32)",
        f"{P}GOOGLE_CLIENT_SECRET: required",
        f"{P}PROVIDERS: 'corp' is named twice",
        f"{P}PLAIN_ISSUER: required (or {P}PLAIN_PRESET)",
        f"{P}PLAIN_SCOPES: must include openid",
    ]


def test_apple_answers_with_a_form_post_and_any_provider_can_be_set_to() -> None:
    env = creds("apple", "corp", "github") | {
        f"{P}CORP_ISSUER": "https://id.example.com",
        f"{P}CORP_RESPONSE_MODE": "FORM_POST",
    }
    apple, corp, github = parse_providers(env)
    assert (apple.response_mode, corp.response_mode, github.response_mode) == ("form_post", "form_post", "query")
    with pytest.raises(ConfigurationError) as caught:
        parse_providers(
            creds("github", "apple") | {f"{P}GITHUB_RESPONSE_MODE": "form_post", f"{P}APPLE_RESPONSE_MODE": "fragment"}
        )
    assert str(caught.value).splitlines()[1:] == [
        f"{P}GITHUB_RESPONSE_MODE: GitHub answers with a query only",
        f"{P}APPLE_RESPONSE_MODE: query or form_post, not 'fragment'",
    ]
