"""A loopback proxy in front of the real provider that can tamper with its ID tokens (test rig only).

The real provider makes only good tokens, so the attack tests put this proxy between frontdesk
and a second instance of it, started with the proxy's URL as its issuer (`rig.start_provider(...,
issuer=proxy.url)`). The provider makes every URL from the request's Host header, which the proxy
passes on, so the browser and frontdesk only ever talk to the proxy. It forwards each request as
it is, except:

- `GET /jwks`: the provider's keys, plus the proxy's own published keys (`published`), so a token
  the proxy re-signs passes the signature check and the claim checks are what refuse it;
- `POST /token`: when `tamper` is set, the ID token in a successful token response is rewritten by
  it (`resign`: new claims, signed with a proxy key; `alter_payload`: the provider's header and
  signature kept over another payload, which no longer matches);
- `fail_token`: the token endpoint answers 503 with an HTML page, as a provider in an outage does.

No cryptography is written here: joserfc verifies the provider's token and signs the new one.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
from joserfc import jwt
from joserfc.jwk import KeySet, RSAKey
from joserfc.util import json_b64encode

HOP_BY_HOP = frozenset(
    {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "content-length", "content-encoding"}
)
Tamper = Callable[[str], str]


def new_key(kid: str) -> RSAKey:
    return RSAKey.generate_key(2048, parameters={"kid": kid, "alg": "RS256", "use": "sig"})


class TamperProxy:
    """The proxy: `url` is the issuer frontdesk is configured with; `upstream` the provider itself."""

    def __init__(self) -> None:
        self.upstream = ""
        self.key = new_key("tamper-published")  # published in the JWKS (unless `published` is changed)
        self.published: list[RSAKey] = [self.key]
        self.tamper: Tamper | None = None
        self.fail_token = False
        self.jwks_fetches = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_GET(self) -> None:
                proxy.forward(self)

            def do_POST(self) -> None:
                proxy.forward(self)

            def log_message(self, *_: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, name="tamper-proxy", daemon=True)
        self.thread.start()

    def reset(self) -> None:
        self.published = [self.key]
        self.tamper = None
        self.fail_token = False
        self.jwks_fetches = 0

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()

    # -- forwarding ------------------------------------------------------------------------------

    def forward(self, handler: BaseHTTPRequestHandler) -> None:
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        path = handler.path.split("?", 1)[0]
        if handler.command == "POST" and path == "/token" and self.fail_token:
            page = b"<html><body>Service Unavailable</body></html>"
            self._answer(handler, 503, [("Content-Type", "text/html")], page)
            return
        headers = [(k, v) for k, v in handler.headers.items() if k.lower() not in HOP_BY_HOP]
        with httpx.Client(timeout=10, follow_redirects=False) as client:
            answer = client.request(handler.command, self.upstream + handler.path, headers=headers, content=body)
        content = answer.content
        if handler.command == "GET" and path == "/jwks" and answer.status_code == 200:
            self.jwks_fetches += 1
            keys = answer.json()["keys"] + [key.as_dict(private=False) for key in self.published]
            content = json.dumps({"keys": keys}).encode()
        elif handler.command == "POST" and path == "/token" and answer.status_code == 200 and self.tamper:
            tokens = answer.json()
            tokens["id_token"] = self.tamper(tokens["id_token"])
            content = json.dumps(tokens).encode()
        kept = [(k, v) for k, v in answer.headers.multi_items() if k.lower() not in HOP_BY_HOP]
        self._answer(handler, answer.status_code, kept, content)

    @staticmethod
    def _answer(handler: BaseHTTPRequestHandler, status: int, headers: list[tuple[str, str]], body: bytes) -> None:
        handler.send_response(status)
        for name, value in headers:
            handler.send_header(name, value)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    # -- tampering -------------------------------------------------------------------------------

    def claims_of(self, id_token: str) -> dict[str, Any]:
        """The provider's token's claims, after checking its signature with the provider's own JWKS."""
        keys = KeySet.import_key_set(httpx.get(self.upstream + "/jwks", timeout=10).json())
        return dict(jwt.decode(id_token, keys).claims)

    def resign(self, key: RSAKey | None = None, **changes: Any) -> Tamper:
        """New claims (the provider's, with `changes`; None removes one), signed with `key`
        (by default the proxy's published key, so only the claims can be wrong)."""
        signer = key or self.key

        def rewrite(id_token: str) -> str:
            claims = {**self.claims_of(id_token), **changes}
            claims = {name: value for name, value in claims.items() if value is not None}
            return jwt.encode({"alg": "RS256", "kid": signer.kid}, claims, signer)

        return rewrite

    def alter_payload(self, **changes: Any) -> Tamper:
        """The provider's header and signature over a changed payload (the signature no longer matches)."""

        def rewrite(id_token: str) -> str:
            header, _, signature = id_token.split(".")
            payload = json_b64encode({**self.claims_of(id_token), **changes}).decode()
            return f"{header}.{payload}.{signature}"

        return rewrite
