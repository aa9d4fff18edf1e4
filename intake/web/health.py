"""/healthz and /metrics: for the proxy's, the container's and Prometheus's checks; no sign-in.

/healthz is 200 while the database answers and the mailbox is read (the daemon's heartbeat is
within the watchdog's limits, or there is none yet), else 503; it shows nothing private.
/metrics is the Prometheus text format (intake.ops.metrics), open on the listen address, or
behind `Authorization: Bearer <ops.metrics_token>` when that is set.
"""

from __future__ import annotations

import hmac
import logging
from typing import Any

from flask import Blueprint, Response, request
from sqlalchemy import text

from intake.ops import heartbeat, watchdog
from intake.ops import metrics as ops_metrics
from intake.web.common import context

log = logging.getLogger(__name__)
bp = Blueprint("health", __name__)
PLAIN = "text/plain; charset=utf-8"


@bp.route("/healthz")
def healthz() -> Any:
    """200 when the database answers and the mailbox is read; 503 otherwise."""
    ctx = context()
    try:
        with ctx.sessions.begin() as db:
            db.execute(text("SELECT 1"))
            beat = heartbeat.read(db)
    except Exception:  # any failure of the database is "not healthy", said without detail
        return {"status": "fel", "database": False}, 503
    now = ctx.clock()
    stale = watchdog.stale_reason(beat, now, watchdog.Limits.of(ctx.settings.ops))
    age = None if beat.last_success is None else max(0, int((now - beat.last_success).total_seconds()))
    poll = "stale" if stale else ("unknown" if beat.last_attempt is None else "ok")
    body = {"status": "fel" if stale else "ok", "database": True, "poll": poll,
            "last_poll": beat.last_success.isoformat() if beat.last_success else None,
            "last_poll_age_seconds": age, "poll_failures": beat.failures}
    return body, 503 if stale else 200


@bp.route("/metrics")
def metrics() -> Any:
    ctx = context()
    token = ctx.settings.ops.metrics_token
    if token and not _bearer_matches(token):
        return Response("Unauthorized: send Authorization: Bearer <ops.metrics_token>\n", 401,
                        {"WWW-Authenticate": 'Bearer realm="intake metrics"'}, content_type=PLAIN)
    try:
        body = ops_metrics.exposition(ctx)
    except Exception:  # the database is away: say so without detail, as /healthz does
        log.warning("/metrics: the database did not answer", exc_info=True)
        return Response("database unavailable\n", 503, content_type=PLAIN)
    return Response(body, 200, content_type=ops_metrics.CONTENT_TYPE)


def _bearer_matches(token: str) -> bool:
    scheme, _, given = request.headers.get("Authorization", "").partition(" ")
    return scheme.lower() == "bearer" and hmac.compare_digest(given.strip().encode(), token.encode())
