"""The schema: the migrations build exactly the models, and identifiers are unreadable at rest."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import text

from campusid.models import Base


def test_migrations_match_the_models(connection):
    context = MigrationContext.configure(connection, opts={"compare_type": True})
    differences = [
        d
        for d in compare_metadata(context, Base.metadata)
        # SQLite keeps no column comments; PostgreSQL does, and they are compared there.
        if not (isinstance(d, list) and d and d[0][0] == "modify_comment")
    ]
    assert differences == []


def test_a_database_dump_shows_no_identifier(db, world):
    student = world["lixiaoyao"]
    teacher = world["chenxiaokai"]
    student.registration_number = "G" + student.id_card_number
    db.commit()
    dump = " ".join(
        str(value) for row in db.execute(text("SELECT * FROM users")).all() for value in row
    )
    assert student.id_card_number not in dump
    assert student.id_card_number[-6:] not in dump
    assert teacher.phone not in dump
    assert "v1:" in dump
    # The application still reads and finds them.
    db.expire_all()
    assert world["lixiaoyao"].id_card_number.startswith("330603")
