"""What every page module uses: the bot's context, the signed-in coordinator, refusals."""

from __future__ import annotations

from typing import NoReturn

from flask import current_app, g
from werkzeug.exceptions import HTTPException

from intake.pipeline import Context


class Refusal(HTTPException):
    """An HTTP error whose description is Swedish text meant for the coordinator."""

    def __init__(self, code: int, text: str) -> None:
        super().__init__(description=text)
        self.code = code


def fail(code: int, text: str) -> NoReturn:
    """Stop the request with an error page that says `text` (Swedish, shown escaped)."""
    raise Refusal(code, text)


def context() -> Context:
    ctx: Context = current_app.extensions["intake"]
    return ctx


def username() -> str:
    name: str = g.user
    return name


def actor() -> str:
    """The audit log's name for the signed-in coordinator: web:<username>."""
    return f"web:{username()}"
