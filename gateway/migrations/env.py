"""Alembic environment: Loa's metadata, batch mode for SQLite's limited ALTER TABLE."""

from alembic import context
from sqlalchemy import pool

import gateway.models  # noqa: F401  (registers every table)
from campaigns.db import Base, make_engine
from gateway.tips import scope_index, search_index

config = context.config
target_metadata = Base.metadata


def include_object(
    obj: object, name: str | None, type_: str, reflected: bool, compare_to: object
) -> bool:
    """Leave out of the models-versus-database comparison what the models do not describe: the
    inbox search's index (SQLite's FTS5 table and its shadow tables, PostgreSQL's trigram
    index), the inbox counts' index (one column list per dialect) and PostgreSQL's index of the
    waiting tips, installed by migrations 0017, 0018 and 0020 and by ``gateway.tips.models``
    (see search_index and scope_index)."""
    if reflected and type_ == "table" and name in search_index.FTS_TABLES:
        return False
    unmodelled = (search_index.TRGM_INDEX, scope_index.NAME, scope_index.WAITING)
    return not (reflected and type_ == "index" and name in unmodelled)


def run_migrations_offline() -> None:
    context.configure(
        url=config.get_main_option("sqlalchemy.url"),
        target_metadata=target_metadata,
        literal_binds=True,
        render_as_batch=True,
        include_object=include_object,
    )
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    url = config.get_main_option("sqlalchemy.url")
    assert url
    engine = make_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
            compare_type=True,
            include_object=include_object,
        )
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
