"""The emulated MLS's metadata: standard fields, property types, agents, listing rules, media metadata.

Shapes follow docs/spark-protocol.md#metadata. Values are invented but plausible (a North Dakota MLS, like
the pages' examples).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

MLS_ID = "20000426143505724628000000"
LAST_UPDATED = "2026-01-05T09:00:00Z"

PROPERTY_TYPES: list[dict[str, Any]] = [
    {
        "MlsName": "Residential",
        "MlsCode": "A",
        "PropertyClass": "Residential",
        "RentalCalendar": False,
        "BrokerTours": True,
        "Enabled": True,
    },
    {
        "MlsName": "Multi Family",
        "MlsCode": "B",
        "PropertyClass": "MultiFamily",
        "RentalCalendar": False,
        "BrokerTours": True,
        "Enabled": True,
    },
    {
        "MlsName": "Land",
        "MlsCode": "C",
        "PropertyClass": "Land",
        "RentalCalendar": False,
        "BrokerTours": False,
        "Enabled": True,
    },
    {
        "MlsName": "Commercial",
        "MlsCode": "D",
        "PropertyClass": "Commercial",
        "RentalCalendar": False,
        "BrokerTours": True,
        "Enabled": True,
    },
    {
        "MlsName": "Farm",
        "MlsCode": "E",
        "PropertyClass": "Farm",
        "RentalCalendar": False,
        "BrokerTours": False,
        "Enabled": True,
    },
    {
        "MlsName": "Rental",
        "MlsCode": "F",
        "PropertyClass": "Rental",
        "RentalCalendar": True,
        "BrokerTours": False,
        "Enabled": True,
    },
]
ALL_PROPERTY_TYPES: list[dict[str, Any]] = [
    *PROPERTY_TYPES,
    {
        "MlsName": "Mobile Home",
        "MlsCode": "G",
        "PropertyClass": "Residential",
        "RentalCalendar": False,
        "BrokerTours": False,
        "Enabled": False,
    },
]
TYPE_CODES = [p["MlsCode"] for p in PROPERTY_TYPES]
ALL = TYPE_CODES
DWELLINGS = ["A", "B", "E", "F"]
BUILDINGS = ["A", "B", "D", "E", "F"]

MASK = "********"


@dataclass(frozen=True)
class FieldSpec:
    name: str
    label: str
    type: str  # Character, Integer, Decimal, Date, Datetime, Boolean
    visible_for: tuple[str, ...] = tuple(ALL)
    writable: bool = True
    searchable: bool = True
    max_length: int | None = None
    choices: tuple[tuple[str, str, tuple[str, ...]], ...] = ()  # (value, label, applies to)

    @property
    def has_list(self) -> bool:
        return bool(self.choices)


def _choices(*items: tuple[str, str, list[str]]) -> tuple[tuple[str, str, tuple[str, ...]], ...]:
    return tuple((value, label, tuple(applies)) for value, label, applies in items)


# The states the MLS takes (a list with codes and names, as the MLS has it); the
# listing rules narrow them to its region.
STATES: tuple[tuple[str, str], ...] = (
    ("AL", "Alabama"),
    ("AK", "Alaska"),
    ("AZ", "Arizona"),
    ("AR", "Arkansas"),
    ("CA", "California"),
    ("CO", "Colorado"),
    ("CT", "Connecticut"),
    ("DE", "Delaware"),
    ("DC", "District of Columbia"),
    ("FL", "Florida"),
    ("GA", "Georgia"),
    ("HI", "Hawaii"),
    ("ID", "Idaho"),
    ("IL", "Illinois"),
    ("IN", "Indiana"),
    ("IA", "Iowa"),
    ("KS", "Kansas"),
    ("KY", "Kentucky"),
    ("LA", "Louisiana"),
    ("ME", "Maine"),
    ("MD", "Maryland"),
    ("MA", "Massachusetts"),
    ("MI", "Michigan"),
    ("MN", "Minnesota"),
    ("MS", "Mississippi"),
    ("MO", "Missouri"),
    ("MT", "Montana"),
    ("NE", "Nebraska"),
    ("NV", "Nevada"),
    ("NH", "New Hampshire"),
    ("NJ", "New Jersey"),
    ("NM", "New Mexico"),
    ("NY", "New York"),
    ("NC", "North Carolina"),
    ("ND", "North Dakota"),
    ("OH", "Ohio"),
    ("OK", "Oklahoma"),
    ("OR", "Oregon"),
    ("PA", "Pennsylvania"),
    ("RI", "Rhode Island"),
    ("SC", "South Carolina"),
    ("SD", "South Dakota"),
    ("TN", "Tennessee"),
    ("TX", "Texas"),
    ("UT", "Utah"),
    ("VT", "Vermont"),
    ("VA", "Virginia"),
    ("WA", "Washington"),
    ("WV", "West Virginia"),
    ("WI", "Wisconsin"),
    ("WY", "Wyoming"),
)
_STATES = _choices(*((code, name, ALL) for code, name in STATES))
_DIRECTIONS = _choices(*((d, d, ALL) for d in ("N", "S", "E", "W", "NE", "NW", "SE", "SW")))

FIELDS: dict[str, FieldSpec] = {
    spec.name: spec
    for spec in [
        FieldSpec("ListingKey", "Listing Key", "Character", writable=False),
        FieldSpec("ListingId", "MLS #", "Character", writable=False),
        FieldSpec("MlsId", "MLS", "Character", writable=False),
        FieldSpec(
            "MlsStatus",
            "Status",
            "Character",
            writable=False,
            choices=_choices(
                ("Incomplete", "Incomplete", ALL),
                ("Active", "Active", ALL),
                ("Pending", "Pending", ALL),
                ("Closed", "Closed", ALL),
            ),
        ),
        FieldSpec(
            "PropertyType",
            "Property Type",
            "Character",
            choices=_choices(*((p["MlsCode"], p["MlsName"], [p["MlsCode"]]) for p in PROPERTY_TYPES)),
        ),
        FieldSpec(
            "PropertySubType",
            "Property Sub-Type",
            "Character",
            choices=_choices(
                ("SF", "Single Family", ["A"]),
                ("CN", "Condominium", ["A"]),
                ("TH", "Townhouse", ["A", "F"]),
                ("DU", "Duplex", ["B"]),
                ("TR", "Triplex", ["B"]),
                ("FP", "Fourplex", ["B"]),
                ("AP", "Apartment Building", ["B"]),
                ("RL", "Residential Lot", ["C"]),
                ("CL", "Commercial Lot", ["C"]),
                ("AC", "Acreage", ["C"]),
                ("AG", "Agricultural", ["C", "E"]),
                ("OF", "Office", ["D"]),
                ("RT", "Retail", ["D"]),
                ("IN", "Industrial", ["D"]),
                ("MU", "Mixed Use", ["D"]),
                ("CR", "Cropland", ["E"]),
                ("LV", "Livestock", ["E"]),
                ("HF", "Hobby Farm", ["E"]),
                ("SR", "Single Family Rental", ["F"]),
                ("AR", "Apartment Rental", ["F"]),
            ),
        ),
        FieldSpec("ListPrice", "List Price", "Decimal"),
        FieldSpec("StreetNumber", "Street Number", "Character", max_length=25),
        FieldSpec("StreetDirPrefix", "Street Direction Prefix", "Character", choices=_DIRECTIONS),
        FieldSpec("StreetName", "Street Name", "Character", max_length=50),
        FieldSpec("StreetSuffix", "Street Suffix", "Character", max_length=25),
        FieldSpec("StreetDirSuffix", "Street Direction Suffix", "Character", choices=_DIRECTIONS),
        FieldSpec("StreetAdditionalInfo", "Street Additional Info", "Character", max_length=50),
        FieldSpec("City", "City", "Character", max_length=50),
        FieldSpec("StateOrProvince", "State", "Character", max_length=2, choices=_STATES),
        FieldSpec("PostalCode", "Zip Code", "Character", max_length=10),
        FieldSpec("CountyOrParish", "County", "Character", max_length=50),
        FieldSpec("SubdivisionName", "Subdivision", "Character", max_length=50),
        FieldSpec("MLSAreaMinor", "Area", "Character", max_length=50),
        FieldSpec("YearBuilt", "Year Built", "Integer", visible_for=tuple(BUILDINGS)),
        FieldSpec("BuildingAreaTotal", "Total SqFt", "Integer", visible_for=tuple(BUILDINGS)),
        FieldSpec("BedsTotal", "Bedrooms", "Integer", visible_for=tuple(DWELLINGS)),
        FieldSpec("BathsTotal", "Total Baths", "Decimal", visible_for=tuple(DWELLINGS)),
        FieldSpec("BathsFull", "Full Baths", "Integer", visible_for=tuple(DWELLINGS)),
        FieldSpec("BathsHalf", "Half Baths", "Integer", visible_for=tuple(DWELLINGS)),
        FieldSpec("BathsThreeQuarter", "3/4 Baths", "Integer", visible_for=tuple(DWELLINGS)),
        FieldSpec("LotSizeAcres", "Lot Acres", "Decimal"),
        FieldSpec("Latitude", "Latitude", "Decimal"),
        FieldSpec("Longitude", "Longitude", "Decimal"),
        FieldSpec("PublicRemarks", "Public Remarks", "Character", searchable=False, max_length=4000),
        # Never MlsVisible through this key: always answered masked, as on the Listings page.
        FieldSpec(
            "PrivateRemarks",
            "Private Remarks",
            "Character",
            visible_for=(),
            searchable=False,
            max_length=4000,
        ),
        FieldSpec(
            "PrivateOfficeRemarks",
            "Private Office Remarks",
            "Character",
            visible_for=(),
            searchable=False,
            max_length=4000,
        ),
        FieldSpec("ListAgentId", "List Agent", "Character"),
        FieldSpec("ListingContractDate", "Listing Date", "Date"),
        FieldSpec("ExpirationDate", "Expiration Date", "Date"),
        FieldSpec(
            "VirtualTourURLUnbranded",
            "Virtual Tour (Unbranded)",
            "Character",
            searchable=False,
            max_length=500,
        ),
        FieldSpec("ModificationTimestamp", "Last Modified", "Datetime", writable=False),
    ]
}

# Fields that only filters know (docs/spark-protocol.md#filter-syntax).
SEARCH_ONLY_FIELDS = {"Id", "Location", "StreetAddress"}
# The Incomplete page lists these as the searchable ones.
INCOMPLETE_SEARCHABLE = {"Id", "ListingKey", "Location", "StreetAddress"}

OFFICES: dict[str, dict[str, Any]] = {
    "20080917142739989238100000": {
        "ListOfficeName": "BigBrokerCo",
        "ListOfficePhone": "987-654-3210",
        "ListOfficePhoneExt": "33",
        "ListOfficeFax": "987-654-3210",
        "ListOfficeEmail": "big@brokerco.com",
        "ListOfficeURL": "http://bigbrokerco.com",
    },
    "20090101120000000000100000": {
        "ListOfficeName": "Other Realty",
        "ListOfficePhone": "701-555-0100",
        "ListOfficePhoneExt": "",
        "ListOfficeFax": "701-555-0101",
        "ListOfficeEmail": "desk@otherrealty.example",
        "ListOfficeURL": "http://otherrealty.example",
    },
}

AGENT_FIELDS = [
    "FirstName",
    "MiddleName",
    "LastName",
    "PreferredPhone",
    "PreferredPhoneExt",
    "OfficePhone",
    "OfficePhoneExt",
    "CellPhone",
    "DirectPhone",
    "TollFreePhone",
    "Fax",
    "Pager",
    "VoiceMail",
    "VoiceMailExt",
    "Email",
    "URL",
    "StateLicense",
    "Designation",
]


def _agent(office: str, first: str, middle: str, last: str, phone: str, email: str, license_no: str) -> dict:
    return {
        "office": office,
        "FirstName": first,
        "MiddleName": middle,
        "LastName": last,
        "PreferredPhone": phone,
        "PreferredPhoneExt": "3",
        "OfficePhone": phone,
        "OfficePhoneExt": "",
        "CellPhone": phone,
        "DirectPhone": phone,
        "TollFreePhone": "",
        "Fax": "",
        "Pager": "",
        "VoiceMail": "",
        "VoiceMailExt": "",
        "Email": email,
        "URL": "",
        "StateLicense": license_no,
        "Designation": "CRS, GRI",
    }


# The key's user is Joe Agent (the incomplete listings page's example); "my" listings are his,
# "office" ones BigBrokerCo's.
USER_AGENT_ID = "20080917142739989238000000"
AGENTS: dict[str, dict[str, Any]] = {
    USER_AGENT_ID: _agent(
        "20080917142739989238100000", "Joe", "J.", "Agent", "123-456-7890", "joe@joeagent.com", "12345"
    ),
    "20080917142739989238200000": _agent(
        "20080917142739989238100000", "Jane", "", "Colleague", "123-456-7891", "jane@bigbrokerco.com", "12346"
    ),
    "20090101120000000000200000": _agent(
        "20090101120000000000100000", "Sam", "", "Other", "701-555-0102", "sam@otherrealty.example", "22345"
    ),
}
USER_OFFICE_ID = AGENTS[USER_AGENT_ID]["office"]


def agent_fields(agent_id: str | None) -> dict[str, Any]:
    """ListAgent*/ListOffice* StandardFields for an agent (nulls for an agent the MLS does not know)."""
    agent = AGENTS.get(agent_id or "")
    values: dict[str, Any] = {f"ListAgent{name}": (agent or {}).get(name) for name in AGENT_FIELDS}
    office_id = agent["office"] if agent else None
    values["ListOfficeId"] = office_id
    office = OFFICES.get(office_id or "", {})
    for name in OFFICES[USER_OFFICE_ID]:
        values[name] = office.get(name)
    return values


@dataclass(frozen=True)
class Rule:
    """A listing rule (docs/spark-protocol.md#listing-rules); ``check`` is True for an acceptable value."""

    id: str
    field: str
    action: str
    expression: str
    property_types: tuple[str, ...]
    group: str = "General"
    message: str = ""
    check: Any = field(default=None, compare=False)

    def as_json(self, property_type: str, status: str = "Fatal") -> dict[str, Any]:
        return {
            "Id": self.id,
            "ResourceUri": f"/v1/listings/rules/{self.id}",
            "PropertyType": property_type,
            "Domain": "StandardFields",
            "Group": self.group,
            "Field": self.field,
            "Order": int(self.id[-6:]),
            "Action": self.action,
            "Expression": self.expression,
            "Status": status,
            "ApprovalStatus": "Published",
            "Editable": False,
            "ModificationTimestamp": LAST_UPDATED,
            "CreatedTimestamp": LAST_UPDATED,
        }


def _rule_id(n: int) -> str:
    return f"20260105090000000000{n:06d}"


def _required(n: int, name: str, types: list[str]) -> Rule:
    return Rule(_rule_id(n), name, "SET_REQUIRED", ".TRUE.", tuple(types), message=f"{name} is required")


def _between(low: float, high: float):
    return lambda value: low <= value <= high


_this_year = dt.date.today().year

RULES: list[Rule] = [
    _required(1, "PropertyType", ALL),
    _required(2, "ListPrice", ALL),
    _required(3, "StreetNumber", ALL),
    _required(4, "StreetName", ALL),
    _required(5, "City", ALL),
    _required(6, "StateOrProvince", ALL),
    _required(7, "PostalCode", ALL),
    _required(8, "PropertySubType", ["A", "B", "D"]),
    _required(9, "BedsTotal", ["A", "F"]),
    _required(10, "BathsTotal", ["A", "F"]),
    _required(11, "YearBuilt", ["A", "B"]),
    _required(12, "LotSizeAcres", ["C", "E"]),
    _required(13, "BuildingAreaTotal", ["D"]),
    Rule(
        _rule_id(20),
        "ListPrice",
        "REJECT",
        "ListPrice Le 0",
        tuple(ALL),
        message="ListPrice must be greater than 0",
        check=lambda v: v > 0,
    ),
    Rule(
        _rule_id(21),
        "YearBuilt",
        "REJECT",
        f"YearBuilt Lt 1700 Or YearBuilt Gt {_this_year + 2}",
        tuple(BUILDINGS),
        message=f"YearBuilt must be between 1700 and {_this_year + 2}",
        check=_between(1700, _this_year + 2),
    ),
    Rule(
        _rule_id(22),
        "Latitude",
        "REJECT",
        "Latitude Lt -90 Or Latitude Gt 90",
        tuple(ALL),
        message="Latitude must be between -90 and 90",
        check=_between(-90, 90),
    ),
    Rule(
        _rule_id(23),
        "Longitude",
        "REJECT",
        "Longitude Lt -180 Or Longitude Gt 180",
        tuple(ALL),
        message="Longitude must be between -180 and 180",
        check=_between(-180, 180),
    ),
    Rule(
        _rule_id(24),
        "PostalCode",
        "REJECT",
        "Not PostalCode Eq '#####','#####-####'",
        tuple(ALL),
        message="PostalCode must be a 5-digit ZIP or ZIP+4",
        check=lambda v: isinstance(v, str) and _is_zip(v),
    ),
    Rule(
        _rule_id(25),
        "StateOrProvince",
        "REJECT",
        "Not StateOrProvince Eq 'ND','MN','SD','MT'",
        tuple(ALL),
        message="StateOrProvince must be one of ND, MN, SD, MT",
        check=lambda v: v in {"ND", "MN", "SD", "MT"},
    ),
    Rule(
        _rule_id(26),
        "BedsTotal",
        "REJECT",
        "BedsTotal Lt 0 Or BedsTotal Gt 99",
        tuple(DWELLINGS),
        message="BedsTotal must be between 0 and 99",
        check=_between(0, 99),
    ),
]


def _is_zip(value: str) -> bool:
    head, _, tail = value.partition("-")
    return len(head) == 5 and head.isdigit() and (not tail or (len(tail) == 4 and tail.isdigit()))


def rules_for(property_type: str | None) -> list[Rule]:
    """Rules for one property type; without a (known) type only the rules common to all apply."""
    if property_type in TYPE_CODES:
        return [rule for rule in RULES if property_type in rule.property_types]
    return [rule for rule in RULES if set(rule.property_types) == set(ALL)]


RULES_META = {
    "Action": [
        "ACCEPT",
        "REJECT",
        "SET",
        "SET_DEFAULT",
        "SET_DISPLAY",
        "SET_PICKLIST",
        "RESTRICT_PICKLIST",
        "SET_READ_ONLY",
        "SET_REQUIRED",
    ],
    "ApprovalStatus": ["In Review", "Published", "Deactivated"],
    "Domain": ["StandardFields", "CustomFields"],
}

PHOTOS_META = {
    "Privacy": {
        "Default": "Public",
        "Options": ["Public", "Private", "Automatic"],
        "OffMarketStandardStatuses": ["Closed"],
    },
    "Tags": {"Room": ["Bathroom", "Bedroom", "Dining", "Exterior", "Kitchen", "Living"]},
}

PRIVACY_VALUES = ["Public", "DataShare", "Private", "HasEdit"]
# Names that must always be HasEdit (docs/spark-protocol.md#names-that-force-hasedit).
HAS_EDIT_NAMES: dict[str, list[str]] = {
    "A": ["Private Document", "Property Disclosure"],
    "B": ["Private Document", "Property Disclosure", "Rent Roll"],
    "C": ["Private Document"],
    "D": ["Private Document", "Rent Roll"],
    "E": ["Private Document", "Property Disclosure"],
    "F": ["Private Document"],
}
DOCUMENT_DEFAULT_PRIVACY = "Private"
DOCUMENT_LISTS: dict[str, dict[str, list[dict[str, str]]]] = {
    code: {
        "Documents": [{"Name": name, "Privacy": "HasEdit"} for name in names]
        + [{"Name": "Floor Plan", "Privacy": "Public"}, {"Name": "Survey", "Privacy": "Private"}],
    }
    for code, names in HAS_EDIT_NAMES.items()
}


def documents_meta(property_type: str | None = None) -> dict[str, Any]:
    codes = [property_type] if property_type else list(HAS_EDIT_NAMES)
    return {
        "Privacy": {
            "Default": DOCUMENT_DEFAULT_PRIVACY,
            "HasEditNames": {code: HAS_EDIT_NAMES[code] for code in codes},
            "Options": PRIVACY_VALUES,
        },
        "DocumentLists": {code: DOCUMENT_LISTS[code] for code in codes},
    }


def forced_privacy(name: str, property_type: str | None) -> str | None:
    """HasEdit when the metadata names this document for the listing's property type."""
    names = HAS_EDIT_NAMES.get(property_type or "", [])
    return "HasEdit" if name.strip().casefold() in {n.casefold() for n in names} else None


def required_documents(fields: dict[str, Any]) -> list[str]:
    """Required document names, by the listing's fields (docs/spark-protocol.md#required-documents)."""
    names = []
    if fields.get("PropertyType") in {"A", "B", "E"}:
        names.append("Property Disclosure")
    year = fields.get("YearBuilt")
    if isinstance(year, int) and not isinstance(year, bool) and year < 1978:
        names.append("Lead Based Paint Disclosure")
    return names


def standard_field_json(spec: FieldSpec, *, with_list: bool = False) -> dict[str, Any]:
    body: dict[str, Any] = {
        "ResourceUri": f"/v1/standardfields/{spec.name}",
        "Label": spec.label,
        "Searchable": spec.searchable,
        "Type": spec.type,
        "HasList": spec.has_list,
        "MultiSelect": False,
        "MaxListSize": len(spec.choices) if spec.has_list else None,
        "MlsVisible": {"PropertyTypes": list(spec.visible_for)},
        "Writable": spec.writable,
    }
    if with_list:
        # "Applies To" (with its space) is left out for a value of every type, as in the pages' examples.
        body["FieldList"] = [
            {"Name": label, "Value": value}
            | ({} if set(applies) == set(ALL) else {"Applies To": list(applies)})
            for value, label, applies in spec.choices
        ]
    return body
