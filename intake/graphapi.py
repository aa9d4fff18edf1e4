"""What the Microsoft Graph mailbox source and the Graph mailer share: reading Graph's answers.

Graph says how long to wait in `Retry-After` (seconds, or an HTTP date) and what went wrong
in a JSON body `{"error": {"code", "message"}}`; both are read here once.
"""

from __future__ import annotations

import email.utils
from collections.abc import Mapping
from datetime import UTC, datetime

import requests

DEFAULT_RETRY_AFTER = 5.0  # seconds, when a throttled answer names no time


def retry_after(value: str | None) -> float:
    """Retry-After in seconds: a number, or an HTTP date (RFC 9110)."""
    if not value:
        return DEFAULT_RETRY_AFTER
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return DEFAULT_RETRY_AFTER
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())


def error_code(response: requests.Response) -> str:
    """Graph's error code ("ErrorSendAsDenied"), or "" when the body has none."""
    try:
        error = response.json().get("error", {})
    except (ValueError, AttributeError):
        return ""
    return str(error.get("code") or "") if isinstance(error, dict) else ""


def describe(response: requests.Response, hints: Mapping[int, str]) -> str:
    """One line: the status, Graph's error code and message, and the hint for that status."""
    detail = ""
    try:
        error = response.json().get("error", {})
        if isinstance(error, dict):
            detail = ": ".join(str(part) for part in (error.get("code"), error.get("message")) if part)
    except (ValueError, AttributeError):
        detail = response.text[:200].strip()
    text = f"HTTP {response.status_code}"
    if detail:
        text += f" {' '.join(detail.split())}"
    return text + hints.get(response.status_code, "")
