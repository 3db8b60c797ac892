"""The one error tree of the gateway, free of HTTP and SOAP.

Every refusal the gateway makes is one of these; each door maps them by a table
(``rest/problems.py`` to problem+json, ``hkp/render.py`` to ``iop:HibaUzenet`` numbers).
Foreign exceptions are wrapped at the layer that meets them (``raise X from exc``).

    GatewayError                      code
    ├── Unauthorized                  unauthorized
    ├── TooManyAttempts               too_many_attempts (failed logins of one username from one
    │                                 address; with the seconds until it may retry)
    ├── Forbidden                     forbidden
    ├── NotFound                      not_found   (also another party's document)
    │   └── KeyNotFound               key_not_found
    ├── InvalidRequest                invalid_request
    │   ├── UnacceptableText          (a control or format character in a text)
    │   ├── RecipientUnknown          recipient_unknown
    │   ├── HashMismatch              hash_mismatch
    │   ├── EmptyContent              empty_content (a document of 0 bytes)
    │   ├── InvalidCertificate        invalid_certificate
    │   ├── UnknownService            (HKP: Szolgaltatas not known)
    │   ├── AttachmentMissing         (HKP: href names no attachment)
    │   └── MalformedMessage          (not a readable SOAP 1.1 message: a SOAP Fault)
    ├── FormatNotAllowed              format_not_allowed
    ├── FormatMismatch                format_mismatch
    ├── TooLarge                      too_large
    ├── QuotaExceeded                 quota_exceeded (a citizen's tartós tár is full)
    ├── Conflict                      (duplicate party; CLI only)
    │   ├── TooManyAdmins             (staff: a sixth admin)
    │   ├── LastAdmin                 (staff: removing the last admin)
    │   └── KeysDiffer                (a host's CA is not the one the database recorded)
    ├── IdempotencyConflict           idempotency_conflict
    ├── MandateConflict               mandate_conflict (a mandate overlapping an open one)
    ├── Expired                       expired
    ├── DailySequenceExhausted        daily_sequence_exhausted
    ├── RangeNotSatisfiable           range_not_satisfiable (a download's Range past its end)
    ├── Unavailable                   unavailable (database or blob store down; safe to retry)
    └── Overloaded                    overloaded (more work offered than the gateway can do;
                                      shed by class, with Retry-After; safe to retry)
"""

from __future__ import annotations


class GatewayError(Exception):
    """Base of every refusal; ``code`` is the stable code listed in docs/errors.md."""

    code = "internal_error"
    title = "Internal error"

    def __init__(self, detail: str, *, field: str | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.field = field


class Unauthorized(GatewayError):
    code = "unauthorized"
    title = "Authentication failed"


class TooManyAttempts(GatewayError):
    """Too many failed logins for this username from this client address (services/auth.py);
    ``retry_after`` whole seconds on the gateway's clock until it may try again."""

    code = "too_many_attempts"
    title = "Too many failed logins"

    def __init__(self, detail: str, *, retry_after: int) -> None:
        super().__init__(detail)
        self.retry_after = retry_after


class Forbidden(GatewayError):
    code = "forbidden"
    title = "Not allowed for this party"


class NotFound(GatewayError):
    code = "not_found"
    title = "No such document"


class KeyNotFound(NotFound):
    code = "key_not_found"
    title = "No public key on file"


class InvalidRequest(GatewayError):
    code = "invalid_request"
    title = "Invalid request"


class UnacceptableText(InvalidRequest):
    """A text field holds a control or format character (still ``invalid_request``): the web
    pages tell a person so in a sentence of its own."""

    title = "Control or format character in a text"


class RecipientUnknown(InvalidRequest):
    code = "recipient_unknown"
    title = "Unknown addressee"


class HashMismatch(InvalidRequest):
    code = "hash_mismatch"
    title = "Hash does not match the content"


class EmptyContent(InvalidRequest):
    """A document of 0 bytes: refused on every door before its format is looked at, since an
    empty file matches no signature and would otherwise be called a format mismatch."""

    code = "empty_content"
    title = "Document is empty"


class InvalidCertificate(InvalidRequest):
    code = "invalid_certificate"
    title = "Certificate not acceptable"


class NotAuthenticatedPdf(InvalidRequest):
    """A file given to AVDH verification that is not a PDF at all (contract 23)."""

    code = "not_authenticated_pdf"
    title = "Not a PDF"


class UnknownService(InvalidRequest):
    title = "Unknown service"


class AttachmentMissing(InvalidRequest):
    title = "Attachment missing"


class MalformedMessage(InvalidRequest):
    """The request cannot be read as a SOAP 1.1 message at all (HKP answers a SOAP Fault)."""

    title = "Malformed message"


class FormatNotAllowed(GatewayError):
    code = "format_not_allowed"
    title = "Format not allowed"


class FormatMismatch(GatewayError):
    code = "format_mismatch"
    title = "Content does not match its extension"


class TooLarge(GatewayError):
    code = "too_large"
    title = "Document too large"


class QuotaExceeded(GatewayError):
    code = "quota_exceeded"
    title = "Permanent storage full"


class Conflict(GatewayError):
    code = "conflict"
    title = "Already exists"


class TooManyAdmins(Conflict):
    title = "The office has the most admins allowed"


class LastAdmin(Conflict):
    title = "The last admin stays"


class KeysDiffer(Conflict):
    title = "This host's keys differ from the other hosts'"


class IdempotencyConflict(GatewayError):
    code = "idempotency_conflict"
    title = "Idempotency-Key reused with different content"


class MandateConflict(GatewayError):
    """A mandate for the same agent whose scope and time overlap a pending or active one
    (contract 25)."""

    code = "mandate_conflict"
    title = "An overlapping mandate exists"


class Expired(GatewayError):
    code = "expired"
    title = "Document expired"


class DailySequenceExhausted(GatewayError):
    code = "daily_sequence_exhausted"
    title = "Daily registration sequence exhausted"


class RangeNotSatisfiable(GatewayError):
    code = "range_not_satisfiable"
    title = "Range not satisfiable"

    def __init__(self, detail: str, *, size: int) -> None:
        super().__init__(detail, field="Range")
        self.size = size


class Unavailable(GatewayError):
    code = "unavailable"
    title = "Service unavailable"


class Overloaded(GatewayError):
    code = "overloaded"
    title = "Overloaded"
