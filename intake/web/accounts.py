"""Coordinator accounts: Argon2id password hashes (argon2-cffi), checked in constant time."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy.orm import Session

from intake.storage import store
from intake.storage.models import UserRow

HASHER = PasswordHasher()  # argon2id with the library's current (RFC 9106 low-memory) parameters
NO_PASSWORD = "!"  # an account for single sign-on only: no password ever matches it
MIN_PASSWORD_LENGTH = 10
_DUMMY_HASH = HASHER.hash("a password nobody has")  # so an unknown user costs as much as a wrong password


class AccountError(ValueError):
    """A user name or password that can't be used; the message is Swedish, for the coordinator."""


def add_user(session: Session, username: str, password: str | None, actor: str,
             display_name: str = "") -> UserRow:
    """Create a coordinator (or give an existing one a new password). None: single sign-on only."""
    name = username.strip().lower()
    if not name or len(name) > 200 or any(ch.isspace() for ch in name):
        raise AccountError("Användarnamnet får inte vara tomt eller innehålla mellanslag.")
    if password is not None and len(password) < MIN_PASSWORD_LENGTH:
        raise AccountError(f"Lösenordet måste ha minst {MIN_PASSWORD_LENGTH} tecken.")
    hashed = NO_PASSWORD if password is None else HASHER.hash(password)
    return store.save_user(session, name, display_name.strip(), hashed, actor)


def authenticate(session: Session, username: str, password: str) -> UserRow | None:
    """The active user with this name and password, else None. Rehashes an outdated hash."""
    row = store.user_by_name(session, username)
    stored = row.password_hash if row is not None and row.active else _DUMMY_HASH
    try:
        HASHER.verify(stored if stored != NO_PASSWORD else _DUMMY_HASH, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return None
    if row is None or not row.active or stored == NO_PASSWORD:
        return None
    if HASHER.check_needs_rehash(stored):
        row.password_hash = HASHER.hash(password)
    return row
