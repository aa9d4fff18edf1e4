"""The bot's exception tree: what to retry, what to shunt, whose fault it is.

    IntakeError
    ├── ConfigError                  our setup is wrong: stop at start with one line
    ├── TransientError               retry later; the mail or reply stays queued
    │   ├── MailboxUnavailable       IMAP/Maildir could not be reached or dropped us
    │   ├── TransientSendError       SMTP 4xx, connection refused, timeout
    │   └── StorageUnavailable       the database could not be reached
    └── PermanentError               retrying will not help
        ├── MailParseError           the sender's mail can't be parsed: store, record, review
        ├── UnreadableDocument       an attachment can't be read (corrupt, encrypted, empty)
        ├── PermanentSendError       SMTP 5xx: the reply is marked failed, shown to coordinators
        └── RegisterFileError        the register file as a whole can't be read

Adapters wrap library errors with ``raise X(...) from exc`` so callers only ever
catch these.
"""

from __future__ import annotations


class IntakeError(Exception):
    """Base of every error the bot raises on purpose."""


class ConfigError(IntakeError):
    """A configuration key is missing or wrong; the message names the key."""


class TransientError(IntakeError):
    """Try again later."""


class MailboxUnavailable(TransientError):
    pass


class TransientSendError(TransientError):
    pass


class StorageUnavailable(TransientError):
    pass


class PermanentError(IntakeError):
    """Retrying will not help."""


class MailParseError(PermanentError):
    pass


class UnreadableDocument(PermanentError):
    pass


class PermanentSendError(PermanentError):
    pass


class RegisterFileError(PermanentError):
    pass
