"""Launching a campaign: Loa's one INSERT…SELECT against a Python loop over the recipients.

Both write the same deliveries (opted-out numbers skipped) for the same 100,000 contacts on the
same SQLite file; prints each one's time and the ratio (higher = Loa faster). The loop is what
DESIGN.md rules out: it bounds how a 1.2-million-recipient launch would fare without it.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import delete, insert, select

import gateway.models  # noqa: F401  (registers every table)
from campaigns import materialise
from campaigns import statuses as st
from campaigns.audiences import audience_select
from campaigns.db import Base, make_engine, make_sessionmaker
from campaigns.models import Campaign, Contact, ContactList, Delivery, ListMember, OptOut

N = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000


def setup(url: str) -> tuple[object, int]:
    engine = make_engine(url)
    Base.metadata.create_all(engine)
    s = make_sessionmaker(engine)()
    lst = ContactList(name="bench")
    s.add(lst)
    s.flush()
    rows = [{"phone": f"+8498{i:07d}", "tags": "", "invalid": False} for i in range(N)]
    ids = s.scalars(insert(Contact).returning(Contact.id, sort_by_parameter_order=True), rows).all()
    s.execute(insert(ListMember), [{"list_id": lst.id, "contact_id": i} for i in ids])
    s.execute(
        insert(OptOut), [{"phone": f"+8498{i:07d}", "channel": "sms"} for i in range(0, N, 100)]
    )
    campaign = Campaign(name="bench", body="Goi 111", audience={"lists": ["bench"]})
    s.add(campaign)
    s.commit()
    return s, campaign.id


def python_loop(s, campaign_id: int) -> None:  # type: ignore[no-untyped-def]
    """The baseline: read the audience, decide per row in Python, insert in one executemany."""
    campaign = s.get(Campaign, campaign_id)
    opted = set(s.scalars(select(OptOut.phone)))
    rows = []
    for n, (contact_id, phone, _invalid) in enumerate(
        s.execute(audience_select(s, campaign.audience))
    ):
        skipped = phone in opted
        rows.append(
            {
                "campaign_id": campaign_id,
                "contact_id": contact_id,
                "phone": phone,
                "status": st.SKIPPED if skipped else st.PENDING,
                "skip_reason": st.SKIP_OPTED_OUT if skipped else None,
                "batch_no": -1 if skipped else n // materialise.BATCH_SIZE,
            }
        )
    s.execute(insert(Delivery), rows)
    s.commit()


def loa(s, campaign_id: int) -> None:  # type: ignore[no-untyped-def]
    materialise.materialise(s, s.get(Campaign, campaign_id))
    s.commit()


def timed(fn, s, campaign_id: int) -> float:  # type: ignore[no-untyped-def]
    s.execute(delete(Delivery))
    s.commit()
    start = time.perf_counter()
    fn(s, campaign_id)
    took = time.perf_counter() - start
    assert s.query(Delivery).count() == N
    return took


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        s, campaign_id = setup(f"sqlite:///{Path(tmp) / 'bench.db'}")
        base = min(timed(python_loop, s, campaign_id) for _ in range(2))
        fast = min(timed(loa, s, campaign_id) for _ in range(2))
        s.close()
    print(f"recipients: {N:,} (1% opted out), SQLite")
    print(f"python loop:   {base:6.2f} s (baseline)")
    print(f"INSERT…SELECT: {fast:6.2f} s")
    print(f"ratio:         {base / fast:6.1f}× faster than the baseline")


if __name__ == "__main__":
    main()
