"""routing rules read Vietnamese as people write it: exclusion phrases, new defaults

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02 19:00:00

Adds routing_rules.exclusions ("biển số" is no sea). The default rules that nobody edited
(still version 1) take the new defaults (ages, family words, SMS shorthand, exclusions); the
rule that shares 111 with every victim who needs support is added. Edited rules are left alone.
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

import campaigns.db

revision = '0005'
down_revision = '0004'
branch_labels = None
depends_on = None

rules = sa.table(
    'routing_rules',
    sa.column('name', sa.String),
    sa.column('version', sa.Integer),
    sa.column('kind', sa.String),
    sa.column('phrases', sa.JSON),
    sa.column('exclusions', sa.JSON),
    sa.column('queue', sa.String),
    sa.column('priority', sa.String),
    sa.column('share', sa.Boolean),
    sa.column('rank', sa.Integer),
    sa.column('active', sa.Boolean),
    sa.column('created_at', campaigns.db.UTCDateTime()),
)
COLUMNS = {c.name for c in rules.columns}


def upgrade() -> None:
    from gateway.tips.routing import default_rule_rows

    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.add_column(sa.Column('exclusions', sa.JSON(), nullable=True))
    bind = op.get_bind()
    op.execute(rules.update().where(rules.c.exclusions.is_(None)).values(exclusions=[]))
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.alter_column('exclusions', existing_type=sa.JSON(), nullable=False)
    latest = sa.select(rules.c.name, sa.func.max(rules.c.version)).group_by(rules.c.name)
    versions = dict(bind.execute(latest).all())
    now = datetime.now(timezone.utc)
    for row in default_rule_rows():
        values = {k: v for k, v in row.items() if k in COLUMNS}
        if row['name'] not in versions:
            op.bulk_insert(rules, [{**values, 'created_at': now}])
        elif versions[row['name']] == 1:
            op.execute(
                rules.update()
                .where(rules.c.name == row['name'], rules.c.version == 1)
                .values(phrases=values['phrases'], exclusions=values.get('exclusions', []))
            )


def downgrade() -> None:
    with op.batch_alter_table('routing_rules', schema=None) as batch_op:
        batch_op.drop_column('exclusions')
