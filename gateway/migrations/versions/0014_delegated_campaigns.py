"""delegated campaigns: the operators asked, request letters and their follow-up (issue 13)

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04 09:44:39.915914
"""
from alembic import op
import sqlalchemy as sa
import campaigns.db


revision = '0014'
down_revision = '0013'
branch_labels = None
depends_on = None


def upgrade() -> None:
    operators = op.create_table('mobile_operators',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('code', sa.String(length=20), nullable=False),
    sa.Column('name', sa.String(length=60), nullable=False),
    sa.Column('addressee', sa.String(length=300), nullable=False),
    sa.Column('position', sa.Integer(), nullable=False),
    sa.Column('active', sa.Boolean(), nullable=False),
    sa.Column('column_map', sa.JSON(), nullable=False),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_mobile_operators')),
    sa.UniqueConstraint('code', name=op.f('uq_mobile_operators_code'))
    )
    op.create_table('letter_templates',
    sa.Column('kind', sa.String(length=40), nullable=False),
    sa.Column('issuer_parent', sa.String(length=200), nullable=False),
    sa.Column('issuer', sa.String(length=200), nullable=False),
    sa.Column('symbol', sa.String(length=60), nullable=False),
    sa.Column('place', sa.String(length=100), nullable=False),
    sa.Column('subject', sa.Text(), nullable=False),
    sa.Column('opening', sa.Text(), nullable=False),
    sa.Column('closing', sa.Text(), nullable=False),
    sa.Column('signer_title', sa.String(length=200), nullable=False),
    sa.Column('signer_name', sa.String(length=200), nullable=False),
    sa.Column('copies_to', sa.Text(), nullable=False),
    sa.Column('updated_at', campaigns.db.UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_letter_templates_updated_by_id_users')),
    sa.PrimaryKeyConstraint('kind', name=op.f('pk_letter_templates'))
    )
    op.create_table('operator_requests',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('campaign_id', sa.Integer(), nullable=False),
    sa.Column('operator_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('letter_year', sa.Integer(), nullable=False),
    sa.Column('letter_no', sa.Integer(), nullable=False),
    sa.Column('letter', sa.JSON(), nullable=False),
    sa.Column('letter_hash', sa.String(length=64), nullable=False),
    sa.Column('letter_made_at', campaigns.db.UTCDateTime(), nullable=False),
    sa.Column('requested_at', campaigns.db.UTCDateTime(), nullable=True),
    sa.Column('reached_total', sa.BigInteger(), nullable=True),
    sa.Column('reached_by_area', sa.JSON(), nullable=False),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('updated_at', campaigns.db.UTCDateTime(), nullable=False),
    sa.Column('updated_by_id', sa.Integer(), nullable=True),
    sa.ForeignKeyConstraint(['campaign_id'], ['campaigns.id'], name=op.f('fk_operator_requests_campaign_id_campaigns'), ondelete='CASCADE'),
    sa.ForeignKeyConstraint(['operator_id'], ['mobile_operators.id'], name=op.f('fk_operator_requests_operator_id_mobile_operators')),
    sa.ForeignKeyConstraint(['updated_by_id'], ['users.id'], name=op.f('fk_operator_requests_updated_by_id_users')),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_requests')),
    sa.UniqueConstraint('campaign_id', 'operator_id', name=op.f('uq_operator_requests_campaign_id_operator_id')),
    sa.UniqueConstraint('letter_year', 'letter_no', name=op.f('uq_operator_requests_letter_year_letter_no'))
    )
    with op.batch_alter_table('operator_requests', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operator_requests_campaign_id'), ['campaign_id'], unique=False)

    op.create_table('operator_request_events',
    sa.Column('id', sa.Integer(), nullable=False),
    sa.Column('request_id', sa.Integer(), nullable=False),
    sa.Column('status', sa.String(length=16), nullable=False),
    sa.Column('at', campaigns.db.UTCDateTime(), nullable=False),
    sa.Column('by_id', sa.Integer(), nullable=True),
    sa.Column('note', sa.Text(), nullable=False),
    sa.Column('reached_total', sa.BigInteger(), nullable=True),
    sa.ForeignKeyConstraint(['by_id'], ['users.id'], name=op.f('fk_operator_request_events_by_id_users')),
    sa.ForeignKeyConstraint(['request_id'], ['operator_requests.id'], name=op.f('fk_operator_request_events_request_id_operator_requests'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('id', name=op.f('pk_operator_request_events'))
    )
    with op.batch_alter_table('operator_request_events', schema=None) as batch_op:
        batch_op.create_index(batch_op.f('ix_operator_request_events_request_id'), ['request_id'], unique=False)

    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.add_column(sa.Column('route', sa.String(length=12), server_default='direct', nullable=False))
        batch_op.add_column(sa.Column('delegation', sa.JSON(), server_default='{}', nullable=False))

    # The operators a province can ask (national data; an admin edits the addressees).
    op.bulk_insert(operators, [
        {'code': code, 'name': name, 'addressee': addressee, 'position': i, 'active': True, 'column_map': {}}
        for i, (code, name, addressee) in enumerate(OPERATORS)
    ])


OPERATORS = [
    ('viettel', 'Viettel', 'Tập đoàn Công nghiệp – Viễn thông Quân đội (Viettel)'),
    ('vinaphone', 'VinaPhone', 'Tổng công ty Dịch vụ Viễn thông (VNPT VinaPhone)'),
    ('mobifone', 'MobiFone', 'Tổng công ty Viễn thông MobiFone'),
    ('vietnamobile', 'Vietnamobile', 'Công ty Cổ phần Viễn thông Di động Vietnamobile'),
    ('gmobile', 'Gmobile', 'Công ty Cổ phần Viễn thông Di động Toàn Cầu (Gmobile)'),
    ('wintel', 'Wintel', 'Công ty Cổ phần Wintel'),
    ('itel', 'iTel', 'Công ty Cổ phần Viễn thông Đông Dương Telecom (iTel)'),
]


def downgrade() -> None:
    with op.batch_alter_table('campaigns', schema=None) as batch_op:
        batch_op.drop_column('delegation')
        batch_op.drop_column('route')

    with op.batch_alter_table('operator_request_events', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operator_request_events_request_id'))

    op.drop_table('operator_request_events')
    with op.batch_alter_table('operator_requests', schema=None) as batch_op:
        batch_op.drop_index(batch_op.f('ix_operator_requests_campaign_id'))

    op.drop_table('operator_requests')
    op.drop_table('letter_templates')
    op.drop_table('mobile_operators')
