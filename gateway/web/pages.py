"""Rendering a page for a person: the language, the CSRF token, the security headers.

CSRF: every page sets a random token in the ``kapu_csrf`` cookie (HttpOnly, SameSite=Lax) and
every form carries it back in a hidden field; a POST whose field does not match the cookie is
refused with 403 before anything is done (the double-submit pattern; another site can neither
read the cookie nor set it). The token is replaced at login and at logout.
"""

from __future__ import annotations

import hmac
import secrets
from datetime import datetime
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any

from babel.dates import format_datetime
from babel.numbers import format_decimal
from fastapi import Request
from fastapi.responses import HTMLResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape

from gateway.config import Settings
from gateway.domain.parties import StaffRole
from gateway.domain.registration import budapest_local
from gateway.services import forms
from gateway.web import i18n
from gateway.web.i18n import LANGUAGES

SESSION_COOKIE = "kapu_session"
CSRF_COOKIE = "kapu_csrf"
LANGUAGE_COOKIE = "kapu_lang"
CSRF_FIELD = "csrf_token"
# The one-time key of a state-changing form (services/forms.py).
FORM_KEY_FIELD = "form_key"

_TEMPLATES = Environment(
    loader=FileSystemLoader(i18n.LOCALE_DIR.parent / "templates"),
    autoescape=select_autoescape(["html"]),
    auto_reload=False,
)
# Each language's own name, as a speaker of it writes it.
_LANGUAGE_NAMES = {"hu": "Magyar", "en": "English"}
_HEADERS = {
    "Cache-Control": "no-store",
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
}


def language_of(request: Request) -> str:
    return i18n.choose(request.query_params.get("lang"), request.cookies.get(LANGUAGE_COOKIE),
                       request.headers.get("accept-language", ""))


def csrf_token(request: Request) -> str:
    """The token this request's forms carry: the cookie's, or a new one (set on the answer)."""
    token = getattr(request.state, "new_csrf", None) or request.cookies.get(CSRF_COOKIE)
    if not token:
        token = secrets.token_urlsafe(32)
        request.state.new_csrf = token
    return str(token)


def renew_csrf(request: Request) -> None:
    """A fresh token for what follows (at login and logout)."""
    request.state.new_csrf = secrets.token_urlsafe(32)


def csrf_ok(request: Request, sent: object) -> bool:
    expected = request.cookies.get(CSRF_COOKIE)
    return (isinstance(sent, str) and bool(expected)
            and hmac.compare_digest(sent.encode(), str(expected).encode()))


def _secure(request: Request) -> bool:
    settings: Settings = request.app.state.settings
    return settings.environment == "production"


def set_cookie(response: Response, request: Request, name: str, value: str, *,
               max_age: int | None = None) -> None:
    response.set_cookie(name, value, max_age=max_age, path="/", httponly=True,
                        samesite="lax", secure=_secure(request))


def finish(request: Request, response: Response) -> Response:
    """The headers every page carries, and the cookies this request decided on."""
    response.headers.update(_HEADERS)
    new_csrf = getattr(request.state, "new_csrf", None)
    if new_csrf:
        set_cookie(response, request, CSRF_COOKIE, new_csrf)
    asked = request.query_params.get("lang")
    if asked in LANGUAGES:
        set_cookie(response, request, LANGUAGE_COOKIE, asked, max_age=365 * 24 * 3600)
    return response


# Binary units, as docs/configuration.md counts the tartós tár's 30 MB (31457280 bytes).
_SIZE_UNITS = ("B", "KB", "MB", "GB", "TB")


def human_size(size: int, language: str) -> str:
    """A size as people read it, in their language's numbers: ``31457280`` is "30 MB",
    1536 is "1.5 KB" (Hungarian "1,5 KB"). A no-break space keeps number and unit together."""
    value, unit = float(size), 0
    # The unit is chosen after rounding, so 1048575 bytes reads "1 MB", never "1,024 KB".
    while unit < len(_SIZE_UNITS) - 1 and round(value, 1) >= 1024:
        value, unit = value / 1024, unit + 1
    number = format_decimal(round(value, 1), format="#,##0.#", locale=i18n.locale(language))
    return f"{number}\u00a0{_SIZE_UNITS[unit]}"


def render(request: Request, template: str, context: dict[str, Any] | None = None, *,
           status_code: int = 200) -> Response:
    language = language_of(request)
    translations = i18n.translations(language)

    def when(instant: datetime) -> str:
        return format_datetime(budapest_local(instant), "yyyy-MM-dd HH:mm",
                               locale=i18n.locale(language))

    def gettext(message: str, **variables: object) -> str:
        # The whole result is escaped by the templates' autoescaping, the variables with it.
        text = translations.ugettext(message)
        return text % variables if variables else text

    sandbox_clock = request.app.state.ports.sandbox_clock
    values = {
        "_": gettext, "language": language, "when": when,
        "size": lambda count: human_size(count, language),
        "languages": [(code, _LANGUAGE_NAMES[code]) for code in LANGUAGES],
        "csrf_token": csrf_token(request), "form_key": forms.new_key,
        "form_refused": getattr(request.state, "form_refused", False),
        "person": getattr(request.state, "person", None),
        "role_names": {StaffRole.ADMIN: gettext("admin"), StaffRole.CLERK: gettext("clerk")},
        "kind_names": {"hivatali": gettext("Hivatali kapu (office)"),
                       "ceg": gettext("Cégkapu (company)"),
                       "per": gettext("Perkapu (legal representative)"),
                       "citizen": gettext("citizen"), "system": gettext("the Central System")},
        "action_names": {"downloaded": gettext("downloaded"),
                         "acknowledged": gettext("confirmed the download"),
                         "accepted": gettext("sent"), "refused": gettext("sending refused"),
                         "staff_granted": gettext("granted a role"),
                         "staff_revoked": gettext("revoked a role"),
                         "topics_changed": gettext("changed the e-Papír topics"),
                         "document_authenticated": gettext("authenticated a document (AVDH)"),
                         "disposition_looked_up": gettext("looked up how a party may be "
                                                          "contacted")},
        "state_names": {"waiting": gettext("waiting"), "downloaded": gettext("downloaded"),
                        "expired": gettext("expired"),
                        "presumed_delivered": gettext("presumed delivered")},
        "mail_states": {"pending": gettext("waiting to be sent"), "sent": gettext("sent"),
                        "dead": gettext("not deliverable")},
        "receipt_names": {"acceptance": gettext("acceptance receipt"),
                          "download": gettext("download receipt"),
                          "not_collected": gettext("not collected receipt"),
                          "expired": gettext("expiry receipt"),
                          "presumed_delivery": gettext("presumed delivery receipt")},
        # KAPU_SANDBOX=1: every page says so, with the test clock's time (the middleware
        # read the shared offset before this request).
        "sandbox_now": sandbox_clock.now() if sandbox_clock is not None else None,
        **(context or {}),
    }
    html = _TEMPLATES.get_template(template).render(values)
    return finish(request, HTMLResponse(html, status_code=status_code))


def mail_text(message: bytes) -> str:
    """The readable text of a queued e-mail (its plain-text parts), for the sandbox console."""
    parsed = message_from_bytes(message, policy=policy.default)
    assert isinstance(parsed, EmailMessage)
    texts = [part.get_content() for part in parsed.walk()
             if part.get_content_type() == "text/plain"]
    return "\n".join(str(text) for text in texts)
