"""The matcher's index of the register is kept between rounds and built again exactly when the
register it comes from changed: names, committees, units added or removed, aliases; not when a
unit's state changes (which every confirmation does)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import delete, select, update
from sqlalchemy.orm import Session

from intake.domain import MailboxRef, Outcome, RawMail
from intake.pipeline import Context, import_register, process
from intake.pipeline.ingest import store_raw
from intake.storage import store
from intake.storage.models import MessageRow, UnitRow
from tests.bot import REGISTER_CSV, protocol_mail
from tests.contexts import make_context


@pytest.fixture
def ctx(each_database_url: str) -> Iterator[Context]:
    context = make_context(each_database_url)
    import_register(context, "register.csv", REGISTER_CSV.encode(), actor="test")
    yield context
    context.sessions.kw["bind"].dispose()


@pytest.fixture
def builds(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many units each build of the index had."""
    made: list[int] = []
    real = process.build_index

    def counting(units, aliases):  # type: ignore[no-untyped-def]
        made.append(len(units))
        return real(units, aliases)

    monkeypatch.setattr(process, "build_index", counting)
    return made


def register(ctx: Context) -> process.Register:
    with ctx.sessions.begin() as session:
        return process.load_register(ctx, session)


def decide(ctx: Context, number: int, units: tuple[str, ...]) -> set[str]:
    """Process a protokollsutdrag naming `units`; the states they are in afterwards."""
    sample = protocol_mail(units=units, subject=f"Protokollsutdrag Socialnämnden § 9 ({number})")
    store_raw(ctx, RawMail(MailboxRef("maildir:test", "1", str(number)), sample.raw, sample.received_at))
    with ctx.sessions.begin() as session:
        pk = session.scalars(select(MessageRow.id).order_by(MessageRow.id.desc())).first()
    assert pk is not None
    assert process.process_message(ctx, pk) in (Outcome.CONFIRMED, Outcome.INCOMPLETE)
    with ctx.sessions.begin() as session:
        return {unit_named(session, name).state for name in units}


def unit_named(session: Session, name: str) -> UnitRow:
    return session.scalars(select(UnitRow).where(UnitRow.name == name)).one()


def test_the_index_is_built_once_while_the_register_stays_the_same(ctx: Context, builds: list[int]) -> None:
    first = register(ctx)
    assert decide(ctx, 1, ("Korttidshemmet Drömmen",)) == {"confirmed"}  # a unit's state changes
    assert decide(ctx, 2, ("Förstärkningsteamet",)) == {"confirmed"}
    assert register(ctx) is first
    assert len(builds) == 1


def test_a_renamed_unit_is_matched_by_its_new_name_at_once(ctx: Context, builds: list[int]) -> None:
    register(ctx)
    with ctx.sessions.begin() as session:
        session.execute(update(UnitRow).where(UnitRow.name == "Korttidshemmet Drömmen")
                        .values(name="Korttidshemmet Solglimten"))
    assert decide(ctx, 1, ("Korttidshemmet Solglimten",)) == {"confirmed"}
    assert len(builds) == 2


def test_an_alias_a_unit_added_and_a_unit_removed_each_rebuild_it(ctx: Context, builds: list[int]) -> None:
    before = register(ctx)
    with ctx.sessions.begin() as session:
        unit = unit_named(session, "Förstärkningsteamet")
        store.add_alias(session, unit, "Förstärkningsgruppen", actor="test")
    with_alias = register(ctx)
    assert with_alias is not before and len(builds) == 2
    sample = protocol_mail(units=("Förstärkningsgruppen",))
    store_raw(ctx, RawMail(MailboxRef("maildir:test", "1", "1"), sample.raw, sample.received_at))
    with ctx.sessions.begin() as session:
        [pk] = session.scalars(select(MessageRow.id))
    process.process_message(ctx, pk)
    with ctx.sessions.begin() as session:
        assert unit_named(session, "Förstärkningsteamet").state == "confirmed"

    csv = REGISTER_CSV + "2017;Nya Hemmet;Socialtjänst;Socialförvaltningen;Socialnämnden;\n"
    import_register(ctx, "register.csv", csv.encode(), actor="test")
    assert len(register(ctx).units) == len(with_alias.units) + 1 and len(builds) == 3

    with ctx.sessions.begin() as session:
        session.execute(delete(UnitRow).where(UnitRow.name == "Nya Hemmet"))
    assert len(register(ctx).units) == len(with_alias.units) and len(builds) == 4
    assert register(ctx) is register(ctx) and len(builds) == 4


def test_each_context_keeps_its_own(each_database_url: str, ctx: Context, builds: list[int]) -> None:
    """A second instance (another Context on the same database) builds its own index once."""
    other = make_context(each_database_url)
    try:
        assert register(ctx) is not register(other)
        assert register(other) is register(other) and len(builds) == 2
    finally:
        other.sessions.kw["bind"].dispose()
