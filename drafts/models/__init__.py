"""The incomplete listing (a draft), its history, and the queryset that scopes it.

One module per role: `draft` (the Draft: fields, edits, review transitions, trash),
`status` (its states and the refusal of a transition), `queryset` (who sees which drafts, the
list's sorts and search), `history` (the append-only DraftEvent), `review` (snapshots and
reviewers' comments), `parts` (rooms, units, virtual tours and videos), `tally` (the list's
counts, kept by triggers). The names are re-exported here, so `from drafts.models import Draft`
works as it always has and Django finds every model of the app.
"""

from ..fields import AUTOSAVE_FIELDS
from .draft import (
    LISTING_ID_MAX,
    PROMOTION_FAILURE_MAX,
    Draft,
    FieldSaved,
    StaleEdit,
    haversine_metres,
)
from .history import EVENT_NOTE_MAX, DraftEvent
from .parts import ListingPart
from .queryset import SORTS, DraftQuerySet, ListedDrafts
from .review import REVIEW_COMMENT_MAX, REVIEW_REASON_MAX, ReviewComment, ReviewSnapshot
from .status import SENT_BACK_BY_EDITS, DraftStatus, TransitionNotAllowed
from .tally import DraftTally

__all__ = [
    "AUTOSAVE_FIELDS",
    "EVENT_NOTE_MAX",
    "LISTING_ID_MAX",
    "PROMOTION_FAILURE_MAX",
    "REVIEW_COMMENT_MAX",
    "REVIEW_REASON_MAX",
    "SENT_BACK_BY_EDITS",
    "SORTS",
    "Draft",
    "DraftEvent",
    "DraftQuerySet",
    "DraftStatus",
    "DraftTally",
    "FieldSaved",
    "ListedDrafts",
    "ListingPart",
    "ReviewComment",
    "ReviewSnapshot",
    "StaleEdit",
    "TransitionNotAllowed",
    "haversine_metres",
]
