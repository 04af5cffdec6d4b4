"""a large contact import runs in a worker: its state, list, size and error on the record,
and the uploaded file in pieces until the worker has read it (issue 12)

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-04 06:50:00
"""
from alembic import op
import sqlalchemy as sa
import campaigns.db


revision = '0013'
down_revision = '0012'
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table('contact_imports', schema=None) as batch_op:
        batch_op.add_column(sa.Column('status', sa.String(length=16), server_default='done', nullable=False))
        batch_op.add_column(sa.Column('list_name', sa.String(length=200), server_default='', nullable=False))
        batch_op.add_column(sa.Column('size_bytes', sa.BigInteger(), server_default='0', nullable=False))
        batch_op.add_column(sa.Column('error', sa.Text(), server_default='', nullable=False))
        batch_op.add_column(sa.Column('finished_at', campaigns.db.UTCDateTime(), nullable=True))
    op.create_table('contact_import_parts',
    sa.Column('import_id', sa.Integer(), nullable=False),
    sa.Column('seq', sa.Integer(), autoincrement=False, nullable=False),
    sa.Column('data', sa.LargeBinary(), nullable=False),
    sa.ForeignKeyConstraint(['import_id'], ['contact_imports.id'], name=op.f('fk_contact_import_parts_import_id_contact_imports'), ondelete='CASCADE'),
    sa.PrimaryKeyConstraint('import_id', 'seq', name=op.f('pk_contact_import_parts'))
    )


def downgrade() -> None:
    op.drop_table('contact_import_parts')
    with op.batch_alter_table('contact_imports', schema=None) as batch_op:
        batch_op.drop_column('finished_at')
        batch_op.drop_column('error')
        batch_op.drop_column('size_bytes')
        batch_op.drop_column('list_name')
        batch_op.drop_column('status')
