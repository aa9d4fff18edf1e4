"""Settings: TOML, environment overrides and one-line errors naming the key."""

from datetime import date
from pathlib import Path

import pytest

from intake.config import parse_settings
from intake.errors import ConfigError

EXAMPLE = (Path(__file__).parent.parent / "config" / "intake.example.toml").read_text(encoding="utf-8")
MINIMAL = """
[award]
year = 2017
mailbox = "kvalitetsutmarkelsen@stockholm.se"
protocol_deadline = 2017-06-30
[source]
kind = "maildir"
[outbox]
transport = "files"
"""


def test_example_file_is_valid() -> None:
    settings = parse_settings(EXAMPLE, {})
    assert settings.award.year == 2017
    assert settings.award.protocol_deadline == date(2017, 6, 30)
    assert settings.imap.security == "ssl"
    assert settings.smtp.sender.startswith("Kvalitetsutmärkelsen")
    assert settings.bot_address == "kvalitetsutmarkelsen@stockholm.se"


def test_minimal_embedded_default() -> None:
    settings = parse_settings(MINIMAL, {})
    assert settings.source.kind == "maildir"
    assert settings.database.url == "sqlite:///var/intake.db"
    assert settings.award.timezone == "Europe/Stockholm"


@pytest.mark.parametrize(
    ("variable", "value", "check"),
    [
        ("INTAKE_IMAP_PASSWORD", "hemligt", lambda s: s.imap.password == "hemligt"),
        ("INTAKE_IMAP_PORT", "143", lambda s: s.imap.port == 143),
        ("INTAKE_AWARD_PROTOCOL_DEADLINE", "2017-07-01", lambda s: s.award.protocol_deadline.day == 1),
        ("INTAKE_SMTP_SECURITY", "NONE", lambda s: s.smtp.security == "none"),
        ("INTAKE_DATABASE_URL", "postgresql://u@h/db", lambda s: s.database.url.startswith("postgresql")),
        ("INTAKE_SMTP_FROM", "Kvalitetsutmärkelsen <ku@stockholm.se>", lambda s: s.bot_address == "ku@stockholm.se"),
    ],
)
def test_environment_overrides(variable: str, value: str, check) -> None:  # type: ignore[no-untyped-def]
    assert check(parse_settings(EXAMPLE, {variable: value}))


@pytest.mark.parametrize(
    ("text", "environ", "names"),
    [
        (MINIMAL.replace("year = 2017\n", ""), {}, "award.year: missing"),
        (MINIMAL.replace('year = 2017', 'year = "tjugo"'), {}, "award.year: expected a whole number"),
        (MINIMAL.replace("2017-06-30", '"30 juni"'), {}, "award.protocol_deadline: expected a date"),
        (MINIMAL.replace('"kvalitetsutmarkelsen@stockholm.se"', '"ingen adress"'), {}, "award.mailbox"),
        (MINIMAL + '[imap]\nsecurity = "tls"\n', {}, "imap.security: expected one of ssl | starttls | none"),
        (MINIMAL + "[imap]\nport = 70000\n", {}, "imap.port: expected a number from 1 to 65535"),
        (MINIMAL + "[imap]\nhots = 'x'\n", {}, "imap.hots: unknown key"),
        (MINIMAL + "[imapp]\n", {}, "[imapp]: unknown section"),
        (MINIMAL, {"INTAKE_IMAP_PORT": "x"}, "imap.port (from INTAKE_IMAP_PORT)"),
        (MINIMAL.replace('kind = "maildir"', 'kind = "imap"'), {}, "imap.host: missing"),
        (MINIMAL.replace('transport = "files"', 'transport = "smtp"'), {}, "smtp.host: missing"),
        (MINIMAL + '[award]\n', {}, "not valid TOML"),
        (MINIMAL.replace("[award]", '[award]\ntimezone = "Mars/Olympus"'), {}, "award.timezone"),
    ],
)
def test_errors_name_the_key(text: str, environ: dict[str, str], names: str) -> None:
    with pytest.raises(ConfigError) as info:
        parse_settings(text, environ)
    message = str(info.value)
    assert names in message
    assert "\n" not in message
