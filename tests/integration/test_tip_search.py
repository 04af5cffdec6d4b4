"""The inbox search through its index (issue 11): the same folded substring match as a LIKE on
every tip, with the index kept by the database through inserts, edits, retention and deletes;
SQLite asks its FTS5 trigram table, PostgreSQL its pg_trgm GIN index; the migration builds
both, fills SQLite's from the tips already there, and drops them again."""

from __future__ import annotations

import datetime as dt
import logging
from pathlib import Path
from typing import Any

import pytest
from alembic import command
from sqlalchemy import delete, inspect, select, text, update
from sqlalchemy.orm import Session

from campaigns.db import make_engine
from campaigns.text import fold
from gateway import migrate, retention
from gateway.models import User
from gateway.tips import search_index
from gateway.tips.models import Tip
from gateway.tips.visibility import InboxFilters, visible_tips_query
from tests.factories import create_tip, create_user
from tests.integration.plan_support import analysed_without
from tests.integration.test_migrations import empty_database

BODIES = {
    "ke_sach": "Có người lạ ở Kế Sách",
    "plain": "Co nguoi rao ban lao dong o Ke Sach",
    "tau_ca": "Thấy TÀU CÁ lạ ở cửa biển",
    "percent": "chắc chắn 100% là họ",
    "thousand": "khoảng 1000 người",
    "underscore": "mã số ab_cd trên xe",
    "abxcd": "mã số abxcd trên xe",
    "duong": "Đường Nguyễn Huệ",
}


def search(session: Session, user: User, query: str) -> set[int]:
    """The ids of the tips the inbox lists for ``query``."""
    stmt = visible_tips_query(session, user, InboxFilters(search=query))
    return {tip.id for tip, _read in session.execute(stmt)}


def in_sqlite_index(session: Session, words: str) -> set[int]:
    """The tips SQLite's FTS table alone holds ``words`` for (no look at ``tips``): a stale
    entry the triggers forgot would show here even where the search's own LIKE hides it."""
    phrase = '"' + fold(words).replace('"', '""') + '"'
    rows = session.execute(
        text("SELECT rowid FROM tip_search WHERE tip_search MATCH :q"), {"q": phrase}
    )
    return {int(r[0]) for r in rows}


@pytest.fixture
def tips(session: Session) -> dict[str, int]:
    return {key: create_tip(body, queue="police_province").id for key, body in BODIES.items()}


@pytest.fixture
def admin(session: Session) -> User:
    return create_user("admin")


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ke sach", {"ke_sach", "plain"}),  # without diacritics finds both
        ("Kế Sách", {"ke_sach", "plain"}),  # with diacritics finds the one typed without
        ("KẾ SÁCH", {"ke_sach", "plain"}),  # case ignored
        ("tàu cá", {"tau_ca"}),
        ("tau ca", {"tau_ca"}),
        ("guo", {"ke_sach", "plain", "thousand"}),  # inside a word: "người", "nguoi"
        ("đường", {"duong"}),  # đ folds to d
        ("duong nguyen", {"duong"}),
        ("100%", {"percent"}),  # % taken literally: not "1000"
        ("100", {"percent", "thousand"}),
        ("ab_cd", {"underscore"}),  # _ taken literally: not "abxcd"
        ("b_c", {"underscore"}),  # no run of 3 characters: the plain LIKE, still literal
        ("cá", {"tau_ca"}),  # 2 characters: no trigram, the plain LIKE
        ("XE", {"underscore", "abxcd"}),
        ("%", {"percent"}),
        ("không có", set()),
    ],
)
def test_search_matches_the_folded_substring(
    session: Session, admin: User, tips: dict[str, int], query: str, expected: set[str]
) -> None:
    """Accents, case and word boundaries never matter; LIKE's wildcards are literal; short
    queries (no trigram) still find their tips."""
    assert search(session, admin, query) == {tips[k] for k in expected}


def test_an_edited_body_is_found_by_its_new_text_only(
    session: Session, admin: User, tips: dict[str, int]
) -> None:
    """Changing ``body_folded`` moves the tip in the index: the old words no longer find it."""
    tid = tips["tau_ca"]
    new = "Xe tải lạ ở Mỹ Xuyên"
    session.execute(update(Tip).where(Tip.id == tid).values(body=new, body_folded=fold(new)))
    session.commit()
    assert search(session, admin, "my xuyen") == {tid}
    assert search(session, admin, "tàu cá") == set()
    if session.get_bind().dialect.name == "sqlite":
        assert in_sqlite_index(session, "my xuyen") == {tid}
        assert in_sqlite_index(session, "tau ca") == set()


def test_a_tip_blanked_by_retention_is_no_longer_found(session: Session, admin: User) -> None:
    """Retention empties ``body_folded``; the index follows, so its words find nothing."""
    long_ago = dt.datetime(2020, 1, 1, tzinfo=dt.UTC)
    old = create_tip("Tàu cá lạ ở Trần Đề", status="closed", resolution="spam",
                     closed_at=long_ago, queue="police_province")  # fmt: skip
    kept = create_tip("Tàu cá lạ ở Trần Đề hôm nay", queue="police_province")
    assert search(session, admin, "tran de") == {old.id, kept.id}
    periods = retention.Periods(tips_days=365, replies_days=0, deliveries_days=0)
    assert retention.run(session, periods, now=long_ago + dt.timedelta(days=400)).tips == 1
    assert search(session, admin, "tran de") == {kept.id}
    if session.get_bind().dialect.name == "sqlite":
        assert in_sqlite_index(session, "tran de") == {kept.id}


def test_a_deleted_tip_leaves_the_index(
    session: Session, admin: User, tips: dict[str, int]
) -> None:
    session.execute(delete(Tip).where(Tip.id == tips["duong"]))
    session.commit()
    assert search(session, admin, "nguyen hue") == set()
    if session.get_bind().dialect.name == "sqlite":
        assert in_sqlite_index(session, "nguyen hue") == set()


def _inbox_plan(session: Session, statements: list[tuple[str, Any]]) -> str:
    """The database's plan of the last inbox query run."""
    sql, params = next(s for s in reversed(statements) if "ORDER BY tips.received_at" in s[0])
    sqlite = session.get_bind().dialect.name == "sqlite"
    explain = "EXPLAIN QUERY PLAN " if sqlite else "EXPLAIN "
    rows = session.connection().exec_driver_sql(explain + sql, params)
    return "\n".join(str(r[-1]) for r in rows)


def test_sqlite_answers_a_search_from_the_fts_index(
    session: Session, admin: User, tips: dict[str, int], statements: list[tuple[str, Any]]
) -> None:
    """The inbox query asks the FTS5 table with a LIKE it can answer from its trigrams (``L``
    in the plan): this fails if the search falls back to reading every tip."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's FTS5 index")
    assert search(session, admin, "100%") == {tips["percent"]}
    plan = _inbox_plan(session, statements)
    assert "SCAN tip_search VIRTUAL TABLE INDEX 0:L" in plan, plan


def test_sqlite_searches_a_common_word_newest_first_without_the_index(
    session: Session,
    admin: User,
    tips: dict[str, int],
    statements: list[tuple[str, Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A word common among the newest tips is searched as before (newest first, stopping after
    a page); the result is the same."""
    if session.get_bind().dialect.name != "sqlite":
        pytest.skip("SQLite's FTS5 index")
    monkeypatch.setattr(search_index, "COMMON_MATCHES", 2)
    assert search(session, admin, "ke sach") == {tips["ke_sach"], tips["plain"]}
    assert "tip_search" not in _inbox_plan(session, statements)
    assert search(session, admin, "tàu cá") == {tips["tau_ca"]}  # one: rare, the index
    assert "VIRTUAL TABLE INDEX 0:L" in _inbox_plan(session, statements)


def test_postgresql_uses_the_trigram_index_for_the_inbox_search(
    session: Session, admin: User, tips: dict[str, int], statements: list[tuple[str, Any]]
) -> None:
    """pg_trgm is installed and its GIN index serves the inbox's LIKE … ESCAPE '/'."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's pg_trgm index")
    assert search(session, admin, "100%") == {tips["percent"]}
    # With fresh statistics the planner walks ix_tips_received_at and filters, as cheap on a
    # few tips: without that walk or a sequential scan, is the trigram index there and usable?
    analysed_without(session, "tips", "seqscan", "indexscan")
    plan = _inbox_plan(session, statements)
    session.rollback()
    assert search_index.TRGM_INDEX in plan, plan


def test_postgresql_without_pg_trgm_warns_and_goes_on(
    session: Session, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A server that refuses the extension gets no index and a warning; the transaction
    (the migration's) goes on."""
    if session.get_bind().dialect.name != "postgresql":
        pytest.skip("PostgreSQL's extension")
    monkeypatch.setattr(search_index, "POSTGRESQL_EXTENSION", "CREATE EXTENSION loa_no_such")
    conn = session.connection()
    with caplog.at_level(logging.WARNING, logger=search_index.__name__):
        assert search_index.install(conn) is False
    assert conn.exec_driver_sql("SELECT 1").scalar() == 1
    assert "pg_trgm unavailable" in caplog.text
    session.rollback()


def _search_url(url: str, words: str) -> set[int]:
    """Tip ids whose folded body holds ``words``, by the inbox's own condition."""
    eng = make_engine(url)
    try:
        with Session(eng) as s:
            folded = fold(words)
            stmt = select(Tip.id).where(Tip.body_folded.contains(folded, autoescape=True))
            indexed = search_index.indexed_ids(s, folded)
            if indexed is not None:
                stmt = stmt.where(indexed)
            found = set(s.scalars(stmt))
            if eng.dialect.name == "sqlite":
                assert in_sqlite_index(s, words) == found  # the index itself, not the LIKE
            return found
    finally:
        eng.dispose()


def _index_exists(url: str) -> bool:
    eng = make_engine(url)
    try:
        if eng.dialect.name == "sqlite":
            return "tip_search" in inspect(eng).get_table_names()
        with eng.connect() as conn:
            return bool(
                conn.scalar(
                    text("SELECT count(*) FROM pg_indexes WHERE indexname = :n"),
                    {"n": search_index.TRGM_INDEX},
                )
            )
    finally:
        eng.dispose()


def test_migration_indexes_existing_tips_and_downgrade_drops_the_index(
    database_url: str, tmp_path: Path
) -> None:
    """Upgrading a database with tips makes them searchable through the index; new tips are
    indexed as they come; downgrading drops the index; upgrading again rebuilds it."""
    url = empty_database(database_url, tmp_path, "loa_search")
    migrate.upgrade(url, "0016")
    eng = make_engine(url)
    try:
        with Session(eng) as s:
            old = Tip(channel="web", body="Tàu cá lạ ở Cù Lao Dung")
            s.add(old)
            s.commit()
            old_id = old.id
        migrate.upgrade(url)
        assert _index_exists(url)
        assert _search_url(url, "cu lao dung") == {old_id}
        with Session(eng) as s:
            new = Tip(channel="sms", body="Người lạ ở Cù Lao Dung")
            s.add(new)
            s.commit()
            new_id = new.id
        assert _search_url(url, "Cù Lao Dung") == {old_id, new_id}
        migrate.check(url)  # the index is not a difference between models and migrations
        command.downgrade(migrate.config(url), "0016")
        assert not _index_exists(url)
        migrate.upgrade(url)
        assert _search_url(url, "cu lao dung") == {old_id, new_id}
    finally:
        eng.dispose()


def test_migration_on_an_empty_database_indexes_new_tips(database_url: str, tmp_path: Path) -> None:
    url = empty_database(database_url, tmp_path, "loa_search_empty")
    migrate.upgrade(url)
    assert _index_exists(url)
    eng = make_engine(url)
    try:
        with Session(eng) as s:
            tip = Tip(channel="web", body="Đường dây mua bán người ở Long Phú")
            s.add(tip)
            s.commit()
            tid = tip.id
        assert _search_url(url, "long phu") == {tid}
        assert _search_url(url, "mua bán") == {tid}
    finally:
        eng.dispose()
