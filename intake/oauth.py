"""OAuth 2.0 access tokens for Microsoft 365: the client-credentials flow through MSAL.

The bot signs in as an application (an app registration in Microsoft Entra ID with
a client secret), never as a person: `acquire_token_for_client` asks Entra ID for a
token of one resource's `.default` scope, `https://outlook.office365.com/.default`
for IMAP and SMTP (XOAUTH2), `https://graph.microsoft.com/.default` for Graph.

MSAL keeps the tokens in its cache and answers from it while a token has more than
five minutes left; a token closer to its expiry, or past the `refresh_in` Entra ID
sent with it, is replaced by a new one before it runs out. The cache is written to
`oauth.token_cache` (mode 0600, replaced atomically) whenever it changes, and read
again when another process changed it, so a restart or a second command reuses a
token that is still good instead of asking for another one.

Every failure leaves this module as TokenUnavailable (a TransientError) with one
line: Entra ID unreachable, the tenant unknown, the secret wrong or expired. The
adapters turn it into their own error (MailboxUnavailable, TransientSendError).
"""

from __future__ import annotations

import functools
import json
import logging
import os
import tempfile
import threading
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import msal
import requests

from intake.config import OAuthSettings
from intake.errors import TransientError

log = logging.getLogger(__name__)

OUTLOOK_SCOPE = "https://outlook.office365.com/.default"  # IMAP.AccessAsApp, SMTP.SendAsApp
GRAPH_SCOPE = "https://graph.microsoft.com/.default"  # Mail.Read (application permission)
CACHE_MODE = 0o600  # the cache holds bearer tokens: readable by the bot's user only

TokenSource = Callable[[], str]  # what the mail adapters are given: a fresh token on each call


class TokenUnavailable(TransientError):
    """No access token: Entra ID could not be reached or refused the application."""


def graph_scope(base_url: str) -> str:
    """The `.default` scope of the Graph endpoint at `base_url` (a national cloud has its own host)."""
    scheme, _, rest = base_url.partition("://")
    host = rest.split("/", 1)[0]
    return f"{scheme}://{host}/.default" if scheme and host else GRAPH_SCOPE


class TokenProvider:
    """Access tokens for one app registration, cached by MSAL and persisted to a file.

    Connecting to Entra ID happens on the first `token()` call, not here, so a network
    failure at start is reported like any later one. HTTPS goes through requests: the
    system's CAs, or the bundle named by REQUESTS_CA_BUNDLE; a proxy by HTTPS_PROXY.
    """

    def __init__(
        self,
        settings: OAuthSettings,
        *,
        timeout: float | None = None,
    ) -> None:
        self.settings = settings
        self.timeout = float(timeout if timeout is not None else settings.timeout)
        self.authority = settings.authority_url
        self.cache_path = Path(settings.token_cache) if settings.token_cache else None
        self.cache = msal.SerializableTokenCache()
        self.requests_made = 0  # tokens fetched from Entra ID by this instance (logs, tests)
        self._cache_stamp: tuple[int, int] | None = None  # (mtime_ns, size) of the file we know
        self._app: Any = None  # msal.ConfidentialClientApplication, made on first use
        self._lock = threading.Lock()

    def token(self, scope: str = OUTLOOK_SCOPE) -> str:
        """An access token for `scope` with at least five minutes left; raises TokenUnavailable."""
        with self._lock:
            self._load_cache()
            try:
                result = self._application().acquire_token_for_client(scopes=[scope])
            except TokenUnavailable:
                raise
            except (requests.RequestException, ValueError, OSError) as exc:
                raise TokenUnavailable(
                    f"no OAuth token from {self.authority} for {scope}: {_one_line(str(exc))}"
                ) from exc
            if not isinstance(result, dict) or "access_token" not in result:
                raise TokenUnavailable(_refusal(self.authority, scope, result))
            if result.get("token_source") == "identity_provider":
                self.requests_made += 1
                log.info("new OAuth token for %s, valid %s s", scope, result.get("expires_in", "?"))
            self._save_cache()
            return str(result["access_token"])

    def source(self, scope: str = OUTLOOK_SCOPE) -> TokenSource:
        """A callable the IMAP, SMTP and Graph adapters call for a current token."""
        return partial(self.token, scope)

    # --- MSAL ------------------------------------------------------------------------

    def _application(self) -> Any:
        if self._app is None:
            s = self.settings
            try:
                self._app = msal.ConfidentialClientApplication(
                    s.client_id,
                    client_credential=s.client_secret,
                    authority=self.authority,
                    token_cache=self.cache,
                    timeout=self.timeout,
                    # The authority is the operator's own setting, not user input: there is
                    # nothing to ask Microsoft's instance discovery about. The default host,
                    # login.microsoftonline.com, is one MSAL knows and never looks up anyway.
                    instance_discovery=False,
                )
            except ValueError as exc:  # the authority's OpenID configuration was refused
                raise TokenUnavailable(
                    f"OAuth authority {self.authority} not usable (check oauth.tenant_id and "
                    f"oauth.authority): {_one_line(str(exc))}"
                ) from exc
        return self._app

    # --- the persisted cache ------------------------------------------------------------

    def _stamp(self) -> tuple[int, int] | None:
        assert self.cache_path is not None
        try:
            info = self.cache_path.stat()
        except FileNotFoundError:
            return None
        return info.st_mtime_ns, info.st_size

    def _load_cache(self) -> None:
        """Read the file when it is new to us (first use, or another process wrote it)."""
        if self.cache_path is None:
            return
        stamp = self._stamp()
        if stamp is None or stamp == self._cache_stamp:
            return
        try:
            text = self.cache_path.read_text(encoding="utf-8")
            json.loads(text)  # MSAL would silently start empty on garbage; say so instead
        except (OSError, ValueError) as exc:
            log.warning("OAuth token cache %s unreadable, starting empty: %s", self.cache_path, exc)
            self._cache_stamp = stamp
            return
        self.cache.deserialize(text)
        self._cache_stamp = stamp

    def _save_cache(self) -> None:
        if self.cache_path is None or not self.cache.has_state_changed:
            return
        path = self.cache_path
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # mkstemp creates the file 0600 before a byte of it is written.
            handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
            try:
                with os.fdopen(handle, "w", encoding="utf-8") as file:
                    file.write(self.cache.serialize())
                os.chmod(temporary, CACHE_MODE)
                os.replace(temporary, path)
            except BaseException:
                Path(temporary).unlink(missing_ok=True)
                raise
        except OSError as exc:
            # The token in hand is good; only a restart will have to ask for a new one.
            log.warning("could not write the OAuth token cache %s: %s", path, exc)
            return
        self._cache_stamp = self._stamp()


def _refusal(authority: str, scope: str, result: Any) -> str:
    """One line from an MSAL error result: error code and the first line of its description."""
    if not isinstance(result, dict):
        return f"no OAuth token from {authority} for {scope}: unexpected answer {result!r}"
    error = str(result.get("error") or "error")
    description = _one_line(str(result.get("error_description") or ""))
    text = f"{error}: {description}" if description else error
    return f"Entra ID ({authority}) refused a token for {scope}: {text}"


def _one_line(text: str) -> str:
    """The first line: AADSTS descriptions go on with Trace ID, Correlation ID and Timestamp."""
    for line in text.splitlines():
        if line.strip():
            return line.strip()
    return text.strip()


@functools.cache
def shared_provider(settings: OAuthSettings) -> TokenProvider:
    """One provider per app registration in a process: IMAP, SMTP and Graph share one cache file."""
    return TokenProvider(settings)
