"""The migrations, on SQLite and on PostgreSQL: the chain builds exactly the schema the models
describe, goes down and up again, and carries the data of older revisions forward."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import JSON, Column, Engine, Integer, MetaData, Table, insert, inspect, select

from intake.storage.database import alembic_config, make_engine, migrate
from intake.storage.models import Base


@pytest.fixture
def engine(each_database_url: str) -> Iterator[Engine]:
    engine = make_engine(each_database_url)
    yield engine
    engine.dispose()


def upgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.upgrade(config, revision)


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        config = alembic_config(engine)
        config.attributes["connection"] = connection
        command.downgrade(config, revision)


def differences(engine: Engine) -> list[object]:
    with engine.connect() as connection:
        return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


def test_the_migrations_build_the_schema_of_the_models(engine: Engine) -> None:
    migrate(engine)
    assert differences(engine) == []


def test_every_migration_goes_down_and_up_again(engine: Engine) -> None:
    migrate(engine)
    downgrade(engine, "base")
    assert set(inspect(engine).get_table_names()) <= {"alembic_version"}
    migrate(engine)
    assert differences(engine) == []


def test_0005_fills_the_unknown_mentions_of_mails_decided_before(engine: Engine) -> None:
    """Before 0005 the unknown names lived only in the Swedish reasons; the upgrade reads them out."""
    upgrade(engine, "0004")
    messages = Table("messages", MetaData(), autoload_with=engine)
    reasons = {
        1: ["”Solgläntan” finns inte bland de anmälda enheterna för 2017.", "Något annat.",
            "”Solgläntan” finns inte bland de anmälda enheterna för 2017.",
            "”Förskolan Ängen, avd. Blå” finns inte bland de anmälda enheterna för 2017."],
        2: ["Protokollsutdraget är mottaget och enheterna är bekräftade."],
        3: [],
    }
    now = datetime(2017, 6, 19, 10, 0)
    with engine.begin() as connection:
        for pk, texts in reasons.items():
            connection.execute(insert(messages).values(
                id=pk, message_id=f"<m{pk}@stockholm.se>", sha256=f"{pk:064x}", raw=b"Subject: x\r\n\r\n",
                size=14, received_at=now, stored_at=now, status="processed", from_addr="", from_name="",
                subject="", missing=[], reasons=texts))
    migrate(engine)
    after = Table("messages", MetaData(), Column("id", Integer), Column("unknown_mentions", JSON))
    with engine.connect() as connection:
        found = dict(connection.execute(select(after.c.id, after.c.unknown_mentions).order_by(after.c.id)).all())
    assert found == {1: ["Solgläntan", "Förskolan Ängen, avd. Blå"], 2: None, 3: None}
