"""头像: uploaded images are checked and re-encoded, never stored or served as uploaded.

Re-encoding with Pillow drops whatever rode along in the file (EXIF with a child's location,
scripts in a polyglot file) and bounds the stored size; the pixel limit is checked before
decoding, so a small file that inflates to gigapixels (a decompression bomb) is refused.
"""

from __future__ import annotations

import io

from PIL import Image, ImageOps, UnidentifiedImageError

from campusid.i18n import N_

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})
AVATAR_SIZE = 256
MAX_PIXELS = 40_000_000
CONTENT_TYPE = "image/jpeg"


class AvatarError(Exception):
    """The upload is not an acceptable image; ``message`` says why, in Chinese."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def reencode_avatar(data: bytes, *, max_bytes: int) -> bytes:
    """Check an uploaded image and return it as a JPEG of at most 256x256 pixels."""
    if not data:
        raise AvatarError(N_("请选择要上传的图片"))
    if len(data) > max_bytes:
        raise AvatarError(N_("图片不能超过%(mb)sMB", mb=max_bytes // (1024 * 1024)))
    try:
        with Image.open(io.BytesIO(data)) as opened:
            if opened.format not in ALLOWED_FORMATS:
                raise AvatarError(N_("仅支持 JPG、PNG、WEBP 格式的图片"))
            if opened.width * opened.height > MAX_PIXELS:
                raise AvatarError(N_("图片尺寸过大"))
            opened.load()
            image = ImageOps.exif_transpose(opened)
            if image.mode in {"RGBA", "LA", "P", "PA"}:
                rgba = image.convert("RGBA")
                image = Image.new("RGB", rgba.size, "white")
                image.paste(rgba, mask=rgba.getchannel("A"))
            else:
                image = image.convert("RGB")
            image.thumbnail((AVATAR_SIZE, AVATAR_SIZE))
            out = io.BytesIO()
            image.save(out, "JPEG", quality=85, optimize=True)
            return out.getvalue()
    except AvatarError:
        raise
    except (UnidentifiedImageError, Image.DecompressionBombError, OSError, ValueError) as exc:
        raise AvatarError(N_("无法识别的图片文件，请上传 JPG、PNG 或 WEBP 图片")) from exc
