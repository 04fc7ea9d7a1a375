"""Social sign-in providers, from the environment (contract section 8).

    FRONTDESK_OIDC_PROVIDERS=google,github,corp
    FRONTDESK_OIDC_<NAME>_CLIENT_ID, _CLIENT_SECRET      required
    FRONTDESK_OIDC_<NAME>_ISSUER                         OpenID Connect discovery (generic providers)
    FRONTDESK_OIDC_<NAME>_PRESET                         google, microsoft, apple, gitlab or github;
                                                         a provider named like a preset uses it
    FRONTDESK_OIDC_<NAME>_TRUST_EMAIL                    true/false: may its verified email sign in
                                                         to an existing account? (presets say;
                                                         generic providers default to false)
    FRONTDESK_OIDC_<NAME>_TENANT                         microsoft: the directory (tenant) id, or
                                                         "consumers" for personal accounts
    FRONTDESK_OIDC_<NAME>_LABEL, _SCOPES                 optional: button text, requested scopes
    FRONTDESK_OIDC_<NAME>_API_URL                        github: the REST API base (GitHub Enterprise)
    FRONTDESK_OIDC_<NAME>_RESPONSE_MODE                  query or form_post (how the provider sends the
                                                         browser back; apple: form_post)

Like `settings.py`, this module reads `os.environ` (the provider names are only known at run time,
so these variables cannot be fields of `Settings`). Every mistake is reported, one line each.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

from frontdesk.errors import ConfigurationError

NAME_RULE = re.compile(r"[a-z][a-z0-9_]{0,31}")
PREFIX = "FRONTDESK_OIDC_"
MICROSOFT_CONSUMERS_TENANT = "9188040d-6c67-4c5b-b112-36a304b66dad"
_TRUE = frozenset({"1", "true", "yes", "on"})
_FALSE = frozenset({"0", "false", "no", "off"})
# How the authorization response comes back: `query` (a GET redirect) or `form_post` (a POST of a
# form, OAuth 2.0 Form Post Response Mode; Apple's only mode when email or name is asked for).
ResponseMode = Literal["query", "form_post"]


@dataclass(frozen=True, slots=True)
class Preset:
    label: str
    kind: Literal["oidc", "github"]
    issuer: str
    scopes: tuple[str, ...]
    trust_email: bool
    response_mode: ResponseMode = "query"


# Trust: Google and GitHub only report addresses they verified and that the person controls;
# Microsoft's `email` claim is not verified (any tenant admin can set it), GitLab and Apple
# relay or self-managed instances vary, so linking by email stays off unless the operator says so.
PRESETS: Mapping[str, Preset] = {
    "google": Preset("Google", "oidc", "https://accounts.google.com", ("openid", "email", "profile"), True),
    "microsoft": Preset(
        "Microsoft", "oidc", "https://login.microsoftonline.com/{tenant}/v2.0", ("openid", "email", "profile"), False
    ),
    "apple": Preset("Apple", "oidc", "https://appleid.apple.com", ("openid", "email"), False, "form_post"),
    "gitlab": Preset("GitLab", "oidc", "https://gitlab.com", ("openid", "email", "profile"), False),
    "github": Preset("GitHub", "github", "https://github.com", ("read:user", "user:email"), True),
}
GENERIC_SCOPES = ("openid", "email", "profile")


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """One configured provider. `kind` "oidc" uses discovery at `issuer`; "github" is OAuth 2 plus GitHub's API."""

    name: str
    label: str
    kind: Literal["oidc", "github"]
    issuer: str
    client_id: str
    client_secret: str = field(repr=False)
    trust_email: bool
    scopes: tuple[str, ...]
    api_url: str = "https://api.github.com"
    response_mode: ResponseMode = "query"

    def __repr__(self) -> str:
        return f"ProviderSettings(name={self.name!r}, kind={self.kind!r}, issuer={self.issuer!r})"


@dataclass(frozen=True, slots=True)
class OidcProviders:
    """The configured providers, by name, in the order given."""

    providers: tuple[ProviderSettings, ...] = ()

    def get(self, name: str) -> ProviderSettings | None:
        return next((p for p in self.providers if p.name == name), None)

    def __iter__(self) -> Iterator[ProviderSettings]:
        return iter(self.providers)

    def __len__(self) -> int:
        return len(self.providers)


def _url_problem(value: str, var: str) -> str | None:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        return f"{var}: must be an absolute https URL"
    local = parts.hostname in ("localhost", "127.0.0.1", "::1")
    if parts.scheme == "http" and not local:
        return f"{var}: must use https (plain http is only accepted on loopback, for tests)"
    if parts.query or parts.fragment:
        return f"{var}: must not have a query or fragment"
    return None


def _bool(value: str) -> bool | None:
    lowered = value.strip().lower()
    return True if lowered in _TRUE else False if lowered in _FALSE else None


def parse_providers(env: Mapping[str, str]) -> OidcProviders:
    """The providers named in `FRONTDESK_OIDC_PROVIDERS`; ConfigurationError listing every mistake."""
    names = [n.strip() for n in env.get(f"{PREFIX}PROVIDERS", "").split(",") if n.strip()]
    problems: list[str] = []
    providers: list[ProviderSettings] = []
    seen: set[str] = set()
    for name in names:
        if not NAME_RULE.fullmatch(name):
            problems.append(f"{PREFIX}PROVIDERS: {name!r} is not a provider name (a-z, 0-9, _; up to 32)")
            continue
        if name in seen:
            problems.append(f"{PREFIX}PROVIDERS: {name!r} is named twice")
            continue
        seen.add(name)
        provider = _parse_one(name, env, problems)
        if provider is not None:
            providers.append(provider)
    if problems:
        raise ConfigurationError("bad social sign-in configuration:\n" + "\n".join(problems))
    return OidcProviders(tuple(providers))


def _parse_one(name: str, env: Mapping[str, str], problems: list[str]) -> ProviderSettings | None:
    var = f"{PREFIX}{name.upper()}_"
    before = len(problems)

    def value(key: str) -> str:
        return env.get(var + key, "").strip()

    preset_name = value("PRESET").lower() or (name if name in PRESETS else "")
    preset = PRESETS.get(preset_name) if preset_name else None
    if preset_name and preset is None:
        problems.append(f"{var}PRESET: {preset_name!r} is not one of {', '.join(PRESETS)}")
    client_id, client_secret = value("CLIENT_ID"), value("CLIENT_SECRET")
    if not client_id:
        problems.append(f"{var}CLIENT_ID: required")
    if not client_secret:
        problems.append(f"{var}CLIENT_SECRET: required")
    issuer = value("ISSUER")
    if not issuer and preset is not None:
        issuer = preset.issuer
        if "{tenant}" in issuer:
            tenant = value("TENANT")
            if not tenant:
                problems.append(f"{var}TENANT: required for the microsoft preset (a tenant id, or consumers)")
            elif not re.fullmatch(r"[0-9a-fA-F-]{36}|consumers", tenant):
                problems.append(f'{var}TENANT: a tenant id (GUID) or consumers ("common" cannot be validated)')
            issuer = issuer.format(tenant=MICROSOFT_CONSUMERS_TENANT if tenant == "consumers" else tenant)
    if not issuer:
        problems.append(f"{var}ISSUER: required (or {var}PRESET)")
    elif (problem := _url_problem(issuer, f"{var}ISSUER")) is not None:
        problems.append(problem)
    trust_text = value("TRUST_EMAIL")
    trust = preset.trust_email if preset is not None else False
    if trust_text:
        parsed = _bool(trust_text)
        if parsed is None:
            problems.append(f"{var}TRUST_EMAIL: true or false, not {trust_text!r}")
        else:
            trust = parsed
    kind = preset.kind if preset is not None else "oidc"
    scopes = tuple(value("SCOPES").replace(",", " ").split()) or (preset.scopes if preset else GENERIC_SCOPES)
    if kind == "oidc" and "openid" not in scopes:
        problems.append(f"{var}SCOPES: must include openid")
    api_url = value("API_URL") or "https://api.github.com"
    if kind == "github" and (problem := _url_problem(api_url, f"{var}API_URL")) is not None:
        problems.append(problem)
    mode_text = value("RESPONSE_MODE").lower()
    response_mode: ResponseMode = preset.response_mode if preset is not None else "query"
    if mode_text == "form_post":
        response_mode = "form_post"
    elif mode_text == "query":
        response_mode = "query"
    elif mode_text:
        problems.append(f"{var}RESPONSE_MODE: query or form_post, not {mode_text!r}")
    if kind == "github" and response_mode != "query":
        problems.append(f"{var}RESPONSE_MODE: GitHub answers with a query only")
    if len(problems) > before:
        return None
    return ProviderSettings(
        name=name,
        label=value("LABEL") or (preset.label if preset else name.replace("_", " ").title()),
        kind=kind,
        issuer=issuer.rstrip("/"),
        client_id=client_id,
        client_secret=client_secret,
        trust_email=trust,
        scopes=scopes,
        api_url=api_url.rstrip("/"),
        response_mode=response_mode,
    )


def load_providers() -> OidcProviders:
    """The providers configured in this process's environment (what `frontdesk serve` uses)."""
    return parse_providers(os.environ)
