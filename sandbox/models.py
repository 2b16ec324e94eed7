"""What the emulated MLS holds, plus the sandbox's own control state (faults, journal, tokens).

Everything lives in these tables so the portal's web server, test processes and Celery workers all see
one sandbox: fault rules and their counters included.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class Blob(models.Model):
    """Uploaded bytes, shared by content (a photo rotated back and forth reuses its blobs)."""

    sha256 = models.CharField(max_length=64, unique=True)
    data = models.BinaryField()
    size = models.PositiveIntegerField()
    content_type = models.CharField(max_length=100)
    width = models.PositiveIntegerField(null=True)
    height = models.PositiveIntegerField(null=True)

    def __str__(self) -> str:
        return self.sha256


class Rendition(models.Model):
    """A cached resize of an image blob for one of the ``Uri*`` sizes."""

    blob = models.ForeignKey(Blob, on_delete=models.CASCADE, related_name="renditions")
    variant = models.CharField(max_length=20)
    data = models.BinaryField()
    width = models.PositiveIntegerField()
    height = models.PositiveIntegerField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["blob", "variant"], name="sandbox_rendition_once")]

    def __str__(self) -> str:
        return self.variant


class ListingQuerySet(models.QuerySet):
    def incomplete(self) -> ListingQuerySet:
        return self.filter(is_incomplete=True)

    def complete(self) -> ListingQuerySet:
        return self.filter(is_incomplete=False)

    def with_media(self) -> ListingQuerySet:
        """Live photos, documents and parts in order, three queries in all; blobs without the bytes."""
        photos = Photo.objects.live().select_related("blob").defer("blob__data").order_by("position")
        documents = Document.objects.select_related("blob").defer("blob__data").order_by("position")
        return self.prefetch_related(
            models.Prefetch("photos", queryset=photos),
            models.Prefetch("documents", queryset=documents),
            models.Prefetch("parts", queryset=PartRecord.objects.order_by("collection", "position", "id")),
        )


class Listing(models.Model):
    """A listing or an incomplete listing (draft); both share one id space, as Spark's do."""

    spark_id = models.CharField(max_length=26, unique=True)
    is_incomplete = models.BooleanField()
    # StandardFields as written by clients (computed and profile fields are added when serialised).
    fields = models.JSONField(default=dict)
    custom_fields = models.JSONField(default=dict)
    listing_number = models.CharField(max_length=20, blank=True)
    created_at = models.DateTimeField()
    modified_at = models.DateTimeField()
    photos_changed_at = models.DateTimeField(null=True)
    documents_changed_at = models.DateTimeField(null=True)

    objects = ListingQuerySet.as_manager()

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.spark_id

    @property
    def owner_path(self) -> str:
        return (
            f"/v1/listings/incomplete/{self.spark_id}"
            if self.is_incomplete
            else f"/v1/listings/{self.spark_id}"
        )


class PhotoQuerySet(models.QuerySet):
    def live(self) -> PhotoQuerySet:
        return self.filter(deleted_at__isnull=True)


class Photo(models.Model):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="photos")
    # Replacing the picture gives the photo a new Id (a new ResourceUri, as the Photos page says).
    spark_id = models.CharField(max_length=26, unique=True)
    name = models.CharField(max_length=40)
    caption = models.CharField(max_length=1000, blank=True)
    file_name = models.CharField(max_length=255)
    primary = models.BooleanField(default=False)
    position = models.PositiveIntegerField()
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    version = models.PositiveIntegerField(default=1)
    deleted_at = models.DateTimeField(null=True)
    modified_at = models.DateTimeField()

    objects = PhotoQuerySet.as_manager()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["listing"],
                condition=Q(primary=True, deleted_at__isnull=True),
                name="sandbox_one_primary",
            )
        ]

    def __str__(self) -> str:
        return self.spark_id


class PhotoAlias(models.Model):
    """A replaced photo's former Id, kept only when option ``photo_replace_keeps_old_id`` is on."""

    old_id = models.CharField(max_length=26, unique=True)
    photo = models.ForeignKey(Photo, on_delete=models.CASCADE, related_name="aliases")

    def __str__(self) -> str:
        return self.old_id


class Document(models.Model):
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="documents")
    spark_id = models.CharField(max_length=26, unique=True)
    name = models.CharField(max_length=255)
    privacy = models.CharField(max_length=20)
    file_name = models.CharField(max_length=255)
    position = models.PositiveIntegerField()
    blob = models.ForeignKey(Blob, on_delete=models.PROTECT, related_name="+")
    modified_at = models.DateTimeField()

    def __str__(self) -> str:
        return self.spark_id


class Ticket(models.Model):
    token = models.CharField(max_length=32, unique=True)
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="tickets")
    service = models.CharField(max_length=20)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True)

    def __str__(self) -> str:
        return self.token


class AccessToken(models.Model):
    """An OAuth access token issued by ``/v1/oauth2/grant`` (the settings token is not stored)."""

    access_token = models.CharField(max_length=64, unique=True)
    refresh_token = models.CharField(max_length=64, unique=True)
    expires_at = models.DateTimeField()
    refresh_used = models.BooleanField(default=False)
    revoked = models.BooleanField(default=False)

    def __str__(self) -> str:
        return self.access_token


class GrantCode(models.Model):
    """Authorization codes already exchanged: a code works once."""

    code = models.CharField(max_length=255, unique=True)

    def __str__(self) -> str:
        return self.code


class SandboxConfig(models.Model):
    """The singleton (pk=1) of run-time switches: fault seed, latency, clock offset, option overrides."""

    seed = models.BigIntegerField(default=0)
    latency_ms = models.PositiveIntegerField(default=0)
    clock_offset_seconds = models.FloatField(default=0.0)
    options = models.JSONField(default=dict)

    def __str__(self) -> str:
        return "sandbox configuration"


class FaultRule(models.Model):
    position = models.PositiveIntegerField()
    kind = models.CharField(max_length=30)
    probability = models.FloatField(default=1.0)
    routes = models.JSONField(null=True)
    methods = models.JSONField(null=True)
    times = models.PositiveIntegerField(null=True)
    params = models.JSONField(default=dict)
    matched = models.PositiveIntegerField(default=0)
    injected = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["position"]

    def __str__(self) -> str:
        return self.kind


class Call(models.Model):
    """One journal entry per API request the sandbox answered (or dropped)."""

    at = models.DateTimeField()
    method = models.CharField(max_length=10)
    path = models.CharField(max_length=500)
    route = models.CharField(max_length=60, db_index=True)
    status = models.PositiveIntegerField(null=True)
    code = models.IntegerField(null=True)
    fault = models.CharField(max_length=30, null=True)
    applied = models.BooleanField(default=False)
    duration_ms = models.FloatField(default=0.0)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.route


class PartRecord(models.Model):
    """A room, unit, virtual tour or video of a listing (sandbox/api_parts.py).

    One table for the four collections: they share Id, order and listing, and differ only in their
    attributes, which are kept as the client sent them (rooms and units: attribute name -> string or
    null; tours and videos: Name, Uri or ObjectHtml, Caption, Type, Privacy).
    """

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="parts")
    collection = models.CharField(max_length=20)  # rooms | units | virtualtours | videos
    spark_id = models.CharField(max_length=26, unique=True)
    # Tours and videos only: records sharing it are the branded and unbranded variants of one item.
    group_id = models.CharField(max_length=26, blank=True)
    position = models.PositiveIntegerField()
    attributes = models.JSONField(default=dict)
    modified_at = models.DateTimeField()

    class Meta:
        ordering = ["position", "id"]
        indexes = [models.Index(fields=["listing", "collection", "position"], name="sandbox_part_order")]

    def __str__(self) -> str:
        return self.spark_id


class OpenHouse(models.Model):
    """An open house of a live listing (sandbox/api_open_houses.py): its date and local times."""

    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="open_houses")
    spark_id = models.CharField(max_length=26, unique=True)
    date = models.DateField()
    start = models.TimeField()
    end = models.TimeField()
    comments = models.TextField(blank=True)
    modified_at = models.DateTimeField()

    class Meta:
        ordering = ["date", "start", "id"]

    def __str__(self) -> str:
        return self.spark_id
