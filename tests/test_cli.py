"""The command line as coordinators and operators meet it: import, reports, errors and exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from openpyxl import Workbook

from tests.bot import REGISTER_CSV, Bot


def make_bot(tmp_path: Path, database_url: str) -> Bot:
    # No servers are contacted by these commands; the ports only have to be valid.
    return Bot(tmp_path, 1143, "bot", "secret", 1025, database_url)


def test_register_import_is_idempotent_and_reports_bad_rows(tmp_path: Path, database_url: str) -> None:
    bot = make_bot(tmp_path, database_url)
    assert bot.import_register().strip() == "3 tillagda, 0 uppdaterade, 0 oförändrade"
    assert bot.import_register().strip() == "0 tillagda, 0 uppdaterade, 3 oförändrade"

    changed = REGISTER_CSV.replace("Förskola;Enskede", "Skola;Enskede") + "2017;;Förskola;X;Y;\n"
    path = tmp_path / "ändrad.csv"
    path.write_bytes(changed.encode("cp1252"))
    done = bot.run("units", "import", str(path))
    assert done.stdout.strip() == "0 tillagda, 1 uppdaterade, 2 oförändrade, 1 rader kunde inte läsas"
    assert "ändrad.csv: rad 5:" in done.stderr

    units = bot.units()
    assert units["Förskolan Solrosen"]["class"] == "Skola"
    assert units["Förskolan Solrosen"]["state"] == "awaiting_protocol"
    assert {u["year"] for u in units.values()} == {2017}


def test_xlsx_register(tmp_path: Path, database_url: str) -> None:
    workbook = Workbook()
    sheet = workbook.active
    sheet.append(["year", "unit", "class", "administration", "board", "unit_id"])
    sheet.append([2017, "Äldreboendet Åkermyntan", "Äldreomsorg", "Äldreförvaltningen", "Äldrenämnden", "ÄN-1"])
    path = tmp_path / "register.xlsx"
    workbook.save(path)
    bot = make_bot(tmp_path, database_url)
    assert bot.run("units", "import", str(path)).stdout.startswith("1 tillagda")
    [unit] = bot.json("status", "--json")
    assert unit["unit_id"] == "ÄN-1"
    assert unit["unit"] == "Äldreboendet Åkermyntan"
    assert unit["class"].startswith("Äldreomsorg")
    assert unit["protocol"] is None


def test_errors_are_one_line_with_exit_status(tmp_path: Path, database_url: str) -> None:
    bot = make_bot(tmp_path, database_url)
    missing = bot.run("units", "import", str(tmp_path / "finns-inte.csv"), check=False)
    assert missing.returncode == 1
    assert missing.stderr.strip().count("\n") == 0

    broken = tmp_path / "broken.toml"
    broken.write_text("[award]\nyear = 2017\n", encoding="utf-8")
    done = bot.run("status", "--json", check=False, INTAKE_CONFIG=str(broken))
    assert done.returncode == 1
    assert done.stderr.strip() == "intake: award.mailbox: missing; expected an e-mail address"

    usage = subprocess.run([sys.executable, "-m", "intake.cli", "poll"], capture_output=True, text=True)
    assert usage.returncode == 2


def test_reports_on_an_empty_database(tmp_path: Path, database_url: str) -> None:
    bot = make_bot(tmp_path, database_url)
    assert bot.json("status", "--json") == []
    assert bot.json("messages", "--json") == []
