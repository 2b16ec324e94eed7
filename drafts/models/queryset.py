"""Which drafts a person sees, and how the list searches, sorts and finds drafts nearby."""

from __future__ import annotations

import math

from django.db import models
from django.db.models import Q

from .status import DraftStatus

# The list's sort keys: the query string value -> the ordering it means.
SORTS: dict[str, tuple[str, ...]] = {
    "-updated": ("-updated_at", "-pk"),
    "updated": ("updated_at", "pk"),
    "-price": ("-list_price", "-pk"),
    "price": ("list_price", "pk"),
    "address": ("city", "street_name", "street_number", "pk"),
    "-address": ("-city", "-street_name", "-street_number", "-pk"),
    "status": ("status", "-updated_at", "-pk"),
}

KM_PER_DEGREE_OF_LATITUDE = 111.0
# A degree of longitude shrinks to nothing at the poles; the floor keeps the box finite there.
MIN_LONGITUDE_SCALE = 0.01


class DraftQuerySet(models.QuerySet["Draft"]):
    def visible_to(self, user) -> DraftQuerySet:
        """Drafts `user` may see: the one scoping rule every view goes through.

        Agents see drafts they list, co-list or created; office admins their office's;
        company admins their company's; anyone else nothing.
        """
        if not user.is_authenticated or not user.is_active:
            return self.none()
        if user.is_superuser:
            return self
        if user.office_id is None:
            return self.none()
        if user.is_company_admin:
            return self.filter(office__company_id=user.office.company_id)
        if user.is_office_admin:
            return self.filter(office_id=user.office_id)
        return self.filter(Q(list_agent=user) | Q(co_list_agent=user) | Q(created_by=user))

    def active(self) -> DraftQuerySet:
        return self.filter(deleted_at__isnull=True)

    def in_trash(self) -> DraftQuerySet:
        return self.filter(deleted_at__isnull=False)

    def matching_address(self, text: str) -> DraftQuerySet:
        query = Q()
        for word in text.split():
            query &= (
                Q(street_number__icontains=word)
                | Q(street_name__icontains=word)
                | Q(city__icontains=word)
                | Q(postal_code__icontains=word)
                | Q(subdivision_name__icontains=word)
            )
        return self.filter(query)

    def ordered_by(self, sort: str) -> DraftQuerySet:
        """Ordered by one of SORTS' keys; an unknown key means most recently updated first."""
        return self.order_by(*SORTS.get(sort, SORTS["-updated"]))

    def awaiting_review(self) -> DraftQuerySet:
        return self.filter(status=DraftStatus.SUBMITTED)

    def within_box(self, latitude: float, longitude: float, km: float) -> DraftQuerySet:
        lat_delta = km / KM_PER_DEGREE_OF_LATITUDE
        lon_delta = km / (
            KM_PER_DEGREE_OF_LATITUDE * max(math.cos(math.radians(latitude)), MIN_LONGITUDE_SCALE)
        )
        return self.filter(
            latitude__range=(latitude - lat_delta, latitude + lat_delta),
            longitude__range=(longitude - lon_delta, longitude + lon_delta),
        )
