"""Every text of the pages is in both catalogues, and translated into Hungarian."""

from __future__ import annotations

import re
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

WEB = Path(__file__).resolve().parents[2] / "gateway" / "web"
_PLACEHOLDER = re.compile(r"%\(\w+\)s")
METHODS = [("**/templates/**.html", "jinja2"), ("**.py", "python")]


def _used() -> set[str]:
    return {message for _file, _line, message, _comments, _context
            in extract_from_dir(str(WEB), METHODS) if isinstance(message, str)}


def _catalogue(language: str) -> dict[str, str]:
    with open(WEB / "locale" / language / "LC_MESSAGES" / "messages.po", "rb") as source:
        catalogue = read_po(source, locale=language)
    return {str(m.id): str(m.string) for m in catalogue if m.id}


def test_every_text_is_in_both_catalogues_and_translated() -> None:
    used = _used()
    assert len(used) > 30  # the extraction found the templates' texts
    hungarian, english = _catalogue("hu"), _catalogue("en")
    assert used <= set(hungarian), sorted(used - set(hungarian))
    assert used <= set(english), sorted(used - set(english))
    untranslated = sorted(text for text in used if not hungarian[text].strip())
    assert not untranslated, untranslated
    for text in used:  # a placeholder the translation drops would lose a value
        assert sorted(_PLACEHOLDER.findall(text)) == \
            sorted(_PLACEHOLDER.findall(hungarian[text])), text
