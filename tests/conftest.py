"""Shared fixtures: real servers come from tests/dovecot.py and tests/smtpserver.py."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text

from intake.storage.database import make_engine
from intake.storage.models import Base

pytest_plugins = ["tests.dovecot", "tests.smtpserver"]
TEST_DATABASE_VARIABLE = "INTAKE_TEST_DATABASE_URL"


@pytest.fixture
def database_url(tmp_path: Path) -> Iterator[str]:
    """SQLite in a temporary folder, or the PostgreSQL named by INTAKE_TEST_DATABASE_URL, emptied."""
    url = os.environ.get(TEST_DATABASE_VARIABLE)
    if not url:
        yield f"sqlite:///{tmp_path / 'intake.db'}"
        return
    engine = make_engine(url)
    with engine.begin() as connection:
        Base.metadata.drop_all(connection)
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
    engine.dispose()
    yield url
