"""Admission control by class (overload): uploads and acknowledgements are kept, listings,
the office directory, status and the web pages are shed first with ``503 overloaded``.

Each class has a concurrency limit and a bounded FIFO queue; nothing else grows with the load
(one future per queued request, at most ``queue`` of them per class). A request is refused at
once when its class's slots and queue are full, or when a class that outranks it has had all
its slots taken or a queue for ``patience`` seconds (breaks shorter than PRESSURE_GAP of it
aside): work that outranks it is already as much as the gateway lets in. Then a freed slot of
a lower class goes to no one, and the requests queued for it are refused. A queued request
waits at most its class's ``wait`` seconds. ``/health``, ``/ready`` and ``/metrics`` are never
counted or shed. A client this process already refuses for the username it claims (login
throttling, services/auth.py) is answered before it takes a slot or a queue place.

Slots bound concurrency, not the CPU and database time a class takes from the others on a
shared machine: the sheddable class's limit therefore also follows the deadline class's own
health (ShedControl, AIMD on windows as CoDel judges a standing queue). While the median
latency of uploads and acknowledgements (arrival to answer) stays above a target for a whole
interval, the sheddable class gets half its slots, a shorter queue and wait; after each
interval at or under the target it gets one slot back, up to the configured limit.

A pure ASGI middleware (a BaseHTTPMiddleware would buffer streamed downloads). asyncio offers
no bounded priority semaphore with refusals, hence the few lines here.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import re
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import IntEnum

from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from gateway.clients import client_address
from gateway.errors import Overloaded, TooManyAttempts
from gateway.hkp import render
from gateway.ops import metrics
from gateway.ops.shedding import Health, Limits, ShedControl
from gateway.rest.problems import problem
from gateway.services.auth import LoginThrottle, too_many
from gateway.services.ports.operations import Clock

# A break in a class's pressure shorter than this share of the patience does not end it.
PRESSURE_GAP = 0.2


class Priority(IntEnum):
    """The classes, most kept first."""

    DEADLINES = 0  # uploads and acknowledgements: they carry deadlines (kept)
    STANDARD = 1   # downloads, document metadata, receipts, keys, the rest of the API
    SHEDDABLE = 2  # listings, the office directory, status, the web pages (shed first)

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass
class _Lane:
    limits: Limits
    in_flight: int = 0
    # Each waiting request's future, in the order they came, and when it came.
    waiting: deque[asyncio.Future[None]] = field(default_factory=deque)
    arrived: dict[asyncio.Future[None], float] = field(default_factory=dict)
    # Pressed: every slot taken or a queue. Since when it has been pressed without a break
    # longer than PRESSURE_GAP of the patience (monotonic seconds), and when it last stopped:
    # pressure that stays is overload, a moment's in a burst is not (CoDel's idea). A class
    # whose requests finish fast frees a slot for a moment before its clients send again;
    # counting only an unbroken queue missed that (uploads fell to 37 % of their rate alone
    # beside 48 listing clients on a fast machine, 2026-12-04).
    pressed: bool = False
    busy_since: float = 0.0
    released_at: float = float("-inf")


class Admission:
    """The slots and queues of every class (per process)."""

    def __init__(self, limits: dict[Priority, Limits], patience: float = 0.0,
                 health: Health | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self._lanes = {priority: _Lane(limits[priority]) for priority in Priority}
        self.patience = patience
        self.now = monotonic
        self._configured = limits[Priority.SHEDDABLE]
        # None: the sheddable class keeps its configured limits (KAPU_ADMISSION_TARGET_SECONDS=0).
        self.control = (ShedControl(health, self._configured.limit, monotonic())
                        if health is not None else None)
        for priority, lane in self._lanes.items():
            metrics.ADMISSION_LIMIT.labels(priority.label).set(lane.limits.limit)
            metrics.ADMISSION_QUEUE_LIMIT.labels(priority.label).set(lane.limits.queue)
            metrics.ADMISSION_SHED.labels(priority.label)  # shown as 0 before the first
            self._observe(priority)
        metrics.ADMISSION_SHEDDABLE_NOW.set(self._configured.limit)

    def sheddable_limits(self) -> Limits:
        """The sheddable class's limits now (tightened while uploads suffer)."""
        return self._lanes[Priority.SHEDDABLE].limits

    def _adapt(self) -> None:
        """Bring the sheddable class's limits up to date with the deadline class's health."""
        if self.control is None:
            return
        now = self.now()
        deadlines = self._lanes[Priority.DEADLINES]
        since = deadlines.arrived.get(deadlines.waiting[0], now) if deadlines.waiting else None
        self.control.update(now, since)
        lane = self._lanes[Priority.SHEDDABLE]
        if lane.limits.limit != self.control.limit:
            lane.limits = self.control.limits(self._configured)
            metrics.ADMISSION_SHEDDABLE_NOW.set(lane.limits.limit)
            # Loosened: slots now free go to those already waiting.
            while lane.in_flight < lane.limits.limit and self._hand_over(lane):
                lane.in_flight += 1
            self._observe(Priority.SHEDDABLE)

    def _outranked(self, priority: Priority) -> bool:
        """A higher class presses (all its slots taken or a queue) and has, breaks shorter
        than PRESSURE_GAP of the patience aside, for ``patience`` seconds."""
        now = self.now()
        for higher in Priority:
            lane = self._lanes[higher]
            # Only while it presses: once the urgent work has eased, the rest is served.
            if higher < priority and lane.pressed and now - lane.busy_since >= self.patience:
                return True
        return False

    def _observe(self, priority: Priority) -> None:
        lane = self._lanes[priority]
        pressed = bool(lane.waiting) or lane.in_flight >= lane.limits.limit
        if pressed != lane.pressed:
            now = self.now()
            if not pressed:
                lane.released_at = now
            elif now - lane.released_at > PRESSURE_GAP * self.patience:
                lane.busy_since = now  # a new stretch; a shorter break continues the last
            lane.pressed = pressed
        metrics.ADMISSION_IN_FLIGHT.labels(priority.label).set(lane.in_flight)
        metrics.ADMISSION_QUEUED.labels(priority.label).set(len(lane.waiting))

    async def enter(self, priority: Priority) -> float:
        """Take a slot of ``priority``, waiting in its queue if need be; raises Overloaded.
        Returns when the request came (monotonic seconds), for leave()."""
        arrived = self.now()
        lane = self._lanes[priority]
        if priority is Priority.SHEDDABLE:
            self._adapt()
        if self._outranked(priority):
            self._shed(priority, "more urgent work is waiting")
        if lane.in_flight < lane.limits.limit and not lane.waiting:
            lane.in_flight += 1
            self._observe(priority)
            return arrived
        if len(lane.waiting) >= lane.limits.queue:
            self._shed(priority, "every slot and queue place of this kind of request is taken")
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        lane.waiting.append(waiter)
        lane.arrived[waiter] = arrived
        self._observe(priority)
        wait = lane.limits.wait
        try:
            async with asyncio.timeout(wait):
                await waiter  # leave() hands a slot over, or outranking work refuses us
        except BaseException as stop:  # a timeout, a refusal, or the task cancelled
            handed = waiter.done() and not waiter.cancelled() and waiter.exception() is None
            if handed:
                self.leave(priority)  # handed over just as the wait ended: pass it on
            elif waiter in lane.waiting:
                lane.waiting.remove(waiter)
                self._observe(priority)
            if isinstance(stop, TimeoutError):
                self._shed(priority, f"waited {wait:g} s for a slot")
            if isinstance(stop, Overloaded):
                metrics.ADMISSION_SHED.labels(priority.label).inc()
            raise
        finally:
            lane.arrived.pop(waiter, None)
        return arrived

    def leave(self, priority: Priority, arrived: float | None = None) -> None:
        """Give the slot back: to the next in its queue; but if outranking work has waited
        too long, those queued are refused and the slot stays free. ``arrived`` (from enter)
        makes an upload's latency count towards the deadline class's health."""
        lane = self._lanes[priority]
        if priority is not Priority.STANDARD:
            self._adapt()
        if priority is Priority.DEADLINES and arrived is not None and self.control is not None:
            self.control.observe(self.now() - arrived)
        if self._outranked(priority):
            self._refuse_waiting(priority)
        # A class whose limit was lowered while this slot was taken lets the slot go.
        if lane.in_flight <= lane.limits.limit and self._hand_over(lane):
            self._observe(priority)
            return
        lane.in_flight -= 1
        self._observe(priority)

    @staticmethod
    def _hand_over(lane: _Lane) -> bool:
        """Pass a taken slot to the first still waiting; False: no one waits."""
        while lane.waiting:
            waiter = lane.waiting.popleft()
            if not waiter.done():
                waiter.set_result(None)  # the slot passes to it: in_flight stays
                return True
        return False

    def _refuse_waiting(self, priority: Priority) -> None:
        lane = self._lanes[priority]
        while lane.waiting:
            waiter = lane.waiting.popleft()
            if not waiter.done():
                waiter.set_exception(Overloaded("more urgent work is waiting"))
        self._observe(priority)

    def _shed(self, priority: Priority, why: str) -> None:
        metrics.ADMISSION_SHED.labels(priority.label).inc()
        raise Overloaded(f"the gateway is overloaded ({why}); retry later")


# Never counted, never shed: the probes and the metrics must answer under any load.
_EXEMPT = frozenset({"/health", "/ready", "/metrics"})
# The sandbox's run-due runs the deadline sweeps (elsewhere the background jobs do, no request).
_DEADLINE_PATHS = (re.compile(r"^/api/v1/(documents|epapir)/?$"),
                   re.compile(r"^/api/v1/documents/[^/]+/ack/?$"),
                   re.compile(r"^/api/v1/sandbox/run-due/?$"))
_SHEDDABLE_PATHS = (re.compile(r"^/api/v1/(mailbox|offices|status|notifications|storage)/?$"),
                    # Hirdetmények as JSON: the list, a notice and its attachments, for anyone.
                    re.compile(r"^/api/v1/public/notices(/|$)"),
                    re.compile(r"^/(status|docs|redoc|openapi\.json)/?$"),
                    re.compile(r"^/docs-assets/"),
                    re.compile(r"^/ui(/|$)"),
                    # The public notices' pages, feed and attachments: reads anyone may repeat.
                    re.compile(r"^/hirdetmenyek(/|$)"))
# Posts that carry no deadline: AVDH authentication and verification (contract 23).
_SHEDDABLE_POSTS = (re.compile(r"^/api/v1/authenticate(/verify)?/?$"),)
# HKP operations by Szolgaltatas (docs/hkp.md); any other is STANDARD.
HKP_PRIORITY = {
    "UjDokumentumokFeltolteseGepiInterfeszAltal": Priority.DEADLINES,
    "SikeresDokumentumokOlvasas": Priority.DEADLINES,
    "DokumentumokLekerdezeseGepiInterfeszAltal2": Priority.SHEDDABLE,
    "DokumentumokLekerdezeseGepiInterfeszAltal": Priority.SHEDDABLE,
    "DokumentumokAllapota2": Priority.SHEDDABLE,
    "HivatalokLekerdezese": Priority.SHEDDABLE,
    "GIPostaFiokLekerdezes": Priority.SHEDDABLE,
}
# Parancs comes before Form in every Kerdes, so the Szolgaltatas lies within the envelope's
# first few KiB (SOAP header, KerdesFejlec, Session); at most this much is read to find it.
HKP_PEEK_BYTES = 16 * 1024
_SZOLGALTATAS = re.compile(rb"Szolgaltatas\b[^>]{0,200}>\s*([A-Za-z0-9_]{1,100})\s*<")


# The UsernameToken comes in the SOAP Header, before the Body's Szolgaltatas: within the peek.
_USERNAME = re.compile(rb"<(?:[A-Za-z0-9_.-]{1,50}:)?Username\b[^>]{0,200}>\s*([^<\s]{1,64})\s*<")


def claimed_username(scope: Scope, peeked: bytes | None) -> str | None:
    """The username a request names, read without checking anything: HTTP Basic's, or the
    first ``Username`` in an HKP request's first bytes. None: it names none (as far as can be
    seen cheaply; the doors check the credentials themselves in any case)."""
    if peeked is not None:
        found = _USERNAME.search(peeked)
        return found.group(1).decode("utf-8", "replace") if found else None
    authorization = dict(scope["headers"]).get(b"authorization", b"")
    scheme, _, param = authorization.partition(b" ")
    if scheme.lower() != b"basic":
        return None
    try:
        username, separator, _ = base64.b64decode(param.strip()).decode("ascii").partition(":")
    except (ValueError, UnicodeDecodeError, binascii.Error):
        return None
    return username if separator else None


def rest_priority(method: str, path: str) -> Priority | None:
    """The class of a request that is not a SOAP call; None: exempt."""
    if path in _EXEMPT:
        return None
    if method == "POST" and any(pattern.match(path) for pattern in _DEADLINE_PATHS):
        return Priority.DEADLINES
    if method in ("GET", "HEAD") and any(p.match(path) for p in _SHEDDABLE_PATHS):
        return Priority.SHEDDABLE
    if path.startswith("/ui") or any(p.match(path) for p in _SHEDDABLE_POSTS):
        return Priority.SHEDDABLE
    return Priority.STANDARD


def hkp_priority(peeked: bytes, multipart: bool) -> Priority:
    """The class of a SOAP call by the Szolgaltatas in its first bytes. When the peek does not
    show it, a multipart (SOAP with Attachments) request is an upload (only uploads carry
    attachments; its root part may come after them) and is kept; anything else is STANDARD."""
    found = _SZOLGALTATAS.search(peeked)
    if found is not None:
        return HKP_PRIORITY.get(found.group(1).decode("ascii"), Priority.STANDARD)
    return Priority.DEADLINES if multipart else Priority.STANDARD


async def _peek(receive: Receive, limit: int) -> tuple[list[Message], bytes]:
    """The body's first messages until ``limit`` bytes or its end (kept, to be replayed)."""
    messages: list[Message] = []
    data = bytearray()
    while len(data) < limit:
        message = await receive()
        messages.append(message)
        if message["type"] != "http.request":
            break
        data += message.get("body", b"")[: limit - len(data)]
        if not message.get("more_body", False) or _SZOLGALTATAS.search(data):
            break
    return messages, bytes(data)


def _replaying(messages: list[Message], receive: Receive) -> Receive:
    pending = deque(messages)

    async def replay() -> Message:
        return pending.popleft() if pending else await receive()

    return replay


MAX_PAUSED = 1024
_BUSY_PAGE = """<!doctype html>
<html lang="hu"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Túlterhelés – Overloaded – Kapu</title></head>
<body><main>
<h1>A Kapu most túlterhelt</h1>
<p>A kérését nem hajtotta végre. Próbálja újra {seconds} másodperc múlva.</p>
<h2 lang="en">Kapu is overloaded</h2>
<p lang="en">Your request was not carried out. Please try again in {seconds} seconds.
(code: overloaded)</p>
</main></body></html>
"""


class AdmissionControl:
    """The middleware: classify, take a slot (or answer 503 overloaded), give it back."""

    def __init__(self, app: ASGIApp, admission: Admission, retry_after: int,
                 shed_delay: float = 0.0, throttle: LoginThrottle | None = None,
                 clock: Clock | None = None) -> None:
        self.app = app
        self.admission = admission
        self.retry_after = retry_after
        self.shed_delay = shed_delay
        self._delayed = 0
        self.throttle = throttle
        self.clock = clock

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        method, path = scope["method"], scope["path"]
        soap = method == "POST" and path.rstrip("/") == "/hkp"
        if soap:
            content_type = dict(scope["headers"]).get(b"content-type", b"").lower()
            messages, peeked = await _peek(receive, HKP_PEEK_BYTES)
            receive = _replaying(messages, receive)
            priority: Priority | None = hkp_priority(peeked, b"multipart/" in content_type)
        else:
            peeked = None
            priority = rest_priority(method, path)
        if priority is None:
            await self.app(scope, receive, send)
            return
        throttled = self._throttled(scope, peeked)
        if throttled is not None:
            await self._refuse_throttled(throttled, soap)(scope, receive, send)
            return
        came = self.admission.now()
        try:
            arrived = await self.admission.enter(priority)
        except Overloaded as refusal:
            scope.setdefault("state", {})["admission"] = "shed"
            await self._pause_before_refusing(self.admission.now() - came)
            page = path in ("/ui", "/hirdetmenyek") or path.startswith(("/ui/", "/hirdetmenyek/"))
            await self._refuse(refusal, soap, page)(scope, receive, send)
            return
        try:
            await self.app(scope, receive, send)
            if priority is Priority.SHEDDABLE:
                await self._rest(self.admission.now() - arrived)
        finally:
            self.admission.leave(priority, arrived)

    async def _rest(self, held: float) -> None:
        """Keep a tightened sheddable slot a while after its answer (ShedControl.rest)."""
        control = self.admission.control
        if control is not None and control.limit < control.ceiling:
            await asyncio.sleep(control.rest(held))

    def _throttled(self, scope: Scope, peeked: bytes | None) -> TooManyAttempts | None:
        """The refusal of a client this process already refuses for the username it names:
        it takes no slot and no queue place (and costs no password check)."""
        if self.throttle is None or self.clock is None:
            return None
        username = claimed_username(scope, peeked)
        if username is None:
            return None
        now = self.clock.now()
        until = self.throttle.refused(username, client_address(scope), now)
        return too_many(until, now) if until is not None else None

    def _refuse_throttled(self, refusal: TooManyAttempts, soap: bool) -> Response:
        if soap:
            assert self.clock is not None
            body = render.valasz(session_id=uuid.uuid4().hex, felhasznalo="",
                                 now=self.clock.now(),
                                 hiba=(render.szam_of(refusal), refusal.detail))
            return Response(body, media_type="text/xml; charset=utf-8")
        response = problem(429, refusal.code, refusal.title, refusal.detail)
        response.headers["Retry-After"] = str(refusal.retry_after)
        return response

    async def _pause_before_refusing(self, waited: float) -> None:
        """A client that retries at once, ignoring Retry-After, would otherwise get thousands
        of cheap refusals a second, and their sheer number starves the kept requests of the
        event loop (measured: uploads at 3 % of their rate). A refusal answered after a short
        pause costs no CPU while it waits; at most MAX_PAUSED wait, the rest are answered
        at once, so the pause never holds more than that many tasks. A request that has
        already ``waited`` in its queue pauses only for the rest of shed_delay: added to a
        full queue wait (5 s for listings), the pause pushed the 503 past clients' own
        5-second timeouts (httpx's default), and they closed the connection unanswered."""
        pause = self.shed_delay - waited
        if pause <= 0 or self._delayed >= MAX_PAUSED:
            return
        self._delayed += 1
        try:
            await asyncio.sleep(pause)
        finally:
            self._delayed -= 1

    def _refuse(self, refusal: Overloaded, soap: bool, page: bool) -> Response:
        headers = {"Retry-After": str(self.retry_after)}
        if soap:
            return Response(render.fault(refusal.detail, code="soap:Server"), status_code=503,
                            headers=headers, media_type="text/xml; charset=utf-8")
        if page:
            # People get a page in both languages; rendering the pages' templates and
            # catalogues is exactly the work being shed.
            return Response(_BUSY_PAGE.format(seconds=self.retry_after), status_code=503,
                            headers=headers, media_type="text/html; charset=utf-8")
        response = problem(503, refusal.code, refusal.title, refusal.detail)
        response.headers["Retry-After"] = str(self.retry_after)
        return response

