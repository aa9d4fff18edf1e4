"""What every pipeline step is given: settings, sessions, the reply renderer, a clock."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from intake.config import Settings
from intake.replies import ReplyRenderer
from intake.storage.models import utcnow


def no_crash(point: str) -> None:
    """Default crash point: nothing. Tests pass one that kills the process at `point`."""


@dataclass(slots=True)
class Context:
    settings: Settings
    sessions: sessionmaker[Session]
    renderer: ReplyRenderer
    clock: Callable[[], datetime] = utcnow
    crashpoint: Callable[[str], None] = no_crash
    actor: str = "bot"
    cache: dict[str, Any] = field(default_factory=dict)  # what a step may keep between rounds


@dataclass(frozen=True, slots=True)
class PollReport:
    stored: int = 0
    processed: int = 0
    sent: int = 0
