"""The English catalog covers every text of the pages, and translating keeps pages safe."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import pytest
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.pofile import read_po
from babel.support import NullTranslations
from jinja2 import Environment
from markupsafe import Markup

import campusid
from campusid.i18n import N_, Text, install, translate, translations

SOURCE = Path(campusid.__file__).parent
PLACEHOLDER = re.compile(r"%\(\w+\)s|\{\w+\}")


def extracted() -> dict[str, str]:
    """Every text `make messages` finds (templates, and N_/_ in Python), with where it is."""
    method_map = [("templates/**.html", "jinja2"), ("**.py", "python")]
    options_map = {"templates/**.html": {"extensions": "jinja2.ext.i18n"}}
    keywords = {**DEFAULT_KEYWORDS, "N_": None}
    found: dict[str, str] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        str(SOURCE), method_map, options_map, keywords=keywords
    ):
        for text in message if isinstance(message, tuple) else (message,):
            if text:
                found.setdefault(text, f"{filename}:{lineno}")
    return found


def _strings(message) -> tuple[str, ...]:  # type: ignore[no-untyped-def]
    """A message's translations: one, or one per plural form."""
    string = message.string
    return string if isinstance(string, tuple) else (string,)


@pytest.fixture(scope="module")
def catalog():  # type: ignore[no-untyped-def]
    po = files("campusid") / "locale" / "en" / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as handle:
        return read_po(handle, locale="en")


def test_the_templates_have_texts_to_translate():
    texts = extracted()
    assert "个人空间" in texts  # a template text
    assert "班主任" in texts  # a role label marked N_ in Python
    assert "请填写%(label)s" in texts  # a pattern with values


def test_every_text_has_an_english_translation(catalog):
    missing = []
    for text, where in extracted().items():
        message = catalog.get(text)
        if message is None or not all(_strings(message)) or message.fuzzy:
            missing.append(f"{where}: {text}")
    assert not missing, (
        "texts without an English translation (run `make messages`, translate them in "
        "src/campusid/locale/en/LC_MESSAGES/messages.po):\n" + "\n".join(missing)
    )


def test_translations_keep_their_placeholders_and_carry_no_markup(catalog):
    for message in catalog:
        if not message.id:
            continue
        # A plural message (ngettext) has two ids and a string per plural form.
        ids = message.id if isinstance(message.id, tuple) else (message.id,)
        strings = message.string if isinstance(message.string, tuple) else (message.string,)
        for string in strings:
            assert set(PLACEHOLDER.findall(ids[0])) == set(PLACEHOLDER.findall(string)), ids
            assert not re.search(r"[<>]", string), ids  # _() escapes everything


def test_the_catalog_holds_no_obsolete_or_fuzzy_entries(catalog):
    assert not catalog.obsolete
    assert not [m.id for m in catalog if m.id and m.fuzzy]


def test_a_text_with_values_reads_as_the_chinese_text():
    text = N_("请填写%(label)s", label=N_("校区名称"))
    assert text == "请填写校区名称"
    assert isinstance(text, str)
    assert N_("请先登录") == "请先登录"
    assert type(N_("请先登录")) is str


def test_a_text_with_values_is_translated_with_its_values():
    english = translations("en")
    text = N_("请填写%(label)s", label=N_("校区名称"))
    assert translate(english, text) == "Please fill in: Campus name"
    nested = N_("与%(row)s是同一学生，请勿重复填写", row=N_("第%(n)s行", n=3))
    assert translate(english, nested) == "Same student as row 3; please list each student once"
    assert translate(NullTranslations(), nested) == "与第3行是同一学生，请勿重复填写"


def render(language: str, source: str, **context: object) -> str:
    env = Environment(autoescape=True, extensions=["jinja2.ext.i18n"])
    install(env, language)
    return env.from_string(source).render(context)


def test_values_and_dynamic_texts_are_escaped():
    typed = '<script>alert("x")</script> 100%'
    assert "<script>" not in render("en", "{{ _(v) }}", v=typed)
    assert "&lt;script&gt;" in render("en", "{{ _(v) }}", v=typed)
    campus = Text("校区「%(name)s」已存在", name=typed)
    shown = render("en", "{{ _(v) }}", v=campus)
    assert shown.startswith("The campus &#34;&lt;script&gt;")
    assert shown.endswith("100%&#34; already exists")
    assert render("zh_CN", "{{ _(v) }}", v=campus).startswith("校区「&lt;script&gt;")


def test_a_dynamic_text_with_a_percent_sign_does_not_break_the_page():
    assert render("en", "{{ _(v) }}", v="50% off") == "50% off"
    assert render("zh_CN", "{{ _(v) }}", v="50%") == "50%"
    assert render("en", '{{ _("请输入发送至新%(what)s的验证码", what=_("邮箱")) }}') == (
        "Enter the code sent to the new Email"
    )


def test_markup_passed_to_gettext_is_not_escaped_twice():
    assert render("en", '{{ _(_("保存")) }}') == "Save"
    assert render("en", "{{ _(v) }}", v=Markup("<b>kept</b>")) == "<b>kept</b>"
