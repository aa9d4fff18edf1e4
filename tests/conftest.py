"""Shared fixtures: real servers come from tests/dovecot.py and tests/smtpserver.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.bot import Bot

if TYPE_CHECKING:  # imported at run time by pytest_plugins, which must come first (assertion rewriting)
    from tests.desk import Desk
    from tests.dovecot import Dovecot
    from tests.smtpserver import SmtpTestServer

pytest_plugins = ["tests.dovecot", "tests.smtpserver", "tests.postgres"]


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """SQLite in a temporary folder, or the PostgreSQL named by INTAKE_TEST_DATABASE_URL, emptied."""
    from tests.postgres import TEST_DATABASE_VARIABLE, empty

    url = os.environ.get(TEST_DATABASE_VARIABLE)
    if not url:
        yield f"sqlite:///{tmp_path / 'intake.db'}"
        return
    empty(url)
    yield url


@pytest.fixture
def bot(tmp_path: Path, dovecot: Dovecot, smtp_server: SmtpTestServer, database_url: str) -> Bot:
    """The `intake` command against this test's Dovecot and SMTP server, the sample register imported."""
    bot = Bot(tmp_path, dovecot.port, dovecot.user, dovecot.password, smtp_server.port, database_url)
    bot.import_register()
    return bot


@pytest.fixture
def desk(tmp_path: Path, database_url: str) -> Desk:
    """The web desk on the demo's season (register, mails processed), one coordinator account."""
    from tests.desk import make_desk

    return make_desk(tmp_path, database_url)
