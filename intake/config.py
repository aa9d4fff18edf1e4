"""Settings: parse and validate the TOML configuration with INTAKE_<SECTION>_<KEY> overrides.

`parse_settings(toml_text, environ)` is pure: the cli reads the file and the
environment and passes them in. Any missing or wrong key raises ConfigError with
one line that names the key and what is expected.
"""

from __future__ import annotations

import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date
from email.utils import parseaddr
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from intake.errors import ConfigError

SECURITY_MODES = ("ssl", "starttls", "none")
AUTH_MODES = ("basic", "xoauth2")  # imap.auth, smtp.auth
REQUIRED = object()  # marks a key without a default


@dataclass(frozen=True, slots=True)
class AwardSettings:
    year: int
    mailbox: str
    protocol_deadline: date
    timezone: str = "Europe/Stockholm"

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)


@dataclass(frozen=True, slots=True)
class SourceSettings:
    kind: str = "imap"  # imap | maildir | graph
    maildir: str = "var/maildir"


@dataclass(frozen=True, slots=True)
class ImapSettings:
    host: str = ""
    port: int = 993
    security: str = "ssl"
    username: str = ""
    password: str = ""
    folder: str = "INBOX"
    poll_interval: int = 60  # seconds between polls where the server has no IDLE
    idle_timeout: int = 1500  # re-issue IDLE before the server's 30-minute limit (RFC 2177)
    timeout: int = 60  # socket timeout in seconds
    auth: str = "basic"  # basic (LOGIN) | xoauth2 (OAuth 2.0, a token from [oauth])


@dataclass(frozen=True, slots=True)
class SmtpSettings:
    host: str = ""
    port: int = 587
    security: str = "starttls"
    username: str = ""
    password: str = ""
    sender: str = ""  # the `from` key; defaults to award.mailbox
    timeout: int = 60
    auth: str = "basic"  # basic (AUTH PLAIN/LOGIN) | xoauth2 (OAuth 2.0, a token from [oauth])


@dataclass(frozen=True, slots=True)
class OAuthSettings:
    """Microsoft 365: the app registration whose client-credentials tokens intake.oauth fetches."""

    tenant_id: str = ""
    client_id: str = ""
    client_secret: str = ""  # INTAKE_OAUTH_CLIENT_SECRET
    authority: str = "https://login.microsoftonline.com/{tenant_id}"
    scope: str = "https://outlook.office365.com/.default"  # IMAP and SMTP (XOAUTH2)
    token_cache: str = "var/oauth-token-cache.json"  # empty: tokens kept in memory only
    timeout: int = 60

    @property
    def authority_url(self) -> str:
        return self.authority.replace("{tenant_id}", self.tenant_id).rstrip("/")


@dataclass(frozen=True, slots=True)
class GraphSettings:
    """source.kind = "graph": one shared mailbox read through Microsoft Graph (app-only)."""

    mailbox: str = ""  # empty: award.mailbox
    folder: str = "inbox"  # a well-known folder name (inbox) or a folder id
    base_url: str = "https://graph.microsoft.com/v1.0"
    poll_interval: int = 60
    timeout: int = 60


@dataclass(frozen=True, slots=True)
class OutboxSettings:
    transport: str = "smtp"  # smtp | files | graph (Microsoft Graph sendMail as graph.mailbox)
    path: str = "var/outbox"  # where the files transport writes .eml files
    replies_per_hour: int = 5  # per recipient address: the last guard against mail loops
    max_attempts: int = 10
    retry_base_seconds: int = 60  # first retry after this, doubling each time


@dataclass(frozen=True, slots=True)
class ProcessingSettings:
    workers: int = 0  # processes that read attachments; 0: one per CPU, 1: none besides the bot


@dataclass(frozen=True, slots=True)
class DatabaseSettings:
    url: str = "sqlite:///var/intake.db"


@dataclass(frozen=True, slots=True)
class WebSettings:
    host: str = "127.0.0.1"
    port: int = 8080
    secret_key: str = ""  # signs session cookies; empty: a random key kept in the database
    session_minutes: int = 30  # a coordinator idle this long is signed out
    trusted_user_header: str = ""  # reverse-proxy single sign-on: the header naming the user
    reminder_days: int = 0  # automatic reminder this many days before the deadline; 0: off


REPLY_POLICIES = ("any", "authenticated", "domains", "authenticated_or_domains")


@dataclass(frozen=True, slots=True)
class SecuritySettings:
    reply_policy: str = "any"  # any | authenticated | domains | authenticated_or_domains (intake.senders)
    authserv_id: str = ""  # the city's mail server's id in Authentication-Results; empty: the topmost header
    reply_domains: tuple[str, ...] = ()  # domains always answered under the *domains policies


@dataclass(frozen=True, slots=True)
class OpsSettings:
    alert_to: tuple[str, ...] = ()  # coordinators who get the watchdog's alert mails; empty: none
    alert_after_minutes: int = 30  # alert when no poll has succeeded for this long
    alert_after_failures: int = 10  # ... or when this many polls in a row failed
    log_format: str = "text"  # text | json (one object a line)
    metrics_token: str = ""  # /metrics wants "Authorization: Bearer <token>"; empty: open


def _address_list(name: str, value: Any) -> tuple[str, ...]:
    """ops.alert_to: addresses separated by commas (or semicolons), or a TOML array; empty: none."""
    parts = value if isinstance(value, list) else _text(name, value).replace(";", ",").split(",")
    found = []
    for part in parts:
        if not (isinstance(part, str) and not part.strip()):
            found.append(parseaddr(_address(name, part))[1])
    return tuple(found)


@dataclass(frozen=True, slots=True)
class Settings:
    award: AwardSettings
    source: SourceSettings
    imap: ImapSettings
    smtp: SmtpSettings
    outbox: OutboxSettings
    processing: ProcessingSettings
    database: DatabaseSettings
    web: WebSettings
    security: SecuritySettings = SecuritySettings()
    ops: OpsSettings = OpsSettings()
    oauth: OAuthSettings = OAuthSettings()
    graph: GraphSettings = GraphSettings()

    @property
    def bot_address(self) -> str:
        return parseaddr(self.smtp.sender)[1].lower() or self.award.mailbox.lower()


def _text(name: str, value: Any) -> str:
    if not isinstance(value, str):
        raise ConfigError(f"{name}: expected a text value in quotes, got {value!r}")
    return value


def _integer(name: str, value: Any, low: int = 0, high: int = 10**9) -> int:
    if isinstance(value, str):
        try:
            value = int(value.strip())
        except ValueError:
            raise ConfigError(f"{name}: expected a whole number, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise ConfigError(f"{name}: expected a whole number, got {value!r}")
    if not low <= value <= high:
        raise ConfigError(f"{name}: expected a number from {low} to {high}, got {value}")
    return value


def _choice(*options: str) -> Callable[[str, Any], str]:
    def check(name: str, value: Any) -> str:
        text = _text(name, value).strip().lower()
        if text not in options:
            raise ConfigError(f"{name}: expected one of {' | '.join(options)}, got {value!r}")
        return text

    return check


def _port(name: str, value: Any) -> int:
    return _integer(name, value, 1, 65535)


def _year(name: str, value: Any) -> int:
    return _integer(name, value, 1990, 2200)


def _positive(name: str, value: Any) -> int:
    return _integer(name, value, 1)


def _workers(name: str, value: Any) -> int:
    return _integer(name, value, 0, 64)


def _date(name: str, value: Any) -> date:
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(_text(name, value).strip())
    except ValueError:
        raise ConfigError(f"{name}: expected a date like 2017-06-30, got {value!r}") from None


def _timezone(name: str, value: Any) -> str:
    text = _text(name, value).strip()
    try:
        ZoneInfo(text)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name}: expected a time zone like Europe/Stockholm, got {value!r}") from None
    return text


def _address(name: str, value: Any) -> str:
    text = _text(name, value).strip()
    if "@" not in parseaddr(text)[1]:
        raise ConfigError(f"{name}: expected an e-mail address, got {value!r}")
    return text


def _url(name: str, value: Any) -> str:
    text = _text(name, value).strip()
    if "://" not in text:
        raise ConfigError(f"{name}: expected a database URL like sqlite:///var/intake.db, got {value!r}")
    return text


def _web_address(name: str, value: Any) -> str:
    text = _text(name, value).strip().rstrip("/")
    if not text.startswith(("https://", "http://")) or len(text.split("/")) < 3 or not text.split("/")[2]:
        raise ConfigError(f"{name}: expected a URL like https://graph.microsoft.com/v1.0, got {value!r}")
    return text


def _authority(name: str, value: Any) -> str:
    text = _text(name, value).strip().rstrip("/")
    if not text.startswith("https://") or len(text.split("/")) < 4:
        raise ConfigError(
            f"{name}: expected an https URL with the tenant, like "
            f"https://login.microsoftonline.com/{{tenant_id}}, got {value!r}"
        )
    return text


def _domains(name: str, value: Any) -> tuple[str, ...]:
    """A list of domains, or (from the environment) one text of them separated by commas."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple) or not all(isinstance(item, str) for item in items):
        raise ConfigError(f"{name}: expected a list of domains like [\"stockholm.se\"], got {value!r}")
    domains = tuple(item.strip().lower().strip(".") for item in items if item.strip())
    for domain in domains:
        if "." not in domain or "@" in domain or any(ch.isspace() for ch in domain):
            raise ConfigError(f"{name}: {domain!r} is not a domain like stockholm.se")
    return domains


# section -> key -> (dataclass field, converter, default or REQUIRED)
SCHEMA: dict[str, dict[str, tuple[str, Callable[[str, Any], Any], Any]]] = {
    "award": {
        "year": ("year", _year, REQUIRED),
        "mailbox": ("mailbox", _address, REQUIRED),
        "protocol_deadline": ("protocol_deadline", _date, REQUIRED),
        "timezone": ("timezone", _timezone, "Europe/Stockholm"),
    },
    "source": {
        "kind": ("kind", _choice("imap", "maildir", "graph"), "imap"),
        "maildir": ("maildir", _text, "var/maildir"),
    },
    "imap": {
        "host": ("host", _text, ""),
        "port": ("port", _port, 993),
        "security": ("security", _choice(*SECURITY_MODES), "ssl"),
        "username": ("username", _text, ""),
        "password": ("password", _text, ""),
        "folder": ("folder", _text, "INBOX"),
        "poll_interval": ("poll_interval", _positive, 60),
        "idle_timeout": ("idle_timeout", _positive, 1500),
        "auth": ("auth", _choice(*AUTH_MODES), "basic"),
        "timeout": ("timeout", _positive, 60),
    },
    "smtp": {
        "host": ("host", _text, ""),
        "port": ("port", _port, 587),
        "security": ("security", _choice(*SECURITY_MODES), "starttls"),
        "username": ("username", _text, ""),
        "password": ("password", _text, ""),
        "from": ("sender", _address, ""),
        "auth": ("auth", _choice(*AUTH_MODES), "basic"),
        "timeout": ("timeout", _positive, 60),
    },
    "oauth": {
        "tenant_id": ("tenant_id", _text, ""),
        "client_id": ("client_id", _text, ""),
        "client_secret": ("client_secret", _text, ""),
        "authority": ("authority", _authority, "https://login.microsoftonline.com/{tenant_id}"),
        "scope": ("scope", _text, "https://outlook.office365.com/.default"),
        "token_cache": ("token_cache", _text, "var/oauth-token-cache.json"),
        "timeout": ("timeout", _positive, 60),
    },
    "graph": {
        "mailbox": ("mailbox", _text, ""),
        "folder": ("folder", _text, "inbox"),
        "base_url": ("base_url", _web_address, "https://graph.microsoft.com/v1.0"),
        "poll_interval": ("poll_interval", _positive, 60),
        "timeout": ("timeout", _positive, 60),
    },
    "outbox": {
        "transport": ("transport", _choice("smtp", "files", "graph"), "smtp"),
        "path": ("path", _text, "var/outbox"),
        "replies_per_hour": ("replies_per_hour", _positive, 5),
        "max_attempts": ("max_attempts", _positive, 10),
        "retry_base_seconds": ("retry_base_seconds", _positive, 60),
    },
    "processing": {"workers": ("workers", _workers, 0)},
    "database": {"url": ("url", _url, "sqlite:///var/intake.db")},
    "web": {
        "host": ("host", _text, "127.0.0.1"),
        "port": ("port", _port, 8080),
        "secret_key": ("secret_key", _text, ""),
        "session_minutes": ("session_minutes", _positive, 30),
        "trusted_user_header": ("trusted_user_header", _text, ""),
        "reminder_days": ("reminder_days", _integer, 0),
    },
    "security": {
        "reply_policy": ("reply_policy", _choice(*REPLY_POLICIES), "any"),
        "authserv_id": ("authserv_id", _text, ""),
        "reply_domains": ("reply_domains", _domains, ()),
    },
    "ops": {
        "alert_to": ("alert_to", _address_list, ()),
        "alert_after_minutes": ("alert_after_minutes", _positive, 30),
        "alert_after_failures": ("alert_after_failures", _positive, 10),
        "log_format": ("log_format", _choice("text", "json"), "text"),
        "metrics_token": ("metrics_token", _text, ""),
    },
}

SECTION_TYPES = {
    "award": AwardSettings,
    "source": SourceSettings,
    "imap": ImapSettings,
    "smtp": SmtpSettings,
    "oauth": OAuthSettings,
    "graph": GraphSettings,
    "outbox": OutboxSettings,
    "processing": ProcessingSettings,
    "database": DatabaseSettings,
    "web": WebSettings,
    "security": SecuritySettings,
    "ops": OpsSettings,
}


def env_name(section: str, key: str) -> str:
    return f"INTAKE_{section.upper()}_{key.upper()}"


def parse_settings(toml_text: str, environ: Mapping[str, str] | None = None) -> Settings:
    """Build validated Settings from TOML text and environment overrides."""
    environ = environ or {}
    try:
        document = tomllib.loads(toml_text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"configuration is not valid TOML: {exc}") from None
    for section, values in document.items():
        if section not in SCHEMA:
            raise ConfigError(f"[{section}]: unknown section (known: {', '.join(SCHEMA)})")
        if not isinstance(values, dict):
            raise ConfigError(f"{section}: expected a [{section}] table")
        for key in values:
            if key not in SCHEMA[section]:
                raise ConfigError(f"{section}.{key}: unknown key (known: {', '.join(SCHEMA[section])})")

    sections: dict[str, Any] = {}
    for section, keys in SCHEMA.items():
        given = document.get(section, {})
        fields: dict[str, Any] = {}
        for key, (field_name, convert, default) in keys.items():
            name = f"{section}.{key}"
            variable = env_name(section, key)
            if variable in environ:
                value, name = environ[variable], f"{name} (from {variable})"
            elif key in given:
                value = given[key]
            elif default is REQUIRED:
                raise ConfigError(f"{name}: missing; expected {_expected(convert)}")
            else:
                fields[field_name] = default
                continue
            fields[field_name] = convert(name, value)
        sections[section] = SECTION_TYPES[section](**fields)

    settings = Settings(**sections)
    _check_consistency(settings)
    return settings


def _expected(convert: Callable[[str, Any], Any]) -> str:
    expected: dict[Callable[[str, Any], Any], str] = {
        _year: "an award year like 2017",
        _address: "an e-mail address",
        _date: "a date like 2017-06-30",
    }
    return expected.get(convert, "a value")


def _check_oauth(settings: Settings) -> None:
    """Microsoft 365 sign-in: the app registration must be complete wherever a token is needed."""
    smtp_oauth = settings.outbox.transport == "smtp" and settings.smtp.auth == "xoauth2"
    users = [
        ("source.kind = \"graph\"", settings.source.kind == "graph"),
        ("imap.auth = \"xoauth2\"", settings.source.kind == "imap" and settings.imap.auth == "xoauth2"),
        ("smtp.auth = \"xoauth2\"", smtp_oauth),
        ("outbox.transport = \"graph\"", settings.outbox.transport == "graph"),
    ]
    needed_by = [name for name, used in users if used]
    if not needed_by:
        return
    oauth = settings.oauth
    for key, value, what in (
        ("tenant_id", oauth.tenant_id, "the directory (tenant) ID of the app registration"),
        ("client_id", oauth.client_id, "the application (client) ID of the app registration"),
        ("client_secret", oauth.client_secret, "the app's client secret (set INTAKE_OAUTH_CLIENT_SECRET)"),
    ):
        if not value.strip():
            raise ConfigError(f"oauth.{key}: missing; expected {what}, needed by {needed_by[0]}")
    if smtp_oauth and not settings.smtp.username:
        raise ConfigError("smtp.username: missing; expected the mailbox address to send as, for xoauth2")


def _check_consistency(settings: Settings) -> None:
    if settings.source.kind == "imap":
        if not settings.imap.host:
            raise ConfigError("imap.host: missing; expected the IMAP server's host name")
        if not settings.imap.username:
            raise ConfigError("imap.username: missing; expected the mailbox's user name")
    elif settings.source.kind == "maildir" and not settings.source.maildir:
        raise ConfigError("source.maildir: missing; expected a folder for the local Maildir")
    if settings.outbox.transport == "smtp" and not settings.smtp.host:
        raise ConfigError("smtp.host: missing; expected the SMTP server's host name")
    _check_oauth(settings)
