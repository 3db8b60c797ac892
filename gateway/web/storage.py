"""The person's own tartós tár: what they keep, keeping a document of their own box, and
taking one out (``/ui/storage``, ``/ui/documents/{rn}/keep``)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.errors import QuotaExceeded
from gateway.services import permanent_storage
from gateway.web.deps import CheckedForm, Person, SeenDocument, keyed, ports_of
from gateway.web.documents import document_view
from gateway.web.pages import finish, render
from gateway.web.refusals import WebRoute

router = APIRouter(route_class=WebRoute)


@router.post("/documents/{registration_number}/keep")
async def keep(request: Request, registration_number: str, form: CheckedForm,
               seen: SeenDocument) -> Response:
    """Keep a document of the person's own box in their tartós tár (keeping is opening). An
    office's document is not theirs: 404; an expired one 410; no room: the page says so
    (413)."""
    async def work() -> Response:
        try:
            await permanent_storage.keep(ports_of(request), seen.person, registration_number)
        except QuotaExceeded:
            return await document_view(request, seen, problem="quota_exceeded",
                                       status_code=413)
        return finish(request, RedirectResponse(
            f"/ui/documents/{registration_number}?kept=1", status_code=303))

    return await keyed(request, form, seen.person, work, lambda: document_view(request, seen),
                       pending=f"/ui/documents/{registration_number}")


async def _storage_page(request: Request, person: Person) -> Response:
    storage = await permanent_storage.contents(ports_of(request), person)
    return render(request, "storage.html", {
        "storage": storage, "deleted": request.query_params.get("deleted")})


@router.get("/storage")
async def storage_page(request: Request, person: Person) -> Response:
    """The person's own tartós tár: what they keep, and how much of the quota it takes."""
    return await _storage_page(request, person)


@router.post("/storage/{registration_number}/delete")
async def delete_kept(request: Request, registration_number: str, form: CheckedForm,
                      person: Person) -> Response:
    """Take a document out of the tartós tár; not kept there: 404."""
    async def work() -> Response:
        await permanent_storage.discard(ports_of(request), person, registration_number)
        return finish(request, RedirectResponse(
            f"/ui/storage?{urlencode({'deleted': registration_number})}", status_code=303))

    return await keyed(request, form, person, work, lambda: _storage_page(request, person),
                       pending="/ui/storage")
