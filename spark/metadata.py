"""The listing metadata services: what one MLS defines for its listings (fields and their lists,
property types, the entry layout, custom fields, rooms and units fields, listing rules).
docs/spark-protocol.md#metadata. :class:`~spark.client.SparkClient` has these methods.

Conditional GET (``if_changed``) is offered only where the pages document it: standard fields,
custom fields and field order (docs/spark-protocol.md#conditional-requests). The other services
are read whole every time.
"""

from __future__ import annotations

from urllib.parse import quote

from spark.responses import SparkResult, Validators
from spark.transport import ListArg, SparkTransport, join_values

__all__ = ["MetadataServices", "path_segment"]


class MetadataServices(SparkTransport):
    # -- standard fields (docs/spark-protocol.md#standard-fields) -----------------------------

    def standard_fields(self, *, mls: ListArg = None, if_changed: Validators | None = None) -> SparkResult:
        """GET /v1/standardfields: one result keyed by field name (``Label``, ``Type``,
        ``HasList``, ``MultiSelect``, ``MlsVisible``)."""
        return self.request(
            "GET",
            "/v1/standardfields",
            route="standardfields.list",
            params=self.build_query(extra={"_mls": join_values(mls)}),
            if_changed=if_changed,
        )

    def standard_field(self, field_name: str, *, if_changed: Validators | None = None) -> SparkResult:
        """GET /v1/standardfields/{Field}: one result ``{Field: {..., "FieldList": [{"Name",
        "Value", "Applies To"}]}}``; ``Applies To`` is left out for values of every type."""
        return self.request(
            "GET",
            f"/v1/standardfields/{path_segment(field_name)}",
            route="standardfields.get",
            if_changed=if_changed,
        )

    # -- property types (docs/spark-protocol.md#property-types) -------------------------------

    def property_types(self, *, include_inactive: bool = False, mls: ListArg = None) -> SparkResult:
        if include_inactive:
            return self._list("/v1/propertytypes/all", "propertytypes.all", extra={"_mls": join_values(mls)})
        return self._list("/v1/propertytypes", "propertytypes.list", extra={"_mls": join_values(mls)})

    # -- custom fields (docs/spark-protocol.md#custom-fields) ---------------------------------

    def custom_fields(self, *, mls: ListArg = None, if_changed: Validators | None = None) -> SparkResult:
        """GET /v1/customfields: one result per group, ``{Group: {"Label", "Fields": {Field: {...}}}}``."""
        return self.request(
            "GET",
            "/v1/customfields",
            route="customfields.list",
            params=self.build_query(extra={"_mls": join_values(mls)}),
            if_changed=if_changed,
        )

    def custom_field(self, field_name: str, *, if_changed: Validators | None = None) -> SparkResult:
        """GET /v1/customfields/{Field} (names may hold spaces: sent URL-encoded), with its
        ``FieldList`` as for standard fields (our reading: docs/spark-protocol.md#custom-fields)."""
        return self.request(
            "GET",
            f"/v1/customfields/{path_segment(field_name)}",
            route="customfields.get",
            if_changed=if_changed,
        )

    # -- field order (docs/spark-protocol.md#field-order) -------------------------------------

    def field_order(
        self, property_type: str | None = None, *, mls: ListArg = None, if_changed: Validators | None = None
    ) -> SparkResult:
        """GET /v1/fields/order: ``[{Code: [{Group: [entry, ...]}, ...]}]`` for every type; with
        ``property_type``, GET /v1/fields/order/{Code}: ``[{Group: [entry, ...]}, ...]``. An entry
        has ``Field``, ``Label``, ``Domain`` (StandardFields or CustomFields), ``GroupField``."""
        if property_type is None:
            path, route = "/v1/fields/order", "fieldorder.list"
        else:
            path, route = f"/v1/fields/order/{path_segment(property_type)}", "fieldorder.get"
        return self.request(
            "GET",
            path,
            route=route,
            params=self.build_query(extra={"_mls": join_values(mls)}),
            if_changed=if_changed,
        )

    # -- rooms and units metadata (docs/spark-protocol.md#rooms-and-units-metadata) ------------

    def room_fields(self, *, mls_id: str | None = None) -> SparkResult:
        """GET /v1/rooms (or /v1/mls/{MlsId}/rooms): one result keyed by room field name."""
        return self.request("GET", _mls_path(mls_id, "rooms"), route="roomsmeta.list")

    def room_field(self, field_name: str, *, mls_id: str | None = None) -> SparkResult:
        """GET /v1/rooms/{Field}, with its ``FieldList`` (our reading of a page cut short)."""
        return self.request(
            "GET", f"{_mls_path(mls_id, 'rooms')}/{path_segment(field_name)}", route="roomsmeta.get"
        )

    def unit_fields(self, *, mls_id: str | None = None) -> SparkResult:
        """GET /v1/units (or /v1/mls/{MlsId}/units): one result keyed by unit field name."""
        return self.request("GET", _mls_path(mls_id, "units"), route="unitsmeta.list")

    def unit_field(self, field_name: str, *, mls_id: str | None = None) -> SparkResult:
        """GET /v1/units/{Field}, with its ``FieldList`` (our reading, as for rooms)."""
        return self.request(
            "GET", f"{_mls_path(mls_id, 'units')}/{path_segment(field_name)}", route="unitsmeta.get"
        )

    # -- listing rules (docs/spark-protocol.md#listing-rules) ---------------------------------

    def listing_rules(self, property_type: str) -> SparkResult:
        """GET /v1/listings/rules/propertytypes/{Code}: the rules of one property type."""
        return self.request(
            "GET", f"/v1/listings/rules/propertytypes/{path_segment(property_type)}", route="rules.list"
        )

    def listing_rules_meta(self) -> SparkResult:
        """GET /v1/listings/rules/meta: the actions, approval statuses and domains rules use."""
        return self.request("GET", "/v1/listings/rules/meta", route="rules.meta")


def path_segment(value: str) -> str:
    """A name or code as one path segment: URL-encoded (custom field names hold spaces and
    slashes), never empty."""
    if not value or not isinstance(value, str) or not value.strip():
        raise ValueError(f"invalid path segment: {value!r}")
    return quote(value, safe="")


def _mls_path(mls_id: str | None, service: str) -> str:
    return f"/v1/mls/{path_segment(mls_id)}/{service}" if mls_id else f"/v1/{service}"
