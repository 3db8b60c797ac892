"""Hungarian first, English too: the message catalogues and the choice of language.

Every text of the pages goes through ``_`` and the catalogue of the chosen language
(``locale/<lang>/LC_MESSAGES/messages.po``, message ids in English). Babel reads the ``.po``
files and compiles them in memory at start, so no compiled file is kept in the repository.
"""

from __future__ import annotations

from functools import cache
from io import BytesIO
from pathlib import Path

from babel import Locale, negotiate_locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations

LANGUAGES = ("hu", "en")
DEFAULT = "hu"
LOCALE_DIR = Path(__file__).parent / "locale"


@cache
def translations(language: str) -> Translations:
    with open(LOCALE_DIR / language / "LC_MESSAGES" / "messages.po", "rb") as source:
        catalog = read_po(source, locale=language)
    compiled = BytesIO()
    write_mo(compiled, catalog)
    compiled.seek(0)
    return Translations(fp=compiled)


def choose(asked: str | None, remembered: str | None, accept_language: str) -> str:
    """``?lang=`` first, then the language remembered in a cookie, then Accept-Language."""
    for candidate in (asked, remembered):
        if candidate in LANGUAGES:
            return candidate
    wanted = [part.split(";")[0].strip().replace("-", "_")
              for part in accept_language.split(",") if part.strip()]
    return negotiate_locale(wanted, LANGUAGES, sep="_") or DEFAULT


def locale(language: str) -> Locale:
    return Locale.parse(language)
