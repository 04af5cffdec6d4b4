"""default routing rules: a fresh database routes tips without demo data

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02 18:45:00

Data, not schema: the plan's default rules (children → 111, the sea and the border → the border
guard, the district named → its police, urgent words → urgent), as version 1, unless a rule of
the same name exists. Admins edit them afterwards like any rule (each edit is a new version).
"""
from datetime import datetime, timezone

import sqlalchemy as sa
from alembic import op

import campaigns.db

revision = '0003'
down_revision = '0002'
branch_labels = None
depends_on = None

# The columns this revision knows; the rows come from the code's defaults at upgrade time.
rules = sa.table(
    'routing_rules',
    sa.column('name', sa.String),
    sa.column('version', sa.Integer),
    sa.column('kind', sa.String),
    sa.column('phrases', sa.JSON),
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

    bind = op.get_bind()
    existing = set(bind.execute(sa.select(rules.c.name)).scalars())
    now = datetime.now(timezone.utc)
    rows = [
        {**{k: v for k, v in row.items() if k in COLUMNS}, 'created_at': now}
        for row in default_rule_rows()
        if row['name'] not in existing
    ]
    if rows:
        op.bulk_insert(rules, rows)


def downgrade() -> None:
    from gateway.tips.routing import default_rule_rows

    names = [row['name'] for row in default_rule_rows()]
    op.execute(rules.delete().where(rules.c.name.in_(names), rules.c.version == 1))
