"""Alembic environment: runs on the connection intake.storage.database passes in."""

from alembic import context

from intake.storage.models import Base

config = context.config
connection = config.attributes.get("connection")
if connection is None:  # pragma: no cover - only via intake.storage.database.migrate
    raise RuntimeError("run migrations through intake.storage.database.migrate()")

context.configure(
    connection=connection,
    target_metadata=Base.metadata,
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
