"""The identifiers an import looks up are encrypted once: the look-up keeps their stored form
(`AccountIndex.sealed`) and the writer stores new accounts with it. Both must be exactly what
the columns' own encryption gives, or look-ups would miss and stored numbers would not read.
The writer converts each distinct value of a column once (`writer._converted`)."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from campusid.accounts.models import User
from campusid.members.batch import AccountIndex
from campusid.roster import writer
from tests.support.schools import id_card

CARD = id_card(birth="20160603", seq="633")
OTHER = id_card(birth="20160604", seq="644")
NOW = datetime(2026, 11, 30, 2, 0, tzinfo=UTC)


def encrypted(db: Session, column: str, value: str) -> str:
    dialect = db.get_bind().dialect
    process = User.__table__.c[column].type.dialect_impl(dialect).bind_processor(dialect)
    assert process is not None
    return str(process(value))


def test_the_look_up_finds_by_the_stored_form_and_keeps_it(db: Session) -> None:
    user = User(
        username="sealed1",
        real_name="封存",
        id_card_number=CARD,
        phone="13900009999",
        created_at=NOW,
    )
    db.add(user)
    db.flush()
    index = AccountIndex()
    index.load(
        db,
        {
            "id_card_number": {CARD, OTHER},
            "registration_number": {"G" + OTHER},
            "phone": {"13900009999"},
            "username": {"sealed1", "nobody"},
        },
    )
    found = index.find("id_card_number", CARD)
    assert found is not None and found.user_id == user.id
    assert index.find("phone", "13900009999") is found
    assert index.find("username", "sealed1") is found
    assert index.find("id_card_number", OTHER) is None
    assert index.sealed == {
        "id_card_number": {c: encrypted(db, "id_card_number", c) for c in (CARD, OTHER)},
        "registration_number": {"G" + OTHER: encrypted(db, "registration_number", "G" + OTHER)},
        "phone": {},  # the account found by its ID card number brought its phone along
    }
    stored = db.scalar(text("SELECT id_card_number FROM users WHERE id = :id"), {"id": user.id})
    assert stored == index.sealed["id_card_number"][CARD]
    assert db.scalar(select(User.id).where(User.id_card_number == CARD)) == user.id
    index.load(db, {"phone": {"13900008888"}})
    assert index.sealed["phone"] == {"13900008888": encrypted(db, "phone", "13900008888")}


def test_the_writer_stores_the_kept_form_as_it_would_have_computed_it(db: Session) -> None:
    rows = [
        {"id": 900 + n, "username": f"w{n}", "real_name": "写入", "id_card_number": card}
        for n, card in enumerate((CARD, OTHER, None))
    ]
    rows[0]["created_at"] = rows[1]["created_at"] = rows[2]["created_at"] = NOW
    known = {"id_card_number": {CARD: encrypted(db, "id_card_number", CARD)}}
    conn = db.connection()
    with_known = writer._prepared(conn, User.__table__, rows, with_id=True, known=known)
    without = writer._prepared(conn, User.__table__, rows, with_id=True)
    at = with_known[0].index("id_card_number")
    assert [row[at] for row in with_known[1]] == [row[at] for row in without[1]]
    assert with_known[1][0][at] == known["id_card_number"][CARD]
    assert with_known[1][2][at] is None


@settings(max_examples=300)
@given(
    st.lists(
        st.one_of(
            st.none(),
            st.integers(-3, 3),
            st.sampled_from(["a", "b", "已知"]),
            st.lists(st.integers(0, 2), max_size=2),  # not hashable
        ),
        max_size=12,
    )
)
def test_each_value_converted_as_on_its_own(cells):
    calls: list[object] = []

    def process(value):
        calls.append(value)
        return ("p", repr(value))

    known = {"已知": "kept"}
    expected = [
        None if value is None else "kept" if value == "已知" else ("p", repr(value))
        for value in cells
    ]
    assert writer._converted(list(cells), process, known) == expected
    assert None not in calls and "已知" not in calls
