"""Languages: zh-CN first (the message ids are the Chinese texts), English from a Babel catalog.

Texts written in templates are found by ``pybabel extract`` (``make messages``). Texts made in
Python and shown later through ``_(value)`` in a template (role labels, nav labels, error
messages) are marked with ``N_``, which pybabel extracts too:

- ``N_("请先登录")`` is the text itself, unchanged;
- ``N_("请填写%(label)s", label=N_("校区名称"))`` is a :class:`Text`: it reads as the Chinese
  text (so logs, tests and the Chinese pages see ordinary strings), and ``_()`` in a template
  translates its pattern and its text values (labels such as 小学 are in the catalog; names
  are not, and stay as they are), then fills them in.

Nothing translated carries HTML: ``_()`` escapes the text as well as the values.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import cache
from importlib.resources import files
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations
from jinja2 import Environment, pass_context
from jinja2.runtime import Context
from markupsafe import Markup

LANGUAGES = {"zh_CN": "简体中文", "en": "English"}
DEFAULT_LANGUAGE = "zh_CN"
COOKIE_NAME = "campusid_lang"


class Text(str):
    """A text built from a marked pattern and values; ``str()`` of it is the Chinese text."""

    pattern: str
    params: dict[str, object]

    def __new__(cls, pattern: str, **params: object) -> Text:
        text = super().__new__(cls, pattern % params if params else pattern)
        text.pattern = pattern
        text.params = params
        return text


def mark(message: str, **params: object) -> str:
    """Mark a text for translation where it is shown (``N_``); with values, a :class:`Text`."""
    return Text(message, **params) if params else message


N_ = mark


@cache
def translations(language: str) -> NullTranslations:
    """The catalog for a language; Chinese needs none since the ids are Chinese."""
    if language == DEFAULT_LANGUAGE or language not in LANGUAGES:
        return NullTranslations()
    po_file = files("campusid") / "locale" / language / "LC_MESSAGES" / "messages.po"
    with po_file.open("rb") as handle:
        catalog = read_po(handle, locale=language)
    buffer = io.BytesIO()
    write_mo(buffer, catalog)
    buffer.seek(0)
    return Translations(buffer)


def translate(catalog: NullTranslations, message: str, *, escape: bool = False) -> str:
    """The message in the catalog's language; a :class:`Text` is rebuilt from its pattern.

    With ``escape`` the result is :class:`Markup` with everything escaped: the texts carry no
    HTML, and a text made at run time may hold what someone typed.
    """
    if isinstance(message, Text) and message.params:
        values = {
            key: translate(catalog, value) if isinstance(value, str) else value
            for key, value in message.params.items()
        }
        pattern = catalog.gettext(message.pattern)
        return (Markup.escape(pattern) if escape else pattern) % values
    text = catalog.gettext(str(message) if isinstance(message, Text) else message)
    return Markup.escape(text) if escape else text


def install(env: Environment, language: str) -> None:
    """Give the templates ``_``/``gettext``/``ngettext``/``pgettext`` in the language.

    Like Jinja's "newstyle" gettext, except that the text itself is escaped too (``_(value)``
    shows texts made at run time, which may echo what someone typed) and it is formatted only
    when values are given (such a text may contain ``%``).
    """
    catalog = translations(language)

    @pass_context
    def gettext(context: Context, message: str, **values: Any) -> str:
        text = translate(catalog, message, escape=context.eval_ctx.autoescape)
        return text % values if values else text

    @pass_context
    def ngettext(context: Context, singular: str, plural: str, num: int, **values: Any) -> str:
        text = catalog.ngettext(singular, plural, num)
        if context.eval_ctx.autoescape:
            text = Markup.escape(text)
        return text % {"num": num, **values}

    @pass_context
    def pgettext(context: Context, where: str, message: str, **values: Any) -> str:
        """A text that reads differently in a context (a column of counts: 学生 → Students)."""
        text = str(catalog.pgettext(where, message))
        if context.eval_ctx.autoescape:
            text = Markup.escape(text)
        return text % values if values else text

    callables: dict[str, Callable[..., str]] = {
        "gettext": gettext,
        "ngettext": ngettext,
        "pgettext": pgettext,
        "_": gettext,
    }
    env.globals.update(callables)
    env.newstyle_gettext = True  # type: ignore[attr-defined]


def pick_language(cookie: str | None, accept_language: str | None) -> str:
    """The cookie's choice, else the browser's first supported language, else zh_CN."""
    if cookie in LANGUAGES:
        return str(cookie)
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh_CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE


def from_ui_locales(ui_locales: str | None) -> str | None:
    """The first supported language of an OpenID Connect `ui_locales` list (BCP 47 tags,
    space-separated, preferred first): zh, zh-CN, zh-Hans... are zh_CN; en, en-GB... are en."""
    for tag in (ui_locales or "").split()[:8]:
        tag = tag.lower()
        if tag == "zh" or tag.startswith("zh-"):
            return "zh_CN"
        if tag == "en" or tag.startswith("en-"):
            return "en"
    return None
