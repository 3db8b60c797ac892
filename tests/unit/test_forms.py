"""The form reader's reading of each part's name and file name: the email package's own
(``Message.get_param`` and ``get_filename``), from one parse of ``Content-Disposition``."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from email.message import Message

import pytest
from hypothesis import given
from hypothesis import strategies as st

from gateway.errors import InvalidRequest
from gateway.forms import FieldReader, read_multipart

BOUNDARY = "kapu-test-boundary"


class _Names(FieldReader):
    def __init__(self) -> None:
        super().__init__()
        self.seen: list[tuple[str, str | None]] = []

    def file_begins(self, name: str, file_name: str | None) -> bool:
        self.seen.append((name, file_name))
        return file_name is not None


def _read(headers: list[str]) -> tuple[str, str | None]:
    """What the reader passes to ``file_begins`` for one part with ``headers``."""
    body = (f"--{BOUNDARY}\r\n" + "".join(f"{h}\r\n" for h in headers) + "\r\nvalue\r\n"
            f"--{BOUNDARY}--\r\n").encode()

    async def chunks() -> AsyncIterator[bytes]:
        yield body

    reader = _Names()
    asyncio.run(read_multipart(reader, f"multipart/form-data; boundary={BOUNDARY}", chunks(),
                               "test"))
    [seen] = reader.seen
    return seen


def _email_reading(headers: list[str]) -> tuple[object, str | None]:
    message = Message()
    for header in headers:
        field, _, value = header.partition(":")
        message[field.strip()] = value.strip()
    return (message.get_param("name", header="content-disposition"), message.get_filename())


CASES = [
    ['Content-Disposition: form-data; name="note"'],
    ['Content-Disposition: form-data; name="file"; filename="level.pdf"'],
    ['Content-Disposition: form-data; name="file"; filename="Határozat – végzés.pdf"'],
    ["Content-Disposition: form-data; name=\"file\"; filename*=UTF-8''Hat%C3%A1rozat.pdf"],
    ["Content-Disposition: form-data; name=\"file\"; filename=\"a.pdf\"; "
     "filename*=UTF-8''b%C3%A9.pdf"],
    ['Content-Disposition: form-data; NAME="first"; name="second"; FileName=" padded.pdf "'],
    ['Content-Disposition: form-data; name="file"; filename="a\\"quoted\\".pdf"'],
    ['Content-Disposition: form-data; name=file; filename=bare.pdf'],
    ['Content-Disposition: name="first-segment"'],
    ['Content-Disposition: form-data; name="file"', 'Content-Type: application/pdf; name="ct.pdf"'],
    ['Content-Disposition: form-data; name="file"; filename=""'],
]


@pytest.mark.parametrize("headers", CASES)
def test_names_are_read_as_the_email_package_reads_them(headers: list[str]) -> None:
    assert _read(headers) == _email_reading(headers)


@given(st.lists(st.sampled_from(["name", "NAME", "filename", "filename*", "name*", "other"])
                .flatmap(lambda key: st.tuples(st.just(key), st.text(
                    st.characters(blacklist_categories=("Cs", "Cc")), max_size=12))),
                max_size=4),
       st.booleans())
def test_generated_dispositions_are_read_as_the_email_package_reads_them(
        params: list[tuple[str, str]], quoted: bool) -> None:
    values = [f'{key}="{value}"' if quoted else f"{key}={value}" for key, value in params]
    headers = ["Content-Disposition: " + "; ".join(["form-data", *values])]
    expected = _email_reading(headers)
    if not isinstance(expected[0], str):
        with pytest.raises(InvalidRequest, match="a form part has no name"):
            _read(headers)
    else:
        assert _read(headers) == expected


def test_a_part_without_a_name_is_refused() -> None:
    with pytest.raises(InvalidRequest, match="a form part has no name"):
        _read(['Content-Disposition: form-data; filename="x.pdf"'])
    with pytest.raises(InvalidRequest, match="a form part has no name"):
        _read(["Content-Disposition: form-data; name*=UTF-8''n%C3%A9v"])
