"""``kapu keys init``, ``kapu audit verify`` and ``kapu blobs gc``: the gateway's keys, its
audit chain and its blob store."""

from __future__ import annotations

import json
import sys
from typing import Any

from gateway.cli.common import fail, migrate, show, with_ports
from gateway.config import Settings


def keys_init(settings: Settings, as_json: bool) -> int:
    from gateway.crypto.keys import ensure_keys

    if settings.environment == "production":
        fail(2, "production uses the key files named in settings; keys init is for "
                "development and test installations")
    keys, created = ensure_keys(settings.key_directory, algorithm=settings.key_algorithm,
                                tsa_algorithm=settings.tsa_key_algorithm)
    show({
        "directory": str(settings.key_directory.resolve()), "created": created,
        "ca_subject": keys.ca_cert.subject.rfc4514_string(),
        "ca_not_after": keys.ca_cert.not_valid_after_utc.isoformat(),
    }, as_json)
    return 0


def audit_verify(settings: Settings, as_json: bool) -> int:
    from gateway.services.audit import verify_audit

    migrate(settings, announce=False)
    checked, fault = with_ports(settings, verify_audit)
    report: dict[str, Any] = {"intact": fault is None, "entries_checked": checked}
    if fault is not None:
        report |= {"first_bad_entry": fault.sequence, "reason": fault.reason}
    if as_json:
        print(json.dumps(report))
    elif fault is None:
        print(f"audit chain intact: {checked} entries")
    else:
        print(f"audit chain BROKEN at entry {fault.sequence}: {fault.reason} "
              f"({checked} entries before it are intact)")
    return 0 if fault is None else 1


def blobs_gc(settings: Settings, grace: float | None, as_json: bool) -> int:
    from gateway.services.blob_gc import collect_blob_garbage
    from gateway.services.ports.storage import BlobGcReport

    migrate(settings, announce=False)
    grace = settings.blob_gc_grace_seconds if grace is None else grace

    def progress(done: BlobGcReport) -> None:
        print(f"kapu: blobs gc: {done.examined} examined, {done.removed} removed…",
              file=sys.stderr)

    where = settings.blob_url if settings.blobs_in_s3 else settings.blob_dir
    print(f"kapu: blobs gc: files older than {grace:g} s in {where}", file=sys.stderr)
    done = with_ports(settings, lambda ports: collect_blob_garbage(ports, grace, progress))
    print(f"kapu: blobs gc: {done.examined} examined, {done.removed} removed, "
          f"{done.placed} placed after an interrupted upload, {done.aborted_uploads} "
          "unfinished multipart uploads aborted", file=sys.stderr)
    if as_json:
        # aborted_uploads: unfinished multipart uploads of an S3 store; none on a filesystem.
        print(json.dumps({"examined": done.examined, "removed": done.removed,
                          "placed": done.placed, "aborted_uploads": done.aborted_uploads}))
    return 0
