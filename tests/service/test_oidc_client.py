"""ID token validation, with keys minted here and a loopback stand-in publishing discovery and the JWKS.

The stand-in is a plain HTTP server on 127.0.0.1 serving two JSON documents; the real provider
(tests/oidc) proves the whole flow, these tests prove each forgery is refused.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey

from frontdesk import crypto
from frontdesk.clock import FrozenClock
from frontdesk.errors import ProviderUnavailable, SocialSignInFailed
from frontdesk.oidc_settings import parse_providers
from frontdesk.service.oidc_client import ProviderClient

CLIENT_ID = "frontdesk"
NONCE = "the-flows-nonce"
NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


class StandIn:
    """A loopback HTTP server answering GET with the JSON document stored for the path."""

    def __init__(self) -> None:
        self.documents: dict[str, Any] = {}
        self.hits: list[str] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                stand_in.hits.append(self.path)
                body = stand_in.documents.get(self.path)
                data = json.dumps(body).encode() if body is not None else b"{}"
                self.send_response(200 if body is not None else 404)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.issuer = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def publish(self, *keys: RSAKey) -> None:
        self.documents["/jwks"] = {"keys": [key.as_dict(private=False) for key in keys]}

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def stand_in() -> Iterator[StandIn]:
    server = StandIn()
    server.documents["/.well-known/openid-configuration"] = {
        "issuer": server.issuer,
        "authorization_endpoint": f"{server.issuer}/auth",
        "token_endpoint": f"{server.issuer}/token",
        "jwks_uri": f"{server.issuer}/jwks",
        "id_token_signing_alg_values_supported": ["RS256", "HS256", "none"],
    }
    yield server
    server.stop()


@pytest.fixture
def key(stand_in: StandIn) -> RSAKey:
    key = RSAKey.generate_key(2048, parameters={"kid": "one"})
    stand_in.publish(key)
    return key


@pytest.fixture
def client(stand_in: StandIn) -> ProviderClient:
    env = {
        "FRONTDESK_OIDC_PROVIDERS": "corp",
        "FRONTDESK_OIDC_CORP_ISSUER": stand_in.issuer,
        "FRONTDESK_OIDC_CORP_CLIENT_ID": CLIENT_ID,
        "FRONTDESK_OIDC_CORP_CLIENT_SECRET": "secret",
    }
    (settings,) = parse_providers(env)
    return ProviderClient(settings, FrozenClock(NOW))


def claims(stand_in: StandIn, **changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "iss": stand_in.issuer,
        "sub": "user-1",
        "aud": CLIENT_ID,
        "iat": int(NOW.timestamp()) - 5,
        "exp": int(NOW.timestamp()) + 300,
        "nonce": NONCE,
        "email": "a@example.com",
        "email_verified": True,
    }
    base.update(changes)
    return {k: v for k, v in base.items() if v is not None}


def sign(key: RSAKey | OctKey, body: dict[str, Any], alg: str = "RS256") -> str:
    return jwt.encode({"alg": alg, "kid": key.kid}, body, key, algorithms=[alg])


NONCE_HASH = crypto.digest(NONCE)


def test_a_good_id_token_is_accepted(client: ProviderClient, stand_in: StandIn, key: RSAKey) -> None:
    assert client.validate_id_token(sign(key, claims(stand_in)), NONCE_HASH)["sub"] == "user-1"


@pytest.mark.parametrize(
    ("changes", "reason"),
    [
        ({"aud": "another-client"}, "id_token_aud"),
        ({"iss": "https://attacker.example.com"}, "id_token_iss"),
        ({"exp": int(NOW.timestamp()) - 120}, "id_token_exp"),
        ({"iat": int(NOW.timestamp()) + 600}, "id_token_iat"),
        ({"iat": int((NOW - timedelta(hours=2)).timestamp())}, "id_token_iat"),
        ({"nonce": "another-flows-nonce"}, "nonce_mismatch"),
        ({"nonce": None}, "id_token_nonce"),
        ({"aud": [CLIENT_ID, "other"]}, "id_token_azp"),
        ({"azp": "other"}, "id_token_azp"),
    ],
)
def test_forged_claims_are_refused(
    client: ProviderClient, stand_in: StandIn, key: RSAKey, changes: dict[str, Any], reason: str
) -> None:
    with pytest.raises(SocialSignInFailed) as refused:
        client.validate_id_token(sign(key, claims(stand_in, **changes)), NONCE_HASH)
    assert refused.value.reason == reason


def test_several_audiences_are_accepted_when_azp_names_us(
    client: ProviderClient, stand_in: StandIn, key: RSAKey
) -> None:
    token = sign(key, claims(stand_in, aud=[CLIENT_ID, "other"], azp=CLIENT_ID))
    assert client.validate_id_token(token, NONCE_HASH)["azp"] == CLIENT_ID


def test_a_signature_by_another_key_with_the_same_kid_is_refused(
    client: ProviderClient, stand_in: StandIn, key: RSAKey
) -> None:
    impostor = RSAKey.generate_key(2048, parameters={"kid": "one"})
    with pytest.raises(SocialSignInFailed) as refused:
        client.validate_id_token(sign(impostor, claims(stand_in)), NONCE_HASH)
    assert refused.value.reason == "id_token_signature"


def test_a_tampered_payload_is_refused(client: ProviderClient, stand_in: StandIn, key: RSAKey) -> None:
    header, _, signature = sign(key, claims(stand_in)).split(".")
    other_payload = sign(key, claims(stand_in, sub="admin")).split(".")[1]
    with pytest.raises(SocialSignInFailed):
        client.validate_id_token(f"{header}.{other_payload}.{signature}", NONCE_HASH)


def test_symmetric_and_unsigned_tokens_are_refused(client: ProviderClient, stand_in: StandIn, key: RSAKey) -> None:
    """HS256 with the client secret (or anything) and alg "none" are never accepted, even if advertised."""
    secret = OctKey.import_key("secret" * 6, parameters={"kid": "one"})
    with pytest.raises(SocialSignInFailed):
        client.validate_id_token(sign(secret, claims(stand_in), alg="HS256"), NONCE_HASH)
    unsigned = sign(key, claims(stand_in)).rsplit(".", 1)[0].split(".")[1]
    none_header = "eyJhbGciOiJub25lIn0"  # {"alg":"none"}
    with pytest.raises(SocialSignInFailed):
        client.validate_id_token(f"{none_header}.{unsigned}.", NONCE_HASH)


def test_a_rotated_key_is_fetched_once_when_a_token_names_it(
    client: ProviderClient, stand_in: StandIn, key: RSAKey
) -> None:
    client.validate_id_token(sign(key, claims(stand_in)), NONCE_HASH)  # caches the JWKS with "one"
    new_key = RSAKey.generate_key(2048, parameters={"kid": "two"})
    stand_in.publish(key, new_key)
    assert client.validate_id_token(sign(new_key, claims(stand_in)), NONCE_HASH)["sub"] == "user-1"
    assert stand_in.hits.count("/jwks") == 2


def test_an_unknown_kid_is_refused_after_one_refetch(client: ProviderClient, stand_in: StandIn, key: RSAKey) -> None:
    stranger = RSAKey.generate_key(2048, parameters={"kid": "stranger"})
    with pytest.raises(SocialSignInFailed) as refused:
        client.validate_id_token(sign(stranger, claims(stand_in)), NONCE_HASH)
    assert refused.value.reason == "id_token_unknown_key"
    with pytest.raises(SocialSignInFailed):  # again at once: no new fetch (no fetch loop on demand)
        client.validate_id_token(sign(stranger, claims(stand_in)), NONCE_HASH)
    assert stand_in.hits.count("/jwks") == 2


def test_discovery_naming_another_issuer_or_unreachable_is_an_outage(stand_in: StandIn, client: ProviderClient) -> None:
    stand_in.documents["/.well-known/openid-configuration"]["issuer"] = "https://elsewhere.example.com"
    with pytest.raises(ProviderUnavailable) as refused:
        client.metadata()
    assert refused.value.reason == "discovery_issuer_mismatch"
    stand_in.stop()
    with pytest.raises(ProviderUnavailable):
        ProviderClient(client.settings, FrozenClock(NOW)).metadata()


def test_apples_settings_shape_the_authorization_request_and_the_client_authentication(stand_in: StandIn) -> None:
    """form_post, a fresh sign-in asked for (prompt=login, max_age=0), and client_secret_post when the
    metadata offers only that (as Apple's does)."""
    env = {
        "FRONTDESK_OIDC_PROVIDERS": "corp",
        "FRONTDESK_OIDC_CORP_ISSUER": stand_in.issuer,
        "FRONTDESK_OIDC_CORP_CLIENT_ID": CLIENT_ID,
        "FRONTDESK_OIDC_CORP_CLIENT_SECRET": "secret",
        "FRONTDESK_OIDC_CORP_RESPONSE_MODE": "form_post",
    }
    (settings,) = parse_providers(env)
    client = ProviderClient(settings, FrozenClock(NOW))
    url = client.authorization_url("https://fd.example/cb", state="s", nonce="n", code_verifier="v" * 43)
    assert "response_mode=form_post" in url and "prompt=" not in url
    again = client.authorization_url(
        "https://fd.example/cb", state="s", nonce="n", code_verifier="v" * 43, reauthenticate=True
    )
    assert "prompt=login" in again and "max_age=0" in again
    assert client._client_auth_method() == "client_secret_basic"
    stand_in.documents["/.well-known/openid-configuration"]["token_endpoint_auth_methods_supported"] = [
        "client_secret_post"
    ]
    fresh = ProviderClient(settings, FrozenClock(NOW))
    assert fresh._client_auth_method() == "client_secret_post"


def test_apples_string_email_verified_counts_and_auth_time_is_read(
    client: ProviderClient, stand_in: StandIn, key: RSAKey
) -> None:
    token = sign(key, claims(stand_in, email_verified="true", auth_time=int(NOW.timestamp()) - 30))
    profile = client.profile({"id_token": token}, NONCE_HASH)
    assert (profile.email_verified, profile.auth_time) == (True, int(NOW.timestamp()) - 30)
    token = sign(key, claims(stand_in, email_verified="false"))
    assert client.profile({"id_token": token}, NONCE_HASH).email_verified is False
