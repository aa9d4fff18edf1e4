"""The bot's exception tree: what to retry, what to shunt, whose fault it is.

    IntakeError
    ├── ConfigError                  our setup is wrong: stop at start with one line
    ├── SendOutcomeUnknown           a reply went out and no answer came: it may have arrived;
    │                                never retried, recorded `uncertain`
    ├── TransientError               retry later; the mail or reply stays queued
    │   ├── MailboxUnavailable       IMAP/Maildir could not be reached or dropped us
    │   ├── TransientSendError       SMTP 4xx, Graph 429/5xx, connection refused, a timeout
    │   │                            before the mail was handed over
    │   └── StorageUnavailable       the database could not be reached
    └── PermanentError               retrying will not help
        ├── MailParseError           the sender's mail can't be parsed: store, record, review
        ├── UnreadableDocument       an attachment can't be read (corrupt, encrypted, empty)
        ├── PermanentSendError       SMTP 5xx, Graph 4xx: the reply is marked failed, shown to
        │                            coordinators
        └── RegisterFileError        the register file as a whole can't be read

Adapters wrap library errors with ``raise X(...) from exc`` so callers only ever
catch these.
"""

from __future__ import annotations


class IntakeError(Exception):
    """Base of every error the bot raises on purpose."""


class ConfigError(IntakeError):
    """A configuration key is missing or wrong; the message names the key."""


class SendOutcomeUnknown(IntakeError):
    """The mail was handed over and no answer came: it may or may not have been sent.

    Neither transient (a retry could answer the sender twice) nor permanent (it may well
    have arrived): the outbox records the reply as `uncertain`, as it does for a send
    interrupted by a crash, and never resends it by itself."""


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
