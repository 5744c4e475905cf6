"""The forms of 成员管理, as FastAPI form models (`form: Annotated[XForm, Form()]`).

Text is stripped; a length cap well above what the page allows keeps a hand-made request
small, while the services say what is wrong with what a person can type (their messages are
the ones a person sees). A number field that is blank or not a number reads as "none chosen",
so the service names what is wrong (班级不存在 …) on the page instead of a generic error.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date
from typing import Annotated

from pydantic import BaseModel, BeforeValidator, ConfigDict, Field

from campusid.families.models import Relation
from campusid.i18n import N_
from campusid.members.batch import Person, person_from, relation_from


def _whole_number(value: object) -> object:
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            return None
    return value


Choice = Annotated[int | None, BeforeValidator(_whole_number)]
"""A chosen id (a select's value): None when blank or not a number."""

NAME = 128
NUMBER = 64


class FormModel(BaseModel):
    """A console form: text stripped, fields the page does not declare ignored."""

    model_config = ConfigDict(str_strip_whitespace=True)


class PersonFields(FormModel):
    """Who a student or teacher is, as typed."""

    real_name: str = Field(default="", max_length=NAME)
    gender: str = Field(default="", max_length=NUMBER)
    id_card_number: str = Field(default="", max_length=NUMBER)
    registration_number: str = Field(default="", max_length=NUMBER)
    phone: str = Field(default="", max_length=NUMBER)

    def person(self, today: date) -> Person:
        """The checked person (MemberError with every problem)."""
        return person_from(
            real_name=self.real_name,
            gender=self.gender,
            id_card_number=self.id_card_number,
            registration_number=self.registration_number,
            phone=self.phone,
            today=today,
        )


class ParentForm(FormModel):
    """添加家长: the parent's name, phone and relation to the child."""

    parent_name: str = Field(default="", max_length=NAME)
    parent_phone: str = Field(default="", max_length=NUMBER)
    relation: str = Field(default="", max_length=NUMBER)

    def parent(self, today: date) -> Person:
        """The checked parent (MemberError with every problem)."""
        return person_from(
            real_name=self.parent_name,
            phone=self.parent_phone,
            today=today,
            label=N_("家长"),
        )

    def relation_to_child(self) -> Relation:
        """父亲 / 母亲 / 其他监护人 (MemberError otherwise)."""
        return relation_from(self.relation)


class StudentForm(PersonFields, ParentForm):
    """添加学生/家长: the student, their class and number, and optionally a parent."""

    class_id: Choice = None
    student_number: str = Field(default="", max_length=NUMBER)

    def parent_and_relation(self, today: date) -> tuple[Person | None, Relation | None]:
        """The parent and their relation, if a parent was given at all."""
        if not (self.parent_name or self.parent_phone):
            return None, None
        return self.parent(today), self.relation_to_child()


class ClassForm(FormModel):
    """A form naming one class (换班, 移出任教)."""

    class_id: Choice = None


class TeacherForm(PersonFields):
    """添加老师: the teacher and, if chosen, a first class to teach."""

    class_id: Choice = None
    subject: str = Field(default="", max_length=NUMBER)
    homeroom: bool = False


class AssignForm(FormModel):
    """设置任教 (and 班主任)."""

    teacher_id: Choice = None
    class_id: Choice = None
    subject: str = Field(default="", max_length=NUMBER)
    homeroom: bool = False


class BatchForm(FormModel):
    """批量设置任教: one teacher, one subject, the ticked classes."""

    teacher_id: Choice = None
    subject: str = Field(default="", max_length=NUMBER)
    class_ids: list[int] = []


class QuickForm(FormModel):
    """快速设置老师: the class, its 班主任, and a teacher per subject (`subject_0` …)."""

    model_config = ConfigDict(str_strip_whitespace=True, extra="allow")

    class_id: Choice = None
    homeroom_id: Choice = None

    def teachers_by_subject(self, subjects: Sequence[str]) -> dict[str, int | None]:
        """The teacher chosen for each subject, by the field `subject_<index>`."""
        chosen = self.model_extra or {}
        return {
            subject: _chosen(chosen.get(f"subject_{index}"))
            for index, subject in enumerate(subjects)
        }


def _chosen(value: object) -> int | None:
    number = _whole_number(value)
    return number if isinstance(number, int) else None


class StudentsForm(FormModel):
    """The ticked students."""

    student_ids: list[int] = []


class DefaultPasswordForm(FormModel):
    """学生默认密码: the new one, twice."""

    new_password: str = Field(default="", max_length=NAME)
    confirm_password: str = Field(default="", max_length=NAME)


class SettingsForm(FormModel):
    """The reset mode and the account toggles."""

    reset_mode: str = Field(default="", max_length=NUMBER)
    force_change_after_parent: bool = False
    allow_teacher_recovery: bool = False
