"""Identify a raw mail before parsing it: its SHA-256 and its Message-ID (or one made from the hash)."""

from __future__ import annotations

import hashlib
import re

# Only the header block is scanned: this must work on any bytes, however broken.
HEADER_END = re.compile(rb"\r?\n\r?\n")
MESSAGE_ID = re.compile(rb"^message-id:[ \t]*(.*(?:\r?\n[ \t].*)*)", re.IGNORECASE | re.MULTILINE)
ANGLE_ID = re.compile(r"<[^<>\s]+>")
MAX_ID_LENGTH = 900


def sha256_hex(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def synthesised_message_id(raw: bytes) -> str:
    """A stable id for a mail without one, so the same bytes are always the same mail."""
    return f"<{sha256_hex(raw)[:32]}@intake.invalid>"


def message_id_of(raw: bytes) -> tuple[str, bool]:
    """(Message-ID, synthesised?) read from the header block only."""
    match = HEADER_END.search(raw)
    head = raw[: match.start()] if match else raw[:65536]
    found = MESSAGE_ID.search(head)
    if found:
        value = re.sub(r"\s+", "", found.group(1).decode("ascii", "replace"))
        angle = ANGLE_ID.search(value)
        if angle and len(angle.group(0)) <= MAX_ID_LENGTH:
            return angle.group(0), False
        if value and len(value) < MAX_ID_LENGTH and "@" in value:
            return f"<{value.strip('<>')}>", False
    return synthesised_message_id(raw), True
