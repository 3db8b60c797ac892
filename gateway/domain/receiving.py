"""Opening is receiving: in a citizen's own tárhely the first opening of a document is its
delivery (225/2009 Korm. r. 36. § (4)), and the sender's download receipt is issued then. An
office's document is received only when its clerk or system confirms the download."""

from __future__ import annotations

from gateway.domain.documents import DeliveryState, Document
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


def offers_opening(party: Party, document: Document) -> bool:
    """Whether ``document``'s page offers ``party`` the opening form: one it would receive
    by opening it now, whose content is still there. Its content is then delivered only
    after that form's POST (a GET receives nothing)."""
    return (received_on_opening(party, document)
            and document.delivery_state is not DeliveryState.EXPIRED)
