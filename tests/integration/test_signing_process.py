"""Evidence is signed in a child process of the server: a child that dies is replaced, and
what it was signing is signed again — no upload fails, no number is skipped."""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest

from gateway.config import Settings
from gateway.crypto.keys import ensure_keys
from gateway.crypto.signing_process import SigningProcess
from gateway.domain.registration import sequence_of
from tests.conftest import TEST_EPOCH, FixedClock
from tests.helpers import new_org, upload
from tests.integration.conftest import Gateway, _start
from tests.integration.test_evidence import openssl_ts_verify
from tests.integration.test_group_commit import _pdf, _receipts_name_their_own_documents


@pytest.fixture(params=["ecdsa", "rsa"])
def tsa_key_algorithm(request: pytest.FixtureRequest) -> str:
    algorithm: str = request.param
    return algorithm


@pytest.fixture
async def gw(tsa_key_algorithm: str, settings: Settings, clock: FixedClock,
             tmp_path: Path) -> AsyncIterator[Gateway]:
    """The gateway as kapu serve runs it, signing in a child process (the suite's other
    in-process gateways sign in threads): with the default ECDSA timestamping key, whose
    tokens the server signs itself, and with an RSA one, whose tokens the child signs."""
    if tsa_key_algorithm == "rsa":
        keys = tmp_path / "rsa-tsa-keys"
        ensure_keys(keys, now=TEST_EPOCH - timedelta(days=1), tsa_algorithm="rsa")
        settings = settings.model_copy(update={"keys_dir": keys, "tsa_key_algorithm": "rsa"})
    async for gateway in _start(settings, clock, signing_process=True):
        yield gateway


async def test_ecdsa_tokens_are_signed_in_the_server_rsa_ones_in_the_child(
    gw: Gateway, tsa_key_algorithm: str, tmp_path: Path
) -> None:
    signer = gw.ports.evidence_signer
    assert isinstance(signer, SigningProcess)
    ecdsa = tsa_key_algorithm == "ecdsa"
    assert signer.timestamps_here is ecdsa
    digest = hashlib.sha256(b"level").hexdigest()
    token = await signer.timestamp(digest, gw.clock.now())
    assert (signer.pid is None) is ecdsa  # the child starts at its first job
    ca = (await gw.client.get("/api/v1/trust")).content
    assert openssl_ts_verify(token, digest, ca, tmp_path, gw.clock.now())
    assert not openssl_ts_verify(token, hashlib.sha256(b"other").hexdigest(), ca, tmp_path,
                                 gw.clock.now())


async def test_a_signing_process_killed_between_and_during_uploads_is_replaced(
    gw: Gateway, tmp_path: Path
) -> None:
    sender, office = await new_org(gw.ports), await new_org(gw.ports)
    signer = gw.ports.evidence_signer
    assert isinstance(signer, SigningProcess)
    statuses: list[int] = []
    numbers: dict[str, int] = {}  # registration number: the index of the content sent

    async def send(index: int) -> None:
        answer = await upload(gw.client, sender, office, _pdf(index),
                              file_name=f"level-{index}.pdf")
        statuses.append(answer.status_code)
        numbers[answer.json()["registration_number"]] = index

    await send(0)
    first_child = signer.pid
    assert first_child is not None
    os.kill(first_child, signal.SIGKILL)  # between uploads: the next ones find it dead
    await asyncio.gather(*(send(index) for index in range(1, 5)))
    second_child = signer.pid
    assert second_child not in (None, first_child)
    # During uploads: killed while they wait for their receipts (and RSA timestamps).
    sending = asyncio.gather(*(send(index) for index in range(5, 9)))
    while not signer.unanswered:  # every loop turn: a job waits at least one for its answer
        assert not sending.done(), "the uploads ended before the child could be killed"
        await asyncio.sleep(0)
    os.kill(second_child, signal.SIGKILL)
    await sending
    assert statuses == [201] * 9
    assert sorted(sequence_of(number) for number in numbers) == list(range(1, 10))
    await _receipts_name_their_own_documents(
        gw, sender, list(numbers), [_pdf(index) for index in numbers.values()], tmp_path)
