"""``lists``: the admin lists that grow with use, first page and deep, at a province's size:
1,200,000 contacts (a ninth of them in one list), 1,000,000 audit events (a year of audited work) and 200,000 opt-outs, on
SQLite or (``bench.run --postgresql``) PostgreSQL.

Beyond the issue's list (its hot spot "OFFSET paging makes rows past page 10,000 unreachable in
the admin lists"): a deep page is the one after the middle row, reached by the list's own cursor
(``?after=``). Measured as ``inbox`` is: the whole view through Flask's test client, as an
admin; the baseline is the same bare route running an indexed ``SELECT … LIMIT 50``.
"""

from __future__ import annotations

import datetime as dt
import functools
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from bench import support_bench2 as sb

CONTACTS, EVENTS, OPTOUTS = 1_200_000, 1_000_000, 200_000
REPEAT = 15
ACTIONS = ("tip.view", "tip.reveal", "tip.note", "campaign.edit", "user.login")
BARE_SQL = "SELECT id, phone, name, tags FROM contacts ORDER BY id DESC LIMIT 50"


def _rows(size: int, row: Any) -> Iterator[tuple[Any, ...]]:
    now = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    for i in range(size):
        yield row(i, (now - dt.timedelta(seconds=size - i)).strftime(sb.TIME_FORMAT))


TABLES = {
    # table: (columns, a row for number i at time t)
    "contacts": ("phone, name, tags, invalid, created_at, updated_at", lambda i, t: (sb.phone(i), f"Người {i}", "", False, t, t)),
    "audit_events": ("at, action, object_type, object_id, details", lambda i, t: (t, ACTIONS[i % 5], "tip", str(i), "{}")),
    "opt_outs": ("phone, reason, channel, created_at", lambda i, t: (sb.phone(i), "", "sms", t)),
}  # fmt: skip


# A ninth of the contacts in one list (a district's), as an import makes them.
LIST = (
    "INSERT INTO contact_lists (name, description, created_at) VALUES ('Huyện', '', CURRENT_TIMESTAMP)",
    "INSERT INTO list_members (list_id, contact_id) SELECT 1, id FROM contacts WHERE id % 9 = 3",
)


def fill(url: str, sizes: dict[str, int]) -> None:
    """``sizes[table]`` rows in each table (SQLite by ``executemany``, PostgreSQL by ``COPY``,
    then ``VACUUM ANALYZE``), and a list of a ninth of the contacts."""
    if url.startswith("postgres"):
        with sb.driver_connection(url) as pg:
            for table, (columns, row) in TABLES.items():
                with pg.cursor().copy(f"COPY {table} ({columns}) FROM STDIN") as copy:
                    for values in _rows(sizes[table], row):
                        copy.write_row(values)
            for statement in LIST:
                pg.execute(statement)
            pg.commit()
            pg.autocommit = True
            pg.execute("VACUUM ANALYZE")
        return
    with sb.driver_connection(url) as con:
        con.execute("PRAGMA synchronous=OFF")
        for table, (columns, row) in TABLES.items():
            marks = ", ".join("?" * len(columns.split(",")))
            insert = f"INSERT INTO {table} ({columns}) VALUES ({marks})"  # noqa: S608
            con.executemany(insert, _rows(sizes[table], row))
        for statement in LIST:
            con.execute(statement)
        con.commit()


def run(size: float) -> list[dict[str, Any]]:
    sizes = {
        "contacts": max(300, int(CONTACTS * size)),
        "audit_events": max(300, int(EVENTS * size)),
        "opt_outs": max(300, int(OPTOUTS * size)),
    }
    repeat = REPEAT if size >= 0.01 else 3
    results = []
    with (
        tempfile.TemporaryDirectory(prefix="loa-bench-lists-") as tmp,
        sb.site(Path(tmp), sb.free(), sb.postgresql_url()) as site,
        sb.environment(site.env),
    ):
        fill(site.url, sizes)
        cases = {
            "contacts": "/contacts",
            "contacts.deep": f"/contacts?after={sizes['contacts'] // 2}",
            "contacts.search": "/contacts?q=0912",
            "contacts.list": "/contacts?list=1",
            "contacts.list.deep": f"/contacts?list=1&after={sizes['contacts'] // 2}",
            "contact_lists": "/lists",  # each list with its size, counted
            "audit": "/audit/",
            "audit.deep": f"/audit/?after={sizes['audit_events'] // 2}",
            "audit.filter": "/audit/?action=tip.reveal",
            "optouts": "/optouts",
            "optouts.deep": f"/optouts?after={sizes['opt_outs'] // 2}",
        }
        from gateway import create_app

        app = create_app()
        with sb.bare_select_client(site.url, BARE_SQL) as bare, app.app_context():
            client = sb.signed_in(app, "admin")
            for case, url in cases.items():
                get = functools.partial(client.get, url)
                results.append(
                    sb.page_row(f"lists.{case}", get, bare, repeat, "≤ 150 ms", 150, **sizes)
                )
        app.extensions["loa.engine"].dispose()
    return results


if __name__ == "__main__":
    import json
    import sys

    for r in run(float(sys.argv[1]) if len(sys.argv) > 1 else 1.0):
        print(json.dumps(r, ensure_ascii=False))
