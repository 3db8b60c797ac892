"""Opening is receiving: in a citizen's own tárhely the first opening of a document is its
delivery (225/2009 Korm. r. 36. § (4)), and the sender's download receipt is issued then. An
office's document is received only when its clerk or system confirms the download."""

from __future__ import annotations

from gateway.domain.documents import Document
from gateway.domain.parties import Party, PartyKind


def received_on_opening(party: Party, document: Document) -> bool:
    """Whether ``party`` opening ``document`` now would be receiving it: a citizen's own
    unopened document; an office confirms explicitly."""
    return (party.kind is PartyKind.CITIZEN and document.recipient_id == party.id
            and document.unopened)


def received_by_opening(party: Party, document: Document) -> bool:
    """Whether ``document`` is one that ``party`` receives by opening it at all (opened yet or
    not): a citizen's own."""
    return party.kind is PartyKind.CITIZEN and document.recipient_id == party.id
