"""How e-mail leaves: SMTP (``KAPU_SMTP_URL``) through aiosmtplib, or, in the embedded
default, ``.eml`` files under ``KAPU_DATA_DIR/mail/`` that a vendor opens in any mail reader."""

from __future__ import annotations

import asyncio
import hashlib
import os
import ssl
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import unquote, urlsplit

from gateway.config import Settings
from gateway.services.ports.outbox import MailTransport

SCHEMES = {"smtp": (False, False), "smtp+starttls": (False, True), "smtps": (True, False)}


@dataclass(frozen=True)
class SmtpServer:
    hostname: str
    port: int
    use_tls: bool  # TLS from the first byte (smtps, port 465)
    start_tls: bool  # plain connection upgraded with STARTTLS
    username: str | None = None
    password: str | None = None

    @classmethod
    def parse(cls, url: str) -> SmtpServer:
        """``smtp://host:25``, ``smtp+starttls://host:587``, ``smtps://user:password@host:465``
        (user and password percent-encoded)."""
        parts = urlsplit(url)
        if parts.scheme not in SCHEMES or not parts.hostname:
            raise ValueError("KAPU_SMTP_URL must be smtp://host:port, smtp+starttls://host:port "
                             "or smtps://user:password@host:port")
        use_tls, start_tls = SCHEMES[parts.scheme]
        port = parts.port or (465 if use_tls else 587 if start_tls else 25)
        return cls(parts.hostname, port, use_tls, start_tls,
                   unquote(parts.username) if parts.username else None,
                   unquote(parts.password) if parts.password else None)


class SmtpMailer:
    """One SMTP conversation per message: notices are few, and a fresh connection survives a
    server restart between them without any reconnect logic."""

    def __init__(self, server: SmtpServer, timeout: float, ca_file: Path | None = None) -> None:
        self._server = server
        self._timeout = timeout
        # The system's trust store, or the CA file that signed a private relay's certificate.
        self._tls = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)

    async def send(self, message: bytes, mail_from: str, to: str) -> None:
        import aiosmtplib  # here: the embedded default (and every command) sends no SMTP

        server = self._server
        await aiosmtplib.send(
            message, sender=mail_from, recipients=[to], hostname=server.hostname,
            port=server.port, username=server.username, password=server.password,
            use_tls=server.use_tls, start_tls=server.start_tls,
            tls_context=self._tls if server.use_tls or server.start_tls else None,
            timeout=self._timeout)


class DirectoryMailer:
    """Each message as ``<time>-<digest>.eml``, written whole or not at all."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    def _write(self, message: bytes) -> None:
        self._directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        name = f"{time.time_ns()}-{hashlib.sha256(message).hexdigest()[:12]}.eml"
        partial = self._directory / f".{name}.part"
        with open(partial, "wb") as file:
            file.write(message)
            file.flush()
            os.fsync(file.fileno())
        os.replace(partial, self._directory / name)

    async def send(self, message: bytes, mail_from: str, to: str) -> None:
        await asyncio.to_thread(self._write, message)


def mailer_for(settings: Settings) -> MailTransport:
    if settings.smtp_url is None:
        return DirectoryMailer(settings.mail_dir)
    return SmtpMailer(SmtpServer.parse(settings.smtp_url.get_secret_value()),
                      settings.smtp_timeout_seconds, settings.smtp_ca_file)
