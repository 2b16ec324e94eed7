"""Stable route names of the Spark sandbox (the journal, the counters and fault rules use them).

Paths are relative to the base URL: ``http://host/sandbox`` inside the portal, ``http://127.0.0.1:8001``
under ``manage.py runsandbox``. ``{owner}`` is either ``/v1/listings/{LId}`` or
``/v1/listings/incomplete/{IId}``: photo, document and ticket routes have the same name for both kinds of
listing (the journal's ``path`` tells them apart).

=========================  ======  ==========================================================================
route                      verb    path
=========================  ======  ==========================================================================
incomplete.list            GET     /v1/listings/incomplete
incomplete.create          POST    /v1/listings/incomplete
incomplete.get             GET     /v1/listings/incomplete/{IId}
incomplete.update          PUT     /v1/listings/incomplete/{IId}
incomplete.delete          DELETE  /v1/listings/incomplete/{IId}
incomplete.nearby          GET     /v1/listings/incomplete/nearby
incomplete.promote         POST    /v1/listings/incomplete/{IId}/promote   (only with option
                                   ``promotion_endpoint``; spark-api.md §10.1 -- not a real Spark call)
listings.search            GET     /v1/listings, /v1/contacts/{CId}/listings
listings.create            POST    /v1/listings
listings.get               GET     /v1/listings/{LId}, /v1/contacts/{CId}/listings/{LId}
listings.update            PUT     /v1/listings/{LId}
listings.flexmls_update    PUT     /v1/flexmls/listings/{LId}
listings.my                GET     /v1/my/listings
listings.office            GET     /v1/office/listings
listings.company           GET     /v1/company/listings
listings.nearby            GET     /v1/listings/nearby, /v1/contacts/{CId}/listings/nearby
listings.validate          POST    /v1/listings/validation
listings.validate_update   PUT     /v1/listings/{LId}/validation
photos.list                GET     {owner}/photos
photos.create              POST    {owner}/photos                  (base64 JSON upload)
photos.reorder             PUT     {owner}/photos                  (whole-list order by Id)
photos.get                 GET     {owner}/photos/{PId}
photos.update              PUT     {owner}/photos/{PId}            (Name, Caption, Primary, Order, Rotate)
photos.replace             PUT     {owner}/photos/{PId}            (the body carries ``Picture``)
photos.delete              DELETE  {owner}/photos/{PId}
photos.batch_delete        DELETE  {owner}/photos/{PId1},{PId2},...
photos.restore             PUT     {owner}/photos/{PId}/versions/current
photos.meta                GET     /v1/listings/photos/meta, /v1/listings/incomplete/photos/meta
documents.list             GET     {owner}/documents
documents.reorder          PUT     {owner}/documents               (whole-list order by Id)
documents.get              GET     {owner}/documents/{DId}
documents.update           PUT     {owner}/documents/{DId}         (Order, Name or Privacy)
documents.delete           DELETE  {owner}/documents/{DId}
documents.required         GET     {owner}/documents/required
documents.meta             GET     /v1/listings[/incomplete]/documents[/propertytypes/{Code}]/meta
tickets.create             POST    {owner}/tickets, {owner}/photos/tickets, {owner}/documents/tickets
uploads.photo              POST    /uploads/photos                 (ticket, multipart, no Authorization)
uploads.document           POST    /uploads/documents              (ticket, multipart, no Authorization)
standardfields.list        GET     /v1/standardfields, /v1/mls/{MlsId}/standardfields
standardfields.get         GET     /v1/standardfields/{Field}
propertytypes.list         GET     /v1/propertytypes, /v1/mls/{MlsId}/propertytypes
propertytypes.all          GET     /v1/propertytypes/all
rules.meta                 GET     /v1/listings/rules/meta
rules.list                 GET     /v1/listings/rules/propertytypes/{Code}
oauth.grant                POST    /v1/oauth2/grant                (authorization_code, refresh_token)
oauth.openid_token         POST    /openid/token                   (same grants, JSON or form body)
oauth.revoke               DELETE  /v1/oauth2/token/{AccessToken}
files.photo                GET     the ``Uri*`` image URLs of a photo (faulted only when named in ``routes``)
files.document             GET     a document's ``Uri`` (faulted only when named in ``routes``)
<resource>.not_allowed     any     a verb the pages mark "Not implemented" (405), e.g. ``photos.not_allowed``
unknown                    any     a path the sandbox does not know (404)
=========================  ======  ==========================================================================

Not journaled and never faulted: the HTML page (``/``) and the control interface (``/_control/...``).
"""
