"""Mailbox sources: IMAP and a local Maildir, behind intake.domain.MailSource."""
