"""outbox_messages: e-mail written with the change it reports, delivered by the sender

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-03 07:00:00
"""
from alembic import op
import sqlalchemy as sa
import directory.models.base


revision = '0007'
down_revision = '0006'
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        'outbox_messages',
        sa.Column('id', sa.Integer(), nullable=False),
        sa.Column('created_at', directory.models.base.UTCDateTime(timezone=True), nullable=False),
        sa.Column('kind', sa.String(length=64), nullable=False),
        sa.Column('to_address', sa.String(length=254), nullable=False),
        sa.Column('reply_to', sa.String(length=254), nullable=True),
        sa.Column('subject', sa.String(length=300), nullable=False),
        sa.Column('body', sa.Text(), nullable=False),
        sa.Column('message_id', sa.String(length=255), nullable=False),
        sa.Column('status', sa.String(length=16), nullable=False),
        sa.Column('attempts', sa.Integer(), nullable=False),
        sa.Column('next_attempt_at', directory.models.base.UTCDateTime(timezone=True),
                  nullable=False),
        sa.Column('last_error', sa.String(length=500), nullable=False),
        sa.Column('sent_at', directory.models.base.UTCDateTime(timezone=True), nullable=True),
        sa.CheckConstraint("status IN ('pending', 'sent', 'failed')",
                           name=op.f('ck_outbox_messages_status')),
        sa.PrimaryKeyConstraint('id', name=op.f('pk_outbox_messages')),
        sa.UniqueConstraint('message_id', name=op.f('uq_outbox_messages_message_id')),
    )
    op.create_index('ix_outbox_messages_due', 'outbox_messages', ['status', 'next_attempt_at'],
                    unique=False)


def downgrade():
    op.drop_index('ix_outbox_messages_due', table_name='outbox_messages')
    op.drop_table('outbox_messages')
