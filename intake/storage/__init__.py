"""Storage: SQLAlchemy models, queries and Alembic migrations."""
