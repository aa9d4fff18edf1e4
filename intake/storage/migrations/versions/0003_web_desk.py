"""web desk: coordinator accounts, app settings, review resolutions, reminders in the outbox

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-22 10:00:00
"""

from alembic import op
import sqlalchemy as sa

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table('users',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('username', sa.String(length=200), nullable=False),
    sa.Column('display_name', sa.String(length=300), nullable=False),
    sa.Column('password_hash', sa.String(length=300), nullable=False),
    sa.Column('active', sa.Boolean(), server_default=sa.true(), nullable=False),
    sa.Column('created_at', sa.DateTime(), nullable=False),
    sa.Column('last_login_at', sa.DateTime(), nullable=True),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_users')),
    sa.UniqueConstraint('username', name=op.f('uq_users_username'))
    )
    op.create_table('app_settings',
    sa.Column('key', sa.String(length=64), nullable=False),
    sa.Column('value', sa.Text(), nullable=False),
    sa.Column('updated_at', sa.DateTime(), nullable=False),
    sa.PrimaryKeyConstraint('key', name=op.f('pk_app_settings'))
    )
    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.add_column(sa.Column('resolution', sa.String(length=32), nullable=True))

    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.alter_column('message_pk', existing_type=sa.Integer(), nullable=True)


def downgrade() -> None:
    with op.batch_alter_table('replies', schema=None) as batch_op:
        batch_op.alter_column('message_pk', existing_type=sa.Integer(), nullable=False)

    with op.batch_alter_table('review_items', schema=None) as batch_op:
        batch_op.drop_column('resolution')

    op.drop_table('app_settings')
    op.drop_table('users')
