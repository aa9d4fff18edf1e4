"""The web desk's sign-in, sessions, CSRF, headers and accounts, through Flask's test client."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import pytest
from sqlalchemy import select

from intake.samples import STOCKHOLM, mail
from intake.storage import store
from intake.storage.models import AuditRow
from intake.web import accounts
from tests.desk import PASSWORD, USER, Desk, csrf_of, make_desk


def test_signed_out_pages_redirect_to_the_sign_in_page(desk: Desk) -> None:
    client = desk.client()
    for path in ("/", "/register/", "/oversikt", "/mejl"):
        response = client.get(path)
        assert response.status_code == 302
        assert response.headers["Location"].startswith("/logga-in?next=")


def test_sign_in_then_the_queue_then_sign_out(desk: Desk) -> None:
    user = desk.signed_in()
    page = user.get("/").get_data(as_text=True)
    assert "Granskning" in page and "Inloggad som samordnare" in page
    response = user.post("/logga-ut")
    assert response.status_code == 302
    assert user.get("/").status_code == 302
    with desk.ctx.sessions.begin() as db:
        actions = [row.action for row in db.scalars(select(AuditRow))]
    assert "login" in actions and "logout" in actions


def test_wrong_password_is_refused_and_logged(desk: Desk) -> None:
    client = desk.client()
    token = csrf_of(client.get("/logga-in").get_data(as_text=True))
    response = client.post("/logga-in", data={"username": USER, "password": "fel", "csrf_token": token})
    assert response.status_code == 401
    assert "Fel användarnamn eller lösenord" in response.get_data(as_text=True)
    assert client.get("/").status_code == 302


def test_repeated_failures_lock_the_account_for_a_while(desk: Desk) -> None:
    client = desk.client()
    token = csrf_of(client.get("/logga-in").get_data(as_text=True))
    for _ in range(accounts_max()):
        client.post("/logga-in", data={"username": USER, "password": "fel", "csrf_token": token})
    response = client.post("/logga-in", data={"username": USER, "password": PASSWORD, "csrf_token": token})
    assert response.status_code == 401
    assert "För många misslyckade" in response.get_data(as_text=True)


def accounts_max() -> int:
    from intake.web.auth import MAX_FAILURES

    return MAX_FAILURES


def test_a_form_without_the_csrf_token_is_refused(desk: Desk) -> None:
    user = desk.signed_in()
    response = user.client.post("/logga-ut", data={"csrf_token": "wrong"})
    assert response.status_code == 400
    assert "säkerhetskoden" in response.get_data(as_text=True)
    assert user.get("/").status_code == 200  # still signed in


def test_sign_in_without_the_csrf_token_is_refused(desk: Desk) -> None:
    response = desk.client().post("/logga-in", data={"username": USER, "password": PASSWORD})
    assert response.status_code == 400


def test_next_page_after_sign_in_stays_on_this_site(desk: Desk) -> None:
    client = desk.client()
    token = csrf_of(client.get("/logga-in").get_data(as_text=True))
    response = client.post("/logga-in", data={"username": USER, "password": PASSWORD, "csrf_token": token,
                                             "next": "https://evil.example/"})
    assert response.headers["Location"] == "/"
    client.post("/logga-ut", data={"csrf_token": csrf_of(client.get("/").get_data(as_text=True))})
    token = csrf_of(client.get("/logga-in").get_data(as_text=True))
    response = client.post("/logga-in", data={"username": USER, "password": PASSWORD, "csrf_token": token,
                                             "next": "/register/?q=a"})
    assert response.headers["Location"] == "/register/?q=a"


def test_an_idle_session_times_out(desk: Desk) -> None:
    user = desk.signed_in()
    with user.client.session_transaction() as session:
        session["seen"] = session["seen"] - desk.settings.web.session_minutes * 60 - 1
    response = user.get("/")
    assert response.status_code == 302
    page = user.client.get(response.headers["Location"]).get_data(as_text=True)
    assert "utan aktivitet" in page


def test_pages_carry_security_headers(desk: Desk) -> None:
    response = desk.client().get("/logga-in")
    assert "default-src 'self'" in response.headers["Content-Security-Policy"]
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["Cache-Control"] == "no-store"
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie


def test_healthz_answers_without_sign_in(desk: Desk) -> None:
    response = desk.client().get("/healthz")
    assert response.status_code == 200 and response.get_json()["database"] is True


def test_reverse_proxy_header_signs_in_a_known_coordinator(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False, web='trusted_user_header = "X-Remote-User"')
    with desk.ctx.sessions.begin() as db:
        accounts.add_user(db, "anna", None, "test")
    client = desk.client()
    assert client.get("/", headers={"X-Remote-User": "anna"}).status_code == 200
    assert client.get("/", headers={"X-Remote-User": "okand"}).status_code == 403
    other = desk.client()
    token = csrf_of(other.get("/logga-in").get_data(as_text=True))
    refused = other.post("/logga-in", data={"username": "anna", "password": "", "csrf_token": token})
    assert refused.status_code == 401  # a single-sign-on account has no password to sign in with


def test_passwords_are_hashed_with_argon2_and_checked(desk: Desk) -> None:
    with desk.ctx.sessions.begin() as db:
        row = store.user_by_name(db, USER)
        assert row is not None and row.password_hash.startswith("$argon2id$")
        assert accounts.authenticate(db, "SAMORDNARE", PASSWORD) is not None
        assert accounts.authenticate(db, USER, PASSWORD + "x") is None
        assert accounts.authenticate(db, "ingen", PASSWORD) is None
        with pytest.raises(accounts.AccountError):
            accounts.add_user(db, "kort", "abc", "test")
        with pytest.raises(accounts.AccountError):
            accounts.add_user(db, "två ord", PASSWORD, "test")


def test_html_in_a_mail_is_shown_as_text(tmp_path: Path, database_url: str) -> None:
    desk = make_desk(tmp_path, database_url, mails=False)
    evil = "<script>alert('x')</script>"
    desk.deliver(mail(f"{evil} <ond@example.org>", f"Protokoll {evil}", f"Hej {evil}",
                      datetime(2017, 6, 1, 10, 0, tzinfo=STOCKHOLM),
                      [(f"{evil}.pdf", b"%PDF-1.4 broken", "application/pdf")]).raw)
    desk.poll()
    user = desk.signed_in()
    for path in ("/", "/mejl"):
        page = user.get(path).get_data(as_text=True)
        assert "<script>alert" not in page
        assert "&lt;script&gt;" in page
