"""`db.transaction()`: the `with` block commits however it ends, unless it raises."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker

from campusid.db import make_engine, make_session_factory, transaction


@pytest.fixture
def factory(tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    engine = make_engine(f"sqlite:///{tmp_path / 'tx.db'}")
    with engine.begin() as conn:
        conn.execute(text("CREATE TABLE scratch (n INTEGER)"))
    yield make_session_factory(engine)
    engine.dispose()


def stored(factory: sessionmaker[Session]) -> list[int]:
    with factory() as db:
        return list(db.scalars(text("SELECT n FROM scratch ORDER BY n")))


def test_the_block_commits(factory: sessionmaker[Session]) -> None:
    with transaction(factory) as db:
        db.execute(text("INSERT INTO scratch VALUES (1)"))
    assert stored(factory) == [1]


def test_a_return_inside_the_block_commits(factory: sessionmaker[Session]) -> None:
    def write_then_return() -> str:
        with transaction(factory) as db:
            db.execute(text("INSERT INTO scratch VALUES (2)"))
            return "early"

    assert write_then_return() == "early"
    assert stored(factory) == [2]


def test_an_exception_rolls_the_block_back(factory: sessionmaker[Session]) -> None:
    def write_then_fail() -> None:
        with transaction(factory) as db:
            db.execute(text("INSERT INTO scratch VALUES (3)"))
            raise RuntimeError("refused")

    with pytest.raises(RuntimeError):
        write_then_fail()
    assert stored(factory) == []
