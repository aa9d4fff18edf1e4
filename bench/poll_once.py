"""Benchmark: `intake poll --once` end to end against a real Dovecot and a real SMTP server.

    .venv/bin/python bench/poll_once.py --mails 1000 --runs 3     # the issue's figure
    .venv/bin/python bench/poll_once.py --mails 50 --runs 1       # smoke test, ~15 s

What it does (bench/README.md has the why and the figures):

1. Starts a self-contained Dovecot (tests/dovecot.py) with its Maildir on tmpfs
   (/dev/shm) and an aiosmtpd SMTP server (tests/smtpserver.py) in this process.
2. Builds N distinct mails (Message-ID, sender from a pool, §, dates differ), each with
   a 2-page text-PDF protokollsutdrag that names both units of one committee of a
   generated register, and APPENDs them with an INTERNALDATE in June 2017. The mailbox
   is built once and reused by every run: the bot's database decides what is new, so a
   fresh database makes all N new again.
3. Per run, in this order, each command in a fresh child process:
   - start-up cost: fresh database + `intake units import`, then `intake poll --once`
     on an empty folder;
   - the bot: fresh database + `intake units import`, then `intake poll --once` on the
     N mails (wall clock including interpreter start; memory and CPU time from a small
     launcher process, see run_measured for why not from this script). Then checks
     that N replies reached the SMTP server, one per mail, and that
     `intake messages --json` lists N mails, all `confirmed`, reply `sent`; if one call
     left replies queued, further calls (timed) show the time to answer all N.
   - the floor: a child process that connects with imapclient, FETCHes BODY.PEEK[]
     of the same N mails in batches of 100, parses each with the stdlib `email`
     package, and extracts the text of every page of the PDF with pypdf (timed from
     connect to the last page, imports excluded).
4. Reports medians (Markdown table on stdout, JSON in bench/results/poll_once-N.json).

`--stages` adds one bot run with wall-clock timers around its stages (stage_timer.py);
`--profile FILE` adds one under cProfile and prints the top functions.
"""

from __future__ import annotations

import argparse
import contextlib
import csv
import io
import json
import os
import platform
import random
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

RESULTS = ROOT / "bench" / "results"
SHM = Path("/dev/shm")
FETCH_BATCH = 100
MAX_DRAIN_POLLS = 5  # further `poll --once` calls allowed to answer what one call left queued
COMMAND_TIMEOUT = 1800  # seconds; 1,000 mails take well under a minute
AWARD_YEAR = 2017
MAILBOX = "kvalitetsutmarkelsen@stockholm.se"
EMPTY_FOLDER = "Tom"

# --- the sample data -----------------------------------------------------------------

# One word each: committees are named "Akallanämnden" (see build_register).
DISTRICTS = (
    "Akalla", "Husby", "Kista", "Rinkeby", "Tensta", "Hjulsta", "Spånga", "Bromsten", "Flysta",
    "Solhem", "Lunda", "Hässelby", "Vällingby", "Råcksta", "Grimsta", "Blackeberg", "Beckomberga",
    "Bromma", "Abrahamsberg", "Alvik", "Traneberg", "Ulvsunda", "Äppelviken", "Ålsten", "Höglandet",
    "Nockeby", "Olovslund", "Smedslätten", "Reimersholme", "Kungsholmen", "Marieberg",
    "Fredhäll", "Stadshagen", "Norrmalm", "Vasastaden", "Sibirien", "Östermalm", "Gärdet",
    "Hjorthagen", "Ladugårdsgärdet", "Södermalm", "Hornstull", "Tantolunden", "Långholmen",
    "Enskede", "Årsta", "Vantör", "Hagsätra", "Rågsved", "Högdalen", "Bandhagen", "Stureby",
    "Skarpnäck", "Bagarmossen", "Kärrtorp", "Björkhagen", "Hammarbyhöjden", "Farsta",
    "Hökarängen", "Gubbängen", "Sköndal", "Fagersjö", "Larsboda", "Älvsjö", "Solberga",
    "Liseberg", "Långbro", "Herrängen", "Hägersten", "Liljeholmen", "Midsommarkransen",
    "Aspudden", "Fruängen", "Västertorp", "Mälarhöjden", "Skärholmen", "Sätra", "Bredäng",
    "Vårberg", "Vårby", "Johanneshov", "Gullmarsplan", "Kristineberg", "Sickla",
    "Östberga", "Svedmyra", "Tallkrogen", "Orhem", "Kastanjegården", "Ängby",
    "Lärkstaden", "Nälsta", "Riksby", "Mariehäll", "Annedal", "Minneberg", "Johannelund",
    "Lövsta", "Frihamnen", "Kälvesta", "Vinsta", "Sörentorp",
)  # fmt: skip
# Second words of unit names: never a district, so a committee's name never matches a unit.
NAMES = (
    "Solrosen", "Blåklockan", "Prästkragen", "Vitsippan", "Linnean", "Maskrosen", "Kastanjen",
    "Eken", "Björken", "Lönnen", "Rönnen", "Linden", "Almen", "Aspen", "Tallen", "Granen",
    "Hasseln", "Syrenen", "Fläderbusken", "Nyponrosen", "Kaprifolen", "Tussilagon", "Gullvivan",
    "Smörblomman", "Liljekonvaljen", "Blåsippan", "Näckrosen", "Kattfoten", "Ekorren", "Igelkotten",
    "Räven", "Grävlingen", "Uttern", "Haren", "Tranan", "Svanen", "Ugglan", "Måsen", "Trasten",
    "Lärkan", "Svalan", "Domherren", "Kungsfågeln", "Fjärilen", "Humlan", "Myran", "Nyckelpigan",
    "Stjärnan", "Månen", "Solen", "Regnbågen", "Molnet", "Vinden", "Kompassen", "Fyren",
    "Ankaret", "Seglet", "Bryggan", "Stenen", "Kristallen", "Pärlan", "Bärnstenen", "Globen",
    "Lyktan", "Trädgården", "Ängen", "Skogsbrynet", "Kullen", "Dalen", "Udden", "Viken",
    "Holmen", "Källan", "Bäcken", "Forsen", "Tjärnen", "Mossen", "Hagen", "Gläntan", "Lunden",
    "Ljuset", "Gnistan", "Vågen", "Strömmen", "Sjöstjärnan", "Snäckan", "Tångräkan", "Valen",
    "Delfinen", "Sälen", "Pingvinen", "Björnen", "Älgen", "Lodjuret", "Vargen", "Järven",
    "Bävern", "Lämmeln", "Hermelinen", "Vesslan",
)  # fmt: skip
# (name prefix, award class, administration suffix) per kind of unit.
KINDS = (
    ("Förskolan", "Förskola"),
    ("Hemtjänsten", "Äldreomsorg"),
    ("Korttidshemmet", "Socialtjänst"),
    ("Gruppbostaden", "Socialtjänst"),
    ("Biblioteket", "Andra verksamheter"),
)
FIRST_NAMES = (
    "Anna", "Lena", "Karin", "Maria", "Eva", "Sara", "Ida", "Emma", "Johanna", "Elin", "Lars",
    "Magnus", "Johan", "Erik", "Anders", "Per", "Mikael", "Peter", "Fredrik", "Jonas", "Åsa",
    "Märta", "Göran", "Björn", "Sören",
)  # fmt: skip
LAST_NAMES = (
    "Andersson", "Johansson", "Karlsson", "Nilsson", "Eriksson", "Larsson", "Olsson", "Persson",
    "Svensson", "Gustafsson", "Pettersson", "Lindqvist", "Lindberg", "Ek", "Murray", "Reimegård",
    "Borgsten", "Thorson", "Öberg", "Åkesson",
)  # fmt: skip
# Realistic "Ärendet" paragraphs; none carries a signal of a tjänsteutlåtande or a
# negative decision, an ISO date, a § number or a registered name (see understanding.py).
ARENDET = (
    "Stockholms stads kvalitetsutmärkelse syftar till att stimulera och uppmuntra till ett "
    "systematiskt kvalitetsarbete inom stadens verksamheter. Utmärkelsen ska bidra till att "
    "sprida goda exempel och kunskap om hur verksamheter med god kvalitet arbetar, så att fler "
    "verksamheter kan inspireras att utveckla sitt eget arbete.",
    "Kvalitetsutmärkelsen delas ut i fem tävlingsklasser: förskola, skola, äldreomsorg, "
    "socialtjänst samt stöd och service till personer med funktionsnedsättning, och andra "
    "verksamheter. Varje deltagande enhet beskriver sitt arbete utifrån stadens modell för "
    "kvalitetsutveckling, med resultat, lärande och förbättringar under de senaste åren.",
    "Bidragen bedöms av en jury med examinatorer från stadens förvaltningar och bolag. "
    "Examinatorerna läser bidragen enskilt och i lag, gör platsbesök hos de enheter som "
    "går vidare och lämnar en skriftlig återkoppling till varje deltagande enhet, oavsett "
    "om enheten får utmärkelsen, ett hedersomnämnande eller inte.",
    "Enheterna har under våren arbetat fram sina bidrag med stöd av förvaltningens "
    "kvalitetsstrateger. Arbetet har omfattat workshoppar om stadens kvalitetsmodell, "
    "genomgång av brukarundersökningar och medarbetarenkäter samt uppföljning av de mål "
    "som nämnden har fastställt i verksamhetsplanen för året.",
    "Deltagandet i kvalitetsutmärkelsen är ett led i nämndens långsiktiga arbete med "
    "ständiga förbättringar. Förvaltningen bedömer att de anmälda enheterna har ett väl "
    "utvecklat kvalitetsarbete med tydliga resultat och att deltagandet ger enheterna värdefull "
    "extern återkoppling som kan användas i det fortsatta utvecklingsarbetet.",
    "Kostnaderna för deltagandet utgörs i huvudsak av den arbetstid som medarbetare och chefer "
    "lägger på att skriva bidragen och ta emot examinatorerna vid platsbesöken. Kostnaderna "
    "ryms inom förvaltningens budget för verksamhetsutveckling och innebär inga ytterligare "
    "anslag från nämnden.",
    "Förvaltningen har informerat de fackliga organisationerna i samverkansgruppen om "
    "deltagandet. Ärendet har även stämts av med stadsledningskontoret, som samordnar "
    "kvalitetsutmärkelsen och svarar för juryns arbete, utbildningen av examinatorer och "
    "den gemensamma prisceremonin i Stadshuset under hösten.",
    "Enheternas bidrag och examinatorernas återkoppling kommer att redovisas för nämnden "
    "när bedömningen är klar. Erfarenheterna från tidigare års deltagande visar att "
    "återkopplingen ofta leder till konkreta förbättringar, till exempel tydligare rutiner "
    "för uppföljning, bättre dialog med brukare och vårdnadshavare och ett mer "
    "systematiskt lärande mellan enheter inom förvaltningen.",
)


@dataclass(frozen=True)
class RegisteredUnit:
    name: str
    award_class: str
    administration: str
    board: str


def build_register(units: int) -> list[list[RegisteredUnit]]:
    """`units` units, two per committee ("Akallanämnden"): committee -> its two units."""
    if units % 2 or not 2 <= units <= 2 * len(DISTRICTS):
        raise SystemExit(f"--units: an even number from 2 to {2 * len(DISTRICTS)}")
    boards: list[list[RegisteredUnit]] = []
    for index, district in enumerate(DISTRICTS[: units // 2]):
        # "Akallanämnden": a committee the bot can only read from the letterhead, as a one-word
        # "...nämnden" (committees.py knows the real bodies only; an invented "Akalla
        # stadsdelsnämnd" is no committee to it, and every mail would go to review), and one
        # per pair: a committee's protocol must name all its registered units.
        board = f"{district}nämnden"
        administration = f"{district}förvaltningen"
        pair = []
        for number in (2 * index, 2 * index + 1):
            lap = number // len(NAMES)  # each lap pairs the names with other prefixes
            prefix, award_class = KINDS[(number + lap) % len(KINDS)]
            pair.append(
                RegisteredUnit(f"{prefix} {NAMES[number % len(NAMES)]}", award_class, administration, board)
            )
        boards.append(pair)
    from intake.text import fold

    folded = [fold(unit.name) for pair in boards for unit in pair]
    assert len(set(folded)) == len(folded), "unit names must differ even folded (Bäcken = Backen)"
    return boards


def register_csv(boards: Sequence[Sequence[RegisteredUnit]]) -> str:
    out = io.StringIO()
    writer = csv.writer(out, delimiter=";", lineterminator="\n")
    writer.writerow(["År", "Enhet", "Tävlingsklass", "Förvaltning", "Nämnd", "Kontakt e-post"])
    for pair in boards:
        for unit in pair:
            writer.writerow(
                [
                    AWARD_YEAR,
                    unit.name,
                    unit.award_class,
                    unit.administration,
                    unit.board,
                    "registrator@stockholm.se",
                ]
            )
    return out.getvalue()


def sender_pool(size: int) -> list[str]:
    pool = []
    for index in range(size):
        first = FIRST_NAMES[index % len(FIRST_NAMES)]
        last = LAST_NAMES[(index // len(FIRST_NAMES)) % len(LAST_NAMES)]
        lap = index // (len(FIRST_NAMES) * len(LAST_NAMES))
        local = f"{first}.{last}{lap or ''}".lower()
        local = local.translate(str.maketrans("åäöé", "aaoe"))
        pool.append(f"{first} {last} <{local}@stockholm.se>")
    return pool


def padded_protocol(pair: Sequence[RegisteredUnit], meeting: date, paragraph: int, seed: int) -> str:
    """protocol_text() with the "Ärendet" section padded to make the PDF two pages."""
    from intake.samples import protocol_text

    text = protocol_text(
        pair[0].board, meeting, paragraph, [(unit.name, unit.award_class) for unit in pair], AWARD_YEAR
    )
    order = list(ARENDET)
    random.Random(seed).shuffle(order)  # distinct text per mail, same length
    padding = "\n\n".join(order)
    marker = "\n\nBeslutsgång\n"
    assert marker in text
    return text.replace(marker, f"\n\n{padding}{marker}", 1)


@dataclass(frozen=True)
class BenchMail:
    raw: bytes
    received_at: datetime
    message_id: str
    sender: str
    units: tuple[str, ...]


def build_mails(
    count: int, boards: Sequence[Sequence[RegisteredUnit]], senders: Sequence[str]
) -> list[BenchMail]:
    from intake.samples import STOCKHOLM, mail, pdf_from_text

    start = datetime(2017, 6, 1, 8, 0, tzinfo=STOCKHOLM)
    span = timedelta(days=29)  # all of June up to the 30th, the protocol deadline
    mails = []
    for index in range(count):
        pair = boards[index % len(boards)]
        sender = senders[index % len(senders)]
        paragraph = 1 + index % 250
        meeting = date(2017, 5, 2) + timedelta(days=index % 28)
        received_at = start + span * index / max(count, 1)
        text = padded_protocol(pair, meeting, paragraph, seed=index)
        pdf = pdf_from_text(text)
        first_name = sender.split()[0]
        sample = mail(
            sender,
            f"Protokollsutdrag {pair[0].board} § {paragraph}",
            f"Hej!\n\nHär kommer protokollsutdraget om kvalitetsutmärkelsen.\n\n"
            f"Med vänlig hälsning\n{first_name}",
            received_at,
            [(f"Protokollsutdrag § {paragraph}.pdf", pdf, "application/pdf")],
        )
        message = message_from_bytes(sample.raw)
        mails.append(
            BenchMail(
                sample.raw, received_at, str(message["Message-ID"]), sender, tuple(unit.name for unit in pair)
            )
        )
    return mails


def check_pdf_pages(raw: bytes, expected: int = 2) -> None:
    from pypdf import PdfReader

    message = message_from_bytes(raw)
    pdf = next(part for part in message.walk() if part.get_content_type() == "application/pdf")
    data = pdf.get_payload(decode=True)
    assert isinstance(data, bytes)
    reader = PdfReader(io.BytesIO(data))
    if len(reader.pages) != expected:
        raise SystemExit(f"the sample PDF has {len(reader.pages)} pages, expected {expected}")


# --- servers --------------------------------------------------------------------------


def shm_dovecot_class() -> type:
    from tests.dovecot import Dovecot

    class ShmDovecot(Dovecot):
        """tests.dovecot.Dovecot with its whole folder (Maildir included) on tmpfs."""

        def _write_config(self) -> None:
            if SHM.is_dir() and os.access(SHM, os.W_OK):
                shutil.rmtree(self.root, ignore_errors=True)  # the /tmp folder __init__ made
                self.root = Path(tempfile.mkdtemp(prefix="intake-bench-dovecot-", dir=SHM))
                self.root.chmod(0o755)  # the mail user must enter it
                self.config = self.root / "dovecot.conf"
                self.log_file = self.root / "dovecot.log"
            super()._write_config()

    return ShmDovecot


class LeanHandler:
    """An aiosmtpd handler that only keeps the bytes: parsing is left to the checks."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.received: list[tuple[tuple[str, ...], bytes]] = []

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        with self.lock:
            self.received.append((tuple(envelope.rcpt_tos), envelope.original_content or b""))
        return "250 OK"

    def take(self) -> list[tuple[tuple[str, ...], bytes]]:
        with self.lock:
            taken, self.received = self.received, []
        return taken


def append_all(dovecot: Any, mails: Sequence[BenchMail], folder: str = "INBOX") -> None:
    with dovecot.client() as imap:
        if not imap.folder_exists(folder):
            imap.create_folder(folder)
        for item in mails:
            imap.append(folder, item.raw, msg_time=item.received_at)


# --- running the bot --------------------------------------------------------------------


@dataclass
class Bench:
    work: Path
    imap_port: int
    imap_user: str
    imap_password: str
    smtp_port: int
    database_url: str | None  # None: a fresh SQLite file on tmpfs for each run
    replies_per_hour: int
    register: Path
    workers: int | None = None  # processing.workers; None: leave the bot's default
    poll_interval: int = 1  # imap.poll_interval; the daemon (bench/latency.py) also IDLEs this long
    runs_made: int = 0
    log_dir: Path = field(init=False)

    def __post_init__(self) -> None:
        self.log_dir = self.work / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)

    def fresh_database(self) -> str:
        """A database with no tables: a new SQLite file, or the given one emptied."""
        self.runs_made += 1
        if self.database_url is None:
            path = self.work / f"intake-{self.runs_made}.db"
            for old in self.work.glob("intake-*.db*"):
                old.unlink()
            return f"sqlite:///{path}"
        from sqlalchemy import text

        from intake.storage.database import make_engine
        from intake.storage.models import Base

        engine = make_engine(self.database_url)
        with engine.begin() as connection:
            Base.metadata.drop_all(connection)
            connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        engine.dispose()
        return self.database_url

    def config(self, database_url: str, folder: str, workers: int | None = None) -> Path:
        path = self.work / f"intake-{folder}.toml"
        workers = self.workers if workers is None else workers
        processing = "" if workers is None else f"\n[processing]\nworkers = {workers}\n"
        path.write_text(
            f"""
[award]
year = {AWARD_YEAR}
mailbox = "{MAILBOX}"
protocol_deadline = 2017-06-30

[imap]
host = "127.0.0.1"
port = {self.imap_port}
security = "none"
username = "{self.imap_user}"
folder = "{folder}"
poll_interval = {self.poll_interval}
timeout = 60

[smtp]
host = "127.0.0.1"
port = {self.smtp_port}
security = "none"
from = "Kvalitetsutmärkelsen <{MAILBOX}>"
timeout = 60

[outbox]
replies_per_hour = {self.replies_per_hour}
retry_base_seconds = 1

[database]
url = "{database_url}"
{processing}""",
            encoding="utf-8",
        )
        return path

    def env(self, config: Path) -> dict[str, str]:
        env = dict(os.environ)
        env.update(
            INTAKE_CONFIG=str(config),
            INTAKE_IMAP_PASSWORD=self.imap_password,
            INTAKE_LOG_LEVEL="INFO",
            PYTHONPATH=str(ROOT),
        )
        return env

    def intake(
        self, config: Path, *args: str, prefix: Sequence[str] = ("-m", "intake.cli"), name: str = "intake"
    ) -> Measured:
        """Run `python -m intake.cli ARGS` in a child; wall time and that child's peak RSS."""
        return run_measured(
            [sys.executable, *prefix, *args],
            self.env(config),
            self.work,
            self.log_dir / f"{name}-{self.runs_made}",
        )

    def prepared(self, folder: str, workers: int | None = None) -> Path:
        """A config for `folder` on a fresh database holding the register (not timed)."""
        config = self.config(self.fresh_database(), folder, workers)
        done = self.intake(config, "units", "import", str(self.register), name="import")
        if done.returncode != 0:
            raise SystemExit(f"intake units import failed:\n{done.stderr}")
        return config

    def messages(self, config: Path) -> list[dict[str, Any]]:
        done = self.intake(config, "messages", "--json", name="messages")
        if done.returncode != 0:
            raise SystemExit(f"intake messages --json failed:\n{done.stderr}")
        return json.loads(done.stdout)  # type: ignore[no-any-return]


@dataclass
class Measured:
    seconds: float
    max_rss_mib: float  # the largest single process (ru_maxrss)
    returncode: int
    stdout: str
    stderr: str
    cpu_seconds: float = 0.0  # user + system, the process and its reaped children
    tree_pss_mib: float = 0.0  # peak of the summed PSS of the process tree, sampled
    tree_rss_mib: float = 0.0
    processes: int = 1


def run_measured(argv: Sequence[str], env: dict[str, str], cwd: Path, log_stem: Path) -> Measured:
    """Run a command through a small launcher (this file, --launch) that times it and reads
    its peak RSS with wait4.

    Why a launcher: on Linux a child's ru_maxrss starts from the RSS of the process it was
    forked (or vforked) from, since the high-water mark survives fork and exec. Measured
    straight from this script, which holds N mails and reportlab, every child would look
    at least as big as this script. The launcher is a fresh interpreter of ~10 MiB, below
    anything measured here, and one launcher per measurement keeps them independent."""
    out_path, err_path = log_stem.with_suffix(".out"), log_stem.with_suffix(".err")
    result_path = log_stem.with_suffix(".rusage.json")
    result_path.unlink(missing_ok=True)
    command = [sys.executable, str(Path(__file__).resolve()), "--launch", str(result_path), "--", *argv]
    with out_path.open("wb") as out, err_path.open("wb") as err:
        launcher = subprocess.Popen(
            command,
            env=env,
            cwd=cwd,
            stdin=subprocess.DEVNULL,
            stdout=out,
            stderr=err,
            start_new_session=True,
        )
        try:
            launcher.wait(COMMAND_TIMEOUT)
        except subprocess.TimeoutExpired:
            os.killpg(launcher.pid, signal.SIGKILL)
            launcher.wait()
            raise SystemExit(f"{' '.join(argv)}: no end after {COMMAND_TIMEOUT} s") from None
    if launcher.returncode != 0 or not result_path.exists():
        raise SystemExit(f"the launcher failed ({launcher.returncode}):\n{err_path.read_text()}")
    result = json.loads(result_path.read_text(encoding="utf-8"))
    return Measured(
        result["seconds"],
        result["max_rss_kib"] / 1024,
        result["returncode"],
        out_path.read_text(errors="replace"),
        err_path.read_text(errors="replace"),
        cpu_seconds=result["cpu_seconds"],
        tree_pss_mib=result["tree_peak_pss_kib"] / 1024,
        tree_rss_mib=result["tree_peak_rss_kib"] / 1024,
        processes=result["tree_most_processes"],
    )


SAMPLE_SECONDS = 0.1  # how often the launcher sums the memory of the process tree


def _descendants(pid: int) -> list[int]:
    """pid and every process below it (via /proc/PID/task/TID/children)."""
    found, todo = [], [pid]
    while todo:
        current = todo.pop()
        found.append(current)
        try:
            tasks = os.listdir(f"/proc/{current}/task")
        except OSError:
            continue
        for task in tasks:
            try:
                with open(f"/proc/{current}/task/{task}/children") as children:
                    todo.extend(int(child) for child in children.read().split())
            except OSError:
                continue
    return found


def _memory_kib(pid: int) -> tuple[int, int]:
    """(RSS, PSS) of one process in KiB; PSS shares the pages it has in common with others."""
    rss = pss = 0
    try:
        with open(f"/proc/{pid}/smaps_rollup") as rollup:
            for line in rollup:
                if line.startswith("Rss:"):
                    rss = int(line.split()[1])
                elif line.startswith("Pss:"):
                    pss = int(line.split()[1])
    except (OSError, ValueError):
        pass
    return rss, pss


def launch(result_path: str, argv: Sequence[str]) -> int:
    """The launcher: run argv (stdio inherited); write its wall time, CPU time, peak memory, status.

    ru_maxrss (from wait4) is the largest single process of the tree (the bot, or one of
    its worker processes once reaped). The tree's total is sampled every SAMPLE_SECONDS:
    the sum of PSS (true footprint: shared pages split between their users) and of RSS."""
    started = time.perf_counter()
    child = subprocess.Popen(list(argv))
    peak_pss = peak_rss = most_processes = 0
    while True:
        pid, status, usage = os.wait4(child.pid, os.WNOHANG)
        if pid:
            break
        tree = _descendants(child.pid)
        sizes = [_memory_kib(pid) for pid in tree]
        peak_rss = max(peak_rss, sum(rss for rss, _ in sizes))
        peak_pss = max(peak_pss, sum(pss for _, pss in sizes))
        most_processes = max(most_processes, len(tree))
        time.sleep(SAMPLE_SECONDS)
    seconds = time.perf_counter() - started
    child.returncode = os.waitstatus_to_exitcode(status)  # reaped here, not by Popen
    result = {
        "seconds": seconds,
        "cpu_seconds": usage.ru_utime + usage.ru_stime,  # with its reaped descendants
        "max_rss_kib": usage.ru_maxrss,
        "tree_peak_pss_kib": peak_pss,
        "tree_peak_rss_kib": peak_rss,
        "tree_most_processes": most_processes,
        "returncode": child.returncode,
    }
    Path(result_path).write_text(json.dumps(result), encoding="utf-8")
    return 0


# --- the floor ---------------------------------------------------------------------------


def floor_worker(port: int, user: str, password: str, folder: str, expected: int) -> None:
    """Child process: FETCH + email + pypdf of every mail; prints JSON (seconds, pages, rss)."""
    import email

    from imapclient import IMAPClient
    from pypdf import PdfReader

    started = time.perf_counter()
    imap = IMAPClient("127.0.0.1", port, ssl=False, timeout=60)
    imap.login(user, password)
    imap.select_folder(folder, readonly=True)
    uids = sorted(imap.search("ALL"))
    mails = pages = chars = 0
    for start in range(0, len(uids), FETCH_BATCH):
        response = imap.fetch(uids[start : start + FETCH_BATCH], ["BODY.PEEK[]"])
        for data in response.values():
            raw = data.get(b"BODY[]")
            if raw is None:
                continue
            message = email.message_from_bytes(raw)
            for part in message.walk():
                if part.get_content_type() != "application/pdf":
                    continue
                data = part.get_payload(decode=True)
                assert isinstance(data, bytes)
                reader = PdfReader(io.BytesIO(data))
                for page in reader.pages:
                    chars += len(page.extract_text() or "")
                    pages += 1
            mails += 1
    imap.logout()
    seconds = time.perf_counter() - started
    rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    if mails != expected:
        raise SystemExit(f"floor: fetched {mails} mails, expected {expected}")
    print(
        json.dumps({"seconds": seconds, "mails": mails, "pages": pages, "chars": chars, "max_rss_mib": rss})
    )


def measure_floor(bench: Bench, dovecot: Any, expected: int) -> dict[str, Any]:
    argv = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--floor-worker",
        str(dovecot.port),
        dovecot.user,
        "INBOX",
        str(expected),
    ]
    env = dict(os.environ, PYTHONPATH=str(ROOT), BENCH_IMAP_PASSWORD=dovecot.password)
    done = run_measured(argv, env, bench.work, bench.log_dir / f"floor-{bench.runs_made}")
    if done.returncode != 0:
        raise SystemExit(f"floor worker failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = done.seconds  # with interpreter start and imports
    result["self_reported_max_rss_mib"] = result["max_rss_mib"]
    result["max_rss_mib"] = done.max_rss_mib  # measured like the bot's, by the launcher
    result["cpu_seconds"] = done.cpu_seconds
    return result


# --- checks ------------------------------------------------------------------------------


def check_replies(received: list[tuple[tuple[str, ...], bytes]], mails: Sequence[BenchMail]) -> list[str]:
    """Problems with the replies the SMTP server received (empty: all N, one per mail)."""
    problems = []
    wanted = {item.message_id: item for item in mails}
    answered: dict[str, int] = {}
    for rcpt_tos, raw in received:
        message = message_from_bytes(raw)
        original = str(message.get("In-Reply-To", ""))
        item = wanted.get(original)
        if item is None:
            problems.append(f"a reply to an unknown mail {original!r}")
            continue
        answered[original] = answered.get(original, 0) + 1
        address = item.sender.split("<")[1].rstrip(">")
        if rcpt_tos != (address,):
            problems.append(f"reply to {original} went to {rcpt_tos}, expected {address}")
    missing = len(wanted) - len(answered)
    if missing:
        problems.append(f"{missing} of {len(wanted)} mails got no reply ({len(received)} replies received)")
    twice = sum(1 for count in answered.values() if count > 1)
    if twice:
        problems.append(f"{twice} mails were answered more than once")
    return problems


def check_messages(report: list[dict[str, Any]], mails: Sequence[BenchMail]) -> list[str]:
    problems = []
    by_id = {entry["message_id"]: entry for entry in report}
    if len(report) != len(mails):
        problems.append(f"`intake messages` lists {len(report)} mails, expected {len(mails)}")
    outcomes: dict[str, int] = {}
    for entry in report:
        outcomes[entry["outcome"]] = outcomes.get(entry["outcome"], 0) + 1
    if outcomes.get("confirmed", 0) != len(mails):
        problems.append(f"outcomes {outcomes}, expected all {len(mails)} confirmed")
    unsent = sum(1 for entry in report if entry.get("reply_status") != "sent")
    if unsent:
        states: dict[str, int] = {}
        for entry in report:
            states[str(entry.get("reply_status"))] = states.get(str(entry.get("reply_status")), 0) + 1
        problems.append(f"{unsent} replies not sent (reply states {states})")
    wrong_units = sum(
        1 for item in mails if len(by_id.get(item.message_id, {}).get("units", [])) != len(item.units)
    )
    if wrong_units:
        problems.append(f"{wrong_units} mails matched a number of units other than 2")
    return problems


# --- the benchmark ------------------------------------------------------------------------


def code_version() -> str:
    """The commit measured, with "+changes" when intake/ differs from it (read-only git)."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(  # no index.lock: never in the way of a commit made meanwhile
            ["git", "--no-optional-locks", "status", "--porcelain", "--", "intake", "templates"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+changes" if dirty else "")


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


@contextlib.contextmanager
def servers(handler: LeanHandler | None = None) -> Iterator[tuple[Any, Any, LeanHandler]]:
    """Dovecot (Maildir on tmpfs) and an SMTP server whose handler is `handler` (a LeanHandler)."""
    from tests.smtpserver import SmtpTestServer

    dovecot = shm_dovecot_class()().start()
    smtp = SmtpTestServer()
    handler = LeanHandler() if handler is None else handler
    smtp.handler = handler  # type: ignore[assignment]
    smtp.controller.handler = handler
    smtp.start()
    try:
        yield dovecot, smtp, handler
    finally:
        smtp.stop()
        dovecot.stop()


def profile_run(bench: Bench, out: Path, handler: LeanHandler, top: int = 35) -> str:
    import pstats

    config = bench.prepared("INBOX", workers=1 if has_workers_setting() else None)  # one process
    handler.take()
    done = bench.intake(
        config,
        "poll",
        "--once",
        prefix=("-m", "cProfile", "-o", str(out), "-m", "intake.cli"),
        name="profile",
    )
    if done.returncode != 0:
        raise SystemExit(f"profiled poll --once failed:\n{done.stderr}")
    handler.take()
    text = io.StringIO()
    stats = pstats.Stats(str(out), stream=text)
    stats.sort_stats("cumulative").print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return f"profiled poll --once: {done.seconds:.2f} s wall under cProfile\n" + text.getvalue()


def has_workers_setting() -> bool:
    from intake import config

    return "processing" in getattr(config, "SCHEMA", {})


def stages_run(bench: Bench, handler: LeanHandler, n: int) -> tuple[str, dict[str, Any]]:
    """One more bot run with wall-clock timers around its stages (bench/stage_timer.py).

    With worker processes the analysis (parse, read, understand) would happen where the
    timers can't see it, so this run uses `processing.workers = 1` where the bot has it."""
    config = bench.prepared("INBOX", workers=1 if has_workers_setting() else None)
    handler.take()
    out = bench.work / "stages.json"
    done = bench.intake(config, str(out), prefix=(str(ROOT / "bench" / "stage_timer.py"),), name="stages")
    if done.returncode != 0:
        raise SystemExit(f"stage-timed poll --once failed:\n{done.stderr}")
    handler.take()
    report = json.loads(out.read_text(encoding="utf-8"))
    lines = [
        f"stage-timed poll --once: {done.seconds:.2f} s wall; imports "
        f"{report['imports_s']:.2f} s; cli.main {report['main_s']:.2f} s",
        "| stage (inclusive) | calls | s | ms/mail | share of main | inside |",
        "|---|---|---|---|---|---|",
    ]
    if report.get("not_found"):
        lines.insert(1, f"(not in this version of intake/: {', '.join(report['not_found'])})")
    for name, row in report["stages"].items():
        lines.append(
            f"| {name} | {row['calls']} | {row['seconds']:.2f} | {row['seconds'] / n * 1000:.2f} "
            f"| {row['share_of_main']:.0%} | {row['inside']} |"
        )
    return "\n".join(lines), report


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--mails", type=int, default=1000, help="N, the mails in the mailbox")
    parser.add_argument("--runs", type=int, default=3, help="repetitions; medians are reported")
    parser.add_argument(
        "--units", type=int, default=200, help="registered units, two per committee (default 200)"
    )
    parser.add_argument("--senders", type=int, default=250, help="distinct sender addresses")
    parser.add_argument(
        "--replies-per-hour",
        type=int,
        default=100_000,
        help="the bot's loop guard, set high so no reply is held",
    )
    parser.add_argument(
        "--database-url",
        help="e.g. postgresql://postgres@127.0.0.1:5432/test (its tables are "
        "DROPPED); default a fresh SQLite file on /dev/shm per run",
    )
    parser.add_argument(
        "--profile", type=Path, metavar="FILE", help="also profile one bot run with cProfile, writing FILE"
    )
    parser.add_argument(
        "--workers",
        type=int,
        help="write [processing] workers = N into the bot's config (default: the bot's own default)",
    )
    parser.add_argument(
        "--stages", action="store_true", help="also time the stages of one bot run (bench/stage_timer.py)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the work folder (logs, databases)")
    parser.add_argument(
        "--floor-worker", nargs=4, metavar=("PORT", "USER", "FOLDER", "N"), help=argparse.SUPPRESS
    )
    args = parser.parse_args(argv)

    if args.floor_worker:
        port, user, folder, expected = args.floor_worker
        floor_worker(int(port), user, os.environ["BENCH_IMAP_PASSWORD"], folder, int(expected))
        return 0
    if args.mails < 1 or args.runs < 1:
        parser.error("--mails and --runs must be at least 1")

    base = SHM if SHM.is_dir() and os.access(SHM, os.W_OK) else Path(tempfile.gettempdir())
    work = Path(tempfile.mkdtemp(prefix="intake-bench-", dir=base))
    print(f"work folder {work}", file=sys.stderr)
    try:
        return run(args, work)
    finally:
        if args.keep:
            print(f"kept {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)


def run(args: argparse.Namespace, work: Path) -> int:
    n = args.mails
    code_at_start = code_version()
    boards = build_register(args.units)
    register = work / "register.csv"
    register.write_text(register_csv(boards), encoding="utf-8")
    senders = sender_pool(args.senders)

    t0 = time.perf_counter()
    mails = build_mails(n, boards, senders)
    check_pdf_pages(mails[0].raw)
    built = time.perf_counter() - t0
    size = statistics.mean(len(item.raw) for item in mails)
    print(f"built {n} mails ({size / 1024:.1f} KiB each, 2-page PDF) in {built:.1f} s", file=sys.stderr)

    with servers() as (dovecot, smtp, handler):
        t0 = time.perf_counter()
        append_all(dovecot, mails)
        with dovecot.client() as imap:
            imap.create_folder(EMPTY_FOLDER)
        print(
            f"appended {n} mails to Dovecot ({dovecot.root}) in {time.perf_counter() - t0:.1f} s",
            file=sys.stderr,
        )
        maildir = str(dovecot.root / "mail")
        bench = Bench(
            work,
            dovecot.port,
            dovecot.user,
            dovecot.password,
            smtp.port,
            args.database_url,
            args.replies_per_hour,
            register,
            args.workers,
        )

        runs: list[dict[str, Any]] = []
        problems: list[str] = []
        for index in range(1, args.runs + 1):
            # start-up: the same command on an empty folder
            config = bench.prepared(EMPTY_FOLDER)
            empty = bench.intake(config, "poll", "--once", name="poll-empty")
            if empty.returncode != 0:
                raise SystemExit(f"empty poll --once failed:\n{empty.stderr}")

            # the bot on N mails
            config = bench.prepared("INBOX")
            handler.take()
            bot = bench.intake(config, "poll", "--once", name="poll")
            if bot.returncode != 0:
                raise SystemExit(f"poll --once failed:\n{bot.stderr}")
            # The server stored each reply before answering 250, so all are in by now.
            received = handler.take()
            replies_first = len(received)
            run_problems = check_replies(received, mails) + check_messages(bench.messages(config), mails)
            log_line = next(
                (line for line in reversed(bot.stderr.splitlines()) if "poll: stored" in line), ""
            )
            # If one call left replies queued, call again (timed) until all N are answered:
            # the time to finish the job, beside the time of the single call.
            drains: list[Measured] = []
            while len(received) < n and len(drains) < MAX_DRAIN_POLLS:
                drain = bench.intake(config, "poll", "--once", name=f"poll-drain{len(drains) + 1}")
                if drain.returncode != 0:
                    raise SystemExit(f"poll --once (again) failed:\n{drain.stderr}")
                drains.append(drain)
                received += handler.take()
            final_problems = (
                check_replies(received, mails) + check_messages(bench.messages(config), mails)
                if drains
                else run_problems
            )
            complete_seconds = bot.seconds + sum(d.seconds for d in drains)

            floor = measure_floor(bench, dovecot, n)
            result = {
                "run": index,
                "load_average_1min": os.getloadavg()[0],
                "bot_seconds": bot.seconds,
                "bot_max_rss_mib": bot.max_rss_mib,
                "bot_tree_peak_pss_mib": bot.tree_pss_mib,
                "bot_tree_peak_rss_mib": bot.tree_rss_mib,
                "bot_processes": bot.processes,
                "bot_cpu_seconds": bot.cpu_seconds,
                "floor_cpu_seconds": floor["cpu_seconds"],
                "polls_to_answer_all": 1 + len(drains) if not final_problems else None,
                "bot_complete_seconds": complete_seconds,
                "drain_seconds": [d.seconds for d in drains],
                "empty_seconds": empty.seconds,
                "empty_max_rss_mib": empty.max_rss_mib,
                "replies_after_one_poll": replies_first,
                "replies_after_all_polls": len(received),
                "bot_summary": log_line.split(": ", 2)[-1] if log_line else "",
                "floor_seconds": floor["seconds"],
                "floor_wall_seconds": floor["wall_seconds"],
                "floor_max_rss_mib": floor["max_rss_mib"],
                "floor_pages": floor["pages"],
                "problems_after_one_poll": run_problems,
                "problems_after_all_polls": final_problems,
            }
            runs.append(result)
            problems.extend(f"run {index}, one poll --once: {p}" for p in run_problems)
            problems.extend(
                f"run {index}, after {1 + len(drains)} polls: {p}" for p in final_problems if drains
            )
            print(
                f"run {index}: bot {bot.seconds:.2f} s ({n / bot.seconds:.0f} mails/s, "
                f"{bot.max_rss_mib:.0f} MiB), replies {replies_first}/{n}"
                + (
                    f", all answered after {1 + len(drains)} polls, {complete_seconds:.2f} s"
                    if drains
                    else ""
                )
                + f"; empty poll {empty.seconds:.2f} s; "
                f"floor {floor['seconds']:.2f} s ({n / floor['seconds']:.0f} mails/s)"
                + (
                    f"  PROBLEMS: {'; '.join(run_problems + (final_problems if drains else []))}"
                    if run_problems or final_problems
                    else "  ok"
                ),
                file=sys.stderr,
            )

        profile_text = stages_text = None
        stages: dict[str, Any] | None = None
        if args.stages:
            stages_text, stages = stages_run(bench, handler, n)
        if args.profile:
            profile_text = profile_run(bench, args.profile, handler)

    bot_s = median([r["bot_seconds"] for r in runs])
    empty_s = median([r["empty_seconds"] for r in runs])
    floor_s = median([r["floor_seconds"] for r in runs])
    per_mail_ms = (bot_s - empty_s) / n * 1000
    summary = {
        "mails": n,
        "runs": args.runs,
        "bot_mails_per_s": n / bot_s,
        "bot_seconds": bot_s,
        "bot_ms_per_mail": bot_s / n * 1000,
        "startup_seconds": empty_s,
        "bot_ms_per_mail_excluding_startup": per_mail_ms,
        "floor_mails_per_s": n / floor_s,
        "floor_seconds": floor_s,
        "floor_ms_per_mail": floor_s / n * 1000,
        "ratio_bot_to_floor": bot_s / floor_s,
        "ratio_bot_to_floor_excluding_startup": (bot_s - empty_s) / floor_s,
        "replies_after_one_poll": median([r["replies_after_one_poll"] for r in runs]),
        "bot_complete_seconds": median([r["bot_complete_seconds"] for r in runs]),
        "bot_complete_mails_per_s": n / median([r["bot_complete_seconds"] for r in runs]),
        "ratio_complete_to_floor": median([r["bot_complete_seconds"] for r in runs]) / floor_s,
        "polls_to_answer_all": max((r["polls_to_answer_all"] or 0) for r in runs) or None,
        "bot_peak_rss_mib": median([r["bot_max_rss_mib"] for r in runs]),
        "bot_tree_peak_pss_mib": median([r["bot_tree_peak_pss_mib"] for r in runs]),
        "bot_processes": max(r["bot_processes"] for r in runs),
        "bot_cpu_seconds": median([r["bot_cpu_seconds"] for r in runs]),
        "floor_cpu_seconds": median([r["floor_cpu_seconds"] for r in runs]),
        "bot_peak_rss_mib_max": max(r["bot_max_rss_mib"] for r in runs),
        "empty_poll_peak_rss_mib": median([r["empty_max_rss_mib"] for r in runs]),
        "floor_peak_rss_mib": median([r["floor_max_rss_mib"] for r in runs]),
        "correct_after_one_poll": not any(r["problems_after_one_poll"] for r in runs),
        "correct_after_all_polls": not any(r["problems_after_all_polls"] for r in runs),
        "problems": problems,
    }
    environment = {
        "code": code_at_start
        if code_version() == code_at_start
        else f"{code_at_start} then {code_version()} (changed during the run!)",
        "python": platform.python_version(),
        "machine": platform.machine(),
        "cpus": os.cpu_count(),
        "database": "sqlite on /dev/shm (fresh file per run)"
        if args.database_url is None
        else args.database_url.split("@")[-1],
        "maildir": maildir,
        "workers_setting": "bot default" if args.workers is None else args.workers,
        "units": args.units,
        "senders": args.senders,
        "mail_kib": size / 1024,
        "date": datetime.now().isoformat(timespec="seconds"),
        "load_average_1min_at_end": os.getloadavg()[0],
    }
    RESULTS.mkdir(parents=True, exist_ok=True)
    # poll_once-N.json for the default set-up; other databases and worker counts get their own
    suffix = "" if args.database_url is None else "-" + args.database_url.split(":", 1)[0].split("+")[0]
    suffix += "" if args.workers is None else f"-workers{args.workers}"
    out = RESULTS / f"poll_once-{n}{suffix}.json"
    out.write_text(
        json.dumps(
            {"summary": summary, "runs": runs, "environment": environment, "stages": stages},
            indent=2,
            ensure_ascii=False,
        )
        + "\n",
        encoding="utf-8",
    )

    print(markdown(summary))
    print(f"\nresults: {out.relative_to(ROOT)}")
    if stages_text:
        print("\n" + stages_text)
    if profile_text:
        print("\n" + profile_text)
    if problems:
        print("\nCORRECTNESS PROBLEMS:\n  " + "\n  ".join(problems))
        return 1
    return 0


def markdown(s: dict[str, Any]) -> str:
    rows = [
        ("mails (N) / runs", f"{s['mails']} / {s['runs']} (medians)"),
        (
            "bot `poll --once`, mails/s",
            f"{s['bot_mails_per_s']:.0f} ({s['bot_seconds']:.2f} s, {s['bot_ms_per_mail']:.1f} ms/mail)",
        ),
        ("start-up cost (empty `poll --once`)", f"{s['startup_seconds']:.2f} s"),
        ("bot per mail excluding start-up", f"{s['bot_ms_per_mail_excluding_startup']:.1f} ms"),
        (
            "floor (IMAP fetch + email + pypdf), mails/s",
            f"{s['floor_mails_per_s']:.0f} ({s['floor_seconds']:.2f} s, "
            f"{s['floor_ms_per_mail']:.1f} ms/mail)",
        ),
        ("ratio bot / floor (time)", f"{s['ratio_bot_to_floor']:.2f}×"),
        ("ratio excluding start-up", f"{s['ratio_bot_to_floor_excluding_startup']:.2f}×"),
        (
            "bot peak RSS, largest process",
            f"{s['bot_peak_rss_mib']:.0f} MiB (empty poll {s['empty_poll_peak_rss_mib']:.0f} "
            f"MiB, floor {s['floor_peak_rss_mib']:.0f} MiB)",
        ),
        (
            "bot peak memory, whole process tree (PSS)",
            f"{s['bot_tree_peak_pss_mib']:.0f} MiB in up to {s['bot_processes']} processes",
        ),
        (
            "CPU time (user+sys), bot / floor",
            f"{s['bot_cpu_seconds']:.1f} s / {s['floor_cpu_seconds']:.1f} s",
        ),
        (
            "correct after one call (N replies, N confirmed)",
            "yes" if s["correct_after_one_poll"] else f"NO: {s['replies_after_one_poll']:.0f} replies",
        ),
    ]
    if s["polls_to_answer_all"] and s["polls_to_answer_all"] > 1:
        rows += [
            ("calls of `poll --once` to answer all N", f"{s['polls_to_answer_all']}"),
            (
                "bot until all N answered, mails/s",
                f"{s['bot_complete_mails_per_s']:.0f} ({s['bot_complete_seconds']:.2f} s, "
                f"{s['ratio_complete_to_floor']:.2f}× the floor)",
            ),
        ]
    elif not s["correct_after_all_polls"]:
        rows.append(("all N answered after further calls", "NO"))
    width = max(len(name) for name, _ in rows)
    lines = [f"| {'measure'.ljust(width)} | value |", f"|{'-' * (width + 2)}|-------|"]
    lines += [f"| {name.ljust(width)} | {value} |" for name, value in rows]
    return "\n".join(lines)


if __name__ == "__main__":
    if len(sys.argv) > 4 and sys.argv[1] == "--launch" and sys.argv[3] == "--":
        raise SystemExit(launch(sys.argv[2], sys.argv[4:]))
    raise SystemExit(main())
