"""Import a register file: parse it, then add, update or leave each unit, in one transaction."""

from __future__ import annotations

from intake.domain import ImportReport
from intake.pipeline.context import Context
from intake.pipeline.process import rematch_waiting
from intake.register import parse_register
from intake.storage import store


def import_register(ctx: Context, filename: str, data: bytes, actor: str) -> ImportReport:
    """Rows that can't be read come back in `errors` as (line, reason); the rest are imported.

    When units were added or changed, the mails still waiting on the register are matched
    again (see process.rematch_waiting)."""
    parsed = parse_register(filename, data)
    with ctx.sessions.begin() as session:
        report = store.upsert_units(session, parsed.units, actor=actor)
        store.audit(session, actor, "register_imported", f"file:{filename}",
                    added=report.added, updated=report.updated, unchanged=report.unchanged,
                    errors=len(parsed.errors))
    rematched = rematch_waiting(ctx) if report.added or report.updated else []
    return ImportReport(report.added, report.updated, report.unchanged, parsed.errors,
                        rematched=tuple((mid, str(new) if new else None) for mid, _, new in rematched))
