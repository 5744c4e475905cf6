"""Chinese texts use full-width punctuation: ，：？（）！； never , : ? ( ) ! ; next to Chinese.

Checked where a reader meets them: the templates' own text, every message of the catalog (texts
marked in the templates and the Python sources), the demo accounts' labels and the texts of
every SMS and mail. Not prose, and so not checked: template code (``{{ }}``, ``{% %}``, comments),
attributes nobody sees (class, href, data-*, …), placeholders (``%(name)s``, ``{code}``), times
(12:30) and addresses (https://).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir

import campusid
from campusid.demo import DEMO_ACCOUNTS
from campusid.senders import MAIL_TEMPLATES, SMS_TEMPLATES

SOURCE = Path(campusid.__file__).parent
TEMPLATES = SOURCE / "templates"

CJK = re.compile("[\u3400-\u9fff\u3000-\u303f\uff00-\uffef\u201c\u201d]")
HALF_WIDTH = ",:?()!;"
PLACEHOLDER = re.compile(r"%\([A-Za-z_]\w*\)[sd]?|\{[A-Za-z_]\w*\}")


def _exempt(text: str, i: int, placeholders: set[int]) -> bool:
    if i in placeholders:
        return True
    before, after = text[i - 1 : i], text[i + 1 : i + 3]
    if text[i] == ":" and before.isdigit() and after[:1].isdigit():
        return True  # a time: 12:30
    return text[i] == ":" and after == "//"  # an address: https://


def _neighbour(text: str, i: int, step: int, placeholders: set[int]) -> str:
    """The character next to ``text[i]``, looking past spaces and placeholders."""
    j = i + step
    while 0 <= j < len(text) and (text[j] == " " or j in placeholders):
        j += step
    return text[j] if 0 <= j < len(text) else ""


def half_width(text: str) -> list[str]:
    """Half-width punctuation next to a Chinese character, in context (parentheses as pairs)."""
    placeholders = {i for m in PLACEHOLDER.finditer(text) for i in range(m.start(), m.end())}
    partner: dict[int, int] = {}
    opened: list[int] = []
    for i, char in enumerate(text):
        if _exempt(text, i, placeholders):
            continue
        if char == "(":
            opened.append(i)
        elif char == ")" and opened:
            partner[i] = opened.pop()
            partner[partner[i]] = i
    hits: set[int] = set()
    for i, char in enumerate(text):
        if char not in HALF_WIDTH or _exempt(text, i, placeholders):
            continue
        near = _neighbour(text, i, -1, placeholders) + _neighbour(text, i, 1, placeholders)
        if CJK.search(near):
            hits |= {i, partner.get(i, i)}
    return [text[max(0, i - 12) : i + 13] for i in sorted(hits)]


# --------------------------------------------------------------------------- the checker itself


@pytest.mark.parametrize(
    "text",
    [
        "在「成员」里选择一名学生,即可给他发消息",
        "(2022级)",
        "输入班级编码(如 gu22cm)",
        "确定拒绝%(name)s的入班申请吗?",
        "验证码为{code},10分钟内有效",
        "%(teacher)s老师(%(class_name)s)",
        "下次开放: %(when)s",
    ],
)
def test_half_width_next_to_chinese_is_found(text):
    assert half_width(text)


@pytest.mark.parametrize(
    "text",
    [
        "在「成员」里选择一名学生，即可给他发消息",
        "（2022级）",
        "%(name)s：%(value)s",
        "时间 12:30 开始",
        "本机调试可用 http://127.0.0.1",
        "Homeroom teacher: %(name)s",
        "%(teacher)s老师（%(class_name)s）",
    ],
)
def test_full_width_and_non_prose_pass(text):
    assert not half_width(text)


# ------------------------------------------------------------------------- where readers meet them

JINJA_COMMENT = re.compile(r"\{#.*?#\}", re.S)
JINJA_CODE = re.compile(r"\{\{.*?\}\}|\{%.*?%\}", re.S)
STRING = re.compile(r"\"([^\"]*)\"|'([^']*)'")
HIDDEN_ATTRIBUTE = re.compile(
    r"\s(?:class|id|name|for|type|href|src|action|method|style|role|hx-[\w-]+|"
    r"data-(?!confirm)[\w-]+)=\"[^\"]*\""
)


def template_text(source: str) -> str:
    """What a template shows of its own: its text, with each piece of code replaced by the
    Chinese it holds (``{{ _("下次开放") }}:`` reads 下次开放:), hidden attributes dropped."""

    def blank(match: re.Match[str]) -> str:
        return " " + "\n" * match.group(0).count("\n")

    source = JINJA_COMMENT.sub(blank, source)
    source = re.sub(r"<(script|style)\b.*?</\1>", blank, source, flags=re.S)

    def shown(code: re.Match[str]) -> str:
        texts = [a or b for a, b in STRING.findall(code.group(0))]
        lines = "\n" * code.group(0).count("\n")  # so that line numbers stay right
        return (" ".join(t for t in texts if CJK.search(t)) or " ") + lines

    source = JINJA_CODE.sub(shown, source)
    return HIDDEN_ATTRIBUTE.sub(" ", source)


def test_templates_use_full_width_punctuation():
    found = {}
    for path in sorted(TEMPLATES.rglob("*.html")):
        for number, line in enumerate(template_text(path.read_text("utf-8")).splitlines(), 1):
            if hits := half_width(line):
                found[f"{path.relative_to(TEMPLATES)}:{number}"] = hits
    assert not found, found


def test_catalog_messages_use_full_width_punctuation():
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    options_map = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(SOURCE), method_map, options_map, keywords=keywords
    ):
        for text in message if isinstance(message, tuple) else (message,):
            if text and (hits := half_width(text)):
                found[f"{filename}:{lineno}"] = hits
    assert len(found) == 0, found


def test_demo_and_sent_texts_use_full_width_punctuation():
    texts = [t for a in DEMO_ACCOUNTS for t in (a.real_name, a.role, a.note)]
    texts += [*SMS_TEMPLATES.values(), *(t for pair in MAIL_TEMPLATES.values() for t in pair)]
    found = {text: hits for text in texts if (hits := half_width(text))}
    assert not found, found


def test_script_texts_use_full_width_punctuation():
    """The texts app.js shows (toasts, the confirmation dialog, form hints)."""
    found = {}
    for path in sorted((SOURCE / "static").glob("*.js")):
        for number, line in enumerate(path.read_text("utf-8").splitlines(), 1):
            for a, b in STRING.findall(line):
                if hits := half_width(a or b):
                    found[f"{path.name}:{number}"] = hits
    assert not found, found
