"""A local stand-in for Microsoft Entra ID: the endpoints MSAL's client-credentials flow uses.

Over HTTPS on 127.0.0.1 (MSAL accepts only an https authority), with a self-signed
certificate the tests trust:

- GET  /{tenant}/v2.0/.well-known/openid-configuration   OpenID discovery
- POST /{tenant}/oauth2/v2.0/token                        client_credentials grant

and over plain HTTP (for Dovecot's oauth2 passdb, like an RFC 7662 server):

- POST /introspect   token=...  ->  {"active": bool, "username": ..., "scope": ...}

Tokens are random, live `expires_in` seconds, and are counted, so tests can prove
what MSAL cached, refreshed and reused. `valid(token, scope)` is what the IMAP,
SMTP and Graph stand-ins ask.
"""

from __future__ import annotations

import json
import secrets
import ssl
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

HOST = "127.0.0.1"
TENANT = "7c2d3f0e-aaaa-4bbb-8ccc-0123456789ab"
CLIENT_ID = "5f1e2d3c-1111-4222-8333-444455556666"
CLIENT_SECRET = "hemlig~klient.hemlighet_42"
SHUTDOWN_POLL = 0.02  # seconds: serve_forever notices shutdown() this fast


@dataclass
class Issued:
    token: str
    scope: str
    expires_at: float


class Entra:
    """Token endpoint (HTTPS) and introspection endpoint (HTTP), sharing what was issued."""

    def __init__(self, cert: tuple[Path, Path], *, mailbox_user: str = "bot") -> None:
        self.cert_path = cert[0]
        self.mailbox_user = mailbox_user  # whom introspection names: the mailbox the app may use
        self.expires_in = 3600
        self.refresh_in: int | None = None
        self.client_secret = CLIENT_SECRET
        self.token_requests: list[dict[str, str]] = []
        self.discovery_requests = 0
        self.introspections: list[str] = []
        self.issued: dict[str, Issued] = {}
        self._lock = threading.Lock()
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.load_cert_chain(*cert)
        self._https = ThreadingHTTPServer((HOST, 0), _handler(self))
        self._https.daemon_threads = True
        self._https.socket = context.wrap_socket(self._https.socket, server_side=True)
        self._http = ThreadingHTTPServer((HOST, 0), _handler(self))
        self._http.daemon_threads = True
        self._threads = [
            threading.Thread(target=server.serve_forever, args=(SHUTDOWN_POLL,), daemon=True)
            for server in (self._https, self._http)
        ]

    @property
    def base(self) -> str:
        return f"https://{HOST}:{self._https.server_address[1]}"

    @property
    def authority(self) -> str:
        return f"{self.base}/{TENANT}"

    @property
    def introspection_url(self) -> str:
        return f"http://{HOST}:{self._http.server_address[1]}/introspect"

    def start(self) -> Entra:
        for thread in self._threads:
            thread.start()
        return self

    def stop(self) -> None:
        for server in (self._https, self._http):
            server.shutdown()
            server.server_close()

    # --- what the resource servers ask ----------------------------------------------

    def valid(self, token: str, scope: str | None = None) -> bool:
        with self._lock:
            issued = self.issued.get(token)
        if issued is None or issued.expires_at <= time.time():
            return False
        return scope is None or issued.scope == scope

    def token_count(self, scope: str | None = None) -> int:
        with self._lock:
            return sum(1 for r in self.token_requests if scope is None or r.get("scope") == scope)

    def revoke_all(self) -> None:
        with self._lock:
            self.issued.clear()

    # --- the endpoints ----------------------------------------------------------------

    def discovery(self) -> dict[str, Any]:
        with self._lock:
            self.discovery_requests += 1
        return {
            "issuer": f"{self.base}/{TENANT}/v2.0",
            "authorization_endpoint": f"{self.base}/{TENANT}/oauth2/v2.0/authorize",
            "token_endpoint": f"{self.base}/{TENANT}/oauth2/v2.0/token",
            "token_endpoint_auth_methods_supported": ["client_secret_post", "private_key_jwt"],
            "response_types_supported": ["code", "id_token", "token"],
        }

    def grant(self, form: dict[str, str]) -> tuple[int, dict[str, Any]]:
        with self._lock:
            self.token_requests.append(form)
        if form.get("grant_type") != "client_credentials":
            return 400, {"error": "unsupported_grant_type", "error_description": "AADSTS70003: grant type"}
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != self.client_secret:
            return 401, {
                "error": "invalid_client",
                "error_description": (
                    "AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
                    "request is the client secret value, not the client secret ID.\r\n"
                    "Trace ID: 0000\r\nCorrelation ID: 1111\r\nTimestamp: 2017-06-19 10:00:00Z"
                ),
                "error_codes": [7000215],
            }
        scope = form.get("scope", "")
        if not scope.endswith("/.default") or " " in scope.strip():
            return 400, {"error": "invalid_scope", "error_description": "AADSTS1002012: scope"}
        token = "eyJ0eXAiOiJKV1QifQ." + secrets.token_urlsafe(24)
        with self._lock:
            self.issued[token] = Issued(token, scope, time.time() + self.expires_in)
        answer: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": self.expires_in,
            "ext_expires_in": self.expires_in,
            "access_token": token,
        }
        if self.refresh_in is not None:
            answer["refresh_in"] = self.refresh_in
        return 200, answer

    def introspect(self, form: dict[str, str]) -> dict[str, Any]:
        token = form.get("token", "")
        with self._lock:
            self.introspections.append(token)
        if not self.valid(token):
            return {"active": False}
        return {"active": True, "username": self.mailbox_user, "scope": self.issued[token].scope}


def _handler(entra: Entra) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the stdlib's name
            pass

        def do_GET(self) -> None:  # noqa: N802 - the stdlib's name
            if self.path.split("?")[0] == f"/{TENANT}/v2.0/.well-known/openid-configuration":
                self._answer(200, entra.discovery())
            else:
                self._answer(404, {"error": "not_found"})

        def do_POST(self) -> None:  # noqa: N802 - the stdlib's name
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length).decode()
            form = {key: values[0] for key, values in parse_qs(body).items()}
            if self.path == f"/{TENANT}/oauth2/v2.0/token":
                self._answer(*entra.grant(form))
            elif self.path == "/introspect":
                self._answer(200, entra.introspect(form))
            else:
                self._answer(404, {"error": "not_found"})

        def _answer(self, status: int, payload: dict[str, Any]) -> None:
            data = json.dumps(payload).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler
