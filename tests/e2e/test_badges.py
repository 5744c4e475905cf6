"""Issue 24: the homeroom teacher prints the class's 扫码登录卡; a pupil holds one up to the
camera of 扫码登录 and is signed in; a badge reported lost (挂失) is refused.

The camera is Chromium's fake capture device playing a Y4M video made from the badge's QR code
as the printable page draws it (a screenshot of the card's code), so the page's own scanner
(getUserMedia + the vendored jsQR) reads it as it would a real webcam's picture.
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

from PIL import Image

from campusid.badges.models import BadgeStageSetting
from campusid.demo import DEMO_PASSWORD
from campusid.org.models import SchoolClass
from tests.e2e.conftest import (
    CHROMIUM,
    CHROMIUM_ARGS,
    DESKTOP,
    PHONE,
    _watch,
    new_page,
    sign_in,
)

FRAME = (640, 480)


def y4m_from_png(png: bytes, path: Path, *, frames: int = 10) -> None:
    """A short Y4M (I420) video of the image centred on white: Y from its grey levels, U and V
    neutral (128). Chromium's fake camera plays it in a loop."""
    width, height = FRAME
    code = Image.open(io.BytesIO(png)).convert("L")
    side = min(width, height) - 120
    code = code.resize((side, side), Image.Resampling.NEAREST)
    picture = Image.new("L", FRAME, 255)
    picture.paste(code, ((width - side) // 2, (height - side) // 2))
    luma = picture.tobytes()
    chroma = bytes([128]) * ((width // 2) * (height // 2))
    with path.open("wb") as out:
        out.write(f"YUV4MPEG2 W{width} H{height} F10:1 Ip A1:1 C420jpeg\n".encode())
        for _ in range(frames):
            out.write(b"FRAME\n" + luma + chroma + chroma)


def _badges_on_for_class_51(live_server: Any) -> None:
    """之江汇学校's 五年级 (year 5 of its primary stage): badges on, as its administrator would
    set them in 学段设置 (the form has its functional tests)."""
    with live_server.session() as db:
        school_class = db.query(SchoolClass).filter_by(class_code="gu22cm").one()
        assert school_class.grade is not None
        stage_id = school_class.grade.stage_id
        if db.get(BadgeStageSetting, stage_id) is None:
            db.add(BadgeStageSetting(stage_id=stage_id, years=[1, 2, 5]))


def test_printed_badge_signs_a_pupil_in_through_the_camera(live_server, browser, shots, tmp_path):
    _badges_on_for_class_51(live_server)
    teacher = new_page(browser, DESKTOP)
    sign_in(teacher, live_server.url, "chenxiaokai", DEMO_PASSWORD)
    teacher.goto(live_server.url + "/teaching")
    teacher.get_by_role("row", name="五年级1班").get_by_role("link", name="前往班级").click()
    teacher.get_by_role("link", name="扫码登录卡").click()
    teacher.get_by_role("heading", name="扫码登录卡").wait_for()
    shots(teacher, "class-badges")
    with teacher.expect_navigation():
        teacher.get_by_role("button", name="打印全班登录卡").click()
    cards = teacher.locator(".badge-card")
    assert cards.count() >= 6
    card = teacher.locator(".badge-card", has_text="李逍遥")
    assert "五年级1班" in card.inner_text() and "有效期至" in card.inner_text()
    shots(teacher, "printable")
    # The code as printed: the card's QR drawing, read off the page as an image.
    qr_png = card.locator(".badge-qr svg").screenshot()
    video = tmp_path / "badge.y4m"
    y4m_from_png(qr_png, video)

    camera = browser.browser_type.launch(
        executable_path=CHROMIUM,
        headless=True,
        args=[
            *CHROMIUM_ARGS,
            "--use-fake-device-for-media-stream",
            "--use-fake-ui-for-media-stream",
            f"--use-file-for-fake-video-capture={video}",
        ],
    )
    try:
        context = camera.new_context(viewport=DESKTOP, locale="zh-CN", timezone_id="Asia/Shanghai")
        context.grant_permissions(["camera"], origin=live_server.url)
        context.set_default_timeout(20_000)
        pupil = context.new_page()
        _watch(pupil)
        pupil.goto(live_server.url + "/login")
        pupil.get_by_role("link", name="扫码登录").click()
        pupil.get_by_role("heading", name="扫码登录").wait_for()
        # The scanner finds the code in the camera's picture and sends the form by itself.
        pupil.wait_for_url(live_server.url + "/", timeout=20_000)
        assert "李逍遥" in pupil.locator("body").inner_text()
        shots(pupil, "pupil-signed-in")
    finally:
        camera.close()

    # 挂失: the teacher revokes it on the class page; a USB scanner typing it is refused.
    code = card.get_attribute("data-badge")
    assert code
    teacher.get_by_role("link", name="返回").click()
    row = teacher.locator("tr", has_text="李逍遥")
    row.get_by_role("button", name="挂失 李逍遥 的登录卡").click()
    with teacher.expect_navigation():
        teacher.get_by_role("dialog").get_by_role("button").last.click()
    assert "已挂失" in teacher.get_by_role("status").first.inner_text()
    shots(teacher, "revoked")

    scanner = new_page(browser, DESKTOP)
    scanner.goto(live_server.url + "/login/badge")
    scanner.get_by_label("扫码枪输入").fill("CIDQR1-" + code)
    with scanner.expect_navigation():
        scanner.get_by_label("扫码枪输入").press("Enter")
    assert "该登录卡已挂失，请联系班主任重新打印。" in scanner.get_by_role("alert").inner_text()
    shots(scanner, "revoked-refused")
    scanner.context.close()

    # The phone pages: the class → 扫码登录卡, the same list (李逍遥 has none now).
    phone = new_page(browser, PHONE, storage_state=teacher.context.storage_state())
    phone.goto(live_server.url + "/m/classes")
    phone.get_by_role("link", name="五年级1班").first.click()
    phone.get_by_role("link", name="扫码登录卡").click()
    phone_row = phone.locator("tr", has_text="李逍遥")
    assert "无" in phone_row.inner_text()
    assert phone.get_by_role("button", name="打印全班登录卡").is_visible()
    shots(phone, "phone-badges")
    phone.context.close()
    teacher.context.close()
