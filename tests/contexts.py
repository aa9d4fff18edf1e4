"""A pipeline Context in the test's own process, for tests that drive the pipeline directly.

One configuration (a Maildir source, replies written as files, one process) with what a test
changes given as keyword arguments in the environment's spelling: `outbox_max_attempts="3"`
becomes INTAKE_OUTBOX_MAX_ATTEMPTS, as an operator would set it.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from intake.cli import template_dir
from intake.config import parse_settings
from intake.pipeline import Context
from intake.replies import ReplyRenderer
from intake.storage.database import make_engine, migrate, session_factory

CONFIG = """
[award]
year = 2017
mailbox = "kvalitetsutmarkelsen@stockholm.se"
protocol_deadline = 2017-06-30
[source]
kind = "maildir"
[outbox]
transport = "files"
[processing]
workers = 1
"""


def make_context(url_or_engine: str | Engine, context: dict[str, Any] | None = None, **settings: str) -> Context:
    """A Context on the database (migrated); `settings` as INTAKE_* overrides, `context` for
    Context's own fields (clock, crashpoint, actor)."""
    engine = make_engine(url_or_engine) if isinstance(url_or_engine, str) else url_or_engine
    migrate(engine)
    environ = {f"INTAKE_{name.upper()}": value for name, value in settings.items()}
    return Context(parse_settings(CONFIG, environ), session_factory(engine), ReplyRenderer(template_dir()),
                   **(context or {}))
