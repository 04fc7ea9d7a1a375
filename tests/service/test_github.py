"""The GitHub preset against a loopback STAND-IN for GitHub (not GitHub itself): a small HTTP server
following GitHub's documented endpoints, /login/oauth/access_token, /user and /user/emails."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest

from frontdesk.clock import FrozenClock
from frontdesk.errors import SocialSignInFailed
from frontdesk.oidc_settings import parse_providers
from frontdesk.service.oidc_client import ProviderClient


class GitHubStandIn:
    """Answers like GitHub for one user; `emails` is what /user/emails returns."""

    def __init__(self) -> None:
        self.emails: list[dict[str, Any]] = []
        self.token_requests: list[dict[str, list[str]]] = []
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def _send(self, status: int, body: object) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                stand_in.token_requests.append(form)
                if urlsplit(self.path).path != "/login/oauth/access_token" or form.get("code") != ["good-code"]:
                    self._send(200, {"error": "bad_verification_code"})  # GitHub answers errors with 200
                    return
                self._send(200, {"access_token": "gho_test", "token_type": "bearer", "scope": "read:user,user:email"})

            def do_GET(self) -> None:
                if self.headers.get("Authorization") != "Bearer gho_test":
                    self._send(401, {"message": "Bad credentials"})
                elif self.path == "/user":
                    self._send(200, {"id": 4242, "login": "Octo-Cat", "name": "The Octocat"})
                elif self.path == "/user/emails":
                    self._send(200, stand_in.emails)
                else:
                    self._send(404, {"message": "Not Found"})

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()


@pytest.fixture
def github() -> Iterator[GitHubStandIn]:
    stand_in = GitHubStandIn()
    yield stand_in
    stand_in.server.shutdown()
    stand_in.server.server_close()


@pytest.fixture
def client(github: GitHubStandIn) -> ProviderClient:
    env = {
        "FRONTDESK_OIDC_PROVIDERS": "github",
        "FRONTDESK_OIDC_GITHUB_CLIENT_ID": "gh-client",
        "FRONTDESK_OIDC_GITHUB_CLIENT_SECRET": "gh-secret",
        "FRONTDESK_OIDC_GITHUB_ISSUER": github.url,
        "FRONTDESK_OIDC_GITHUB_API_URL": github.url,
    }
    (settings,) = parse_providers(env)
    return ProviderClient(settings, FrozenClock())


REDIRECT = "http://127.0.0.1:8000/v1/oauth/github/callback"


def test_the_authorization_url_asks_for_pkce_and_the_email_scope(client: ProviderClient, github: GitHubStandIn) -> None:
    url = client.authorization_url(REDIRECT, state="s", nonce="n", code_verifier="v" * 43)
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{github.url}/login/oauth/authorize"
    assert query["code_challenge_method"] == "S256" and query["state"] == "s" and "nonce" not in query
    assert query["scope"] == "read:user user:email" and query["redirect_uri"] == REDIRECT


def test_only_a_verified_primary_email_is_taken(client: ProviderClient, github: GitHubStandIn) -> None:
    github.emails = [
        {"email": "other@example.com", "primary": False, "verified": True},
        {"email": "octo@example.com", "primary": True, "verified": True},
    ]
    tokens = client.exchange_code("good-code", REDIRECT, "v" * 43)
    assert github.token_requests[-1]["code_verifier"] == ["v" * 43]
    profile = client.profile(tokens, b"")
    assert (profile.issuer, profile.subject, profile.email, profile.email_verified) == (
        github.url,
        "4242",
        "octo@example.com",
        True,
    )
    assert profile.preferred_username == "Octo-Cat"


@pytest.mark.parametrize(
    "emails",
    [
        [{"email": "octo@example.com", "primary": True, "verified": False}],
        [{"email": "other@example.com", "primary": False, "verified": True}],
        [],
    ],
)
def test_no_verified_primary_email_means_no_email(
    client: ProviderClient, github: GitHubStandIn, emails: list[dict[str, Any]]
) -> None:
    github.emails = emails
    profile = client.profile(client.exchange_code("good-code", REDIRECT, "v" * 43), b"")
    assert (profile.email, profile.email_verified) == (None, False)


def test_a_refused_code_is_refused(client: ProviderClient) -> None:
    with pytest.raises(SocialSignInFailed) as refused:
        client.exchange_code("replayed-code", REDIRECT, "v" * 43)
    assert refused.value.reason.startswith("code_rejected")
