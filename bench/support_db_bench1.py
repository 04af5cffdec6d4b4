"""A fresh database for one benchmark: SQLite in a temporary folder, or ``LOA_DATABASE_URL``.

With ``LOA_DATABASE_URL`` set (``make bench-postgresql`` sets it to a throwaway PostgreSQL),
every table is dropped and created again, so each benchmark starts empty.
"""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def database_kind() -> str:
    """``postgresql`` when the benchmarks run against ``LOA_DATABASE_URL``, else ``sqlite``."""
    return (
        "postgresql" if os.environ.get("LOA_DATABASE_URL", "").startswith("postgres") else "sqlite"
    )


@contextmanager
def private_redis() -> Iterator[str]:
    """A Redis of our own (password-protected, so never one named by ``LOA_TEST_REDIS_URL``):
    the benchmarks flush it freely."""
    from tests.servers import redis_server

    with redis_server(password=secrets.token_hex(8)) as url:
        yield url


@contextmanager
def fresh_database(tmp: str) -> Iterator[str]:
    """An empty Loa schema; yields its SQLAlchemy URL."""
    import gateway.models  # noqa: F401  (registers every table)
    from campaigns.db import Base, make_engine

    url = os.environ.get("LOA_DATABASE_URL") or f"sqlite:///{Path(tmp) / 'bench.db'}"
    engine = make_engine(url)
    Base.metadata.drop_all(engine)
    Base.metadata.create_all(engine)
    engine.dispose()
    try:
        yield url
    finally:
        if url.startswith("postgres"):
            engine = make_engine(url)
            Base.metadata.drop_all(engine)
            engine.dispose()


OFFICIAL_TEXT = (
    "Toàn dân tích cực tham gia phòng, chống mua bán người. Khi phát hiện dấu hiệu liên quan đến "
    "mua bán người hãy thông báo ngay đến cơ quan Công an nơi gần nhất hoặc Tổng đài quốc gia 111 "
    "để được tư vấn, hỗ trợ, hướng dẫn kịp thời"
)


def seed_campaign(url: str, recipients: int, rate: float, body: str = OFFICIAL_TEXT) -> int:
    """``recipients`` contacts in one list and a *running* campaign to them; returns its id.

    The campaign is running already (as the scheduler leaves it before its launch job), with
    ``rate`` segments per second, an all-day window, and 1 % of the numbers opted out.
    """
    from sqlalchemy import insert

    from campaigns.db import make_engine, make_sessionmaker
    from campaigns.encoding import analyze
    from campaigns.models import Campaign, Contact, ContactList, ListMember, OptOut

    engine = make_engine(url)
    with make_sessionmaker(engine)() as s:
        lst = ContactList(name="bench")
        s.add(lst)
        s.flush()
        step = 100_000
        for start in range(0, recipients, step):
            rows = [
                {"phone": f"+8498{i:07d}", "tags": "", "invalid": False, "carrier": "Viettel"}
                for i in range(start, min(recipients, start + step))
            ]
            ids = s.scalars(
                insert(Contact).returning(Contact.id, sort_by_parameter_order=True), rows
            ).all()
            s.execute(insert(ListMember), [{"list_id": lst.id, "contact_id": i} for i in ids])
        s.execute(
            insert(OptOut),
            [{"phone": f"+8498{i:07d}", "channel": "sms"} for i in range(0, recipients, 100)],
        )
        campaign = Campaign(
            name="bench",
            body=body,
            audience={"lists": ["bench"]},
            status="running",
            rate_per_second=rate,
            window_start="00:00",
            window_end="24:00",
            segments_per_message=analyze(body).segments,
            encoding=analyze(body).encoding,
        )
        s.add(campaign)
        s.commit()
        campaign_id = campaign.id
    engine.dispose()
    return campaign_id
