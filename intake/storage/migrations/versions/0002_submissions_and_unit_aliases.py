"""submissions and unit aliases

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-22 19:32:41.331067
"""

from alembic import op
import sqlalchemy as sa

revision = '0002'
down_revision = '0001'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('submissions',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('year', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), nullable=False),
    sa.Column('reference', sa.String(length=20), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_submissions')),
    sa.UniqueConstraint('reference', name=op.f('uq_submissions_reference')),
    sa.UniqueConstraint('year', 'seq', name='uq_submissions_year_seq')
    )
    op.create_table('unit_aliases',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('unit_pk', sa.Integer(), nullable=False),
    sa.Column('alias', sa.String(length=300), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('created_by', sa.String(length=200), nullable=False),
    sa.Column('source_message_pk', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['source_message_pk'], ['messages.id'], name=op.f('fk_unit_aliases_source_message_pk_messages')),
    sa.ForeignKeyConstraint(['unit_pk'], ['units.id'], name=op.f('fk_unit_aliases_unit_pk_units')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_unit_aliases')),
    sa.UniqueConstraint('unit_pk', 'alias', name='uq_unit_aliases_unit_alias')
    )
    with op.batch_alter_table('unit_aliases', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_unit_aliases_unit_pk'), ['unit_pk'], unique=False)

    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.add_column(sa.Column('sure', sa.Boolean(), server_default=sa.true(), nullable=False))

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.add_column(sa.Column('submission_pk', sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f('ix_messages_submission_pk'), ['submission_pk'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_messages_submission_pk_submissions'), 'submissions', ['submission_pk'], ['id'])



def downgrade() -> None:
    with op.batch_alter_table('matches', schema=None) as batch_op:
        batch_op.drop_column('sure')

    with op.batch_alter_table('messages', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_messages_submission_pk_submissions'), type_='foreignkey')
        batch_op.drop_index(batch_op.f('ix_messages_submission_pk'))
        batch_op.drop_column('submission_pk')

    with op.batch_alter_table('unit_aliases', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_unit_aliases_unit_pk'))

    op.drop_table('unit_aliases')
    op.drop_table('submissions')
