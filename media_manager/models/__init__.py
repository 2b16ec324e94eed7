"""Photos and documents of a draft: their files, their order, and the MLS rules about them.

Order protocol. Each draft has one `MediaOrder` row holding `photo_version` and
`document_version`; every change to the set or order of non-trashed items (append, trash,
restore, reorder, move) bumps the version, under a row lock on that `MediaOrder` row. A
reorder names the complete new order and the version its page saw, and is applied only if
that version is current and the ids are a permutation of the current set (else `StaleOrder`
carries the current order back). Positions of non-trashed items are always 0..n-1; trashed
items have no position.

Edits by people. Every method here that changes media on someone's behalf (add, trash,
restore, reorder, move, primary, rename/caption/privacy, rotate, replace) ends its
transaction with `note_media_edit(draft, by=...)` when something changed: it refuses a draft
that is being published or is live, marks the draft for sync, and records the edit on the
draft (`Draft.note_media_changed`: updated_at/by, a reviewed draft back to drafting). The
processing worker's own changes (`finish_processing`) only mark the draft for sync.

What the sync engine reads: `remote_id` (blank until the remote confirms the item),
`upload_token` (our UUID, to put in the remote FileName and adopt an upload whose reply was
lost), `position`, `Photo.is_primary`, `Document.privacy`, `deleted_at` (trash: delete
remotely), `Photo.image_version` (bumped when the picture itself changes: rotate, replace).
Only photos in state `ready` have a master to push.

One module per role: `ordered_media` (the order, its lock, the trash, and what every edit by a
person does), `photo` (Photo and its processing), `document` (Document), `document_rules` (the
MLS's rules about documents), `names` (cleaning the names people typed). The names are
re-exported here, so `from media_manager.models import Photo` works as it always has and Django
finds every model of the app.
"""

from .document import DOCUMENT_NAME_MAX, Document
from .document_rules import (
    FORCED_DOCUMENT_PRIVACY,
    REQUIRED_DOCUMENTS,
    DocumentPrivacy,
    RequiredDocument,
    RequiredDocumentStatus,
    forced_document_privacy,
    normalize_document_name,
    required_documents_for,
)
from .names import (
    FILE_NAME_MAX,
    clean_display_text,
    clean_file_name,
    name_from_file_name,
    random_storage_name,
)
from .ordered_media import (
    DraftNotEditable,
    MediaLimitReached,
    MediaOrder,
    MediaQuerySet,
    OrderChange,
    OrderedMedia,
    StaleOrder,
    UnknownItems,
    note_media_edit,
    update_media_item,
)
from .photo import (
    MAX_PROCESSING_ATTEMPTS,
    PHASH_DUPLICATE_DISTANCE,
    PHOTO_CAPTION_MAX,
    PHOTO_CONTENT_TYPES,
    PHOTO_EXTENSIONS,
    PHOTO_NAME_MAX,
    REJECTION_REASON_MAX,
    REQUEUE_BATCH_MAX,
    STUCK_PROCESSING_AFTER,
    STUCK_QUEUED_AFTER,
    Photo,
    PhotoQuerySet,
    ProcessingState,
    delete_files_after_commit,
)

__all__ = [
    "DOCUMENT_NAME_MAX",
    "FILE_NAME_MAX",
    "FORCED_DOCUMENT_PRIVACY",
    "MAX_PROCESSING_ATTEMPTS",
    "PHASH_DUPLICATE_DISTANCE",
    "PHOTO_CAPTION_MAX",
    "PHOTO_CONTENT_TYPES",
    "PHOTO_EXTENSIONS",
    "PHOTO_NAME_MAX",
    "REJECTION_REASON_MAX",
    "REQUEUE_BATCH_MAX",
    "REQUIRED_DOCUMENTS",
    "STUCK_PROCESSING_AFTER",
    "STUCK_QUEUED_AFTER",
    "Document",
    "DocumentPrivacy",
    "DraftNotEditable",
    "MediaLimitReached",
    "MediaOrder",
    "MediaQuerySet",
    "OrderChange",
    "OrderedMedia",
    "Photo",
    "PhotoQuerySet",
    "ProcessingState",
    "RequiredDocument",
    "RequiredDocumentStatus",
    "StaleOrder",
    "UnknownItems",
    "clean_display_text",
    "clean_file_name",
    "delete_files_after_commit",
    "forced_document_privacy",
    "name_from_file_name",
    "normalize_document_name",
    "note_media_edit",
    "random_storage_name",
    "required_documents_for",
    "update_media_item",
]
