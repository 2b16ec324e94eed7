"""The one way views reach a draft: starting from the user, 404 for what they may not see."""

from django.core.exceptions import PermissionDenied
from django.http import Http404

from .models import Draft


def get_draft_for(
    user,
    pk: int,
    *,
    write: bool = False,
    include_trash: bool = False,
    related: bool = True,
    lock: bool = False,
) -> Draft:
    """The draft `pk` if `user` may see it (and edit it, with `write`), else 404 / 403.

    Another office's draft is a 404, never a 403: its existence is not disclosed.
    A visible draft the user may not change (live, being published, in the trash) is a 403.
    `related=False` reads the draft's row alone (its office, agents and sync state are then
    read only if used): for a request that needs no more, such as an autosave.
    `lock=True` (inside the caller's transaction) locks the row as it is read: an autosave's
    one read is both its access check and the row its save compares with and writes.
    """
    drafts = Draft.objects.visible_to(user)
    if related:
        drafts = drafts.select_related("office__company", "list_agent", "co_list_agent", "sync")
    if not include_trash:
        drafts = drafts.active()
    if lock:
        drafts = drafts.select_for_update(of=("self",))
    try:
        draft = drafts.get(pk=pk)
    except Draft.DoesNotExist:
        raise Http404("No such draft.") from None
    # The draft came through `visible_to(user)`: of `can_edit` only the state is left to ask
    # (its own visibility query would repeat the one above).
    if write and not draft.is_editable:
        raise PermissionDenied("This draft can no longer be edited.")
    return draft
