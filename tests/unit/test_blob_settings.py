"""KAPU_BLOB_URL (section 21): which store, and the refusals of what is not one."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from gateway.config import Settings
from gateway.storage.s3blobs import S3Location


def test_default_is_the_data_directory() -> None:
    settings = Settings(data_dir=Path("/srv/kapu"))
    assert settings.blob_dir == Path("/srv/kapu/blobs")
    assert not settings.blobs_in_s3


def test_a_file_url_names_the_directory() -> None:
    settings = Settings(blob_url="file:///mnt/shared/kapu%20blobs")
    assert settings.blob_dir == Path("/mnt/shared/kapu blobs")
    assert not settings.blobs_in_s3


def test_an_s3_url_names_bucket_prefix_endpoint_and_region() -> None:
    settings = Settings(blob_url="s3://kapu/documents/main/?endpoint=http://s3.internal:8333"
                                 "&region=eu-central-1",
                        s3_access_key_id="id", s3_secret_access_key="s3cr3t-value")
    assert settings.blobs_in_s3
    assert "s3cr3t-value" not in repr(settings)
    assert settings.blob_url is not None
    location = S3Location.parse(settings.blob_url)
    assert location == S3Location("kapu", "documents/main/", "http://s3.internal:8333",
                                  "eu-central-1")
    assert S3Location.parse("s3://kapu").prefix == ""


@pytest.mark.parametrize("url", ["http://s3.example/kapu", "s3:///no-bucket", "file://"])
def test_what_is_no_store_is_refused(url: str) -> None:
    with pytest.raises(ValidationError, match="KAPU_BLOB_URL"):
        Settings(blob_url=url)
