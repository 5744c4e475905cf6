"""Alembic environment: migrates the configured database, or a connection handed in by tests."""

from __future__ import annotations

from alembic import context

from campusid.config import get_settings
from campusid.db import make_engine
from campusid.models import Base
from campusid.security import crypto

target_metadata = Base.metadata
crypto.configure(get_settings().data_key)


def run_migrations() -> None:
    """Run the migrations online, on the given connection or a new engine."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        context.configure(
            connection=connection,
            target_metadata=target_metadata,
            render_as_batch=True,
        )
        with context.begin_transaction():
            context.run_migrations()
        return
    url = context.config.get_main_option("sqlalchemy.url") or get_settings().database_url
    engine = make_engine(url)
    with engine.connect() as conn:
        context.configure(connection=conn, target_metadata=target_metadata, render_as_batch=True)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()


run_migrations()
