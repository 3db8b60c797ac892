import pytest

from gateway.domain.documents import UploadRequest, validate_upload
from gateway.errors import FormatNotAllowed, InvalidRequest


def _request(**changes: object) -> UploadRequest:
    fields: dict[str, object] = dict(file_name=" level.pdf ", doc_type_office="H",
                                     doc_type_id="L", doc_type_description="Levél",
                                     recipient_krid="123456789")
    fields.update(changes)
    return UploadRequest(**fields)  # type: ignore[arg-type]


def test_normalises() -> None:
    checked = validate_upload(_request(sha256="AB" * 32, note="  ", reference_number=" R/1 "))
    assert checked.file_name == "level.pdf"
    assert checked.sha256 == "ab" * 32
    assert checked.note is None
    assert checked.reference_number == "R/1"


@pytest.mark.parametrize(("changes", "field"), [
    ({"file_name": ""}, "file_name"),
    ({"file_name": "../../etc/passwd.txt"}, "file_name"),
    ({"recipient_krid": None}, "recipient_krid"),
    ({"recipient_code": "abc"}, "recipient_krid"),
    ({"doc_type_office": ""}, "doc_type_office"),
    ({"doc_type_description": "x" * 256}, "doc_type_description"),
    ({"reference_number": "x" * 51}, "reference_number"),
    ({"sha256": "abc"}, "sha256"),
    ({"sha1": "g" * 40}, "sha1"),
])
def test_names_the_wrong_field(changes: dict[str, object], field: str) -> None:
    with pytest.raises(InvalidRequest) as refused:
        validate_upload(_request(**changes))
    assert refused.value.field == field


def test_format_not_allowed() -> None:
    with pytest.raises(FormatNotAllowed):
        validate_upload(_request(file_name="setup.exe"))


def test_fingerprint_covers_fields_and_content() -> None:
    request = validate_upload(_request())
    assert request.fingerprint("a" * 64) == request.fingerprint("a" * 64)
    assert request.fingerprint("a" * 64) != request.fingerprint("b" * 64)
    assert validate_upload(_request(note="x")).fingerprint("a" * 64) != \
        request.fingerprint("a" * 64)
