"""Import a register file: parse it, then add, update or leave each unit, in one transaction."""

from __future__ import annotations

from intake.domain import ImportReport
from intake.pipeline.context import Context
from intake.register import parse_register
from intake.storage import store


def import_register(ctx: Context, filename: str, data: bytes, actor: str) -> ImportReport:
    """Rows that can't be read come back in `errors` as (line, reason); the rest are imported."""
    parsed = parse_register(filename, data)
    with ctx.sessions.begin() as session:
        report = store.upsert_units(session, parsed.units, actor=actor)
        store.audit(session, actor, "register_imported", f"file:{filename}",
                    added=report.added, updated=report.updated, unchanged=report.unchanged,
                    errors=len(parsed.errors))
    return ImportReport(report.added, report.updated, report.unchanged, parsed.errors)
