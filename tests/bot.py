"""A harness that runs the real `intake` command against the test servers, as a user would."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import Any

from intake.samples import STOCKHOLM, SampleMail, mail, pdf_from_text, protocol_text

COMMAND_TIMEOUT = 120

REGISTER_CSV = """År;Enhet;Tävlingsklass;Förvaltning;Nämnd;Kontakt e-post
2017;Korttidshemmet Drömmen;Socialtjänst;Socialförvaltningen;Socialnämnden;registrator@stockholm.se
2017;Förstärkningsteamet;Socialtjänst;Socialförvaltningen;Socialnämnden;registrator@stockholm.se
2017;Förskolan Solrosen;Förskola;Enskede-Årsta-Vantörs stadsdelsförvaltning;Enskede-Årsta-Vantörs stadsdelsnämnd;
"""
JUNE_19 = datetime(2017, 6, 19, 10, 0, tzinfo=STOCKHOLM)
SENDER = "Lena Murray <lena.murray@stockholm.se>"


def protocol_mail(units: tuple[str, ...] = ("Korttidshemmet Drömmen", "Förstärkningsteamet"),
                  sender: str = SENDER, subject: str = "Protokollsutdrag Socialnämnden § 9",
                  **kwargs: Any) -> SampleMail:
    text = protocol_text("Socialnämnden", date(2017, 6, 13), 9, [(u, "Socialtjänst") for u in units], 2017)
    return mail(sender, subject, "Hej!\nHär kommer protokollsutdraget.\n/Lena", JUNE_19,
                [("Protokollsutdrag SN § 9.pdf", pdf_from_text(text), "application/pdf")], **kwargs)


@dataclass
class Bot:
    directory: Path
    imap_port: int
    imap_user: str
    imap_password: str
    smtp_port: int
    database_url: str
    replies_per_hour: int = 5

    def write_config(self) -> Path:
        path = self.directory / "intake.toml"
        path.write_text(f"""
[award]
year = 2017
mailbox = "kvalitetsutmarkelsen@stockholm.se"
protocol_deadline = 2017-06-30

[imap]
host = "127.0.0.1"
port = {self.imap_port}
security = "none"
username = "{self.imap_user}"
folder = "INBOX"
poll_interval = 1
timeout = 20

[smtp]
host = "127.0.0.1"
port = {self.smtp_port}
security = "none"
from = "Kvalitetsutmärkelsen <kvalitetsutmarkelsen@stockholm.se>"
timeout = 20

[outbox]
replies_per_hour = {self.replies_per_hour}
retry_base_seconds = 1

[database]
url = "{self.database_url}"
""", encoding="utf-8")
        return path

    def env(self, **extra: str) -> dict[str, str]:
        env = dict(os.environ)
        env.update(INTAKE_CONFIG=str(self.write_config()), INTAKE_IMAP_PASSWORD=self.imap_password,
                   INTAKE_LOG_LEVEL="INFO", PYTHONUNBUFFERED="1")
        env.update(extra)
        return env

    def run(self, *args: str, check: bool = True, **extra_env: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run([sys.executable, "-m", "intake.cli", *args], env=self.env(**extra_env),
                              capture_output=True, text=True, timeout=COMMAND_TIMEOUT, cwd=self.directory)
        if check and done.returncode != 0:
            raise AssertionError(f"intake {' '.join(args)} exited {done.returncode}:\n{done.stderr}")
        return done

    def start(self, *args: str, **extra_env: str) -> subprocess.Popen[str]:
        return subprocess.Popen([sys.executable, "-m", "intake.cli", *args], env=self.env(**extra_env),
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=self.directory)

    def json(self, *args: str) -> Any:
        return json.loads(self.run(*args).stdout)

    def import_register(self, csv_text: str = REGISTER_CSV) -> str:
        path = self.directory / "register.csv"
        path.write_text(csv_text, encoding="utf-8")
        return self.run("units", "import", str(path)).stdout

    def messages(self) -> list[dict[str, Any]]:
        return self.json("messages", "--json")  # type: ignore[no-any-return]

    def units(self) -> dict[str, dict[str, Any]]:
        return {unit["unit"]: unit for unit in self.json("status", "--json")}


def wait_until(condition: Callable[[], bool], timeout: float, interval: float = 0.1) -> None:
    """Poll `condition` until it holds; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout} s")
        time.sleep(interval)
