"""``/hkp``: the WSDL and XSDs, and the SOAP 1.1 endpoint.

A request that cannot be read as a SOAP 1.1 message gets HTTP 400 and a SOAP Fault; everything
else HTTP 200 with an ``iop:Valasz`` (a Form, or a HibaUzenet naming what is wrong).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from functools import cache

import structlog
from fastapi import APIRouter, HTTPException, Request, Response
from fastapi.responses import StreamingResponse
from lxml import etree
from python_multipart.multipart import parse_options_header
from starlette.requests import ClientDisconnect

from gateway.clients import client_address
from gateway.domain.parties import Party
from gateway.errors import (
    Forbidden,
    GatewayError,
    InvalidRequest,
    MalformedMessage,
    UnknownService,
)
from gateway.hkp import render
from gateway.hkp.envelope import (
    Kerdes,
    declared_digests,
    find_kerdes,
    resolve_xop,
    username_token,
)
from gateway.hkp.mime import RelatedMessage, content_id_key, receive_related
from gateway.hkp.operations import OPERATIONS, Answer, Context
from gateway.hkp.xml import (
    HKP,
    IOP,
    MAX_ENVELOPE_BYTES,
    SOAP11,
    WSSE,
    HeaderWatch,
    child,
    parse_envelope,
    validate_kerdes,
)
from gateway.resources import resource_dir
from gateway.services.auth import CredentialCache, authenticate
from gateway.services.ports import Ports
from gateway.services.staged_uploads import StagedUploads

# structlog: these lines carry the request's X-Request-ID (bound by ops/requests.py).
log = structlog.get_logger("kapu.hkp")
router = APIRouter()
SCHEMAS = ("iop.xsd", "hkp.xsd", "kri.xsd", "hirdetmeny.xsd")
_WSDL_ADDRESS = 'location="http://127.0.0.1:8080/hkp"'
_WSDL_SCHEMAS = 'schemaLocation="../schemas/'


@cache
def _wsdl_template() -> str:
    return (resource_dir("wsdl") / "hkp.wsdl").read_text(encoding="utf-8")


@router.get("/hkp", include_in_schema=False)
async def wsdl(request: Request) -> Response:
    """``GET /hkp?wsdl``: the WSDL, its address and schema locations at ``KAPU_PUBLIC_URL``.
    Never the request's ``Host`` header: anyone may send one, and a client that fetched the
    WSDL through a poisoned cache or proxy would post its documents and passwords there."""
    if "wsdl" not in {key.lower() for key in request.query_params}:
        raise HTTPException(404, "GET /hkp?wsdl serves the WSDL; SOAP requests are POSTed")
    ports: Ports = request.app.state.ports
    base = ports.public_url.rstrip("/") + "/"
    text = (_wsdl_template()
            .replace(_WSDL_ADDRESS, f'location="{base}hkp"')
            .replace(_WSDL_SCHEMAS, f'schemaLocation="{base}hkp/schemas/'))
    return Response(text, media_type="text/xml; charset=utf-8")


@router.get("/hkp/schemas/{name}", include_in_schema=False)
async def schema(name: str) -> Response:
    if name not in SCHEMAS:
        raise HTTPException(404, f"no schema {name}")
    content = (resource_dir("schemas") / name).read_bytes()
    return Response(content, media_type="text/xml; charset=utf-8")


def _media_type(value: str) -> tuple[str, dict[bytes, bytes]]:
    kind, params = parse_options_header(value)
    # Real clients quote the type itself: Content-Type: "text/xml"; charset=utf-8
    return kind.decode("latin-1").strip().strip('"').lower(), params


class _Login:
    """The request's party, from the envelope's UsernameToken: for SOAP with Attachments
    checked as soon as the envelope part has been read, before any attachment is staged."""

    def __init__(self, request: Request, ports: Ports) -> None:
        self._request = request
        self._ports = ports
        self.envelope: etree._Element | None = None
        self.party: Party | None = None

    async def check_envelope(self, envelope_bytes: bytes) -> dict[str, str]:
        """Parse the envelope part and check its credentials (raises to refuse); the SHA-256
        its documents declare, by attachment."""
        self.envelope = parse_envelope(envelope_bytes)
        _name_operation(self._request, find_kerdes(self.envelope))  # 20 before 10, as below
        await self.authenticate(self.envelope)
        return declared_digests(self.envelope)

    async def check_header(self, root: etree._Element) -> None:
        """Check the credentials of a plain envelope whose Header has arrived (its Body not yet:
        ``root`` is the envelope so far). Refuses only wrong or throttled credentials; an
        envelope without a UsernameToken is read whole and answered as before."""
        if any(header.find(f"{{{WSSE}}}Security/{{{WSSE}}}UsernameToken") is not None
               for header in root.iterchildren(f"{{{SOAP11}}}Header")):
            self.envelope = root
            await self.authenticate(root)

    async def authenticate(self, envelope: etree._Element) -> Party:
        if self.party is None:
            username, password = username_token(envelope)
            cache: CredentialCache = self._request.app.state.credential_cache
            self.party = await authenticate(self._ports, cache, username, password,
                                            address=client_address(self._request.scope))
            self._request.state.party = self.party.username
        return self.party


async def _read_envelope(body: AsyncIterator[bytes], login: _Login) -> bytes:
    """A plain envelope's bytes; its credentials checked as soon as its Header has arrived,
    so a request with wrong ones is refused (``login.check_header`` raises) having been read no
    further than that."""
    data = bytearray()
    too_large = False
    watch = HeaderWatch()
    async for chunk in body:
        if len(data) + len(chunk) > MAX_ENVELOPE_BYTES:
            too_large = True  # keep reading, and dropping, so the client gets our answer
            continue
        data += chunk
        header = watch.feed(chunk)
        if header is not None:
            await login.check_header(header)
    if too_large:
        raise MalformedMessage(f"the envelope is larger than {MAX_ENVELOPE_BYTES} bytes "
                               "(send documents as attachments)")
    return bytes(data)


async def _receive(
    request: Request, uploads: StagedUploads, login: _Login
) -> tuple[etree._Element, RelatedMessage | None]:
    kind, params = _media_type(request.headers.get("content-type", ""))
    if kind == "multipart/related":
        boundary = params.get(b"boundary")
        if not boundary:
            raise MalformedMessage("multipart/related without a boundary")
        start = params.get(b"start")
        message = await receive_related(
            boundary, content_id_key(start.decode("latin-1")) if start else None,
            request.stream(), uploads.stage, login.check_envelope,
        )
        assert login.envelope is not None  # check_envelope ran, or receive_related raised
        return login.envelope, message
    if kind == "application/soap+xml":
        raise MalformedMessage("SOAP 1.2 is not supported: send a SOAP 1.1 envelope as text/xml")
    if kind not in ("text/xml", "application/xml", "application/xop+xml"):
        raise MalformedMessage(f"Content-Type {kind or 'none'} is not SOAP 1.1 (text/xml) "
                               "or SOAP with attachments (multipart/related)")
    return parse_envelope(await _read_envelope(request.stream(), login)), None


@router.post("/hkp", include_in_schema=False)
async def endpoint(request: Request) -> Response:
    ports: Ports = request.app.state.ports
    session_id = uuid.uuid4().hex
    request.state.hkp_session_id = session_id
    login = _Login(request, ports)
    # Attachments and inline contents not accepted by the time the answer is built (refused,
    # named by no document, a malformed body) are removed as the block ends.
    async with StagedUploads(ports) as uploads:
        try:
            envelope, message = await _receive(request, uploads, login)
        except ClientDisconnect:
            return Response(status_code=400)
        except MalformedMessage as exc:
            request.state.hkp_operation = "fault"
            log.warning("soap_fault", reason=exc.detail, session_id=session_id)
            return Response(render.fault(exc.detail), status_code=400,
                            media_type="text/xml; charset=utf-8")
        except GatewayError as refusal:
            # The envelope part's credentials (or its Kerdes) were refused: answered now, with
            # no attachment staged and the rest of the body unread.
            assert login.envelope is not None
            return await _answer(request, ports, session_id, login.envelope, None, uploads,
                                 login, refusal)
        return await _answer(request, ports, session_id, envelope, message, uploads, login)


async def _answer(
    request: Request, ports: Ports, session_id: str, envelope: etree._Element,
    message: RelatedMessage | None, uploads: StagedUploads, login: _Login,
    refusal: GatewayError | None = None,
) -> Response:
    kerdes: Kerdes | None = None
    answer: Answer | None = None
    hiba: tuple[int, str] | None = None
    try:
        if refusal is not None:
            # Refused from the envelope's Header, perhaps before its Body arrived.
            with contextlib.suppress(GatewayError):
                kerdes = find_kerdes(envelope)
            raise refusal
        kerdes = find_kerdes(envelope)
        answer = await _dispatch(request, ports, envelope, kerdes, message, uploads, login)
        body = _valasz(ports, session_id, kerdes, answer.form, None)
        if answer.record is not None:
            # Downloads are recorded only now that their answer is built.
            await answer.record()
    except GatewayError as error:
        answer, hiba = None, (render.szam_of(error), error.detail)
        request.state.hkp_outcome = f"hiba_{hiba[0]}"
    except Exception:
        log.exception("hkp_internal_error", session_id=session_id)
        answer = None
        hiba = (render.INTERNAL_ERROR,
                f"internal error; quote kri:sessionID {session_id} when reporting it")
    if answer is None:
        body = _valasz(ports, session_id, kerdes, None, hiba)
    if answer is None or not answer.parts:
        return Response(body, media_type="text/xml; charset=utf-8")
    boundary = render.new_boundary()
    return StreamingResponse(
        render.multipart_related(boundary, body, answer.parts),
        media_type=(f'multipart/related; type="text/xml"; start="<envelope>"; '
                    f'boundary="{boundary}"'),
    )


def _valasz(ports: Ports, session_id: str, kerdes: Kerdes | None,
            form: list[etree._Element] | None, hiba: tuple[int, str] | None) -> bytes:
    return render.valasz(
        session_id=session_id,
        felhasznalo=(kerdes.felhasznalo if kerdes and kerdes.felhasznalo else "") or "",
        now=ports.clock.now(), session=kerdes.session if kerdes else (), form=form, hiba=hiba,
    )


def _name_operation(request: Request, kerdes: Kerdes) -> etree._Element | None:
    """The ``Szolgaltatas`` element (None: missing); its name goes into the request's log."""
    parancs_element = child(kerdes.element, "Parancs", IOP)
    named = child(parancs_element, "Szolgaltatas", IOP) if parancs_element is not None else None
    named_service = (named.text or "").strip() if named is not None else ""
    request.state.hkp_operation = named_service if named_service in OPERATIONS else "unknown"
    return named


async def _dispatch(
    request: Request, ports: Ports, envelope: etree._Element, kerdes: Kerdes,
    message: RelatedMessage | None, uploads: StagedUploads, login: _Login,
) -> Answer:
    named = _name_operation(request, kerdes)
    named_service = (named.text or "").strip() if named is not None else ""
    party = await login.authenticate(envelope)
    if not party.is_organisation:
        raise Forbidden("the machine interface is for organisations; citizens use the REST API")
    if named is None:
        validate_kerdes(kerdes.element)  # names the missing Parancs or Szolgaltatas (20)
    # The service is chosen before the Form is validated: an unknown Szolgaltatas is 21
    # whatever its Form holds.
    operation = OPERATIONS.get(named_service)
    if operation is None:
        raise UnknownService(f"unknown Szolgaltatas {named_service!r}; known: "
                             f"{', '.join(sorted(OPERATIONS))}")
    resolve_xop(kerdes.element)
    validate_kerdes(kerdes.element)
    form = child(kerdes.element, "Form", IOP)
    payload = form[0] if form is not None and len(form) else None
    if payload is None or payload.tag != f"{{{HKP}}}{operation.form}":
        raise InvalidRequest(f"{named_service} takes a hkp:{operation.form} in its Form")
    return await operation.handler(Context(ports, party, message, uploads), payload)
