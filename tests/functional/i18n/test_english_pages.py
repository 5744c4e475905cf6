"""Key pages read entirely in English once /lang/en is chosen: only people's data stays Chinese."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from tests.support.http import post_form, sign_in

from campusid.accounts.models import User
from campusid.context import Services
from campusid.demo import DEMO_PASSWORD
from campusid.i18n import LANGUAGES
from campusid.org import service as org
from campusid.org.models import Campus, Grade, School, SchoolClass
from campusid.org.schoolyear import calendar_for

HAN = re.compile(r"[\u4e00-\u9fff]")
# What a person reads: the text between tags, and the attributes shown or spoken.
SHOWN_ATTRIBUTES = re.compile(r'\s(?:placeholder|title|aria-label|alt)="([^"]*)"')


def shown_text(html: str) -> str:
    """The page as read: text and shown attributes, without scripts, styles and markup."""
    html = re.sub(r"<(script|style)\b.*?</\1>", " ", html, flags=re.S)
    attributes = " ".join(SHOWN_ATTRIBUTES.findall(html))
    return re.sub(r"<[^>]+>", " ", html) + " " + attributes


def user_data(db: Session, services: Services) -> list[str]:
    """Names the platform stores or derives from stored data: people, schools, campuses, classes.

    Grade and class names (三年级, 五年级1班) are the school's own naming, shown as they are.
    """
    cal = calendar_for(services.settings, services.clock)
    names = [*db.scalars(select(User.real_name)), *db.scalars(select(School.name))]
    names += db.scalars(select(Campus.name))
    names += [org.grade_name(g, cal.today, cal.boundary) for g in db.scalars(select(Grade))]
    names += [
        org.class_display_name(c, cal.today, cal.boundary) for c in db.scalars(select(SchoolClass))
    ]
    names += [name for code, name in LANGUAGES.items() if code != "en"]  # the language switch
    return sorted({n for n in names if n}, key=len, reverse=True)


def english(client: TestClient) -> TestClient:
    response = client.get("/lang/en?next=/login")
    assert response.status_code == 303
    return client


def assert_english(response, data: list[str], status: int = 200) -> None:  # type: ignore[no-untyped-def]
    assert response.status_code == status, response.text[:300]
    assert '<html lang="en">' in response.text
    text = shown_text(response.text)
    for name in data:
        text = text.replace(name, " ")
    leftovers = sorted({m.group(0) for m in HAN.finditer(text)})
    context = [text[max(0, m.start() - 30) : m.end() + 30] for m in HAN.finditer(text)][:5]
    assert not leftovers, f"untranslated text on {response.url}: {context}"


@pytest.mark.parametrize(
    ("path", "words"),
    [
        ("/login", ["Sign in", "Forgot password"]),  # 统一认证登录
        ("/recovery", ["Recover password", "Choose a recovery method"]),  # 找回密码
    ],
)
def test_pages_before_sign_in_are_english(client, db, services, path, words):
    english(client)
    page = client.get(path)
    assert_english(page, user_data(db, services))
    for word in words:
        assert word in page.text


def test_my_space_and_class_members_are_english(client, db, services, world):
    english(client)
    sign_in(client, "chenxiaokai")
    data = user_data(db, services)
    space = client.get("/")
    assert_english(space, data)
    assert "My space" in space.text
    assert "Homeroom teacher" in space.text  # a role label, translated where shown
    assert "Classes I teach" in space.text  # a nav label
    members = client.get(f"/classes/{world.class51.id}/manage/students")
    assert_english(members, data)
    assert "Class members" in members.text
    assert "Membership review" in members.text
    assert "李逍遥" in members.text  # names are data: shown as they are


def test_school_organisation_is_english(make_client, db, services, world):
    admin = english(make_client())
    sign_in(admin, "xx_admin")
    page = admin.get("/school", follow_redirects=True)
    assert_english(page, user_data(db, services))
    assert "Organisation" in page.text
    assert "Primary" in page.text  # a stage label in the tree
    assert "(class of " in page.text  # a grade label built from a marked pattern


def test_service_messages_are_shown_in_english(client, db, services, world):
    english(client)
    refused = post_form(client, "/login", {"login": "chenxiaokai", "password": "Wrong-Pass1"})
    assert "Wrong account or password" in refused.text
    sign_in(client, "chenxiaokai")
    problems = post_form(
        client,
        "/account/password",
        {"current_password": DEMO_PASSWORD, "new_password": "Ab1%", "confirm_password": "Ab2%"},
    )
    assert_english(problems, user_data(db, services), status=400)
    assert "The password must be 8-20 characters long" in problems.text  # a pattern with values
    assert "The two passwords do not match" in problems.text


@pytest.mark.parametrize("path", ["/login", "/recovery"])
def test_chinese_stays_the_default(client, path):
    page = client.get(path)
    assert '<html lang="zh-CN">' in page.text
    assert "找回密码" in page.text or "登录" in page.text
