"""Talking to one sign-in provider: discovery, the authorization URL (PKCE S256), the code exchange,
and what we learn about the person: a validated ID token (OpenID Connect) or GitHub's user API.

Authlib builds the authorization request and exchanges the code; joserfc checks the ID token's
signature against the provider's JWKS and its registered claims. Nothing here touches the database.
"""

from __future__ import annotations

import logging
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import httpx
from authlib.integrations.httpx_client import OAuth2Client, OAuthError
from joserfc import jwt
from joserfc.errors import InvalidKeyIdError, JoseError
from joserfc.jwk import KeySet

from frontdesk import crypto
from frontdesk.clock import Clock
from frontdesk.errors import ProviderUnavailable, SocialSignInFailed
from frontdesk.oidc_settings import OidcProviders, ProviderSettings

log = logging.getLogger(__name__)

HTTP_TIMEOUT = 10.0  # seconds, for each call to a provider
METADATA_TTL = timedelta(hours=1)
JWKS_REFRESH_MIN_INTERVAL = 60.0  # seconds: unknown `kid`s refetch the JWKS at most this often
ID_TOKEN_LEEWAY = 60  # seconds of clock skew allowed on exp / iat / nbf
ID_TOKEN_MAX_AGE = timedelta(minutes=10)  # an older `iat` is refused (the flow itself lives 10 minutes)
# Asymmetric algorithms only: never `none`, never HS* (the client secret is not a signing key here).
SIGNING_ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA")


@dataclass(frozen=True, slots=True)
class Profile:
    """Who the provider says signed in. (issuer, subject) names the identity; the rest is information."""

    issuer: str
    subject: str
    email: str | None
    email_verified: bool
    preferred_username: str | None
    name: str | None
    auth_time: int | None = None  # when the person last signed in at the provider (Unix seconds), if said


def _json(response: httpx.Response, what: str) -> dict[str, Any]:
    if response.status_code != 200:
        raise ProviderUnavailable(f"{what}_status_{response.status_code}")
    try:
        body = response.json()
    except ValueError:
        raise ProviderUnavailable(f"{what}_not_json") from None
    if not isinstance(body, dict):
        raise ProviderUnavailable(f"{what}_not_object")
    return body


class ProviderClient:
    """One configured provider. Thread-safe; caches discovery (an hour) and the JWKS (until a new `kid`)."""

    def __init__(
        self, settings: ProviderSettings, clock: Clock, *, transport: httpx.BaseTransport | None = None
    ) -> None:
        self.settings = settings
        self._clock = clock
        self._transport = transport
        self._lock = threading.Lock()
        self._metadata: tuple[dict[str, Any], datetime] | None = None
        self._keys: KeySet | None = None
        self._last_refresh = -JWKS_REFRESH_MIN_INTERVAL

    def __repr__(self) -> str:
        return f"ProviderClient({self.settings.name!r}, issuer={self.settings.issuer!r})"

    def _http(self) -> httpx.Client:
        return httpx.Client(timeout=HTTP_TIMEOUT, transport=self._transport, follow_redirects=False)

    def _oauth(self, redirect_uri: str) -> OAuth2Client:
        s = self.settings
        return OAuth2Client(
            client_id=s.client_id,
            client_secret=s.client_secret,
            scope=" ".join(s.scopes),
            redirect_uri=redirect_uri,
            code_challenge_method="S256",
            token_endpoint_auth_method=self._client_auth_method(),
            timeout=HTTP_TIMEOUT,
            transport=self._transport,
        )

    def _client_auth_method(self) -> str:
        """`client_secret_basic` (the default of RFC 8414 and OpenID Connect Discovery), unless the
        provider's metadata offers only `client_secret_post` (Apple)."""
        if self.settings.kind != "oidc":
            return "client_secret_basic"
        offered = self.metadata().get("token_endpoint_auth_methods_supported")
        if isinstance(offered, list) and "client_secret_basic" not in offered and "client_secret_post" in offered:
            return "client_secret_post"
        return "client_secret_basic"

    # -- discovery -----------------------------------------------------------------------------

    def metadata(self) -> dict[str, Any]:
        """The provider's metadata (OpenID Connect discovery; GitHub's fixed endpoints)."""
        s = self.settings
        if s.kind == "github":
            return {
                "issuer": s.issuer,
                "authorization_endpoint": f"{s.issuer}/login/oauth/authorize",
                "token_endpoint": f"{s.issuer}/login/oauth/access_token",
            }
        now = self._clock.now()
        with self._lock:
            if self._metadata is not None and now - self._metadata[1] < METADATA_TTL:
                return self._metadata[0]
        try:
            with self._http() as http:
                meta = _json(http.get(f"{s.issuer}/.well-known/openid-configuration"), "discovery")
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"discovery_{type(exc).__name__}") from None
        # OpenID Connect Discovery 1.0, section 4.3: the document must name the issuer we asked
        if meta.get("issuer") != s.issuer:
            raise ProviderUnavailable("discovery_issuer_mismatch")
        for key in ("authorization_endpoint", "token_endpoint", "jwks_uri"):
            if not isinstance(meta.get(key), str):
                raise ProviderUnavailable(f"discovery_without_{key}")
        with self._lock:
            self._metadata = (meta, now)
        return meta

    def known_metadata(self) -> dict[str, Any] | None:
        """The metadata if it is known without asking the provider (GitHub's fixed endpoints, or the
        last discovery, however old); None before the first discovery. Never touches the network."""
        if self.settings.kind == "github":
            return self.metadata()
        with self._lock:
            return self._metadata[0] if self._metadata is not None else None

    def requires_response_iss(self) -> bool:
        """RFC 9207: the provider promises `iss` in every authorization response."""
        return self.metadata().get("authorization_response_iss_parameter_supported") is True

    # -- the authorization request and response ------------------------------------------------

    def authorization_url(
        self, redirect_uri: str, *, state: str, nonce: str, code_verifier: str, reauthenticate: bool = False
    ) -> str:
        """The authorization request (PKCE S256, `state`, `nonce`). `reauthenticate` asks the provider
        to make the person sign in again now (`prompt=login`, `max_age=0`: the ID token then says
        when, in `auth_time`)."""
        extra: dict[str, str] = {}
        if self.settings.kind == "oidc":
            extra["nonce"] = nonce
            if self.settings.response_mode == "form_post":
                extra["response_mode"] = "form_post"
            if reauthenticate:
                extra.update(prompt="login", max_age="0")
        with self._oauth(redirect_uri) as client:
            url, _ = client.create_authorization_url(
                self.metadata()["authorization_endpoint"], state=state, code_verifier=code_verifier, **extra
            )
        return str(url)

    def check_response_issuer(self, iss: str | None) -> None:
        """RFC 9207 mix-up defence: a sent `iss` must be this provider's; a promised one must be sent."""
        if iss is None:
            if self.settings.kind == "oidc" and self.requires_response_iss():
                raise SocialSignInFailed("iss_missing")
            return
        if iss != self.settings.issuer:
            raise SocialSignInFailed("iss_mismatch")

    def exchange_code(self, code: str, redirect_uri: str, code_verifier: str) -> dict[str, Any]:
        """The token response for `code` (sent with the PKCE verifier and the client's credentials)."""
        try:
            with self._oauth(redirect_uri) as client:
                token = client.fetch_token(
                    self.metadata()["token_endpoint"],
                    grant_type="authorization_code",
                    code=code,
                    code_verifier=code_verifier,
                    headers={"Accept": "application/json"},
                )
        except OAuthError as exc:
            if exc.error in ("server_error", "temporarily_unavailable"):  # RFC 6749 5.2 and 4.1.2.1
                raise ProviderUnavailable(f"token_{exc.error}") from None
            raise SocialSignInFailed(f"code_rejected_{exc.error or 'error'}"[:64]) from None
        except httpx.HTTPStatusError as exc:  # an answer that is no OAuth error (a 503 page)
            raise ProviderUnavailable(f"token_status_{exc.response.status_code}") from None
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"token_{type(exc).__name__}") from None
        except ValueError:
            raise ProviderUnavailable("token_not_json") from None
        return dict(token)

    # -- who signed in -------------------------------------------------------------------------

    def profile(self, tokens: dict[str, Any], nonce_hash: bytes) -> Profile:
        if self.settings.kind == "github":
            return self._github_profile(tokens)
        id_token = tokens.get("id_token")
        if not isinstance(id_token, str):
            raise SocialSignInFailed("no_id_token")
        claims = self.validate_id_token(id_token, nonce_hash)
        if "email" not in claims:
            claims = {**self._userinfo(tokens, claims["sub"]), **claims}
        email = claims.get("email")
        auth_time = claims.get("auth_time")
        return Profile(
            issuer=self.settings.issuer,
            subject=str(claims["sub"]),
            email=email if isinstance(email, str) and email else None,
            # a JSON boolean (OpenID Connect Core 5.1); Apple documents the string "true" as well
            email_verified=claims.get("email_verified") in (True, "true"),
            preferred_username=_text(claims.get("preferred_username")),
            name=_text(claims.get("name")),
            auth_time=auth_time if isinstance(auth_time, int) and not isinstance(auth_time, bool) else None,
        )

    def _userinfo(self, tokens: dict[str, Any], subject: str) -> dict[str, Any]:
        """The UserInfo claims (OpenID Connect Core 5.3), for providers that leave email out of the
        ID token; only if they are about the ID token's subject. Empty when there is no endpoint."""
        endpoint = self.metadata().get("userinfo_endpoint")
        access_token = tokens.get("access_token")
        if not isinstance(endpoint, str) or not isinstance(access_token, str):
            return {}
        try:
            with self._http() as http:
                info = _json(http.get(endpoint, headers={"Authorization": f"Bearer {access_token}"}), "userinfo")
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"userinfo_{type(exc).__name__}") from None
        if info.get("sub") != subject:
            raise SocialSignInFailed("userinfo_sub_mismatch")
        return {key: info[key] for key in ("email", "email_verified", "preferred_username", "name") if key in info}

    def _keyset(self, *, refresh: bool = False) -> KeySet:
        with self._lock:
            if self._keys is not None and not refresh:
                return self._keys
            if self._keys is not None and time.monotonic() - self._last_refresh < JWKS_REFRESH_MIN_INTERVAL:
                return self._keys  # tokens naming unknown keys cannot make us fetch in a loop
            if refresh:
                self._last_refresh = time.monotonic()
        try:
            with self._http() as http:
                body = _json(http.get(self.metadata()["jwks_uri"]), "jwks")
            keys = KeySet.import_key_set(body)  # type: ignore[arg-type]
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"jwks_{type(exc).__name__}") from None
        except (JoseError, ValueError, KeyError, TypeError):
            raise ProviderUnavailable("jwks_unusable") from None
        with self._lock:
            self._keys = keys
        return keys

    def _algorithms(self) -> list[str]:
        offered = self.metadata().get("id_token_signing_alg_values_supported") or ["RS256"]
        return [alg for alg in SIGNING_ALGORITHMS if alg in offered]

    def validate_id_token(self, id_token: str, nonce_hash: bytes) -> dict[str, Any]:
        """The ID token's claims after every check of OpenID Connect Core 3.1.3.7, or SocialSignInFailed.

        Signature by a key of the provider's JWKS (refetched once when the token names an unknown
        key: the provider rotated), iss, aud, azp, exp, iat (not in the future, not older than
        ten minutes), nbf, and the nonce of this flow.
        """
        algorithms = self._algorithms()
        try:
            try:
                token = jwt.decode(id_token, self._keyset(), algorithms=algorithms)
            except InvalidKeyIdError:
                token = jwt.decode(id_token, self._keyset(refresh=True), algorithms=algorithms)
        except InvalidKeyIdError:
            raise SocialSignInFailed("id_token_unknown_key") from None
        except (JoseError, ValueError):
            raise SocialSignInFailed("id_token_signature") from None
        claims = token.claims
        now = self._clock.now()
        registry = jwt.JWTClaimsRegistry(
            now=int(now.timestamp()),
            leeway=ID_TOKEN_LEEWAY,
            iss={"essential": True, "value": self.settings.issuer},
            aud={"essential": True, "value": self.settings.client_id},
            sub={"essential": True},
            exp={"essential": True},
            iat={"essential": True},
            nonce={"essential": True},
        )
        try:
            registry.validate(claims)
        except JoseError as exc:
            raise SocialSignInFailed(f"id_token_{getattr(exc, 'claim', 'claims')}") from None
        audiences = claims["aud"] if isinstance(claims["aud"], list) else [claims["aud"]]
        azp = claims.get("azp")
        if (len(audiences) > 1 or azp is not None) and azp != self.settings.client_id:
            raise SocialSignInFailed("id_token_azp")
        if claims["iat"] < (now - ID_TOKEN_MAX_AGE).timestamp() - ID_TOKEN_LEEWAY:
            raise SocialSignInFailed("id_token_iat")
        nonce = claims["nonce"]
        if not isinstance(nonce, str) or not crypto.equals(crypto.digest(nonce), nonce_hash):
            raise SocialSignInFailed("nonce_mismatch")
        if not isinstance(claims["sub"], str) or not 0 < len(claims["sub"]) <= 255:
            raise SocialSignInFailed("id_token_sub")
        return claims

    def _github_profile(self, tokens: dict[str, Any]) -> Profile:
        """GitHub has no ID token: `GET /user` names the account, `GET /user/emails` its verified primary email."""
        access_token = tokens.get("access_token")
        if not isinstance(access_token, str):
            raise SocialSignInFailed("no_access_token")
        headers = {
            "Authorization": f"Bearer {access_token}",
            "Accept": "application/vnd.github+json",
            "X-GitHub-Api-Version": "2022-11-28",
        }
        api = self.settings.api_url
        try:
            with self._http() as http:
                user = _json(http.get(f"{api}/user", headers=headers), "github_user")
                emails_response = http.get(f"{api}/user/emails", headers=headers)
        except httpx.HTTPError as exc:
            raise ProviderUnavailable(f"github_{type(exc).__name__}") from None
        user_id = user.get("id")
        if not isinstance(user_id, int) or isinstance(user_id, bool):
            raise ProviderUnavailable("github_user_without_id")
        email: str | None = None
        if emails_response.status_code == 200:
            try:
                entries = emails_response.json()
            except ValueError:
                entries = []
            for entry in entries if isinstance(entries, list) else []:
                if isinstance(entry, dict) and entry.get("primary") is True and entry.get("verified") is True:
                    email = _text(entry.get("email"))
        return Profile(
            issuer=self.settings.issuer,
            subject=str(user_id),
            email=email,
            email_verified=email is not None,  # only a verified primary address is ever taken
            preferred_username=_text(user.get("login")),
            name=_text(user.get("name")),
        )


def _text(value: object) -> str | None:
    return value if isinstance(value, str) and value.strip() else None


class ProviderClients:
    """A client per configured provider, by name (one per process: each caches its provider's keys)."""

    def __init__(self, providers: OidcProviders, clock: Clock, *, transport: httpx.BaseTransport | None = None) -> None:
        self.providers = providers
        self._clients = {p.name: ProviderClient(p, clock, transport=transport) for p in providers}

    def get(self, name: str) -> ProviderClient | None:
        return self._clients.get(name)
