"""修改孩子密码 over HTTP: the policy, the effects of a change, and who may do it."""

from __future__ import annotations

import pytest
from tests.support.families import events, link, notices
from tests.support.http import post_form, sign_in

from campusid.demo import DEMO_PASSWORD
from campusid.security.policy import RULE_TEXT

NEW = "Blue-Sky#2027"


def _change(client, child, new=NEW, confirm=None):
    return post_form(
        client,
        f"/me/children/{child.id}/password",
        {"new_password": new, "confirm_password": new if confirm is None else confirm},
    )


def test_the_page_has_the_guide_words(client, world):
    child = world["lixiaoyao"]
    sign_in(client, "p_lidaniang")
    profile = client.get(f"/me/children/{child.id}").text
    for words in ("编辑孩子资料", "头像", "修改孩子密码", "解除关联", "李逍遥"):
        assert words in profile
    page = client.get(f"/me/children/{child.id}/password").text
    for words in ("修改孩子密码", "新密码", "确认密码", "8-20位英文、数字或符号", RULE_TEXT):
        assert words in page


@pytest.mark.parametrize(
    ("new", "confirm", "message"),
    [
        (NEW, "Blue-Sky#2028", "两次输入的密码不一致"),
        ("Ab1!", "Ab1!", "8-20"),
        ("abcdefgh", "abcdefgh", "3种"),
        ("Aa123456", "Aa123456", "常见"),
    ],
)
def test_policy_failures_say_what_is_wrong_and_change_nothing(
    client, make_client, db, world, new, confirm, message
):
    child = world["lixiaoyao"]
    sign_in(client, "p_lidaniang")
    response = _change(client, child, new, confirm)
    assert response.status_code == 400
    assert message in response.text
    assert RULE_TEXT in response.text
    db.expire_all()
    assert child.password_version == 1
    sign_in(make_client(), "lixiaoyao", DEMO_PASSWORD)


def test_success_ends_the_childs_sessions_and_tells_and_audits(client, make_client, db, world):
    child = world["lixiaoyao"]
    on_phone = make_client()
    sign_in(on_phone, "lixiaoyao")
    assert on_phone.get("/").status_code == 200

    sign_in(client, "p_lidaniang")
    response = _change(client, child)
    assert response.status_code == 303
    done = client.get(response.headers["location"]).text
    assert "孩子的密码已修改" in done
    assert "孩子下次登录时须再设置" not in done

    # The child's session is gone; the old password fails, the new one works, no forced change.
    assert on_phone.get("/").status_code == 303
    fresh = make_client()
    refused = post_form(fresh, "/login", {"login": "lixiaoyao", "password": DEMO_PASSWORD})
    assert refused.status_code == 200
    assert "账号或密码错误" in refused.text
    assert post_form(fresh, "/login", {"login": "lixiaoyao", "password": NEW}).headers[
        "location"
    ] == ("/")
    db.expire_all()
    assert child.must_change_password is False

    notice = notices(db, child)[0]
    assert notice.kind == "password_changed"
    assert "李大娘" in notice.body and "家长修改" in notice.body
    assert NEW not in notice.body

    event = events(db, "password_reset")[-1]
    assert (event.route, event.outcome) == ("parent", "success")
    assert (event.actor_id, event.target_user_id) == (world["p_lidaniang"].id, child.id)
    assert event.school_id == world.school.id
    assert NEW not in str(event.detail)

    # The parent's own session is untouched.
    assert client.get("/me").status_code == 200


def test_the_school_may_ask_for_a_change_after_a_parent_change(client, make_client, db, world):
    child = world["lixiaoyao"]
    sign_in(client, "p_lidaniang")
    told = "孩子下次登录时须再设置一个自己的新密码"
    assert told not in client.get(f"/me/children/{child.id}/password").text
    world.school.force_change_after_parent = True
    db.commit()
    # The parent is told before and after.
    assert told in client.get(f"/me/children/{child.id}/password").text
    response = _change(client, child)
    assert response.status_code == 303
    assert response.headers["location"] == f"/me/children/{child.id}?done=password_forced"
    assert told in client.get(response.headers["location"]).text
    child_browser = make_client()
    response = post_form(child_browser, "/login", {"login": "lixiaoyao", "password": NEW})
    assert response.headers["location"] == "/password/change-required"


# --------------------------------------------------------------------------- who may do it


def _unchanged(db, child):
    db.expire_all()
    assert child.password_version == 1
    assert child.must_change_password is False


def test_a_parent_of_another_child_may_not(client, db, world):
    sign_in(client, "p_zhoujia")
    assert link(client, "何书桓", world["heshuhuan"].id_card_number).status_code == 303
    child = world["lixiaoyao"]
    assert client.get(f"/me/children/{child.id}").status_code == 404
    assert client.get(f"/me/children/{child.id}/password").status_code == 404
    assert _change(client, child).status_code == 404
    _unchanged(db, child)
    # ... while the own child is fine.
    assert _change(client, world["heshuhuan"]).status_code == 303


def test_an_unlinked_parent_may_not(client, db, world):
    child = world["lixiaoyao"]
    sign_in(client, "p_zhoujia")
    assert client.get(f"/me/children/{child.id}/password").status_code == 404
    assert _change(client, child).status_code == 404
    _unchanged(db, child)


def test_a_parent_who_unlinked_may_no_longer(client, db, world):
    child = world["lixiaoyao"]
    sign_in(client, "p_lidaniang")
    assert post_form(client, f"/me/children/{child.id}/unlink").status_code == 303
    assert _change(client, child).status_code == 404
    _unchanged(db, child)


@pytest.mark.parametrize("login", ["chenxiaokai", "zhaoshuxue", "xx_admin", "lixiaoyao"])
def test_teachers_admins_and_the_child_may_not(client, db, world, login):
    child = world["lixiaoyao"]
    sign_in(client, login)
    assert client.get(f"/me/children/{child.id}/password").status_code == 403
    assert _change(client, child).status_code == 403
    assert post_form(client, f"/me/children/{child.id}/unlink").status_code == 403
    _unchanged(db, child)


def test_signed_out_may_not(client, db, world):
    child = world["lixiaoyao"]
    response = _change(client, child)
    assert response.status_code == 303
    assert response.headers["location"].startswith("/login")
    _unchanged(db, child)


def test_without_the_csrf_token_nothing_changes(client, db, world):
    child = world["lixiaoyao"]
    sign_in(client, "p_lidaniang")
    response = client.post(
        f"/me/children/{child.id}/password",
        data={"new_password": NEW, "confirm_password": NEW},
    )
    assert response.status_code == 403
    _unchanged(db, child)
