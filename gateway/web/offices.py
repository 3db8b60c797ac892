"""An office's admin pages: its staff, an admin leaving it, its log and its e-Papír topics
(``/ui/offices/{krid}/…``). Admins only: anyone else is answered 404."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import RedirectResponse, Response

from gateway.domain.epapir import (
    MAX_TOPICS,
    TOPIC_CODE_MAX_CHARS,
    TOPIC_NAME_MAX_CHARS,
    TopicRefusal,
    read_topics,
)
from gateway.domain.limits import MAX_ID, bounded_int
from gateway.domain.parties import Party, StaffRole
from gateway.errors import LastAdmin, NotFound, TooManyAdmins, UnacceptableText
from gateway.services import staff as staff_service
from gateway.services import topics as topic_service
from gateway.services.ports.parties import Topic
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


def _topic_lines(text: str) -> tuple[list[str], list[int]]:
    """The textarea's non-blank lines, and the line number of each (for the error sentence)."""
    lines = text.replace("\r\n", "\n").split("\n")
    kept = [(number, line) for number, line in enumerate(lines, start=1) if line.strip()]
    return [line for _, line in kept], [number for number, _ in kept]


async def _topics_page(request: Request, person: Party, krid: str, *, given: str | None = None,
                       refusal: TopicRefusal | None = None, line: int = 0) -> Response:
    ports = ports_of(request)
    office = await staff_service.admin_office(ports, person, krid)  # admins only: 404 else
    own = await topic_service.topics_set(ports, krid)  # NotFound for a company or the like
    offered = await topic_service.office_topics(ports, krid)
    return render(request, "topics.html", {
        "office": office, "own": own, "offered": offered, "refusal": refusal, "line": line,
        "given": given if given is not None else
        "\n".join(f"{topic.code} = {topic.name}" for topic in own),
        "done": request.query_params.get("done"), "max_topics": MAX_TOPICS,
        "code_chars": TOPIC_CODE_MAX_CHARS, "name_chars": TOPIC_NAME_MAX_CHARS,
    }, status_code=400 if refusal else 200)


@router.get("/offices/{krid}/topics")
async def topics_page(request: Request, krid: str, person: Person) -> Response:
    return await _topics_page(request, person, krid)


@router.post("/offices/{krid}/topics")
async def change_topics(request: Request, krid: str, form: CheckedForm,
                        person: Person) -> Response:
    """Replace the office's topics with the form's, one ``CODE = Name`` a line (none: the
    office offers ALTALANOS); a refusal shows the form again with the line at fault."""
    ports = ports_of(request)
    given = str(form.get("topics") or "")

    async def work() -> Response:
        office = await staff_service.admin_office(ports, person, krid)  # admins only: 404 else
        entries, numbers = _topic_lines(given)
        read = read_topics(entries)
        if isinstance(read, TopicRefusal):
            line = numbers[read.position - 1] if 0 < read.position <= len(numbers) else 0
            return await _topics_page(request, person, krid, given=given, refusal=read,
                                      line=line)
        _, saved = await topic_service.set_topics(
            ports, krid, [Topic(code, name) for code, name in read],
            actor=office.username, person=person.username)
        return finish(request, RedirectResponse(
            f"/ui/offices/{krid}/topics?{urlencode({'done': len(saved)})}", status_code=303))

    return await keyed(request, form, person, work,
                       lambda: _topics_page(request, person, krid, given=given),
                       pending=f"/ui/offices/{krid}/topics")
