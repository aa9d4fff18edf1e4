"""The web desk on a season like the demo's: sample register and mails processed, one coordinator.

`Desk.client()` is a Flask test client; `signed_in()` is one already signed in, whose `post`
adds the session's CSRF token to every form. Real database (SQLite, or PostgreSQL when
INTAKE_TEST_DATABASE_URL names one), real pipeline, replies written as files."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from intake.cli import import_summary, make_context
from intake.config import Settings, parse_settings
from intake.daemon import Daemon
from intake.demo import load_samples
from intake.mailbox.maildir import MaildirSource, deliver
from intake.outbox.files import FileMailer
from intake.pipeline import Context, import_register
from intake.samples import register_csv
from intake.web import create_app
from intake.web.accounts import add_user

USER = "samordnare"
PASSWORD = "kvalitet-2017"
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')

CONFIG = """
[award]
year = 2017
mailbox = "kvalitetsutmarkelsen@stockholm.se"
protocol_deadline = 2017-06-30

[source]
kind = "maildir"
maildir = "{dir}/maildir"

[smtp]
from = "Kvalitetsutmärkelsen <kvalitetsutmarkelsen@stockholm.se>"

[outbox]
transport = "files"
path = "{dir}/outbox"
replies_per_hour = 50

[database]
url = "{url}"

[web]
secret_key = "test-secret-key"
{web}
"""


@dataclass
class Desk:
    directory: Path
    ctx: Context
    app: Flask
    import_line: str

    @property
    def settings(self) -> Settings:
        return self.ctx.settings

    def client(self) -> FlaskClient:
        return self.app.test_client()

    def signed_in(self, username: str = USER, password: str = PASSWORD) -> SignedIn:
        client = self.client()
        page = client.get("/logga-in")
        response = client.post("/logga-in", data={"username": username, "password": password,
                                                  "csrf_token": csrf_of(page.get_data(as_text=True))})
        assert response.status_code == 302, response.get_data(as_text=True)
        return SignedIn(client)

    def poll(self) -> None:
        source = MaildirSource(Path(self.settings.source.maildir))
        mailer = FileMailer(Path(self.settings.outbox.path))
        from contextlib import nullcontext

        Daemon(self.ctx, source, lambda: nullcontext(mailer), wait_seconds=1).run_once()
        source.close()

    def deliver(self, raw: bytes) -> None:
        deliver(Path(self.settings.source.maildir), raw)


class SignedIn:
    """A signed-in test client; `post` sends the session's CSRF token unless told otherwise."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.token = csrf_of(client.get("/").get_data(as_text=True))

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)

    def post(self, path: str, data: dict[str, Any] | None = None, **kwargs: Any) -> Any:
        form = {"csrf_token": self.token, **(data or {})}
        return self.client.post(path, data=form, **kwargs)


def csrf_of(page: str) -> str:
    found = CSRF_FIELD.search(page)
    assert found, "no CSRF token on the page"
    return found.group(1)


def make_desk(directory: Path, database_url: str, *, mails: bool = True, web: str = "") -> Desk:
    settings = parse_settings(CONFIG.format(dir=directory.as_posix(), url=database_url, web=web), {})
    ctx = make_context(settings, {})
    report = load_samples(ctx, Path(settings.source.maildir)) if mails else import_register(
        ctx, "register.csv", register_csv(), actor="test")
    with ctx.sessions.begin() as session:
        add_user(session, USER, PASSWORD, "test", "Sara Samordnare")
    desk = Desk(directory, ctx, create_app(ctx), import_summary(report))
    desk.app.testing = True
    if mails:
        desk.poll()
    return desk
