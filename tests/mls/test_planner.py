"""The planner on its own: local state and remote mirror in, calls out (no database, no HTTP)."""

from __future__ import annotations

import dataclasses
import datetime as dt
import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from mls import planner
from mls.planner import (
    DOCUMENT,
    PHOTO,
    CreateListing,
    Delete,
    DeleteListing,
    FindListing,
    Forget,
    LocalItem,
    LocalState,
    MirrorItem,
    MirrorState,
    ReconcileItems,
    RenameDocument,
    Reorder,
    Replace,
    SetPrimary,
    SetPrivacy,
    Timing,
    UpdateFields,
    UpdatePhoto,
    Upload,
    Verify,
    plan,
)

NOW = dt.datetime(2026, 11, 23, 12, 0, tzinfo=dt.UTC)
T = Timing(now=NOW, order_settle=1.0, order_min_interval=10.0)
FIELDS = {"ListPrice": 250000, "City": "Fargo", "PostalCode": "58103", "BedsTotal": 3}


def photo(
    local_id: int, *, primary: bool = False, name: str | None = None, caption: str = "", **kw
) -> LocalItem:
    return LocalItem(
        PHOTO,
        local_id,
        upload_token=f"tok{local_id}",
        name=name or f"Photo {local_id}",
        caption=caption,
        primary=primary,
        content_hash=kw.pop("content_hash", f"h{local_id}"),
        **kw,
    )


def document(local_id: int, *, name: str | None = None, privacy: str = "Private") -> LocalItem:
    return LocalItem(
        DOCUMENT,
        local_id,
        upload_token=f"doc{local_id}",
        name=name or f"Doc {local_id}",
        privacy=privacy,
        content_hash=f"d{local_id}",
    )


def mirrored(item: LocalItem, remote_id: str | None = None, **changes) -> MirrorItem:
    base = MirrorItem(
        item.kind,
        item.local_id,
        remote_id=remote_id if remote_id is not None else f"R{item.kind[0]}{item.local_id}",
        name=item.name,
        caption=item.caption,
        privacy=item.privacy,
        content_hash=item.content_hash,
    )
    return dataclasses.replace(base, **changes)


def synced_mirror(local: LocalState, **changes) -> MirrorState:
    """A mirror that already equals `local` (what a finished push leaves)."""
    items = tuple(mirrored(i) for i in (*local.photos, *local.documents))
    primary = next((f"Rp{i.local_id}" for i in local.photos if i.primary), "")
    base = MirrorState(
        remote_id="R1",
        fields=dict(local.fields),
        items=items,
        photo_order=tuple(f"Rp{i.local_id}" for i in local.photos),
        document_order=tuple(f"Rd{i.local_id}" for i in local.documents),
        primary_photo=primary,
    )
    return dataclasses.replace(base, **changes)


def state(*, photos=(), documents=(), fields=None, seq=5) -> LocalState:
    return LocalState(
        seq=seq,
        fields=dict(FIELDS if fields is None else fields),
        photos=tuple(photos),
        documents=tuple(documents),
    )


def kinds(ops) -> list[str]:
    return [type(op).__name__ for op in ops]


# --- The listing ---------------------------------------------------------------------------


def test_a_new_draft_is_created_with_all_its_fields_and_nothing_else_first():
    local = state(photos=[photo(1, primary=True)])
    result = plan(local, MirrorState(), T)
    assert kinds(result.ops) == ["CreateListing"]
    assert result.ops[0].fields == FIELDS


def test_a_create_whose_answer_was_lost_is_looked_for_not_sent_again():
    result = plan(state(), MirrorState(create_pending=True), T)
    assert result.ops == [FindListing()]


def test_a_refused_create_waits_for_the_next_change():
    blocked = plan(state(seq=5), MirrorState(fields_failed_seq=5), T)
    assert blocked.ops == [] and blocked.blocked == ("listing",)
    assert kinds(plan(state(seq=6), MirrorState(fields_failed_seq=5), T).ops) == ["CreateListing"]


def test_an_up_to_date_draft_needs_no_call():
    local = state(photos=[photo(1, primary=True), photo(2)], documents=[document(7)])
    result = plan(local, synced_mirror(local), T)
    assert result.ops == [] and result.done


def test_only_changed_fields_are_sent():
    local = state(fields={**FIELDS, "ListPrice": 260000, "City": "Moorhead"})
    result = plan(local, synced_mirror(state()), T)
    assert result.ops == [UpdateFields({"ListPrice": 260000, "City": "Moorhead"})]


def test_numbers_compare_as_json_does():
    local = state(fields={**FIELDS, "ListPrice": 250000.0})
    assert plan(local, synced_mirror(state()), T).ops == []


def test_a_refused_field_update_is_not_resent_until_the_draft_changes():
    local = state(fields={**FIELDS, "PostalCode": "bad"}, seq=9)
    mirror = synced_mirror(state(), fields_failed_seq=9)
    result = plan(local, mirror, T)
    assert result.ops == [] and result.blocked == ("fields",)
    assert plan(dataclasses.replace(local, seq=10), mirror, T).ops == [UpdateFields({"PostalCode": "bad"})]


def test_a_read_back_due_comes_before_anything_else():
    local = state(fields={**FIELDS, "City": "West Fargo"})
    due = plan(local, synced_mirror(state(), verify_after=NOW - dt.timedelta(seconds=1)), T)
    assert due.ops == [Verify()]
    later = plan(local, synced_mirror(state(), verify_after=NOW + dt.timedelta(seconds=30)), T)
    assert later.ops == [UpdateFields({"City": "West Fargo"})]
    waiting = plan(state(), synced_mirror(state(), verify_after=NOW + dt.timedelta(seconds=30)), T)
    assert waiting.ops == [] and waiting.wait_until == NOW + dt.timedelta(seconds=30)


# --- The trash -------------------------------------------------------------------------------


def test_a_trashed_draft_deletes_its_listing_and_nothing_else():
    local = state(photos=[photo(1, primary=True)], documents=[document(7)])
    mirror = synced_mirror(local)
    trashed = dataclasses.replace(local, trashed=True)
    assert plan(trashed, mirror, T).ops == [DeleteListing("R1")]
    # Pending edits, uncertain uploads and read-backs do not matter: the listing goes.
    busy = dataclasses.replace(
        mirror,
        fields={},
        items=(mirrored(photo(1, primary=True), sending=True),),
        verify_after=NOW - dt.timedelta(seconds=1),
    )
    assert plan(trashed, busy, T).ops == [DeleteListing("R1")]


def test_a_trashed_draft_looks_for_a_listing_a_lost_create_made_before_finishing():
    trashed = dataclasses.replace(state(), trashed=True)
    assert plan(trashed, MirrorState(create_pending=True), T).ops == [FindListing()]
    done = plan(trashed, MirrorState(), T)
    assert done.ops == [] and done.done and not done.blocked


def test_a_restored_draft_is_created_afresh_from_the_empty_mirror():
    local = state(photos=[photo(1, primary=True)], documents=[document(7)])
    assert kinds(plan(local, MirrorState(), T).ops) == ["CreateListing"]


# --- Photos ----------------------------------------------------------------------------------


def test_new_photos_upload_in_local_order_and_no_reorder_is_sent_with_them():
    local = state(photos=[photo(3), photo(1, primary=True), photo(2)])
    result = plan(local, synced_mirror(state(), items=(), photo_order=()), T)
    assert kinds(result.ops) == ["Upload", "Upload", "Upload"]
    assert [op.local_id for op in result.ops] == [3, 1, 2]
    assert [op.primary for op in result.ops] == [False, True, False]


def test_reorder_waits_while_an_upload_has_no_answer():
    """Ordering hazard: reorder before an upload finishes."""
    local = state(photos=[photo(2), photo(1, primary=True)])
    mirror = synced_mirror(
        state(photos=[photo(1, primary=True)]),
        items=(mirrored(photo(1, primary=True)), mirrored(photo(2), remote_id="", sending=True)),
    )
    result = plan(local, mirror, T)
    assert kinds(result.ops) == ["ReconcileItems"]
    assert not any(isinstance(op, Reorder) for op in result.ops)


def test_reorder_waits_for_pending_uploads_in_the_same_plan():
    local = state(photos=[photo(2), photo(1, primary=True)])
    mirror = synced_mirror(state(photos=[photo(1, primary=True)]))
    result = plan(local, mirror, T)
    assert kinds(result.ops) == ["Upload"]


def test_once_every_photo_has_a_remote_id_the_full_order_is_sent():
    local = state(photos=[photo(2), photo(1, primary=True), photo(3)])
    mirror = synced_mirror(state(photos=[photo(1, primary=True), photo(2), photo(3)]))
    result = plan(local, mirror, T)
    assert result.ops == [Reorder(PHOTO, ("Rp2", "Rp1", "Rp3"), (2, 1, 3))]


def test_delete_of_a_photo_whose_upload_is_uncertain_settles_the_upload_first():
    """Ordering hazard: the upload may have landed; deleting blindly or forgetting it leaks a copy."""
    local = state(photos=[photo(1, primary=True)])
    mirror = synced_mirror(
        local, items=(mirrored(photo(1, primary=True)), mirrored(photo(2), remote_id="", sending=True))
    )
    assert plan(local, mirror, T).ops == [ReconcileItems(PHOTO)]
    # Adopted: now it is deleted.
    adopted = dataclasses.replace(
        mirror, items=(mirrored(photo(1, primary=True)), mirrored(photo(2))), photo_order=("Rp1", "Rp2")
    )
    assert plan(local, adopted, T).ops == [Delete(PHOTO, 2, "Rp2")]
    # Not found remotely: nothing to delete, the row is dropped.
    absent = dataclasses.replace(
        mirror, items=(mirrored(photo(1, primary=True)), mirrored(photo(2), remote_id=""))
    )
    assert plan(local, absent, T).ops == [Forget(PHOTO, 2)]


def test_edits_during_a_push_are_picked_up_by_the_next_plan():
    """Ordering hazard: the mirror records what was sent, so a newer local value is sent next."""
    sent = state(photos=[photo(1, primary=True, caption="Porch")])
    now_local = state(
        photos=[photo(1, primary=True, caption="Front porch")], fields={**FIELDS, "BedsTotal": 4}
    )
    result = plan(now_local, synced_mirror(sent), T)
    assert result.ops == [UpdateFields({"BedsTotal": 4}), UpdatePhoto(PHOTO, 1, "Rp1", caption="Front porch")]


def test_primary_on_a_photo_not_uploaded_yet_rides_on_its_upload():
    """Ordering hazard: primary change with an unsynced photo."""
    local = state(photos=[photo(1), photo(2, primary=True)])
    mirror = synced_mirror(state(photos=[photo(1, primary=True)]))
    result = plan(local, mirror, T)
    assert result.ops == [Upload(PHOTO, 2, "tok2", "Photo 2", "h2", primary=True)]
    assert not any(isinstance(op, SetPrimary) for op in result.ops)


def test_primary_on_a_photo_still_processing_waits():
    local = state(photos=[photo(1), photo(2, primary=True, uploadable=False)])
    mirror = synced_mirror(state(photos=[photo(1, primary=True)]))
    assert plan(local, mirror, T).ops == []


def test_primary_moves_with_one_call_once_the_photo_is_remote():
    local = state(photos=[photo(1), photo(2, primary=True)])
    mirror = synced_mirror(state(photos=[photo(1, primary=True), photo(2)]))
    assert plan(local, mirror, T).ops == [SetPrimary(PHOTO, 2, "Rp2")]


def test_trashed_photo_is_deleted_before_uploads_and_order_follows_later():
    local = state(photos=[photo(3), photo(1, primary=True)])
    mirror = synced_mirror(state(photos=[photo(1, primary=True), photo(2)]))
    result = plan(local, mirror, T)
    assert kinds(result.ops) == ["Delete", "Upload"]
    assert result.ops[0] == Delete(PHOTO, 2, "Rp2")


def test_a_changed_picture_is_replaced_in_place_and_names_ride_along():
    local = state(photos=[photo(1, primary=True, content_hash="new", name="Front")])
    mirror = synced_mirror(state(photos=[photo(1, primary=True)]))
    assert plan(local, mirror, T).ops == [Replace(PHOTO, 1, "Rp1", "tok1", "Front", "", "new")]


def test_a_photo_being_reprocessed_keeps_its_place():
    local = state(photos=[photo(2), photo(1, primary=True, uploadable=False, content_hash="")])
    mirror = synced_mirror(state(photos=[photo(1, primary=True), photo(2)]))
    assert plan(local, mirror, T).ops == [Reorder(PHOTO, ("Rp2", "Rp1"), (2, 1))]


def test_unprocessed_photos_have_no_place_in_the_remote_order_yet():
    local = state(photos=[photo(1, primary=True), photo(5, uploadable=False), photo(2)])
    mirror = synced_mirror(state(photos=[photo(1, primary=True), photo(2)]))
    assert plan(local, mirror, T).ops == []


def test_a_refused_photo_is_skipped_until_the_draft_changes_and_the_rest_is_ordered():
    local = state(photos=[photo(3), photo(1, primary=True), photo(2)], seq=8)
    refused = mirrored(photo(3), remote_id="", failed_seq=8)
    mirror = synced_mirror(
        state(photos=[photo(1, primary=True), photo(2)]),
        items=(mirrored(photo(1, primary=True)), mirrored(photo(2)), refused),
    )
    result = plan(local, mirror, T)
    assert result.ops == [] and result.blocked == ("photo:3",)
    retry = plan(dataclasses.replace(local, seq=9), mirror, T)
    assert kinds(retry.ops) == ["Upload"]


def test_a_refused_delete_is_not_sent_again_until_the_draft_changes():
    local = state(photos=[photo(1, primary=True)], seq=4)
    refused = mirrored(photo(2), failed_seq=4)
    mirror = synced_mirror(
        local, items=(mirrored(photo(1, primary=True)), refused), photo_order=("Rp1", "Rp2")
    )
    result = plan(local, mirror, T)
    assert result.ops == [] and result.blocked == ("photo:2",)
    assert plan(dataclasses.replace(local, seq=5), mirror, T).ops == [Delete(PHOTO, 2, "Rp2")]


def test_a_duplicate_found_remotely_is_deleted():
    local = state(photos=[photo(1, primary=True)])
    mirror = synced_mirror(local, items=(mirrored(photo(1, primary=True)), MirrorItem(PHOTO, None, "Rdup")))
    assert plan(local, mirror, T).ops == [Delete(PHOTO, None, "Rdup")]


# --- Coalescing reorders ---------------------------------------------------------------------


def test_a_reorder_right_after_another_waits_until_the_order_is_still():
    local = state(photos=[photo(2), photo(1, primary=True)])
    mirror = synced_mirror(
        state(photos=[photo(1, primary=True), photo(2)]),
        order_pushed_at={PHOTO: NOW - dt.timedelta(seconds=2)},
        order_seen_at={PHOTO: NOW - dt.timedelta(seconds=0.3)},
    )
    waiting = plan(local, mirror, T)
    assert waiting.ops == [] and waiting.wait_until == NOW + dt.timedelta(seconds=0.7)
    still = dataclasses.replace(mirror, order_seen_at={PHOTO: NOW - dt.timedelta(seconds=1.5)})
    assert kinds(plan(local, still, T).ops) == ["Reorder"]


def test_continuous_dragging_still_pushes_every_interval():
    local = state(photos=[photo(2), photo(1, primary=True)])
    mirror = synced_mirror(
        state(photos=[photo(1, primary=True), photo(2)]),
        order_pushed_at={PHOTO: NOW - dt.timedelta(seconds=10)},
        order_seen_at={PHOTO: NOW},
    )
    assert kinds(plan(local, mirror, T).ops) == ["Reorder"]


def test_twenty_reorders_in_five_seconds_make_two_order_calls():
    """Simulate the engine's loop: a drag every 0.25 s, the worker planning every 0.1 s."""
    ids = [1, 2, 3, 4]
    base = [photo(i, primary=i == 1) for i in ids]
    mirror = synced_mirror(state(photos=base))
    orders = [list(p) for p in itertools.islice(itertools.permutations(ids), 1, 21)]
    seen, seen_at, pushed_at, calls = [1, 2, 3, 4], None, None, []
    t = NOW
    for step in range(120):  # 12 s of planning
        t = NOW + dt.timedelta(seconds=step * 0.1)
        drag = min(int(step * 0.1 / 0.25), 19) if step * 0.1 < 5 else 19
        current = orders[drag]
        if current != seen:
            seen, seen_at = current, t
        local = state(photos=[photo(i, primary=i == 1) for i in current])
        mirror = dataclasses.replace(
            mirror, order_seen_at={PHOTO: seen_at}, order_pushed_at={PHOTO: pushed_at}
        )
        for op in plan(local, mirror, Timing(now=t)).ops:
            assert isinstance(op, Reorder)
            calls.append(op.remote_ids)
            mirror = dataclasses.replace(mirror, photo_order=op.remote_ids)
            pushed_at = t
    assert len(calls) <= 2
    assert calls[-1] == tuple(f"Rp{i}" for i in orders[19])


# --- Coalescing edits ------------------------------------------------------------------------


def test_an_edit_right_after_another_waits_until_the_draft_is_still():
    local = state(fields={**FIELDS, "ListPrice": 260000})
    mirror = synced_mirror(
        state(),
        edits_pushed_at=NOW - dt.timedelta(seconds=2),
        edits_seen_at=NOW - dt.timedelta(seconds=0.3),
    )
    waiting = plan(local, mirror, T)
    assert waiting.ops == [] and waiting.wait_until == NOW + dt.timedelta(seconds=0.7)
    still = dataclasses.replace(mirror, edits_seen_at=NOW - dt.timedelta(seconds=1.5))
    assert plan(local, still, T).ops == [UpdateFields({"ListPrice": 260000})]


def test_the_first_edit_in_a_while_goes_at_once():
    local = state(fields={**FIELDS, "ListPrice": 260000})
    for pushed_at in (None, NOW - dt.timedelta(seconds=10)):
        mirror = synced_mirror(state(), edits_pushed_at=pushed_at, edits_seen_at=NOW)
        assert plan(local, mirror, T).ops == [UpdateFields({"ListPrice": 260000})]


def test_a_held_caption_does_not_hold_an_upload():
    local = state(photos=[photo(1, primary=True, caption="Porch"), photo(2)])
    mirror = synced_mirror(
        state(photos=[photo(1, primary=True)]),
        edits_pushed_at=NOW - dt.timedelta(seconds=2),
        edits_seen_at=NOW,
    )
    result = plan(local, mirror, T)
    assert kinds(result.ops) == ["Upload"]
    assert result.wait_until is None  # the next plan, after the upload, waits for the caption


def test_held_fields_hold_what_follows_them():
    """Later calls may depend on the fields: a unit is refused until the type is multi family."""
    local = state(fields={**FIELDS, "PropertyType": "B"}, photos=[photo(1, primary=True), photo(2)])
    mirror = synced_mirror(
        state(photos=[photo(1, primary=True)]),
        edits_pushed_at=NOW - dt.timedelta(seconds=2),
        edits_seen_at=NOW - dt.timedelta(seconds=0.5),
    )
    result = plan(local, mirror, T)
    assert result.ops == [] and result.edits_held
    assert result.wait_until == NOW + dt.timedelta(seconds=0.5)
    settled = plan(local, dataclasses.replace(mirror, edits_seen_at=NOW - dt.timedelta(seconds=1)), T)
    assert kinds(settled.ops) == ["UpdateFields", "Upload"]


def test_twenty_saves_in_five_seconds_make_at_most_two_field_calls():
    """Simulate the engine's loop: a save every 0.25 s, the worker planning every 0.1 s."""
    mirror = synced_mirror(state())
    seen, seen_at, pushed_at, calls = FIELDS["ListPrice"], None, None, []
    for step in range(120):  # 12 s of planning
        t = NOW + dt.timedelta(seconds=step * 0.1)
        price = 300000 + 1000 * min(int(step * 0.1 / 0.25), 19)
        if price != seen:
            seen, seen_at = price, t
        local = state(fields={**FIELDS, "ListPrice": price})
        mirror = dataclasses.replace(mirror, edits_seen_at=seen_at, edits_pushed_at=pushed_at)
        for op in plan(local, mirror, Timing(now=t)).ops:
            assert isinstance(op, UpdateFields)
            calls.append(op.changes["ListPrice"])
            mirror = dataclasses.replace(mirror, fields={**mirror.fields, **op.changes})
            pushed_at = t
    assert len(calls) <= 2
    assert calls[-1] == 319000


def test_a_caption_and_the_star_on_one_photo_are_one_call():
    local = state(photos=[photo(1), photo(2, primary=True, caption="Sunlit corner")])
    mirror = synced_mirror(state(photos=[photo(1, primary=True), photo(2)]))
    assert plan(local, mirror, T).ops == [UpdatePhoto(PHOTO, 2, "Rp2", caption="Sunlit corner", primary=True)]


# --- Documents -------------------------------------------------------------------------------


def test_document_name_and_privacy_are_one_call_each():
    local = state(documents=[document(7, name="Survey 2026", privacy="Public")])
    mirror = synced_mirror(state(documents=[document(7, name="Survey", privacy="Private")]))
    assert plan(local, mirror, T).ops == [
        RenameDocument(DOCUMENT, 7, "Rd7", "Survey 2026"),
        SetPrivacy(DOCUMENT, 7, "Rd7", "Public"),
    ]


def test_documents_upload_with_privacy_then_order():
    local = state(documents=[document(8, privacy="Public"), document(7)])
    mirror = synced_mirror(state(documents=[document(7)]))
    result = plan(local, mirror, T)
    assert result.ops == [Upload(DOCUMENT, 8, "doc8", "Doc 8", "d8", privacy="Public")]
    after = synced_mirror(state(documents=[document(7), document(8, privacy="Public")]))
    assert plan(local, after, T).ops == [Reorder(DOCUMENT, ("Rd8", "Rd7"), (8, 7))]


# --- Convergence with a simulated remote (docs/reliability.md#j10-ordering) ---------------------------------


class FakeRemote:
    """Just enough of an MLS to apply the planner's calls and check their preconditions."""

    def __init__(self):
        self.listing = None
        self.fields = {}
        self.items = {PHOTO: [], DOCUMENT: []}  # remote ids in order
        self.primary = None
        self.meta = {}
        self.ids = itertools.count(1)
        self.bad_refs = 0
        self.early_reorders = 0
        self.listings = itertools.count(1)

    def apply(self, op, mirror: MirrorState, local: LocalState) -> MirrorState:
        if isinstance(op, CreateListing):
            assert self.listing is None, "a second listing"
            self.listing, self.fields = f"L{next(self.listings)}", dict(op.fields)
            return dataclasses.replace(mirror, remote_id=self.listing, fields=dict(op.fields))
        if isinstance(op, DeleteListing):
            assert op.remote_id == self.listing
            self.__init__()
            # What the engine records with the confirmed delete: an empty mirror.
            return MirrorState()
        assert self.listing
        if isinstance(op, UpdateFields):
            self.fields.update(op.changes)
            return dataclasses.replace(mirror, fields={**mirror.fields, **op.changes})
        items = list(mirror.items)
        if isinstance(op, Upload):
            rid = f"X{next(self.ids)}"
            self.items[op.kind].append(rid)
            self.meta[rid] = (op.name, op.caption, op.privacy, op.content_hash)
            if op.kind == PHOTO and (op.primary or len(self.items[PHOTO]) == 1):
                self.primary = rid
            items = [i for i in items if not (i.kind == op.kind and i.local_id == op.local_id)]
            items.append(
                MirrorItem(
                    op.kind,
                    op.local_id,
                    rid,
                    name=op.name,
                    caption=op.caption,
                    privacy=op.privacy,
                    content_hash=op.content_hash,
                )
            )
        elif isinstance(op, Delete | Replace | UpdatePhoto | SetPrimary | RenameDocument | SetPrivacy):
            if op.remote_id not in self.items[op.kind]:
                self.bad_refs += 1
            if isinstance(op, Delete):
                self.items[op.kind].remove(op.remote_id)
                items = [i for i in items if i.remote_id != op.remote_id]
                if self.primary == op.remote_id:
                    self.primary = self.items[PHOTO][0] if self.items[PHOTO] else None
            elif isinstance(op, SetPrimary):
                self.primary = op.remote_id
            else:
                name, caption, privacy, content = self.meta[op.remote_id]
                self.meta[op.remote_id] = (
                    getattr(op, "name", None) or name,
                    op.caption if getattr(op, "caption", None) is not None else caption,
                    getattr(op, "privacy", None) or privacy,
                    getattr(op, "content_hash", None) or content,
                )
                items = [
                    dataclasses.replace(
                        i,
                        name=getattr(op, "name", None) or i.name,
                        caption=op.caption if getattr(op, "caption", None) is not None else i.caption,
                        privacy=getattr(op, "privacy", None) or i.privacy,
                        content_hash=getattr(op, "content_hash", None) or i.content_hash,
                    )
                    if i.remote_id == op.remote_id
                    else i
                    for i in items
                ]
                if isinstance(op, UpdatePhoto) and op.primary:
                    self.primary = op.remote_id
        elif isinstance(op, Reorder):
            mapped = {i.local_id for i in items if i.kind == op.kind and i.remote_id}
            wanted = {i.local_id for i in local.items(op.kind) if i.uploadable}
            if not wanted <= mapped:
                self.early_reorders += 1
            assert sorted(op.remote_ids) == sorted(self.items[op.kind])
            self.items[op.kind] = list(op.remote_ids)
        elif isinstance(op, Forget):
            items = [i for i in items if not (i.kind == op.kind and i.local_id == op.local_id)]
        primary = self.primary or ""
        return dataclasses.replace(
            mirror,
            items=tuple(items),
            photo_order=tuple(self.items[PHOTO]),
            document_order=tuple(self.items[DOCUMENT]),
            primary_photo=primary
            if isinstance(op, SetPrimary | Upload | Delete) or (isinstance(op, UpdatePhoto) and op.primary)
            else mirror.primary_photo,
        )


@st.composite
def local_states(draw):
    photo_ids = draw(st.lists(st.integers(1, 8), unique=True, max_size=6))
    photo_ids = draw(st.permutations(photo_ids))
    primary = draw(st.sampled_from(photo_ids)) if photo_ids else None
    photos = [
        photo(
            i,
            primary=i == primary,
            caption=draw(st.sampled_from(["", "a", "b"])),
            content_hash=draw(st.sampled_from([f"h{i}", f"h{i}x"])),
            uploadable=draw(st.booleans()) if i != primary else True,
        )
        for i in photo_ids
    ]
    doc_ids = draw(st.permutations(draw(st.lists(st.integers(20, 24), unique=True, max_size=3))))
    docs = [document(i, privacy=draw(st.sampled_from(["Public", "Private"]))) for i in doc_ids]
    fields = {**FIELDS, "ListPrice": draw(st.sampled_from([1, 2, 3]))}
    return state(photos=photos, documents=docs, fields=fields, seq=draw(st.integers(1, 50)))


@settings(max_examples=200, deadline=None)
@given(first=local_states(), second=local_states())
def test_any_two_states_converge_with_valid_calls(first, second):
    """Push `first`, then `second` (edits, trash, reorders, new pictures): the remote ends equal
    to the local state, no call names a remote id that does not exist, and no reorder comes
    before every item has a remote id. A further plan is empty (idempotent)."""
    remote = FakeRemote()
    mirror = MirrorState()
    for local in (first, second):
        for _round in range(50):
            result = plan(local, mirror, Timing(now=NOW + dt.timedelta(hours=_round)))
            if not result.ops:
                break
            for op in result.ops:
                mirror = remote.apply(op, mirror, local)
                if op.replan_after:
                    break
        else:
            raise AssertionError("the plan did not converge")
        assert plan(local, mirror, Timing(now=NOW + dt.timedelta(days=1))).ops == []
        assert remote.fields == dict(local.fields)
        for kind in (PHOTO, DOCUMENT):
            by_local = {i.local_id: i.remote_id for i in mirror.items if i.kind == kind}
            expected = [by_local[i.local_id] for i in local.items(kind) if i.local_id in by_local]
            assert remote.items[kind] == expected
            uploadable = [i.local_id for i in local.items(kind) if i.uploadable]
            # Every ready item is remote; an item being reprocessed keeps its remote twin.
            assert set(uploadable) <= set(by_local) <= {i.local_id for i in local.items(kind)}
            for item in local.items(kind):
                if item.local_id in by_local and item.uploadable:
                    assert remote.meta[by_local[item.local_id]] == (
                        item.name,
                        item.caption,
                        item.privacy,
                        item.content_hash,
                    )
        primary = next((i for i in local.photos if i.primary), None)
        if primary is not None:
            assert remote.primary == {i.local_id: i.remote_id for i in mirror.items}[primary.local_id]
    assert remote.bad_refs == 0
    assert remote.early_reorders == 0


def _push(local: LocalState, mirror: MirrorState, remote: FakeRemote) -> MirrorState:
    for _round in range(50):
        result = plan(local, mirror, Timing(now=NOW + dt.timedelta(hours=_round)))
        if not result.ops:
            return mirror
        for op in result.ops:
            mirror = remote.apply(op, mirror, local)
            if op.replan_after:
                break
    raise AssertionError("the plan did not converge")


@settings(max_examples=50, deadline=None)
@given(first=local_states(), second=local_states())
def test_trash_then_restore_converges_to_one_fresh_listing(first, second):
    remote = FakeRemote()
    mirror = _push(first, MirrorState(), remote)
    mirror = _push(dataclasses.replace(first, trashed=True), mirror, remote)
    assert remote.listing is None and mirror == MirrorState()
    assert plan(dataclasses.replace(second, trashed=True), mirror, T).done  # nothing left to do
    mirror = _push(second, mirror, remote)
    assert remote.listing is not None and remote.fields == dict(second.fields)
    uploadable = [i.local_id for i in second.photos if i.uploadable]
    by_local = {i.local_id: i.remote_id for i in mirror.items if i.kind == PHOTO}
    assert remote.items[PHOTO] == [by_local[i] for i in uploadable]
    assert plan(second, mirror, Timing(now=NOW + dt.timedelta(days=1))).ops == []


def test_planner_module_is_pure():
    with open(planner.__file__) as handle:
        source = handle.read()
    for forbidden in ("django", "requests", "import time", "datetime.now", "timezone.now"):
        assert forbidden not in source
