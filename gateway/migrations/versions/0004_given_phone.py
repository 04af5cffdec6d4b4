"""a typed-in number is not a sender: tips.given_phone

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-02 18:55:00

Web-form and call-log tips kept the number the tipster typed as their sender, which joined
them to that number's SMS thread, linked them to its campaigns and carried its do-not-contact
over. Existing ones move to given_phone.
"""
from alembic import op
import sqlalchemy as sa


revision = '0004'
down_revision = '0003'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.add_column(sa.Column('given_phone', sa.String(length=20), nullable=True))
    tips = sa.table(
        'tips',
        sa.column('channel', sa.String),
        sa.column('sender', sa.String),
        sa.column('given_phone', sa.String),
        sa.column('campaign_id', sa.Integer),
    )
    op.execute(
        tips.update()
        .where(tips.c.channel.in_(('web', 'call')), tips.c.sender.is_not(None))
        .values(given_phone=tips.c.sender, sender=None, campaign_id=None)
    )


def downgrade() -> None:
    with op.batch_alter_table('tips', schema=None) as batch_op:
        batch_op.drop_column('given_phone')
