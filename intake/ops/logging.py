"""Logs for operations: one JSON object a line when asked (`ops.log_format = "json"`), and no secrets.

`JsonFormatter` writes `time` (UTC, ISO 8601), `level`, `logger`, `message`, any extra
fields given with `extra=`, and `exception` with the traceback. `Redactor`, a filter on
every handler, rewrites each record before any formatter sees it: the configured secrets
(IMAP and SMTP passwords, the web secret key, the metrics token, the OAuth client secret, a
database URL's password) become `***`, and so do `Bearer ...` tokens, `AUTH PLAIN/LOGIN ...`
arguments, `password=...`-style pairs and passwords in URLs. The bot never logs mail bodies: log calls
name mails by Message-ID, sender, outcome and file name only.
"""

from __future__ import annotations

import contextlib
import json
import logging
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError

from intake.config import Settings

REDACTED = "***"
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
MIN_SECRET_LENGTH = 3  # shorter "secrets" would blank out ordinary words
PATTERNS = (
    (re.compile(r"\b(Bearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), rf"\1{REDACTED}"),
    (re.compile(r"\b(AUTH(?:ENTICATE)?\s+(?:PLAIN|LOGIN|XOAUTH2|OAUTHBEARER|CRAM-MD5)\b\s*)\S+"),
     rf"\1{REDACTED}"),
    (re.compile(r"\b((?:password|passwd|pwd|secret|token|secret_key|metrics_token)\b[\"']?\s*[=:]\s*[\"']?)"
                r"[^\s\"',;&]+", re.IGNORECASE), rf"\1{REDACTED}"),
    (re.compile(r"\b([a-z][a-z0-9+.-]*://[^\s/:@]+:)[^\s/@]+@", re.IGNORECASE), rf"\1{REDACTED}@"),
)
# Attributes every LogRecord has; anything else on a record came with `extra=`.
STANDARD_ATTRIBUTES = (frozenset(vars(logging.LogRecord("", 0, "", 0, "", None, None)))
                       | {"message", "asctime"})


class Redactor(logging.Filter):
    """Rewrites records so that no configured secret, token or AUTH argument reaches a log."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        super().__init__()
        self.secrets: tuple[str, ...] = ()
        self.set_secrets(secrets)

    def set_secrets(self, secrets: Iterable[str]) -> None:
        # longest first: a secret that contains another is replaced whole
        found = {s for s in secrets if s and len(s) >= MIN_SECRET_LENGTH}
        self.secrets = tuple(sorted(found, key=len, reverse=True))

    def redact(self, text: str) -> str:
        for secret in self.secrets:
            text = text.replace(secret, REDACTED)
        for pattern, replacement in PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # noqa: BLE001 - a broken log call is the handler's to report
            return True
        record.msg, record.args = self.redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = self.redact(record.exc_text)
        if record.stack_info:
            record.stack_info = self.redact(record.stack_info)
        for key, value in list(vars(record).items()):
            if key not in STANDARD_ATTRIBUTES and isinstance(value, str):
                setattr(record, key, self.redact(value))
        return True


class JsonFormatter(logging.Formatter):
    """One JSON object a line: time, level, logger, message, extra fields, exception."""

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in STANDARD_ATTRIBUTES and not key.startswith("_") and key not in entry:
                entry[key] = value
        if record.exc_info and not record.exc_text:
            record.exc_text = self.formatException(record.exc_info)
        if record.exc_text:
            entry["exception"] = record.exc_text
        if record.stack_info:
            entry["stack"] = record.stack_info
        return json.dumps(entry, ensure_ascii=False, default=str)


def install(handlers: Iterable[logging.Handler] | None = None) -> None:
    """Put a Redactor on every handler (the root logger's by default), once."""
    for handler in handlers if handlers is not None else logging.getLogger().handlers:
        if not any(isinstance(f, Redactor) for f in handler.filters):
            handler.addFilter(Redactor())


def configure(settings: Settings, handlers: Iterable[logging.Handler] | None = None) -> None:
    """Apply `ops.log_format` and the configured secrets to these handlers; by default to the root
    logger's handlers that `install` prepared (the cli's stderr handler), and no others."""
    if handlers is None:
        chosen = [h for h in logging.getLogger().handlers if any(isinstance(f, Redactor) for f in h.filters)]
    else:
        chosen = list(handlers)
        install(chosen)
    formatter = JsonFormatter() if settings.ops.log_format == "json" else logging.Formatter(TEXT_FORMAT)
    for handler in chosen:
        handler.setFormatter(formatter)
        for redactor in handler.filters:
            if isinstance(redactor, Redactor):
                redactor.set_secrets(secrets_of(settings))


def secrets_of(settings: Settings) -> list[str]:
    """Every secret the configuration holds: none of them may reach a log."""
    found = [settings.imap.password, settings.smtp.password, settings.web.secret_key,
             settings.ops.metrics_token, settings.oauth.client_secret]
    with contextlib.suppress(ArgumentError):
        found.append(make_url(settings.database.url).password or "")
    return [str(secret) for secret in found if secret]
