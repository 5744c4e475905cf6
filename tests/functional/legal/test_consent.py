"""用户协议 and 隐私政策 (issue 23): the public pages, new versions from 平台管理, a parent's own
consent (the banner on their home), and a guardian's consent for a child under 14."""

from __future__ import annotations

from sqlalchemy import select
from tests.support.families import events, link
from tests.support.http import post_form, sign_in

from campusid.legal import service as legal
from campusid.legal.models import ConsentVia, DocumentKind, LegalConsent, LegalDocument


def _consents(db, subject) -> list[LegalConsent]:
    db.expire_all()
    return list(
        db.scalars(
            select(LegalConsent)
            .where(LegalConsent.subject_id == subject.id)
            .order_by(LegalConsent.id)
        )
    )


def _versions(db, kind: DocumentKind) -> list[int]:
    db.expire_all()
    return list(
        db.scalars(
            select(LegalDocument.version)
            .where(LegalDocument.kind == kind)
            .order_by(LegalDocument.version)
        )
    )


# --------------------------------------------------------------------------- the pages


def test_the_texts_are_public_in_chinese_and_english(client):
    terms = client.get("/terms")
    assert terms.status_code == 200
    assert "<h1>用户协议</h1>" in terms.text
    assert "第1版" in terms.text and "【模板，请平台运营方修改后发布】" in terms.text
    privacy = client.get("/privacy")
    assert "<h1>隐私政策</h1>" in privacy.text
    assert "不满十四周岁的儿童的个人信息" in privacy.text
    # Every page's footer (the login page's among them) links both.
    login = client.get("/login").text
    assert 'href="/terms"' in login and 'href="/privacy"' in login

    client.get("/lang/en")
    english = client.get("/privacy").text
    assert "[Template: the platform operator should adapt this text" in english
    assert "a child under fourteen" in english
    assert "不满十四周岁" not in english
    assert "These terms are an agreement" in client.get("/terms").text


def test_an_unknown_version_is_not_found(client):
    assert client.get("/terms?version=99").status_code == 404


# --------------------------------------------------------------------------- 平台管理


def test_the_platform_publishes_a_new_version_never_editing_the_old(client, db, world, clock):
    sign_in(client, "pt_admin")
    assert 'href="/platform/legal"' in client.get("/platform").text
    index = client.get("/platform/legal").text
    assert 'href="/platform/legal/terms"' in index and 'href="/platform/legal/privacy"' in index
    form = client.get("/platform/legal/terms").text
    assert "【模板，请平台运营方修改后发布】" in form  # the current text to start from

    published = post_form(
        client,
        "/platform/legal/terms",
        {"body_zh": "第一段：新协议。\n\n第二段。", "body_en": "First: the new terms.\n\nSecond."},
    )
    assert published.status_code == 303
    assert _versions(db, DocumentKind.TERMS) == [1, 2]
    page = client.get("/terms").text
    assert "第2版，2026-11-30发布" in page
    assert "<p>第一段：新协议。</p>" in page and "<p>第二段。</p>" in page
    assert "【模板" not in page
    old = client.get("/terms?version=1").text  # version 1 stays as it was agreed to
    assert "【模板，请平台运营方修改后发布】" in old and 'href="/terms"' in old
    event = events(db, "legal_text_published")[-1]
    assert event.actor_id == world["pt_admin"].id
    assert event.detail == {"document": "terms", "version": 2}
    client.get("/lang/en")
    assert "First: the new terms." in client.get("/terms").text


def test_an_empty_text_is_refused_and_the_form_keeps_what_was_typed(client, db, world):
    sign_in(client, "pt_admin")
    refused = post_form(
        client, "/platform/legal/privacy", {"body_zh": "只写了中文。", "body_en": "  "}
    )
    assert refused.status_code == 400
    assert "请填写中文和英文文本" in refused.text
    assert "只写了中文。" in refused.text
    assert _versions(db, DocumentKind.PRIVACY) == [1]


def test_only_the_platform_administrator_edits_the_texts(client, db, world):
    sign_in(client, "xx_admin")
    assert client.get("/platform/legal/terms").status_code == 403
    response = post_form(client, "/platform/legal/terms", {"body_zh": "改。", "body_en": "x"})
    assert response.status_code == 403
    assert _versions(db, DocumentKind.TERMS) == [1]


# --------------------------------------------------------------------------- a parent's own


def test_a_parent_without_consent_is_asked_on_their_home_not_blocked(client, db, world, clock):
    parent = world["p_lidaniang"]
    sign_in(client, "p_lidaniang")
    home = client.get("/")
    assert home.status_code == 200
    assert "data-consent-banner" in home.text and 'href="/consent"' in home.text
    assert client.get("/me/children").status_code == 200  # not blocked

    unticked = post_form(client, "/consent", {})
    assert unticked.status_code == 400
    assert "请阅读并勾选同意《用户协议》和《隐私政策》" in unticked.text
    assert _consents(db, parent) == []

    agreed = post_form(client, "/consent", {"agree": "1"})
    assert agreed.status_code == 303
    rows = _consents(db, parent)
    assert {(r.kind, r.version, r.via, r.user_id) for r in rows} == {
        (DocumentKind.TERMS, 1, ConsentVia.LATER, parent.id),
        (DocumentKind.PRIVACY, 1, ConsentVia.LATER, parent.id),
    }
    assert all(r.agreed_at == clock.now() for r in rows)
    assert events(db, "consent_given")[-1].detail == {"terms_version": 1, "privacy_version": 1}
    assert "data-consent-banner" not in client.get("/").text


def test_a_teacher_sees_no_banner(client, world):
    sign_in(client, "chenxiaokai")
    assert "data-consent-banner" not in client.get("/").text


# --------------------------------------------------------------------------- a guardian's


def test_the_linked_parent_consents_for_a_child_under_14(client, db, world, clock):
    child, parent = world["lixiaoyao"], world["p_lidaniang"]
    sign_in(client, "p_lidaniang")
    page = client.get(f"/me/children/{child.id}").text
    assert 'data-consent="due"' in page
    assert "孩子未满十四周岁" in page
    assert "我们只处理提供统一身份认证所必需的个人信息" in page  # the notice: the summary
    assert f'action="/me/children/{child.id}/consent"' in page

    response = post_form(client, f"/me/children/{child.id}/consent")
    assert response.status_code == 303
    (row,) = _consents(db, child)
    assert (row.user_id, row.kind, row.version, row.via) == (
        parent.id,
        DocumentKind.PRIVACY,
        1,
        ConsentVia.GUARDIAN,
    )
    assert row.agreed_at == clock.now()
    event = events(db, "guardian_consent_given")[-1]
    assert (event.actor_id, event.target_user_id, event.outcome) == (parent.id, child.id, "success")
    assert event.detail == {"privacy_version": 1}

    page = client.get(f"/me/children/{child.id}").text
    assert 'data-consent="given"' in page
    assert "监护人已于2026-11-30 10:00代孩子同意《隐私政策》（第1版）。" in page


def test_a_parent_not_linked_cannot_consent_for_the_child(client, db, world):
    child = world["lixiaoyao"]
    sign_in(client, "p_zhoujia")
    response = post_form(client, f"/me/children/{child.id}/consent")
    assert response.status_code == 403
    assert _consents(db, child) == []
    refused = events(db, "guardian_consent_given")[-1]
    assert (refused.outcome, refused.actor_id, refused.target_user_id) == (
        "denied",
        world["p_zhoujia"].id,
        child.id,
    )
    assert refused.detail["reason"] == "not_guardian"


def test_a_teacher_of_the_child_cannot_consent_either(client, db, world):
    child = world["lixiaoyao"]
    sign_in(client, "chenxiaokai")
    assert post_form(client, f"/me/children/{child.id}/consent").status_code == 403
    assert _consents(db, child) == []


def test_a_new_privacy_version_asks_again(client, make_client, db, world, clock):
    child = world["lixiaoyao"]
    sign_in(client, "p_lidaniang")
    post_form(client, f"/me/children/{child.id}/consent")
    assert 'data-consent="given"' in client.get(f"/me/children/{child.id}").text

    admin = make_client()
    sign_in(admin, "pt_admin")
    published = post_form(
        admin,
        "/platform/legal/privacy",
        {"body_zh": "新的告知：我们更新了隐私政策。\n\n其余不变。", "body_en": "New notice."},
    )
    assert published.status_code == 303

    page = client.get(f"/me/children/{child.id}").text
    assert 'data-consent="due"' in page
    assert "《隐私政策》已更新为第2版，需要您重新确认。" in page
    assert "新的告知：我们更新了隐私政策。" in page and "其余不变。" not in page
    assert "data-consent-banner" in client.get("/").text  # the parent's own, too
    post_form(client, f"/me/children/{child.id}/consent")
    assert [r.version for r in _consents(db, child)] == [1, 2]


def test_linking_a_child_goes_to_the_childs_page_to_consent(client, db, world):
    child = world["lixiaoyao"]
    sign_in(client, "p_zhoujia")
    response = link(client, "李逍遥", child.id_card_number, relation="father")
    assert response.status_code == 303
    assert response.headers["location"] == f"/me/children/{child.id}?done=linked"
    page = client.get(response.headers["location"]).text
    assert "关联成功。请阅读下方学校的告知并确认。" in page
    assert 'data-consent="due"' in page


def test_who_counts_as_a_child(db, world, clock):
    today = clock.now().date()
    pupil = world["lixiaoyao"]  # 11 by the ID card
    assert legal.needs_guardian(db, child=pupil, today=today)
    # 14 and over by the ID card: no guardian's consent, even a pupil
    older = today.replace(year=today.year + 3)
    assert not legal.needs_guardian(db, child=pupil, today=older)
    # no ID card: a pupil counts as a child, an adult's account does not
    pupil.id_card_number = None
    db.flush()
    assert legal.needs_guardian(db, child=pupil, today=older)
    assert not legal.needs_guardian(db, child=world["p_zhoujia"], today=today)


def test_a_consent_for_a_child_id_that_does_not_exist_is_refused_and_audited(
    client, db, world, caplog
):
    """A made-up id in the URL: refused like any other child, and the refusal is still audited
    (naming nobody: the row keeps the path) rather than failing on the missing account."""
    sign_in(client, "p_lidaniang")
    # five digits: no six-digit code a test remembers can hide in the logged path
    response = post_form(client, "/me/children/98765/consent")
    assert response.status_code == 403
    refused = events(db, "guardian_consent_given")[-1]
    assert (refused.outcome, refused.actor_id, refused.target_user_id) == (
        "denied",
        world["p_lidaniang"].id,
        None,
    )
    assert refused.detail["path"] == "/me/children/98765/consent"
    assert "could not audit" not in caplog.text


# --------------------------------------------------------------------------- once, however often


def test_agreeing_twice_records_one_consent_and_one_audit_event(client, db, world, clock):
    parent = world["p_lidaniang"]
    sign_in(client, "p_lidaniang")
    assert post_form(client, "/consent", {"agree": "1"}).status_code == 303
    clock.advance(seconds=2)
    again = post_form(client, "/consent", {"agree": "1"})  # the form submitted a second time
    assert again.status_code == 303
    rows = _consents(db, parent)
    assert sorted(r.kind for r in rows) == sorted(DocumentKind)
    assert len(events(db, "consent_given")) == 1


def test_a_guardian_consenting_twice_records_one_consent(client, db, world):
    child = world["lixiaoyao"]
    sign_in(client, "p_lidaniang")
    for _ in range(2):
        assert post_form(client, f"/me/children/{child.id}/consent").status_code == 303
    assert len(_consents(db, child)) == 1
    assert len(events(db, "guardian_consent_given")) == 1


def test_two_requests_at_once_record_the_first_and_the_key_refuses_a_copy(db, world, clock):
    """The unique key is what holds when two requests both saw no consent: the second insert
    fails inside its savepoint and `agree` answers with the row already there."""
    parent = world["p_lidaniang"]
    privacy = legal.current(db, DocumentKind.PRIVACY, now=clock.now())

    def consent() -> LegalConsent:
        fields = {"user_id": parent.id, "subject_id": parent.id, "document_id": privacy.id}
        return LegalConsent(
            **fields,
            kind=privacy.kind,
            version=privacy.version,
            via=ConsentVia.LATER,
            agreed_at=clock.now(),
        )

    first, copy = consent(), consent()
    assert legal._insert_once(db, [first])
    assert not legal._insert_once(db, [copy])  # refused by the key, the transaction goes on
    db.commit()
    assert [r.id for r in _consents(db, parent)] == [first.id]


def test_publishing_asks_a_fresh_second_factor_and_keeps_the_text(client, db, world, clock):
    """A new 用户协议 binds every parent: like every platform-wide act it asks for a second
    factor checked within CAMPUSID_MFA_STEP_UP_MINUTES. The texts typed are kept while the
    check is done in another window."""
    from tests.support.factors import usable_code

    sign_in(client, "pt_admin")
    clock.advance(minutes=16)  # the sign-in's check is past the 15-minute window
    typed = {"body_zh": "第一段：新协议。\n\n第二段。", "body_en": "First: the new terms."}
    refused = post_form(client, "/platform/legal/terms", typed)
    assert refused.status_code == 403
    assert "发布前须再次验证身份" in refused.text
    assert ">第一段：新协议。\n\n第二段。</textarea>" in refused.text  # nothing typed is lost
    assert 'href="/account/verify?next=/platform/legal/terms" target="_blank"' in refused.text
    assert _versions(db, DocumentKind.TERMS) == [1]  # nothing published

    with db.begin_nested():
        code = usable_code(db, "pt_admin", clock.now())
    db.commit()
    checked = post_form(client, "/account/verify", {"code": code, "next": "/platform/legal/terms"})
    assert checked.status_code == 303
    assert post_form(client, "/platform/legal/terms", typed).status_code == 303
    assert _versions(db, DocumentKind.TERMS) == [1, 2]
