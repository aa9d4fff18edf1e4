"""Microsoft 365 sign-in: MSAL tokens from a local Entra ID stand-in, used for real.

- intake.oauth against tests/entra.py (HTTPS, OpenID discovery, client-credentials
  token endpoint that counts requests): cached, refreshed before expiry, persisted
  (0600) and reused by a new provider, errors in one line.
- IMAP XOAUTH2 against a real Dovecot whose oauth2 passdb asks the stand-in's
  introspection endpoint (RFC 7662, POST) whether the token is active.
- SMTP AUTH XOAUTH2 against aiosmtpd with a handler that checks the bearer token.
- The [oauth] keys and their checks, and the cli wiring (make_source, mailer_opener).
"""

from __future__ import annotations

import base64
import json
import os
import re
import ssl
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from email.message import EmailMessage
from email.policy import SMTP as SMTP_POLICY
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import MISSING, SMTP, AuthResult, Envelope, Session

from intake.cli import mailer_opener, make_source
from intake.config import OAuthSettings, parse_settings
from intake.domain import OutgoingMail
from intake.errors import ConfigError, MailboxUnavailable, PermanentSendError, TransientSendError
from intake.mailbox.imap import ImapSource
from intake.oauth import GRAPH_SCOPE, OUTLOOK_SCOPE, TokenProvider, TokenUnavailable, graph_scope
from intake.outbox.smtp import SmtpMailer
from tests.dovecot import Dovecot, free_port
from tests.entra import CLIENT_ID, CLIENT_SECRET, TENANT, Entra
from tests.smtpserver import HOST, SENDER, SERVER_NAME, RecordingHandler

MAILBOX = "kvalitetsutmarkelsen@stockholm.se"
MSAL_MARGIN = 300  # seconds: MSAL treats a token with less than five minutes left as expired


@pytest.fixture
def entra(smtp_certificate: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch) -> Iterator[Entra]:
    """The Entra ID stand-in; requests (inside MSAL) trusts its certificate through REQUESTS_CA_BUNDLE."""
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", str(smtp_certificate[0]))
    server = Entra(smtp_certificate).start()
    yield server
    server.stop()


def oauth_settings(entra: Entra, directory: Path, **overrides: Any) -> OAuthSettings:
    settings = OAuthSettings(
        tenant_id=TENANT, client_id=CLIENT_ID, client_secret=CLIENT_SECRET,
        authority=entra.authority, token_cache=str(directory / "var" / "oauth-token-cache.json"),
        timeout=10,
    )  # fmt: skip
    return replace(settings, **overrides)


@pytest.fixture
def provider(entra: Entra, tmp_path: Path) -> TokenProvider:
    return TokenProvider(oauth_settings(entra, tmp_path))


# --- the token provider ---------------------------------------------------------------


def test_token_is_fetched_once_and_then_served_from_the_cache(entra: Entra, provider: TokenProvider) -> None:
    first = provider.token()
    assert provider.token() == first
    assert provider.token(OUTLOOK_SCOPE) == first
    assert entra.token_count() == 1
    [request] = entra.token_requests
    assert request["grant_type"] == "client_credentials"
    assert request["scope"] == OUTLOOK_SCOPE
    assert entra.valid(first, OUTLOOK_SCOPE)


def test_each_scope_gets_its_own_token(entra: Entra, provider: TokenProvider) -> None:
    outlook, graph = provider.token(OUTLOOK_SCOPE), provider.token(GRAPH_SCOPE)
    assert outlook != graph
    assert (provider.token(OUTLOOK_SCOPE), provider.token(GRAPH_SCOPE)) == (outlook, graph)
    assert entra.token_count(OUTLOOK_SCOPE) == entra.token_count(GRAPH_SCOPE) == 1


def test_cache_file_is_private_and_reused_by_a_new_provider(
    entra: Entra, provider: TokenProvider, tmp_path: Path
) -> None:
    token = provider.token()
    cache = Path(provider.settings.token_cache)
    assert cache.stat().st_mode & 0o777 == 0o600
    assert token in cache.read_text()
    assert [p.name for p in cache.parent.iterdir()] == [cache.name]  # no temporary file left

    restarted = TokenProvider(oauth_settings(entra, tmp_path))
    assert restarted.token() == token
    assert entra.token_count() == 1
    assert restarted.requests_made == 0


def test_token_is_refreshed_before_it_expires_and_the_new_one_persisted(
    entra: Entra, provider: TokenProvider, tmp_path: Path
) -> None:
    entra.expires_in = MSAL_MARGIN + 2  # good for 302 s, but only 2 s before the refresh margin
    first = provider.token()
    assert provider.token() == first
    assert entra.token_count() == 1

    time.sleep(2.5)
    second = provider.token()
    assert second != first
    assert entra.valid(first), "refreshed while the old token was still valid at the server"
    assert entra.token_count() == 2

    cache_text = Path(provider.settings.token_cache).read_text()
    assert second in cache_text
    entra.expires_in = 3600
    restarted = TokenProvider(oauth_settings(entra, tmp_path))
    assert restarted.token() == second  # the rotated token, from the file
    assert entra.token_count() == 2


def test_refresh_in_from_entra_is_honoured(entra: Entra, provider: TokenProvider) -> None:
    entra.refresh_in = 1  # Entra ID sends refresh_in with long-lived tokens: refresh early
    first = provider.token()
    assert provider.token() == first
    time.sleep(2.1)
    assert provider.token() != first
    assert entra.token_count() == 2


def test_cache_written_by_another_process_is_read(entra: Entra, tmp_path: Path) -> None:
    settings = oauth_settings(entra, tmp_path)
    daemon, command = TokenProvider(settings), TokenProvider(settings)
    assert command.token(GRAPH_SCOPE)  # an `intake poll` while the daemon is idle
    token = daemon.token(GRAPH_SCOPE)
    assert entra.token_count() == 1
    assert command.token(GRAPH_SCOPE) == token


def test_memory_only_cache_when_no_file_is_named(entra: Entra, tmp_path: Path) -> None:
    provider = TokenProvider(oauth_settings(entra, tmp_path, token_cache=""))
    assert provider.token() == provider.token()
    assert entra.token_count() == 1
    assert not (tmp_path / "var").exists()


def test_unreadable_cache_file_starts_empty(
    entra: Entra, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    settings = oauth_settings(entra, tmp_path)
    Path(settings.token_cache).parent.mkdir()
    Path(settings.token_cache).write_text("{ not json")
    assert TokenProvider(settings).token()
    assert "unreadable" in caplog.text
    assert json.loads(Path(settings.token_cache).read_text())  # replaced by a good one


def test_wrong_secret_is_one_clear_line_without_the_secret(entra: Entra, tmp_path: Path) -> None:
    provider = TokenProvider(oauth_settings(entra, tmp_path, client_secret="gammal-hemlighet"))
    with pytest.raises(TokenUnavailable) as caught:
        provider.token()
    message = str(caught.value)
    assert "\n" not in message and "\r" not in message
    assert "invalid_client: AADSTS7000215: Invalid client secret provided." in message
    assert "Trace ID" not in message
    assert "gammal-hemlighet" not in message
    assert not Path(provider.settings.token_cache).exists()


def test_unknown_tenant_names_the_keys_to_check(entra: Entra, tmp_path: Path) -> None:
    authority = entra.authority.replace(TENANT, "00000000-0000-0000-0000-000000000000")
    with pytest.raises(TokenUnavailable, match=r"check oauth\.tenant_id and oauth\.authority"):
        TokenProvider(oauth_settings(entra, tmp_path, authority=authority)).token()


def test_unreachable_authority_is_transient(entra: Entra, tmp_path: Path) -> None:
    authority = f"https://{HOST}:{free_port()}/{TENANT}"
    with pytest.raises(TokenUnavailable, match="no OAuth token from") as caught:
        TokenProvider(oauth_settings(entra, tmp_path, authority=authority, timeout=2)).token()
    assert "\n" not in str(caught.value)
    assert entra.token_count() == 0


def test_graph_scope_follows_the_graph_host() -> None:
    assert graph_scope("https://graph.microsoft.com/v1.0") == GRAPH_SCOPE
    assert graph_scope("https://graph.microsoft.us/v1.0") == "https://graph.microsoft.us/.default"
    assert graph_scope("http://127.0.0.1:8000/v1.0") == "http://127.0.0.1:8000/.default"


# --- IMAP XOAUTH2 against Dovecot's oauth2 passdb --------------------------------------

OAUTH2_PASSDB = """\
auth_mechanisms = plain login xoauth2 oauthbearer
passdb {{
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = {args}
}}
"""
# RFC 7662 introspection by POST; the token is good when "active" is true and
# "username" names the user who logs in.
OAUTH2_ARGS = """\
introspection_mode = post
introspection_url = {url}
username_attribute = username
active_attribute = active
active_value = true
force_introspection = yes
"""


class OAuthDovecot(Dovecot):
    """Dovecot with an oauth2 passdb besides the password one (which the test helpers use)."""

    def __init__(self, introspection_url: str, **options: Any) -> None:
        self.introspection_url = introspection_url
        super().__init__(**options)

    def _write_config(self) -> None:
        super()._write_config()
        args = self.root / "dovecot-oauth2.conf.ext"
        args.write_text(OAUTH2_ARGS.format(url=self.introspection_url))
        args.chmod(0o644)  # the auth process reads it as user dovecot
        with self.config.open("a") as config:
            config.write(OAUTH2_PASSDB.format(args=args))


@pytest.fixture
def dovecot_oauth(entra: Entra) -> Iterator[OAuthDovecot]:
    server = OAuthDovecot(entra.introspection_url, user="bot")
    server.start()
    yield server
    server.stop(wait=False)


def mail(subject: str = "Protokollsutdrag SN § 9") -> bytes:
    return (
        f"From: lena.murray@stockholm.se\r\nTo: {MAILBOX}\r\nSubject: {subject}\r\n"
        f"Message-ID: <{time.monotonic_ns()}@stockholm.se>\r\n\r\nHej!\r\n"
    ).encode()


def test_imap_xoauth2_login_with_a_token_from_entra(
    dovecot_oauth: OAuthDovecot, entra: Entra, provider: TokenProvider
) -> None:
    uid = dovecot_oauth.append(mail())
    source = ImapSource(dovecot_oauth.imap_settings(auth="xoauth2", password=""), token=provider.source())
    try:
        validity, keys = source.snapshot()
        assert keys == [str(uid)]
        [fetched] = source.fetch(keys)
        assert b"Protokollsutdrag SN" in fetched.raw
    finally:
        source.close()
    assert re.search(r"Login: user=<bot>, method=XOAUTH2", dovecot_oauth.log())
    assert entra.introspections == [provider.token()]  # Dovecot asked Entra about our token
    assert entra.token_count() == 1


def test_imap_reconnects_with_a_fresh_token(
    dovecot_oauth: OAuthDovecot, entra: Entra, provider: TokenProvider
) -> None:
    entra.expires_in = MSAL_MARGIN + 2  # MSAL replaces it 2 s from now
    source = ImapSource(dovecot_oauth.imap_settings(auth="xoauth2", password=""), token=provider.source())
    try:
        source.snapshot()
        time.sleep(2.5)
        dovecot_oauth.kill_sessions()  # as Exchange ends a session when its token runs out
        uid = dovecot_oauth.append(mail())
        assert source.snapshot()[1] == [str(uid)]  # reconnected, signed in with the new token
    finally:
        source.close()
    assert entra.token_count() == 2
    assert len(entra.introspections) == 2 and entra.introspections[0] != entra.introspections[1]
    assert len(re.findall(r"Login: user=<bot>, method=XOAUTH2", dovecot_oauth.log())) == 2


def test_imap_refused_token_is_mailbox_unavailable(dovecot_oauth: OAuthDovecot, entra: Entra) -> None:
    source = ImapSource(dovecot_oauth.imap_settings(auth="xoauth2", password=""), token=lambda: "forged")
    with pytest.raises(MailboxUnavailable, match=r"IMAP login to .* as 'bot' refused: .*AUTHENTICATIONFAILED"):
        source.snapshot()
    assert entra.introspections == ["forged"]


def test_imap_token_for_another_mailbox_user_is_refused(
    dovecot_oauth: OAuthDovecot, entra: Entra, provider: TokenProvider
) -> None:
    entra.mailbox_user = "someone-else"  # the app may read another mailbox only
    source = ImapSource(dovecot_oauth.imap_settings(auth="xoauth2", password=""), token=provider.source())
    with pytest.raises(MailboxUnavailable, match="refused"):
        source.snapshot()


def test_imap_no_token_is_mailbox_unavailable_and_no_connection(
    dovecot_oauth: OAuthDovecot, entra: Entra, tmp_path: Path
) -> None:
    provider = TokenProvider(oauth_settings(entra, tmp_path, client_secret="fel"))
    source = ImapSource(dovecot_oauth.imap_settings(auth="xoauth2", password=""), token=provider.source())
    with pytest.raises(MailboxUnavailable, match=r"^IMAP 127\.0\.0\.1:\d+: Entra ID .* AADSTS7000215"):
        source.snapshot()
    assert "Login: user=<bot>" not in dovecot_oauth.log()


def test_imap_basic_login_still_works_beside_oauth(dovecot_oauth: OAuthDovecot) -> None:
    source = ImapSource(dovecot_oauth.imap_settings())
    try:
        assert source.snapshot()[1] == []
    finally:
        source.close()
    assert "method=PLAIN" in dovecot_oauth.log() or "method=LOGIN" in dovecot_oauth.log()


def test_imap_xoauth2_without_a_token_source_is_a_config_error(dovecot_oauth: OAuthDovecot) -> None:
    with pytest.raises(ConfigError, match="imap.auth"):
        ImapSource(dovecot_oauth.imap_settings(auth="xoauth2"))


# --- SMTP AUTH XOAUTH2 against aiosmtpd --------------------------------------------------

ERROR_CHALLENGE = {"status": "401", "schemes": "bearer", "scope": OUTLOOK_SCOPE}


class XOAuth2Handler(RecordingHandler):
    """Records mail like the other test servers; AUTH XOAUTH2 checks the bearer token with Entra."""

    def __init__(self, entra: Entra, user: str) -> None:
        super().__init__()
        self.entra = entra
        self.user = user
        self.logins: list[tuple[str, str, bool]] = []  # (user, token, accepted)

    async def auth_XOAUTH2(self, server: SMTP, args: list[str]) -> AuthResult:  # noqa: N802 - the mechanism
        blob = base64.b64decode(args[1]) if len(args) == 2 else await server.challenge_auth("")
        if blob is MISSING:
            return AuthResult(success=False, handled=True)
        assert isinstance(blob, bytes)
        assert blob.endswith(b"\x01\x01"), blob
        fields = dict(part.split("=", 1) for part in blob.decode().split("\x01") if part)
        user, token = fields.get("user", ""), fields.get("auth", "").removeprefix("Bearer ")
        accepted = user == self.user and self.entra.valid(token, OUTLOOK_SCOPE)
        self.logins.append((user, token, accepted))
        if accepted:
            return AuthResult(success=True, auth_data=user)
        # As Exchange Online and Gmail do: a JSON error challenge, then 535 after the empty answer.
        await server.challenge_auth(json.dumps(ERROR_CHALLENGE))
        return AuthResult(success=False, handled=False, message="535 5.7.3 Authentication unsuccessful")


def refuse_passwords(
    server: SMTP, session: Session, envelope: Envelope, mechanism: str, auth_data: Any
) -> AuthResult:
    return AuthResult(success=False, handled=False)


@pytest.fixture
def make_oauth_smtp(
    entra: Entra, smtp_certificate: tuple[Path, Path]
) -> Iterator[Callable[..., tuple[Controller, XOAuth2Handler, int]]]:
    started: list[Controller] = []

    def make(starttls: bool = True) -> tuple[Controller, XOAuth2Handler, int]:
        handler = XOAuth2Handler(entra, MAILBOX)
        port = free_port()
        options: dict[str, Any] = {"auth_required": True, "auth_require_tls": starttls}
        if starttls:
            context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
            context.load_cert_chain(*smtp_certificate)
            options.update(tls_context=context, require_starttls=True)
        controller = Controller(handler, hostname=HOST, port=port, server_hostname=SERVER_NAME,
                                authenticator=refuse_passwords, **options)  # fmt: skip
        controller.start()
        started.append(controller)
        return controller, handler, port

    yield make
    for controller in started:
        controller.stop()


def outgoing() -> OutgoingMail:
    message = EmailMessage(policy=SMTP_POLICY)
    message["From"] = SENDER
    message["To"] = "lena.murray@stockholm.se"
    message["Subject"] = "Re: Protokollsutdrag SN § 9 [KU-2017-0001]"
    message["Message-ID"] = "<svar-1@stockholm.se>"
    message.set_content("Hej!\n\nVi har tagit emot protokollsutdraget.\n")
    return OutgoingMail("<svar-1@stockholm.se>", MAILBOX, ("lena.murray@stockholm.se",), message.as_bytes())


def smtp_settings(port: int, **overrides: Any) -> Any:
    from intake.config import SmtpSettings

    settings = SmtpSettings(host=HOST, port=port, security="starttls", username=MAILBOX, password="",
                            sender=SENDER, timeout=5, auth="xoauth2")  # fmt: skip
    return replace(settings, **overrides)


def client_context(certificate: tuple[Path, Path]) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(certificate[0]))


def test_smtp_xoauth2_over_starttls_delivers(
    make_oauth_smtp: Callable[..., tuple[Controller, XOAuth2Handler, int]],
    provider: TokenProvider, entra: Entra, smtp_certificate: tuple[Path, Path],
) -> None:  # fmt: skip
    _, handler, port = make_oauth_smtp()
    mailer = SmtpMailer(smtp_settings(port), client_context(smtp_certificate), token=provider.source())
    with mailer:
        mailer.send(outgoing())
        mailer.send(replace(outgoing(), message_id="<svar-2@stockholm.se>"))
    assert len(handler.wait_for(2, 5)) == 2
    assert handler.logins == [(MAILBOX, provider.token(), True)]  # one connection, one AUTH
    assert entra.token_count() == 1


def test_smtp_refused_token_is_a_permanent_535(
    make_oauth_smtp: Callable[..., tuple[Controller, XOAuth2Handler, int]],
    smtp_certificate: tuple[Path, Path],
) -> None:
    _, handler, port = make_oauth_smtp()
    mailer = SmtpMailer(smtp_settings(port), client_context(smtp_certificate), token=lambda: "forged")
    with pytest.raises(PermanentSendError, match="535 5.7.3 Authentication unsuccessful"):
        mailer.send(outgoing())
    assert handler.logins == [(MAILBOX, "forged", False)]
    assert handler.messages == []


def test_smtp_without_a_token_is_transient(
    make_oauth_smtp: Callable[..., tuple[Controller, XOAuth2Handler, int]],
    entra: Entra, tmp_path: Path, smtp_certificate: tuple[Path, Path],
) -> None:  # fmt: skip
    _, handler, port = make_oauth_smtp()
    provider = TokenProvider(oauth_settings(entra, tmp_path, client_secret="utgången"))
    mailer = SmtpMailer(smtp_settings(port), client_context(smtp_certificate), token=provider.source())
    with pytest.raises(TransientSendError, match="AADSTS7000215") as caught:
        mailer.send(outgoing())
    assert "utgången" not in str(caught.value)
    assert handler.logins == []
    assert mailer.connections_opened == 0


def test_smtp_xoauth2_without_a_token_source_is_refused_at_once() -> None:
    with pytest.raises(ValueError, match="smtp.auth"):
        SmtpMailer(smtp_settings(25))


# --- configuration and the cli wiring ------------------------------------------------------

BASE = f"""
[award]
year = 2017
mailbox = "{MAILBOX}"
protocol_deadline = 2017-06-30
[processing]
workers = 1
"""


def oauth_toml(entra: Entra, directory: Path) -> str:
    return f"""
[oauth]
tenant_id = "{TENANT}"
client_id = "{CLIENT_ID}"
authority = "{entra.authority.replace(TENANT, '{tenant_id}')}"
token_cache = "{directory / 'token-cache.json'}"
"""


def test_oauth_keys_and_defaults() -> None:
    settings = parse_settings(BASE + "[source]\nkind = \"maildir\"\n[outbox]\ntransport = \"files\"\n", {})
    assert settings.imap.auth == settings.smtp.auth == "basic"
    assert settings.oauth.authority == "https://login.microsoftonline.com/{tenant_id}"
    assert settings.oauth.scope == OUTLOOK_SCOPE
    assert settings.oauth.token_cache == "var/oauth-token-cache.json"
    assert settings.graph.base_url == "https://graph.microsoft.com/v1.0"
    assert settings.graph.folder == "inbox"


@pytest.mark.parametrize(
    ("text", "environ", "message"),
    [
        ('[imap]\nhost = "outlook.office365.com"\nusername = "ku@stockholm.se"\nauth = "xoauth2"\n'
         '[outbox]\ntransport = "files"\n',
         {}, 'oauth.tenant_id: missing; expected the directory (tenant) ID of the app registration, needed by imap.auth = "xoauth2"'),
        ('[imap]\nhost = "outlook.office365.com"\nusername = "ku@stockholm.se"\nauth = "xoauth2"\n'
         '[outbox]\ntransport = "files"\n[oauth]\ntenant_id = "t"\nclient_id = "c"\n',
         {}, "oauth.client_secret: missing; expected the app's client secret (set INTAKE_OAUTH_CLIENT_SECRET)"),
        ('[source]\nkind = "graph"\n[outbox]\ntransport = "files"\n[oauth]\ntenant_id = "t"\n',
         {}, 'oauth.client_id: missing; expected the application (client) ID of the app registration, needed by source.kind = "graph"'),
        ('[source]\nkind = "maildir"\n[smtp]\nhost = "smtp.office365.com"\nauth = "xoauth2"\n'
         '[oauth]\ntenant_id = "t"\nclient_id = "c"\n',
         {"INTAKE_OAUTH_CLIENT_SECRET": "s"}, "smtp.username: missing; expected the mailbox address to send as"),
        ('[source]\nkind = "maildir"\n[outbox]\ntransport = "files"\n[imap]\nauth = "oauth"\n',
         {}, "imap.auth: expected one of basic | xoauth2, got 'oauth'"),
        ('[source]\nkind = "maildir"\n[outbox]\ntransport = "files"\n[oauth]\nauthority = "http://login.example/t"\n',
         {}, "oauth.authority: expected an https URL with the tenant"),
        ('[source]\nkind = "graph"\n[outbox]\ntransport = "files"\n[graph]\nbase_url = "graph.microsoft.com"\n',
         {}, "graph.base_url: expected a URL like https://graph.microsoft.com/v1.0"),
    ],
)
def test_oauth_configuration_errors_name_the_key(text: str, environ: dict[str, str], message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        parse_settings(BASE + text, environ)
    assert message in str(caught.value)


def test_secret_from_the_environment_and_tenant_in_the_authority() -> None:
    text = BASE + (
        '[source]\nkind = "graph"\n[outbox]\ntransport = "files"\n'
        '[oauth]\ntenant_id = "contoso-id"\nclient_id = "app-id"\n'
    )
    settings = parse_settings(text, {"INTAKE_OAUTH_CLIENT_SECRET": "från-miljön"})
    assert settings.oauth.client_secret == "från-miljön"
    assert settings.oauth.authority_url == "https://login.microsoftonline.com/contoso-id"
    assert settings.source.kind == "graph"  # and no imap.host needed


def test_cli_wires_imap_xoauth2(dovecot_oauth: OAuthDovecot, entra: Entra, tmp_path: Path) -> None:
    text = BASE + oauth_toml(entra, tmp_path) + f"""
[imap]
host = "{HOST}"
port = {dovecot_oauth.port}
security = "none"
username = "{dovecot_oauth.user}"
auth = "xoauth2"
timeout = 10
[outbox]
transport = "files"
path = "{tmp_path / 'outbox'}"
"""
    settings = parse_settings(text, {"INTAKE_OAUTH_CLIENT_SECRET": CLIENT_SECRET})
    uid = dovecot_oauth.append(mail())
    source = make_source(settings)
    try:
        assert source.snapshot()[1] == [str(uid)]
    finally:
        source.close()
    assert "method=XOAUTH2" in dovecot_oauth.log()
    assert (tmp_path / "token-cache.json").exists()


def test_cli_wires_smtp_xoauth2(
    make_oauth_smtp: Callable[..., tuple[Controller, XOAuth2Handler, int]], entra: Entra, tmp_path: Path
) -> None:
    _, handler, port = make_oauth_smtp(starttls=False)
    text = BASE + oauth_toml(entra, tmp_path) + f"""
[source]
kind = "maildir"
maildir = "{tmp_path / 'maildir'}"
[smtp]
host = "{HOST}"
port = {port}
security = "none"
username = "{MAILBOX}"
auth = "xoauth2"
timeout = 10
"""
    settings = parse_settings(text, {"INTAKE_OAUTH_CLIENT_SECRET": CLIENT_SECRET})
    with mailer_opener(settings)() as mailer:
        assert mailer is not None
        mailer.send(outgoing())
    assert len(handler.wait_for(1, 5)) == 1
    assert [accepted for _, _, accepted in handler.logins] == [True]
    assert os.stat(tmp_path / "token-cache.json").st_mode & 0o777 == 0o600
