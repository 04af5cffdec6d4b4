"""For tests that read PostgreSQL's plan of a query on a table of a few rows."""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.orm import Session


def analysed_without(session: Session, table: str, *plan_kinds: str) -> None:
    """For this transaction: fresh statistics of ``table`` and none of ``plan_kinds``
    (``seqscan``, ``bitmapscan``, ``indexscan``, ``sort``, …).

    On a table of a few rows every plan costs about the same, so which one the planner takes
    depends on whether autovacuum has analysed the table yet: a plan test must analyse it and
    leave only the plans its question allows (and fail when the index it asks about is gone).
    """
    session.execute(text(f"ANALYZE {table}"))
    for kind in plan_kinds:
        session.execute(text(f"SET LOCAL enable_{kind} = off"))
