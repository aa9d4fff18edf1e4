"""The register of units: search, filter, add, edit, import and export.

Every change goes through the same store functions as `intake units import` (so it is audited
the same way, under the coordinator's name), and a change that adds or alters units matches
the mails still waiting on the register again, without answering their senders twice.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import quote

from flask import Blueprint, Response, flash, redirect, render_template, request, url_for
from werkzeug.routing import BuildError

from intake.domain import AwardClass, ImportReport, Unit
from intake.errors import RegisterFileError
from intake.pipeline import import_register
from intake.pipeline.process import rematch_waiting
from intake.register import COLUMNS, OPERATORS, synthesise_unit_id
from intake.storage import store
from intake.storage.export import (
    MEDIA_TYPES,
    RegisterEntry,
    RegisterFilter,
    export_bytes,
    register_entries,
    swedish_key,
)
from intake.storage.models import UnitRow
from intake.web import labels
from intake.web.common import actor, context, fail

bp = Blueprint("register", __name__, url_prefix="/register")

# The classes by a short key (for the filter's URL) and a short name (for tables and the filter).
CLASS_KEYS: dict[str, AwardClass] = {
    "forskola": AwardClass.PRESCHOOL,
    "skola": AwardClass.SCHOOL,
    "aldreomsorg": AwardClass.ELDERLY,
    "socialtjanst": AwardClass.SOCIAL,
    "andra": AwardClass.OTHER,
}
SHORT_CLASSES: dict[str, str] = {
    AwardClass.PRESCHOOL: "Förskola",
    AwardClass.SCHOOL: "Skola",
    AwardClass.ELDERLY: "Äldreomsorg",
    AwardClass.SOCIAL: "Socialtjänst/LSS",
    AwardClass.OTHER: "Andra verksamheter",
}
OPERATOR_LABELS = {"": "Ej angiven", "kommunal": "Kommunal", "enskild": "Enskild"}
# Column sizes of UnitRow: longer text would not fit.
MAX_LENGTHS = {"name": 300, "administration": 200, "board": 200, "contact_email": 500, "unit_id": 64}
MAX_FILENAME = 200
FIELD_ORDER = ("name", "award_class", "administration", "board", "operator", "contact_email", "unit_id")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+\.[^@\s]+")  # as the register importer checks it


@dataclass
class UnitForm:
    """The add/edit form's values as typed, and a Swedish message per field that is wrong."""

    name: str = ""
    award_class: str = ""
    administration: str = ""
    board: str = ""
    operator: str = ""
    contact_email: str = ""
    unit_id: str = ""
    errors: dict[str, str] = field(default_factory=dict)

    @classmethod
    def of_row(cls, row: UnitRow) -> UnitForm:
        return cls(name=row.name, award_class=row.award_class, administration=row.administration,
                   board=row.board, operator=row.operator or "", contact_email=row.contact_email or "",
                   unit_id=row.unit_id)

    @classmethod
    def of_request(cls, *, with_id: bool) -> UnitForm:
        form = request.form
        return cls(name=_clean(form.get("name", "")), award_class=form.get("award_class", "").strip(),
                   administration=_clean(form.get("administration", "")),
                   board=_clean(form.get("board", "")), operator=form.get("operator", "").strip().lower(),
                   contact_email=form.get("contact_email", "").strip(),
                   unit_id=_clean(form.get("unit_id", "")) if with_id else "")


def _clean(text: str) -> str:
    """As the importer reads a cell: composed å/ä/ö, whitespace collapsed."""
    return " ".join(unicodedata.normalize("NFC", text).split())


# --- the register ---------------------------------------------------------------------------


@bp.route("/")
def units() -> Any:
    ctx = context()
    year = ctx.settings.award.year
    wanted = _filter_of_request()
    with ctx.sessions.begin() as db:
        everything = register_entries(db, year, ctx.settings.award.tz)
    shown = [entry for entry in everything if wanted.matches(entry)]
    counts = Counter(entry.state for entry in shown)
    return render_template(
        "register_units.html", units=shown, total=len(everything), wanted=wanted,
        query=_filter_query(wanted), counts=[(code, counts.get(code, 0)) for code in labels.STATES],
        boards=_distinct(entry.board for entry in everything),
        administrations=_distinct(entry.administration for entry in everything),
        class_options=[(key, SHORT_CLASSES[value]) for key, value in CLASS_KEYS.items()],
        class_key=_class_key(wanted.award_class), short_class=_short_class, mail_url=mail_url,
    )


@bp.route("/export.<fmt>")
def export(fmt: str) -> Any:
    """The register as shown (the same filters) as an XLSX or CSV download."""
    if fmt not in MEDIA_TYPES:
        fail(404, "Exporten finns som .xlsx och .csv.")
    ctx = context()
    year = ctx.settings.award.year
    wanted = _filter_of_request()
    with ctx.sessions.begin() as db:
        entries = register_entries(db, year, ctx.settings.award.tz, wanted)
        store.audit(db, actor(), "register_exported", f"register:{year}", format=fmt, units=len(entries),
                    filtered=wanted.active)
    filename = f"register-{year}{'-urval' if wanted.active else ''}.{fmt}"
    response = Response(export_bytes(entries, fmt, year), mimetype=MEDIA_TYPES[fmt])
    response.headers["Content-Disposition"] = (
        f"attachment; filename=\"{filename}\"; filename*=UTF-8''{quote(filename)}")
    response.headers["Cache-Control"] = "no-store"  # contact addresses: keep no copy in caches
    return response


def _filter_of_request() -> RegisterFilter:
    args = request.args
    klass = CLASS_KEYS.get(args.get("klass", ""))
    return RegisterFilter(text=args.get("q", "").strip(), board=args.get("namnd", "").strip(),
                          award_class=klass.value if klass else "",
                          administration=args.get("forvaltning", "").strip(),
                          state=args.get("status", "") if args.get("status", "") in labels.STATES else "")


def _filter_query(wanted: RegisterFilter) -> dict[str, str]:
    """The filter as URL parameters, for the export links."""
    query = {"q": wanted.text, "namnd": wanted.board, "klass": _class_key(wanted.award_class),
             "forvaltning": wanted.administration, "status": wanted.state}
    return {key: value for key, value in query.items() if value}


def _class_key(value: str) -> str:
    return next((key for key, klass in CLASS_KEYS.items() if klass.value == value), "")


def _short_class(value: str) -> str:
    return SHORT_CLASSES.get(value, value)


def _distinct(values: Iterable[str]) -> list[str]:
    return sorted(set(values), key=swedish_key)


def mail_url(pk: int) -> str:
    """The mail's page in the message log."""
    try:
        return url_for("overview.message", pk=pk)
    except BuildError:  # the log's page for one mail is not there yet
        return f"/mejl/{pk}"


# --- add and edit -------------------------------------------------------------------------


@bp.route("/ny", methods=["GET", "POST"])
def add() -> Any:
    ctx = context()
    year = ctx.settings.award.year
    if request.method == "GET":
        return _form_page(UnitForm(), None)
    form = UnitForm.of_request(with_id=True)
    with ctx.sessions.begin() as db:
        others = list(store.unit_rows(db, year))
        _validate(form, others, None)
        if not form.unit_id and not form.errors:
            form.unit_id = synthesise_unit_id(year, form.board, form.name)
            if any(row.unit_id == form.unit_id for row in others):
                form.errors["unit_id"] = "Det finns redan en enhet med samma namn under nämnden."
        if form.errors:
            return _form_page(form, None), 422
        report = store.upsert_units(db, [_unit(form, year)], actor=actor())
    _after_change(report, f"Enheten {form.name} är tillagd i registret.")
    return redirect(url_for("register.units"))


@bp.route("/enhet/<int:pk>", methods=["GET", "POST"])
def edit(pk: int) -> Any:
    ctx = context()
    year = ctx.settings.award.year
    with ctx.sessions.begin() as db:
        row = store.unit_of_year(db, year, pk)
        if row is None:
            fail(404, f"Enheten finns inte i registret för {year}.")
        entry = next((e for e in register_entries(db, year, ctx.settings.award.tz) if e.pk == pk), None)
        if request.method == "GET":
            return _form_page(UnitForm.of_row(row), entry)
        form = replace(UnitForm.of_request(with_id=False), unit_id=row.unit_id)
        _validate(form, [other for other in store.unit_rows(db, year) if other.id != pk], row)
        if form.errors:
            return _form_page(form, entry), 422
        report = store.upsert_units(db, [_unit(form, year)], actor=actor())
    if report.updated:
        _after_change(report, f"Ändringarna av {form.name} är sparade.")
    else:
        flash(f"Inget ändrades för {form.name}.", "info")
    return redirect(url_for("register.units"))


def _form_page(form: UnitForm, entry: RegisterEntry | None) -> str:
    return render_template(
        "register_unit.html", form=form, entry=entry, adding=entry is None, errors=form.errors,
        classes=[klass.value for klass in AwardClass], operators=OPERATOR_LABELS,
        short_class=_short_class, mail_url=mail_url)


def _validate(form: UnitForm, others: list[UnitRow], row: UnitRow | None) -> None:
    """Fill form.errors (Swedish, per field) and normalise the contact addresses."""
    required = {"name": "Skriv enhetens namn.", "administration": "Skriv förvaltningen.",
                "board": "Skriv nämnden som beslutar."}
    for name, message in required.items():
        if not getattr(form, name):
            form.errors[name] = message
    if form.award_class not in {klass.value for klass in AwardClass}:
        form.errors["award_class"] = "Välj en tävlingsklass."
    if form.operator not in OPERATORS and form.operator:
        form.errors["operator"] = "Driftformen ska vara kommunal, enskild eller ej angiven."
    addresses = [part.strip().lower() for part in re.split(r"[;,]", form.contact_email) if part.strip()]
    bad = next((address for address in addresses if not _EMAIL.fullmatch(address)), None)
    if bad is not None:
        form.errors["contact_email"] = (f"{bad} är ingen giltig e-postadress. Skriv till exempel "
                                        "namn@stockholm.se; flera adresser skiljs med semikolon.")
    else:
        form.contact_email = "; ".join(addresses)
    for name, limit in MAX_LENGTHS.items():
        if len(getattr(form, name)) > limit and name not in form.errors:
            form.errors[name] = f"Högst {limit} tecken."
    taken = row is None and any(other.unit_id == form.unit_id for other in others)
    if form.unit_id and taken and "unit_id" not in form.errors:
        form.errors["unit_id"] = f"Enhets-ID {form.unit_id} används redan av en annan enhet."
    if "name" not in form.errors and "board" not in form.errors:
        same = _identity(form.board, form.name)
        if any(_identity(other.board, other.name) == same for other in others):
            form.errors["name"] = "Det finns redan en enhet med det namnet under samma nämnd."
    ordered = {name: form.errors[name] for name in FIELD_ORDER if name in form.errors}
    form.errors.clear()
    form.errors.update(ordered)  # the error summary lists them in the form's order


def _identity(board: str, name: str) -> tuple[str, str]:
    return " ".join(board.casefold().split()), " ".join(name.casefold().split())


def _unit(form: UnitForm, year: int) -> Unit:
    return Unit(unit_id=form.unit_id, year=year, name=form.name, award_class=form.award_class,
                administration=form.administration, board=form.board, operator=form.operator or None,
                contact_email=form.contact_email or None)


def _after_change(report: ImportReport, done: str) -> None:
    """Match the waiting mails again (no replies) and say what happened."""
    rematched = rematch_waiting(context()) if report.added or report.updated else []
    if rematched:
        done += f" {len(rematched)} väntande mejl matchades om mot registret."
    flash(done, "success")


# --- import ---------------------------------------------------------------------------------


@bp.route("/importera", methods=["GET", "POST"])
def import_file() -> Any:
    columns = [(swedish, english, required) for english, (swedish, required) in COLUMNS.items()]
    if request.method == "GET":
        return render_template("register_import.html", columns=columns, error=None)
    upload = request.files.get("file")
    filename = _basename(upload.filename or "") if upload is not None else ""
    if upload is None or not filename:
        return render_template("register_import.html", columns=columns,
                               error="Välj en registerfil (.xlsx eller .csv)."), 422
    ctx = context()
    try:
        report = import_register(ctx, filename, upload.read(), actor=actor())
    except RegisterFileError as exc:
        return render_template("register_import.html", columns=columns,
                               error=f"{filename} kunde inte importeras: {exc}"), 422
    with ctx.sessions.begin() as db:
        pks = store.message_pks(db, (message_id for message_id, _ in report.rematched))
    rematched = [(message_id, outcome, pks.get(message_id)) for message_id, outcome in report.rematched]
    return render_template("register_import_result.html", filename=filename, report=report,
                           rematched=rematched, mail_url=mail_url)


def _basename(filename: str) -> str:
    """The file's own name, without a folder some browsers send along."""
    return _clean(re.split(r"[\\/]", filename)[-1])[:MAX_FILENAME]
