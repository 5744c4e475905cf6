"""头像 upload over HTTP: type and size checked, re-encoded, shown only to linked parents."""

from __future__ import annotations

import io

from PIL import Image
from tests.support.http import csrf_token, sign_in


def _image(fmt: str, size=(1200, 800), mode="RGB") -> bytes:
    out = io.BytesIO()
    image = Image.new(mode, size, (200, 30, 30) if mode == "RGB" else (200, 30, 30, 128))
    if fmt == "JPEG":
        exif = Image.Exif()
        exif[0x010E] = "secret description"  # ImageDescription
        image.save(out, fmt, exif=exif)
    else:
        image.save(out, fmt)
    return out.getvalue()


def _upload(client, child, data: bytes, filename="a.png", content_type="image/png"):
    return client.post(
        f"/me/children/{child.id}/avatar",
        data={"csrf_token": csrf_token(client)},
        files={"avatar": (filename, data, content_type)},
    )


def test_an_image_is_reencoded_to_a_small_jpeg(client, db, world):
    child = world["lixiaoyao"]
    sign_in(client, "p_lidaniang")
    response = _upload(client, child, _image("JPEG"), "photo.jpg", "image/jpeg")
    assert response.status_code == 303
    assert "头像已更新" in client.get(response.headers["location"]).text

    served = client.get(f"/me/children/{child.id}/avatar")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    image = Image.open(io.BytesIO(served.content))
    assert image.format == "JPEG"
    assert max(image.size) == 256
    assert b"secret description" not in served.content
    assert not image.getexif()


def test_a_transparent_png_is_accepted(client, world):
    child = world["lixiaoyao"]
    sign_in(client, "p_lidaniang")
    assert _upload(client, child, _image("PNG", (300, 300), "RGBA")).status_code == 303
    assert f'src="/me/children/{child.id}/avatar"' in client.get("/me/children").text


def test_what_is_not_an_accepted_image_is_refused(client, db, world, settings):
    child = world["lixiaoyao"]
    sign_in(client, "p_lidaniang")
    cases = [
        (b"<script>alert(1)</script>", "a.png", "image/png", "无法识别的图片文件"),
        (_image("GIF", (50, 50)), "a.gif", "image/gif", "仅支持 JPG、PNG、WEBP"),
        (b"", "a.png", "image/png", "请选择要上传的图片"),
    ]
    for data, name, content_type, message in cases:
        response = _upload(client, child, data, name, content_type)
        assert response.status_code == 400, message
        assert message in response.text
    settings.families_avatar_max_bytes = 1024 * 1024
    big = _image("PNG", (1200, 1200), "RGB")
    big += b"\0" * (1024 * 1024)  # padding after the image: still too many bytes
    response = _upload(client, child, big)
    assert response.status_code == 400
    assert "图片不能超过1MB" in response.text
    db.expire_all()
    assert child.avatar is None


def test_only_linked_parents_see_or_change_the_avatar(client, make_client, db, world):
    child = world["lixiaoyao"]
    sign_in(client, "p_lidaniang")
    assert _upload(client, child, _image("PNG", (64, 64))).status_code == 303
    for login, status in (("p_zhoujia", 404), ("chenxiaokai", 403)):
        other = make_client()
        sign_in(other, login)
        assert other.get(f"/me/children/{child.id}/avatar").status_code == status
        assert _upload(other, child, _image("PNG", (64, 64))).status_code == status
