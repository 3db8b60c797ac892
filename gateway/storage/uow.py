"""The unit of work: one connection, one transaction, committed once by the service."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from types import TracebackType

from sqlalchemy import exc as sa_exc
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncTransaction

from gateway.errors import GatewayError, InvalidRequest, Unavailable
from gateway.services.ports.documents import (
    DocumentRepository,
    IdempotencyRepository,
    KeptRepository,
    RegistrationCounter,
)
from gateway.services.ports.evidence import (
    AuditLog,
    AuthenticationRepository,
    KeyRepository,
    ReceiptRepository,
)
from gateway.services.ports.operations import OperationsRepository, SandboxClockRepository
from gateway.services.ports.outbox import MailOutbox, NotificationRepository
from gateway.services.ports.parties import PartyRepository, StaffRepository, TopicRepository
from gateway.services.ports.people import (
    FormSubmissionRepository,
    LoginFailureRepository,
    WebSessionRepository,
)
from gateway.services.ports.public_notices import PublicNoticeRepository
from gateway.services.ports.rny import DispositionRepository, MandateRepository
from gateway.storage.database import WRITE_OPTION
from gateway.storage.repositories.documents import SqlDocuments, SqlIdempotency, SqlKept
from gateway.storage.repositories.evidence import (
    SqlAudit,
    SqlAuthentications,
    SqlKeys,
    SqlReceipts,
)
from gateway.storage.repositories.operations import SqlOperations, SqlSandboxClock
from gateway.storage.repositories.outbox import SqlMailOutbox, SqlNotifications
from gateway.storage.repositories.parties import SqlParties, SqlStaff, SqlTopics
from gateway.storage.repositories.people import SqlFormSubmissions, SqlLoginFailures, SqlWebSessions
from gateway.storage.repositories.public_notices import SqlPublicNotices
from gateway.storage.repositories.registration import SqlCounter
from gateway.storage.repositories.rny import SqlDispositions, SqlMandates

# SQLite result codes (primary, the low byte) that a later attempt may not meet: another
# process holds the write lock past the busy timeout, the disk is full or failing, the file
# cannot be opened. Any other SQLite error is the query's own fault and would recur.
_SQLITE_RETRYABLE = {5, 6, 10, 13, 14}  # BUSY, LOCKED, IOERR, FULL, CANTOPEN
# PostgreSQL SQLSTATEs and classes of a server that is going away or full, not of the query:
# 08 connection exception, 57P01-57P05 shutdown/crash/cannot connect now, 53 insufficient
# resources (too many connections, disk full).
_PG_RETRYABLE_CLASSES = ("08", "53")
_PG_RETRYABLE = {"57P01", "57P02", "57P03", "57P04", "57P05"}
# PostgreSQL SQLSTATE class 22, data exception: a value the column cannot hold (a NUL character,
# too long a string, a number out of range). The services refuse such input by name first;
# one that still reaches the database is the request's fault, not the gateway's.
_PG_DATA_EXCEPTION = "22"


def _is_outage(exc: BaseException) -> bool:
    """Whether ``exc`` says the database cannot be reached right now (safe to retry), as
    opposed to an error of the statement itself, which a retry would only repeat."""
    if isinstance(exc, GatewayError):
        return False
    if isinstance(exc, sa_exc.DBAPIError):
        if exc.connection_invalidated:
            return True
        return _retryable_driver_error(exc.orig)
    # Raised bare by the drivers when a socket fails or a command times out.
    return isinstance(exc, (OSError, TimeoutError))


def _is_data_exception(orig: BaseException | None) -> bool:
    sqlstate = getattr(orig, "sqlstate", None)
    return isinstance(sqlstate, str) and sqlstate.startswith(_PG_DATA_EXCEPTION)


def _retryable_driver_error(orig: BaseException | None) -> bool:
    if isinstance(orig, sqlite3.Error):
        code = getattr(orig, "sqlite_errorcode", None)
        return code is not None and code & 0xFF in _SQLITE_RETRYABLE
    sqlstate = getattr(orig, "sqlstate", None)
    if isinstance(sqlstate, str):
        return sqlstate[:2] in _PG_RETRYABLE_CLASSES or sqlstate in _PG_RETRYABLE
    return isinstance(orig, (OSError, TimeoutError))


class SqlUnitOfWork:
    """``async with uow: …; await uow.commit()`` — anything not committed is rolled back.

    A database outage surfaces as ``Unavailable`` (safe to retry), never as a driver error.
    """

    parties: PartyRepository
    documents: DocumentRepository
    counters: RegistrationCounter
    idempotency: IdempotencyRepository
    keys: KeyRepository
    receipts: ReceiptRepository
    audit: AuditLog
    staff: StaffRepository
    web_sessions: WebSessionRepository
    form_submissions: FormSubmissionRepository
    login_failures: LoginFailureRepository
    notifications: NotificationRepository
    mail: MailOutbox
    sandbox_clock: SandboxClockRepository
    operations: OperationsRepository
    kept: KeptRepository
    authentications: AuthenticationRepository
    topics: TopicRepository
    dispositions: DispositionRepository
    mandates: MandateRepository
    public_notices: PublicNoticeRepository

    def __init__(
        self, engine: AsyncEngine, *, write: bool, write_lock: asyncio.Lock | None = None,
        each_statement_commits: bool = False,
    ) -> None:
        """``each_statement_commits``: on PostgreSQL, no transaction is opened and each
        statement commits itself (``commit`` then has nothing to do); SQLite's one writer
        keeps its transaction."""
        self._engine = engine
        self._write = write
        self._each_statement_commits = (each_statement_commits
                                        and engine.dialect.name == "postgresql")
        # SQLite has one writer per file: queueing writers here is fairer and much faster than
        # letting each connection sleep in SQLite's busy handler.
        self._write_lock = write_lock if write else None
        self._holds_lock = False
        self._connection: AsyncConnection | None = None
        self._transaction: AsyncTransaction | None = None

    async def __aenter__(self) -> SqlUnitOfWork:
        if self._write_lock is not None:
            await self._write_lock.acquire()
            self._holds_lock = True
        try:
            self._connection = await self._engine.connect()
            if self._write:
                await self._connection.execution_options(**{WRITE_OPTION: True})
            if self._each_statement_commits:
                await self._connection.execution_options(isolation_level="AUTOCOMMIT")
            self._transaction = await self._connection.begin()
        except BaseException as exc:
            with contextlib.suppress(Exception):
                await self._close()
            # Whatever fails while a connection is opened is the database's state, not a
            # statement's: refused ("not currently accepting connections" is SQLSTATE 55000),
            # too many connections, the pool exhausted, a socket error.
            if isinstance(exc, Exception) and not isinstance(exc, GatewayError):
                raise Unavailable("the database is not reachable; try again") from exc
            raise
        self.parties = SqlParties(self._connection)
        self.documents = SqlDocuments(self._connection)
        self.counters = SqlCounter(self._connection)
        self.idempotency = SqlIdempotency(self._connection)
        self.keys = SqlKeys(self._connection)
        self.receipts = SqlReceipts(self._connection)
        self.audit = SqlAudit(self._connection)
        self.staff = SqlStaff(self._connection)
        self.web_sessions = SqlWebSessions(self._connection)
        self.form_submissions = SqlFormSubmissions(self._connection)
        self.login_failures = SqlLoginFailures(self._connection)
        self.notifications = SqlNotifications(self._connection)
        self.mail = SqlMailOutbox(self._connection)
        self.sandbox_clock = SqlSandboxClock(self._connection)
        self.operations = SqlOperations(self._connection)
        self.kept = SqlKept(self._connection)
        self.authentications = SqlAuthentications(self._connection)
        self.topics = SqlTopics(self._connection)
        self.dispositions = SqlDispositions(self._connection)
        self.mandates = SqlMandates(self._connection)
        self.public_notices = SqlPublicNotices(self._connection)
        return self

    async def commit(self) -> None:
        assert self._transaction is not None
        await self._transaction.commit()

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            await self._close()
        except Exception as close_exc:
            if exc is None and _is_outage(close_exc):
                raise Unavailable("the database connection failed") from close_exc
        if exc is not None and _is_outage(exc):
            raise Unavailable("the database is not reachable; try again") from exc
        if isinstance(exc, sa_exc.DBAPIError) and _is_data_exception(exc.orig):
            raise InvalidRequest(f"a value the database cannot store: {exc.orig}") from exc

    async def _close(self) -> None:
        try:
            if self._transaction is not None and self._transaction.is_active:
                await self._transaction.rollback()
            if self._connection is not None:
                await self._connection.close()
        finally:
            self._transaction = None
            self._connection = None
            if self._holds_lock and self._write_lock is not None:
                self._holds_lock = False
                self._write_lock.release()
