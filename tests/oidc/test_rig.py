"""The test OpenID provider starts, publishes its metadata and signs with keys from its JWKS."""

from __future__ import annotations

import httpx

from tests.oidc.rig import OidcProvider


def test_provider_publishes_discovery_with_pkce_and_iss_in_responses(oidc_provider: OidcProvider) -> None:
    meta = httpx.get(f"{oidc_provider.issuer}/.well-known/openid-configuration", timeout=5).json()
    assert meta["issuer"] == oidc_provider.issuer
    assert meta["code_challenge_methods_supported"] == ["S256"]
    assert meta["authorization_response_iss_parameter_supported"] is True
    keys = httpx.get(meta["jwks_uri"], timeout=5).json()["keys"]
    assert keys and all("d" not in key for key in keys)  # public keys only
