"""unknown mentions: the names a protokollsutdrag gave that no registered unit matched

Stored with the decision, for the review page (which offers to add them as units) and
for a reply composed again later. Until now the page recovered them by parsing the
Swedish reason text; rows decided before this revision are filled from that text here.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23 01:00:00
"""

import json
import re

from alembic import op
import sqlalchemy as sa

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

# The reason decisions.unknown_units wrote for each such name, up to this revision.
UNKNOWN_REASON = re.compile(r"^”(?P<mention>.+?)” finns inte bland de anmälda enheterna")


def mentions_in(reasons: object) -> list[str]:
    if isinstance(reasons, str):  # a JSON column read through plain SQL may come back as text
        reasons = json.loads(reasons)
    if not isinstance(reasons, list):
        return []
    found = (UNKNOWN_REASON.match(reason) for reason in reasons if isinstance(reason, str))
    return list(dict.fromkeys(hit.group("mention") for hit in found if hit is not None))


def upgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('unknown_mentions', sa.JSON(), nullable=True))

    messages = sa.table('messages', sa.column('id', sa.Integer), sa.column('reasons', sa.JSON),
                        sa.column('missing', sa.JSON), sa.column('unknown_mentions', sa.JSON))
    connection = op.get_bind()
    rows = connection.execute(sa.select(messages.c.id, messages.c.reasons)
                              .where(messages.c.reasons.is_not(None))).all()
    for pk, reasons in rows:
        found = mentions_in(reasons)
        if found:
            connection.execute(sa.update(messages).where(messages.c.id == pk).values(unknown_mentions=found))


def downgrade() -> None:
    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_column('unknown_mentions')
