"""Existing drafts move to the MLS's own values, losing nothing.

- Sub-types: our old codes (CONDO, TWNHS, ...) become the MLS's (CN, TH, ...): by the old
  code's name matched to a name in the MLS's PropertySubType list for the draft's type when
  that list has been read, else by the table below (the MLS of the issue: SF Single Family,
  CN Condominium, TH Townhouse for Residential). A code with no match stays as it is; the
  editor shows it as "not in the MLS's list".
- States: a two-letter code in any case becomes upper case; a full state or province name
  becomes its code (exact names only: anything else stays as typed).
- Custom "Lot Size Acres" (our old land rule asked for it) becomes the MLS's standard
  LotSizeAcres when it is a number; other custom fields are kept as they are.

A changed draft's change count goes up, so the MLS gets the new values on the next push.
"""

from decimal import Decimal, InvalidOperation

from django.conf import settings
from django.db import migrations
from django.db.models import F

# Our old sub-types: (property type, old code) -> their names (to match the MLS's names).
OLD_SUB_TYPE_NAMES = {
    ("A", "SF"): "Single Family",
    ("A", "CONDO"): "Condominium",
    ("A", "TWNHS"): "Townhouse",
    ("A", "MOBILE"): "Manufactured",
    ("B", "DUPLEX"): "Duplex",
    ("B", "TRIPLEX"): "Triplex",
    ("B", "FOURPLEX"): "Fourplex",
    ("B", "APTS"): "Apartment Building",
    ("C", "RESLOT"): "Residential Lot",
    ("C", "COMMLOT"): "Commercial Lot",
    ("C", "ACREAGE"): "Acreage",
    ("D", "RETAIL"): "Retail",
    ("D", "OFFICE"): "Office",
    ("D", "INDUST"): "Industrial",
    ("D", "MIXED"): "Mixed Use",
    ("E", "CROP"): "Cropland",
    ("E", "LIVESTOCK"): "Livestock",
    ("E", "HOBBY"): "Hobby Farm",
    ("F", "HOUSE"): "Single Family Rental",
    ("F", "SF"): "Single Family Rental",
    ("F", "APT"): "Apartment Rental",
    ("F", "TWNHS"): "Townhouse",
}
# The MLS of the issue, when its list has not been read yet.
KNOWN_MLS_CODES = {
    "Single Family": "SF",
    "Condominium": "CN",
    "Townhouse": "TH",
    "Duplex": "DU",
    "Triplex": "TR",
    "Fourplex": "FP",
    "Apartment Building": "AP",
    "Residential Lot": "RL",
    "Commercial Lot": "CL",
    "Acreage": "AC",
    "Office": "OF",
    "Retail": "RT",
    "Industrial": "IN",
    "Mixed Use": "MU",
    "Cropland": "CR",
    "Livestock": "LV",
    "Hobby Farm": "HF",
    "Single Family Rental": "SR",
    "Apartment Rental": "AR",
}

STATE_CODES = {
    "alabama": "AL", "alaska": "AK", "arizona": "AZ", "arkansas": "AR", "california": "CA",
    "colorado": "CO", "connecticut": "CT", "delaware": "DE", "district of columbia": "DC",
    "florida": "FL", "georgia": "GA", "hawaii": "HI", "idaho": "ID", "illinois": "IL",
    "indiana": "IN", "iowa": "IA", "kansas": "KS", "kentucky": "KY", "louisiana": "LA",
    "maine": "ME", "maryland": "MD", "massachusetts": "MA", "michigan": "MI", "minnesota": "MN",
    "mississippi": "MS", "missouri": "MO", "montana": "MT", "nebraska": "NE", "nevada": "NV",
    "new hampshire": "NH", "new jersey": "NJ", "new mexico": "NM", "new york": "NY",
    "north carolina": "NC", "north dakota": "ND", "ohio": "OH", "oklahoma": "OK", "oregon": "OR",
    "pennsylvania": "PA", "rhode island": "RI", "south carolina": "SC", "south dakota": "SD",
    "tennessee": "TN", "texas": "TX", "utah": "UT", "vermont": "VT", "virginia": "VA",
    "washington": "WA", "west virginia": "WV", "wisconsin": "WI", "wyoming": "WY",
    "alberta": "AB", "british columbia": "BC", "manitoba": "MB", "new brunswick": "NB",
    "newfoundland and labrador": "NL", "nova scotia": "NS", "ontario": "ON",
    "prince edward island": "PE", "quebec": "QC", "saskatchewan": "SK",
}  # fmt: skip


def _mls_sub_types(apps) -> list[dict]:
    """The MLS's PropertySubType list as last read (empty when never read)."""
    MlsMetadata = apps.get_model("mls", "MlsMetadata")
    row = (
        MlsMetadata.objects.filter(
            mls_id=settings.SPARK_MLS_ID,
            service="standard_field",
            key="PropertySubType",
            payload__isnull=False,
        )
        .only("payload")
        .first()
    )
    payload = row.payload if row is not None and isinstance(row.payload, list) else []
    described = payload[0].get("PropertySubType") if payload and isinstance(payload[0], dict) else None
    entries = described.get("FieldList") if isinstance(described, dict) else None
    return [entry for entry in entries or [] if isinstance(entry, dict) and entry.get("Value")]


def sub_type_code(property_type: str, code: str, mls_list: list[dict]) -> str:
    if not code:
        return code
    name = OLD_SUB_TYPE_NAMES.get((property_type, code.upper()))
    if mls_list:
        applying = [
            entry
            for entry in mls_list
            if not isinstance(entry.get("Applies To", entry.get("AppliesTo")), list)
            or property_type in entry.get("Applies To", entry.get("AppliesTo"))
        ]
        if any(str(entry["Value"]) == code for entry in applying):
            return code
        for entry in applying:
            if str(entry["Value"]).casefold() == code.casefold():
                return str(entry["Value"])
            if name and str(entry.get("Name") or "").strip().casefold() == name.casefold():
                return str(entry["Value"])
        return code
    return KNOWN_MLS_CODES.get(name or "", code)


def state_code(value: str) -> str:
    text = " ".join(value.replace(".", " ").split())
    if len(text) == 2 and text.isalpha():
        return text.upper()
    return STATE_CODES.get(text.casefold(), value)


def _lot_acres(custom: dict) -> tuple[dict, object]:
    """(custom fields without "Lot Size Acres", its number) when it holds a number."""
    for group, values in custom.items():
        if not isinstance(values, dict):
            continue
        for name, value in values.items():
            if str(name).casefold() != "lot size acres":
                continue
            try:
                number = Decimal(str(value).replace(",", "").strip())
            except InvalidOperation:
                return custom, None
            if not number.is_finite():
                return custom, None
            rest = {key: item for key, item in values.items() if key != name}
            kept = {key: item for key, item in custom.items() if key != group}
            if rest:
                kept[group] = rest
            return kept, int(number) if number == number.to_integral_value() else float(number)
    return custom, None


def to_mls_values(apps, schema_editor):
    Draft = apps.get_model("drafts", "Draft")
    mls_list = _mls_sub_types(apps)
    for draft in Draft.objects.all().iterator():
        changed = []
        sub_type = sub_type_code(draft.property_type, draft.property_sub_type, mls_list)
        if sub_type != draft.property_sub_type:
            draft.property_sub_type, changed = sub_type, [*changed, "property_sub_type"]
        state = state_code(draft.state_or_province) if draft.state_or_province else ""
        if state != draft.state_or_province:
            draft.state_or_province, changed = state, [*changed, "state_or_province"]
        custom, acres = _lot_acres(draft.custom_fields or {})
        extra = dict(draft.standard_fields_extra or {})
        if acres is not None and "LotSizeAcres" not in extra:
            extra["LotSizeAcres"] = acres
            draft.custom_fields, draft.standard_fields_extra = custom, extra
            changed += ["custom_fields", "standard_fields_extra"]
        if changed:
            draft.save(update_fields=changed)
            Draft.objects.filter(pk=draft.pk).update(change_seq=F("change_seq") + 1)


class Migration(migrations.Migration):
    dependencies = [
        ("drafts", "0006_standard_fields_extra"),
        ("mls", "0003_metadata"),
    ]

    operations = [migrations.RunPython(to_mls_values, migrations.RunPython.noop)]
