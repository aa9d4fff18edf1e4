"""Shared fixtures: real servers come from tests/dovecot.py and tests/smtpserver.py."""

pytest_plugins = ["tests.dovecot", "tests.smtpserver"]
