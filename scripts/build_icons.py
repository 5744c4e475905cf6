"""Build the icon sprite from Lucide (ISC licence, https://lucide.dev), issue 23.

The pages draw their icons from one file of our own static files,
`src/campusid/static/vendor/lucide/icons.svg`: a `<symbol>` per icon the navigation uses, each
with Lucide's own drawing, referenced as `<svg><use href="…/icons.svg#house"/></svg>`. No CDN,
no font, no script. To add an icon: put its Lucide name in ICONS and run

    npm pack lucide-static@1.87.0 && tar xzf lucide-static-1.87.0.tgz
    .venv/bin/python scripts/build_icons.py package/icons
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

# Lucide's names of the icons the navigation and the home tiles use (campusid/nav.py).
ICONS = [
    "house",  # 个人空间 / 首页
    "users",  # 班级 (the phone's class pages)
    "book-open",  # 任教班级
    "baby",  # 我的孩子
    "user-plus",  # 加入班级
    "layers",  # 年级
    "school",  # 学校管理
    "scroll-text",  # 审计日志
    "headset",  # 客服工作台
    "building-2",  # 平台管理
    "user-round-check",  # 找回密码审核
    "shield-check",  # 账号安全
    "key-round",  # 修改密码
    "message-square",  # 消息
    "user",  # 我
]
TARGET = Path(__file__).resolve().parents[1] / "src/campusid/static/vendor/lucide/icons.svg"


def symbol(name: str, source: str) -> str:
    """The icon's drawing (its elements inside <svg>) as a <symbol> with the icon's name."""
    body = re.search(r"<svg[^>]*>(.*)</svg>", source, re.S)
    if body is None:
        raise SystemExit(f"{name}: not an SVG")
    inner = " ".join(line.strip() for line in body.group(1).strip().splitlines())
    return f'<symbol id="{name}" viewBox="0 0 24 24">{inner}</symbol>'


def main(folder: str) -> None:
    version = re.search(r"lucide-static v([\d.]+)", (Path(folder) / "house.svg").read_text())
    symbols = [symbol(name, (Path(folder) / f"{name}.svg").read_text()) for name in ICONS]
    TARGET.write_text(
        f"<!-- Lucide icons v{version.group(1) if version else '?'} (ISC licence, see LICENSE),"
        " built by scripts/build_icons.py -->\n"
        '<svg xmlns="http://www.w3.org/2000/svg" fill="none" stroke="currentColor"'
        ' stroke-width="2" stroke-linecap="round" stroke-linejoin="round">\n'
        + "\n".join(symbols)
        + "\n</svg>\n",
        encoding="utf-8",
    )
    print(f"{TARGET}: {len(symbols)} icons")


if __name__ == "__main__":
    main(sys.argv[1])
