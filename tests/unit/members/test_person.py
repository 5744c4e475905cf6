"""`person_from`'s shortcuts answer as what they replace: `Person.identifiers` written out,
the control-character test, the name check looked at once a name."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from campusid.identifiers import name_problem
from campusid.members.batch import _CONTROL, IDENTIFIER_LABELS, Person, _name_problem

VALUE = st.one_of(st.none(), st.just(""), st.text(alphabet="0123456789GX", max_size=4))


def by_labels(person: Person) -> dict[str, str]:
    """The identifiers as the first version read them: every labelled column that is set."""
    return {
        column: value
        for column in IDENTIFIER_LABELS
        if (value := getattr(person, column)) is not None
    }


@given(VALUE, VALUE, VALUE)
def test_the_written_out_identifiers_are_those_of_the_labels(id_card, registration, phone):
    person = Person("张三", id_card_number=id_card, registration_number=registration, phone=phone)
    assert person.identifiers() == by_labels(person)
    assert list(person.identifiers()) == list(by_labels(person))  # the same order


def test_every_labelled_identifier_is_written_out():
    person = Person("张三", id_card_number="1", registration_number="2", phone="3")
    assert list(person.identifiers()) == list(IDENTIFIER_LABELS)


@given(st.text(max_size=8))
def test_the_name_checks_answer_as_written_first(name):
    assert bool(_CONTROL.search(name)) == any(ord(ch) < 32 for ch in name)
    assert _name_problem(name) == name_problem(name)
