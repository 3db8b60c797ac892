"""An office's admin pages: its staff, an admin leaving it, and its log
(``/ui/offices/{krid}/…``). Admins only: anyone else is answered 404."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.domain.limits import MAX_ID, bounded_int
from gateway.domain.parties import Party, StaffRole
from gateway.errors import LastAdmin, NotFound, TooManyAdmins, UnacceptableText
from gateway.services import staff as staff_service
from gateway.web.deps import CheckedForm, Person, keyed, ports_of
from gateway.web.pages import finish, render
from gateway.web.refusals import WebRoute, refusal

router = APIRouter(route_class=WebRoute)


async def _staff_page(request: Request, person: Party, krid: str, *,
                      problem: str | None = None, done: str | None = None) -> Response:
    office = await staff_service.admin_office(ports_of(request), person, krid)
    _, members = await staff_service.list_staff(ports_of(request), krid=krid)
    return render(request, "staff.html", {
        "office": office, "members": members, "problem": problem, "done": done,
        "form": {} if problem is None else getattr(request.state, "staff_form", {}),
    }, status_code=409 if problem in ("too_many_admins", "last_admin") else
        400 if problem else 200)


@router.get("/offices/{krid}/staff")
async def staff_page(request: Request, krid: str, person: Person) -> Response:
    return await _staff_page(request, person, krid, done=request.query_params.get("done"))


@router.post("/offices/{krid}/staff")
async def change_staff(request: Request, krid: str, form: CheckedForm,
                       person: Person) -> Response:
    ports = ports_of(request)

    async def work() -> Response:
        username, role = str(form.get("person") or "").strip(), str(form.get("role") or "")
        request.state.staff_form = {"person": username, "role": role}
        await staff_service.admin_office(ports, person, krid)  # admins only: 404 else
        try:
            if form.get("action") == "revoke" and username == person.username:
                # Revoking one's own role loses the office's mailbox: irreversible for the
                # person, so nothing is done before its own confirming page.
                return await _leave_page(request, person, krid)
            if form.get("action") == "revoke":
                await staff_service.revoke_role(ports, krid=krid, username=username,
                                                actor=person.username)
            elif role in (r.value for r in StaffRole):
                await staff_service.grant_role(ports, krid=krid, username=username,
                                               role=StaffRole(role), actor=person.username)
            else:
                return await _staff_page(request, person, krid, problem="role")
        except TooManyAdmins:
            return await _staff_page(request, person, krid, problem="too_many_admins")
        except LastAdmin:
            return await _staff_page(request, person, krid, problem="last_admin")
        except (NotFound, UnacceptableText):  # a control character names no person either
            return await _staff_page(request, person, krid, problem="no_person")
        return finish(request, RedirectResponse(
            f"/ui/offices/{krid}/staff?{urlencode({'done': username})}", status_code=303))

    return await keyed(request, form, person, work,
                       lambda: _staff_page(request, person, krid),
                       pending=f"/ui/offices/{krid}/staff")


async def _leave_page(request: Request, person: Party, krid: str) -> Response:
    """The confirmation page, or the staff page saying why the last admin stays (409)."""
    try:
        office = await staff_service.check_leaving(ports_of(request), person, krid)
    except LastAdmin:
        return await _staff_page(request, person, krid, problem="last_admin")
    return render(request, "leave.html", {"office": office})


@router.get("/offices/{krid}/staff/leave")
async def leave_page(request: Request, krid: str, person: Person) -> Response:
    """Revoking one's own role asks first, on a page of its own: the person loses the office's
    mailbox, and only another admin can grant it back."""
    return await _leave_page(request, person, krid)


@router.post("/offices/{krid}/staff/leave")
async def leave(request: Request, krid: str, form: CheckedForm, person: Person) -> Response:
    """The confirmed revocation of the person's own role; the last admin stays (409). Then
    the chooser, where the office is no longer listed."""
    ports = ports_of(request)

    async def work() -> Response:
        await staff_service.admin_office(ports, person, krid)  # admins only: 404 else
        try:
            await staff_service.revoke_role(ports, krid=krid, username=person.username,
                                            actor=person.username)
        except LastAdmin:
            return await _staff_page(request, person, krid, problem="last_admin")
        return finish(request, RedirectResponse("/ui/", status_code=303))

    async def page() -> Response:
        try:
            return await _leave_page(request, person, krid)
        except NotFound as error:  # the form again, for nobody's office: the 404 page (400)
            return refusal(request, error)

    return await keyed(request, form, person, work, page, pending="/ui/")


@router.get("/offices/{krid}/log")
async def office_log(request: Request, krid: str, person: Person) -> Response:
    before = request.query_params.get("before")
    office, entries = await staff_service.office_log(
        ports_of(request), person, krid, before=bounded_int(before, 1, MAX_ID), limit=51)
    older = f"?before={entries[49].id}" if len(entries) > 50 else None
    return render(request, "log.html", {"office": office, "entries": entries[:50],
                                        "older": older})
