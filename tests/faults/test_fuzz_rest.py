"""schemathesis drives the REST API of a real server from its own ``/openapi.json``.

Every operation gets generated requests, both fitting the schema (positive) and not fitting it
(negative), authenticated as an office, a citizen, or not at all; path parameters are sometimes
real registration numbers so that the fuzzing reaches past "not found". Checked on every
answer: never a 5xx, never a traceback in a body, and the answer conforms to the document
(status codes, content types, headers and bodies as declared). The server's memory stays flat.
"""

from __future__ import annotations

import base64

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from tests.faults.conftest import SCALE, FuzzTarget, server_rss

# On each database, make test: about 120 cases; make faults (KAPU_FAULTS_SCALE=5): over
# 2,500 (5,000 in all). Of the 26
# operations, 16 take inputs enough for this many cases each; the others (/health, /trust,
# /api/v1/storage …) run out of distinct requests after a dozen.
CASES_PER_OPERATION = 4 if SCALE == 1 else 32 * SCALE
OPERATIONS_WITH_INPUTS = 16
CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
    openapi_checks.negative_data_rejection,
    openapi_checks.ignored_auth,
]
# PUT /api/v1/keys/me takes a PEM certificate: bytes on the wire, like octet-stream.
schemathesis.serializer.alias("application/x-pem-file", "application/octet-stream")
# Growth of the server's resident memory allowed across the whole run.
RSS_GROWTH_BOUND = 24 * 1024 * 1024


def no_traceback(_ctx: object, response: schemathesis.Response, _case: object) -> bool:
    body = response.content or b""
    assert b"Traceback (most recent call last)" not in body, body[:500]
    assert b'File "/' not in body, body[:500]
    return True


def _basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def test_rest_api_answers_every_generated_request_cleanly(
    fuzz_target_on_each_database: FuzzTarget, monkeypatch: pytest.MonkeyPatch,
) -> None:
    fuzz_target = fuzz_target_on_each_database
    # ignored_auth probes every operation with the same made-up credentials; from the sixth
    # probe on, login throttling refuses them 429 too_many_attempts: refused all the same.
    monkeypatch.setattr(openapi_checks, "AUTH_REJECTION_STATUSES", frozenset({401, 403, 429}))
    schema = schemathesis.openapi.from_url(f"{fuzz_target.server.url}/openapi.json")
    # Credentials are the test's (below), not generated; unknown query parameters are ignored
    # by design (as by any HTTP API), so they are no "invalid request" to be refused.
    schema.config.generation.update(with_security_parameters=False,
                                    allow_extra_parameters=False)
    identities = {
        "office": _basic(*fuzz_target.office.auth),
        "citizen": _basic(*fuzz_target.citizen.auth),
        "sender": _basic(*fuzz_target.sender.auth),
    }
    session = requests.Session()
    counted = 0
    warmed = False
    start_rss = 0
    for result in schema.get_all_operations():
        operation = result.ok()
        strategy = st.one_of(operation.as_strategy(GenerationMode.POSITIVE),
                             operation.as_strategy(GenerationMode.NEGATIVE))

        @settings(max_examples=CASES_PER_OPERATION, deadline=None, database=None,
                  suppress_health_check=list(HealthCheck), derandomize=False)
        @given(case=strategy, who=st.sampled_from(sorted(identities)),
               real_number=st.sampled_from([None, *fuzz_target.numbers]))
        def fuzz(case: schemathesis.Case, who: str, real_number: str | None) -> None:
            nonlocal counted
            if real_number and "registration_number" in (case.path_parameters or {}):
                case.path_parameters["registration_number"] = real_number
            case.call_and_validate(session=session, headers={"Authorization": identities[who]},
                                   checks=CHECKS, additional_checks=[no_traceback],
                                   timeout=30)
            counted += 1

        fuzz()
        if not warmed:
            # AVDH loads its PDF, font and shaping libraries on first use (about 30 MiB, once
            # per process): one real authentication before the baseline, so that what is
            # measured is growth, not that first load.
            first = session.post(f"{fuzz_target.server.url}/api/v1/authenticate",
                                 headers={"Authorization": identities["citizen"]},
                                 files={"file": ("warm.txt", b"first use\n")}, timeout=60)
            assert first.status_code == 200, first.text
            start_rss, warmed = server_rss(fuzz_target.server), True
    grown = server_rss(fuzz_target.server) - start_rss
    print(f"{counted} cases; server RSS grew {grown / 2**20:.1f} MiB")
    assert counted >= CASES_PER_OPERATION * OPERATIONS_WITH_INPUTS
    assert grown < RSS_GROWTH_BOUND
