"""关联孩子 over HTTP: success, one answer for every wrong input, limits, unlink, the school."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select
from tests.support.families import error_box, events, link, notices
from tests.support.http import post_form, sign_in

from campusid.accounts import service as accounts
from campusid.config import Settings
from campusid.families.models import ParentLink
from campusid.families.service import LINK_FAILED
from campusid.identifiers import id_card_check_digit, mask_id_card


def _id(first17: str) -> str:
    return first17 + id_card_check_digit(first17)


def _links(db, child=None, parent=None) -> list[ParentLink]:
    db.expire_all()
    query = select(ParentLink)
    if child is not None:
        query = query.where(ParentLink.child_id == child.id)
    if parent is not None:
        query = query.where(ParentLink.parent_id == parent.id)
    return list(db.scalars(query))


def _parent(db, world, clock, username: str, phone: str):
    user = accounts.new_user(
        db,
        username=username,
        real_name="新家长",
        now=clock.now(),
        phone=phone,
        is_parent=True,
        password_hash=world["p_zhoujia"].password_hash,  # the demo password
    )
    db.commit()
    return user


def test_my_children_pages_use_the_guide_words(client, world):
    sign_in(client, "p_zhoujia")
    me = client.get("/me").text
    for words in ("周家长", "139****0015", "我的孩子", "修改密码", "退出登录"):
        assert words in me
    assert "13900000015" not in me
    children = client.get("/me/children").text
    assert "关联孩子" in children
    page = client.get("/me/children/link").text
    for words in ("孩子真实姓名", "身份证号", "父亲", "母亲", "其他"):
        assert words in page


def test_a_self_signed_up_parent_without_children_sees_my_children_in_the_nav(client, world):
    sign_in(client, "p_zhoujia")
    assert 'href="/me/children"' in client.get("/").text


def test_linking_the_right_name_and_number_links_and_tells_child_and_homeroom_teacher(
    client, db, world
):
    child = world["heshuhuan"]
    sign_in(client, "p_zhoujia")
    response = link(client, "何书桓", child.id_card_number, "father")
    assert response.status_code == 303
    # issue 23: a child under 14 without a guardian's consent: on to the child's page, which asks.
    assert response.headers["location"] == f"/me/children/{child.id}?done=linked"
    rows = _links(db, child=child)
    assert [(r.parent_id, r.relation.value) for r in rows] == [(world["p_zhoujia"].id, "father")]

    assert "关联成功" in client.get(response.headers["location"]).text
    page = client.get("/me/children?done=linked").text
    assert "关联成功" in page
    assert "何书桓" in page
    assert "五年级1班" in page

    assert notices(db, child)[0].kind == "child_linked"
    assert "周家长" in notices(db, child)[0].body
    teacher_notice = notices(db, world["chenxiaokai"])[0]
    assert teacher_notice.kind == "child_linked"
    assert "何书桓" in teacher_notice.body
    assert notices(db, world["sunbanzhu"]) == []

    event = events(db, "child_link")[-1]
    assert (event.outcome, event.route, event.target_user_id) == ("success", "parent", child.id)
    assert event.actor_id == world["p_zhoujia"].id
    assert event.school_id == world.school.id
    assert event.detail["id_card"] == mask_id_card(child.id_card_number)
    assert child.id_card_number not in str(event.detail)


def test_every_wrong_combination_gets_the_same_answer(client, db, world):
    child = world["heshuhuan"]
    other = world["weiyingluo"]
    teacher = world["zhaoshuxue"]
    teacher.id_card_number = _id("33060319800101003")
    db.commit()
    nobody = _id("33060320150101009")
    cases = {
        "wrong name, right number": ("何书", child.id_card_number),
        "right name, another child's number": ("何书桓", other.id_card_number),
        "right name, a number nobody has": ("何书桓", nobody),
        "the number of someone who is no student": ("赵数学", teacher.id_card_number),
        "wrong name, unknown number": ("张三", nobody),
    }
    sign_in(client, "p_zhoujia")
    answers = {}
    for label, (name, number) in cases.items():
        response = link(client, name, number)
        assert response.status_code == 400, label
        answers[label] = error_box(response.text)
        # What was typed stays in the form (18 digits are not typed twice), and only there.
        assert 'id="id_card_number" name="id_card_number"' in response.text
        assert response.text.count(number) == 1
        assert f'value="{number}"' in response.text
        assert f'value="{name}"' in response.text
        assert number not in answers[label]
    assert len(set(answers.values())) == 1, answers
    assert LINK_FAILED in next(iter(answers.values()))
    assert _links(db, parent=world["p_zhoujia"]) == []

    failures = events(db, "child_link")
    assert [e.outcome for e in failures] == ["failure"] * 5
    for event in failures:
        assert len(str(event.detail["id_card"]).replace("*", "")) == 8
        for number in (child.id_card_number, other.id_card_number, nobody):
            assert number not in str(event.detail)


def test_a_malformed_number_is_told_and_not_counted(client, db, world):
    sign_in(client, "p_zhoujia")
    response = link(client, "何书桓", "330603201501010")
    assert response.status_code == 400
    assert "身份证号格式不正确" in response.text
    assert events(db, "child_link") == []


def test_a_malformed_number_stays_in_the_form_with_the_name_and_relation(client, world):
    sign_in(client, "p_zhoujia")
    response = link(client, "何书桓", "33060320150101", "father")
    assert response.status_code == 400
    assert 'value="33060320150101"' in response.text
    assert 'value="何书桓"' in response.text
    assert re.search(r'value="father" required\s+checked', response.text)


def test_the_relation_is_not_preselected_and_must_be_chosen(client, db, world):
    child = world["heshuhuan"]
    sign_in(client, "p_zhoujia")
    page = client.get("/me/children/link").text
    assert "checked" not in page
    assert page.count('name="relation"') == 3
    assert page.count("required") >= 5  # name, number and the three choices
    response = post_form(
        client,
        "/me/children/link",
        {"real_name": "何书桓", "id_card_number": child.id_card_number},
    )
    assert response.status_code == 400
    assert "请选择您是孩子的父亲、母亲还是其他监护人" in error_box(response.text)
    assert f'value="{child.id_card_number}"' in response.text
    assert "checked" not in response.text
    assert _links(db, child=child) == []
    assert events(db, "child_link") == []  # no attempt was made
    odd = post_form(
        client,
        "/me/children/link",
        {"real_name": "何书桓", "id_card_number": child.id_card_number, "relation": "uncle"},
    )
    assert odd.status_code == 400
    assert link(client, "何书桓", child.id_card_number, "other").status_code == 303
    assert [r.relation.value for r in _links(db, child=child)] == ["other"]


def test_failed_attempts_are_limited_per_parent_account(client, db, world, clock):
    child = world["heshuhuan"]
    sign_in(client, "p_zhoujia")
    for _ in range(5):
        assert link(client, "错名字", child.id_card_number).status_code == 400
    response = link(client, "何书桓", child.id_card_number)
    assert response.status_code == 429
    assert "请稍后再试" in response.text
    assert _links(db, child=child) == []
    assert events(db, "child_link")[-1].detail["reason"] == "throttled"

    # After the window the right answer links.
    clock.advance(hours=1, minutes=1)
    assert link(client, "何书桓", child.id_card_number).status_code == 303
    assert len(_links(db, child=child)) == 1


def test_failed_attempts_are_limited_per_target_number_across_parents(
    client, make_client, db, world, settings, clock
):
    settings.families_link_parent_limit = 100
    child = world["heshuhuan"]
    sign_in(client, "p_zhoujia")
    for n in range(5):
        assert link(client, f"猜名字{n}", child.id_card_number).status_code == 400

    mother = make_client()
    sign_in(mother, "p_lidaniang")
    refused = link(mother, "何书桓", child.id_card_number)
    assert refused.status_code == 429
    assert "请稍后再试" in refused.text
    # Another child's number is not held back by this one's limit.
    other = world["weiyingluo"]
    assert link(mother, "魏璎珞", other.id_card_number).status_code == 303

    clock.advance(seconds=settings.families_link_target_window_seconds + 1)
    assert link(mother, "何书桓", child.id_card_number).status_code == 303


def test_a_success_does_not_reset_the_failure_count(client, db, world):
    child = world["heshuhuan"]
    sign_in(client, "p_zhoujia")
    for _ in range(4):
        link(client, "错名字", child.id_card_number)
    assert link(client, "何书桓", child.id_card_number).status_code == 303
    assert link(client, "错名字", world["weiyingluo"].id_card_number).status_code == 400
    assert link(client, "魏璎珞", world["weiyingluo"].id_card_number).status_code == 429


def test_a_child_has_at_most_the_configured_number_of_parents(
    client, make_client, db, world, settings, clock
):
    assert Settings().families_max_parents_per_child == 4
    settings.families_max_parents_per_child = 2
    child = world["lixiaoyao"]  # already linked to 李大娘
    sign_in(client, "p_zhoujia")
    assert link(client, "李逍遥", child.id_card_number, "father").status_code == 303

    _parent(db, world, clock, "p_third", "13900000099")
    third = make_client()
    sign_in(third, "p_third")
    response = link(third, "李逍遥", child.id_card_number, "other")
    assert response.status_code == 400
    assert "已达上限（2位）" in response.text
    # Issue 18 finding 6: the parent is told to ask the school, which can see who filled it.
    assert "请联系孩子所在学校的管理员或班主任" in response.text
    assert "学校可以看到是谁关联了孩子" in response.text
    assert len(_links(db, child=child)) == 2
    assert events(db, "child_link")[-1].detail["reason"] == "parent_limit"

    # The school sees who filled the cap on the student's page, with a way to remove a link.
    school = make_client()
    sign_in(school, "xx_admin")
    page = school.get(f"/school/{world.school.id}/members/{child.id}").text
    assert "关联的家长（2/2）" in page
    assert "李大娘" in page and "周家长" in page and "新家长" not in page
    assert "139****0015" in page and "13900000015" not in page
    assert "关联家长已达上限" in page
    assert "近30天有 1 次关联因已达上限被拒绝" in page
    [zhoujia] = [row for row in _links(db, child=child) if row.parent_id == world["p_zhoujia"].id]
    assert f'action="/school/links/{zhoujia.id}/remove"' in page
    assert post_form(school, f"/school/links/{zhoujia.id}/remove").status_code == 303
    # The real parent can now link.
    assert link(third, "李逍遥", child.id_card_number, "other").status_code == 303


def test_linking_the_same_child_twice_says_so(client, db, world):
    sign_in(client, "p_lidaniang")
    response = link(client, "李逍遥", world["lixiaoyao"].id_card_number)
    assert response.status_code == 400
    assert "您已关联该孩子" in response.text
    assert len(_links(db, child=world["lixiaoyao"])) == 1


def test_a_teacher_who_is_a_parent_links_with_the_same_account(client, db, world):
    sign_in(client, "zhaoshuxue")
    assert "我的孩子" in client.get("/me").text
    assert link(client, "周伯通", world["zhoubotong"].id_card_number, "mother").status_code == 303
    page = client.get("/").text
    assert 'href="/me/children"' in page
    assert "家长" in page and "教师" in page


def test_a_student_has_no_children_pages(client, world):
    sign_in(client, "heshuhuan")
    assert "我的孩子" not in client.get("/me").text
    assert client.get("/me/children").status_code == 403
    assert link(client, "李逍遥", world["lixiaoyao"].id_card_number).status_code == 403


def test_children_pages_need_sign_in(client, world):
    response = client.get("/me/children")
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")


# --------------------------------------------------------------------------- unlink


def test_unlink_with_confirmation(client, db, world):
    child = world["lixiaoyao"]
    sign_in(client, "p_lidaniang")
    page = client.get(f"/me/children/{child.id}").text
    assert "解除关联" in page
    assert "data-confirm=" in page
    response = post_form(client, f"/me/children/{child.id}/unlink")
    assert response.status_code == 303
    assert _links(db, child=child) == []
    assert notices(db, child)[0].kind == "child_unlinked"
    # Worded for a parent who ended their own link (not "李大娘已解除李大娘…").
    assert notices(db, child)[0].body == "李大娘（母亲）已解除与您账号的关联。"
    event = events(db, "child_unlinked")[-1]
    assert (event.actor_id, event.target_user_id) == (world["p_lidaniang"].id, child.id)
    assert "已解除关联" in client.get("/me/children?done=unlinked").text
    assert client.get(f"/me/children/{child.id}").status_code == 404


def test_another_parent_cannot_unlink(client, db, world):
    child = world["lixiaoyao"]
    sign_in(client, "p_zhoujia")
    assert post_form(client, f"/me/children/{child.id}/unlink").status_code == 404
    assert len(_links(db, child=child)) == 1


# --------------------------------------------------------------------------- the school


def test_the_school_sees_and_removes_links(client, db, world):
    child = world["lixiaoyao"]
    sign_in(client, "xx_admin")
    page = client.get("/school/links").text
    for words in ("家长关联", "李逍遥", "李大娘", "母亲", "139****0011", "五年级1班"):
        assert words in page
    assert "13900000011" not in page
    row = _links(db, child=child)[0]
    assert post_form(client, f"/school/links/{row.id}/remove").status_code == 303
    assert _links(db, child=child) == []
    assert notices(db, world["p_lidaniang"])[0].kind == "child_unlinked"
    assert notices(db, child)[0].kind == "child_unlinked"
    assert notices(db, child)[0].body == "学校管理员已解除李大娘（母亲）与您账号的关联。"
    event = events(db, "child_unlinked")[-1]
    assert event.actor_id == world["xx_admin"].id
    assert event.detail["by_school"] is True


@pytest.mark.parametrize("login", ["chenxiaokai", "p_lidaniang", "lixiaoyao"])
def test_only_school_administrators_see_the_school_links(client, db, world, login):
    sign_in(client, login)
    assert client.get("/school/links").status_code == 403
    row = _links(db, child=world["lixiaoyao"])[0]
    assert post_form(client, f"/school/links/{row.id}/remove").status_code == 403
    assert len(_links(db, child=world["lixiaoyao"])) == 1


def test_a_school_cannot_remove_links_of_another_schools_students(client, db, world, clock):
    from campusid.accounts.models import SchoolMembership

    child = world["lixiaoyao"]
    membership = db.scalar(select(SchoolMembership).where(SchoolMembership.user_id == child.id))
    membership.active = False  # the child has left the school
    db.commit()
    sign_in(client, "xx_admin")
    assert "李逍遥" not in client.get("/school/links").text
    row = _links(db, child=child)[0]
    assert post_form(client, f"/school/links/{row.id}/remove").status_code == 404
    assert len(_links(db, child=child)) == 1


def test_attempts_are_audited_with_the_client_address(client, db, world):
    sign_in(client, "p_zhoujia")
    link(client, "错名字", world["heshuhuan"].id_card_number)
    event = events(db, "child_link")[-1]
    assert event.client_address == "testclient"
    assert event.actor_role == "parent"


@pytest.mark.parametrize("login", ["kefu01", "pt_admin"])
def test_agents_and_platform_admins_do_not_link_children(client, db, world, login):
    """Issue 18 finding 6: a privileged account would reach a child outside the hotline."""
    sign_in(client, login)
    children = client.get("/me/children").text
    assert "客服和平台管理员账号不能关联孩子" in children
    assert 'href="/me/children/link"' not in children
    assert client.get("/me/children/link").status_code == 403
    response = link(client, "何书桓", world["heshuhuan"].id_card_number)
    assert response.status_code == 403
    assert "客服和平台管理员账号不能关联孩子" in response.text
    assert _links(db, child=world["heshuhuan"]) == []
    denied = [e for e in events(db, "access_denied") if e.actor_id == world[login].id]
    assert denied and denied[-1].detail["reason"] == "privileged_family"


def test_an_agent_with_a_linked_child_cannot_change_its_password(client, db, world, hasher):
    parent, child = world["p_lidaniang"], world["lixiaoyao"]
    parent.is_agent = True
    db.commit()
    sign_in(client, "p_lidaniang")
    assert client.get(f"/me/children/{child.id}/password").status_code == 403
    response = post_form(
        client,
        f"/me/children/{child.id}/password",
        {"new_password": "Neu#Pass2026", "confirm_password": "Neu#Pass2026"},
    )
    assert response.status_code == 403
    db.expire_all()
    assert not hasher.verify(db.merge(child).password_hash, "Neu#Pass2026")
    # Leaving the link stays open.
    assert post_form(client, f"/me/children/{child.id}/unlink").status_code == 303
