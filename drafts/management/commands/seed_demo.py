"""Demo data: one brokerage in Fargo-Moorhead, its people and a dozen drafts. Idempotent.

Values are the MLS's own (its sub-type codes, custom fields under its groups and names), so
every seeded draft reaches the MLS, except Dana's 1110 4th Ave S: its sub-type "MOBILE" is
not in the MLS's list, to show a refusal and the field it names. Then the MLS's metadata is
read, so the editor is laid out by the MLS (`--without-mls` skips that).
"""

from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction

from accounts.models import Company, Office, Role, User
from drafts.models import Draft, DraftEvent, DraftStatus, ListingPart

DEMO_PASSWORD = "demo-pass-2026"

OFFICES = {
    "fargo": {
        "name": "Red River Realty — Fargo",
        "phone": "701-555-0140",
        "email": "fargo@redriver.example",
        "url": "https://redriver.example/fargo",
    },
    "moorhead": {
        "name": "Red River Realty — Moorhead",
        "phone": "218-555-0170",
        "email": "moorhead@redriver.example",
        "url": "https://redriver.example/moorhead",
    },
}

# username: (first, last, office, role)
PEOPLE = {
    "anna.agent": ("Anna", "Lindqvist", "fargo", Role.AGENT),
    "ben.agent": ("Ben", "Okafor", "fargo", Role.AGENT),
    "fran.admin": ("Fran", "Halvorson", "fargo", Role.OFFICE_ADMIN),
    "carl.agent": ("Carl", "Nygaard", "moorhead", Role.AGENT),
    "dana.agent": ("Dana", "Whitehorse", "moorhead", Role.AGENT),
    "mo.admin": ("Maureen", "Olson", "moorhead", Role.OFFICE_ADMIN),
    "cora.company": ("Cora", "Baptiste", "fargo", Role.COMPANY_ADMIN),
}

REMARKS = (
    "Charming two-story home on a tree-lined street, minutes from downtown, NDSU and the river trails. "
    "Updated kitchen with quartz counters, refinished hardwood floors, a finished basement and a "
    "fenced back yard with a new deck."
)


@dataclass
class DemoDraft:
    agent: str
    values: dict[str, Any]
    status: str = DraftStatus.DRAFT
    co_agent: str = ""
    edits: list[tuple[str, Any]] = field(default_factory=list)  # (field, new value) made later by the agent
    trashed: bool = False
    # (kind, values) of its rooms, units, virtual tours and videos, in order.
    parts: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


def _room(name: str, level: str, length: str, width: str, **more: Any) -> tuple[str, dict[str, Any]]:
    fields = {"RoomName": name, "LevelOrFloor": level, "Length": length, "Width": width, **more}
    return ("room", {"fields": fields})


def _address(number, name, suffix, city, state, zip_code, lat, lon, **extra) -> dict[str, Any]:
    return {
        "street_number": number,
        "street_name": name,
        "street_suffix": suffix,
        "city": city,
        "state_or_province": state,
        "postal_code": zip_code,
        "county_or_parish": "Cass" if state == "ND" else "Clay",
        "latitude": lat,
        "longitude": lon,
        **extra,
    }


DRAFTS = [
    DemoDraft(
        "anna.agent",
        {
            **_address(
                "611", "8th", "St", "Fargo", "ND", "58103", 46.86760, -96.78900, street_dir_suffix="S"
            ),
            "property_type": "A",
            "property_sub_type": "SF",
            "list_price": Decimal("289900"),
            "year_built": 1928,
            "building_area_total": 1850,
            "beds_total": 3,
            "baths_total": 2,
            "baths_full": 1,
            "baths_three_quarter": 1,
            "baths_half": 0,
            "public_remarks": REMARKS,
            "subdivision_name": "Island Park",
            "standard_fields_extra": {"ListingContractDate": "2026-11-30", "LotSizeAcres": 0.17},
            "custom_fields": {
                "General Property Description": {"Style": "2 Story", "Basement": "Full", "Garage Stalls": 2},
                "Features": {
                    "Heating": ["Forced Air"],
                    "Appliances": ["Dishwasher", "Range", "Refrigerator"],
                },
            },
        },
        edits=[("list_price", Decimal("284900")), ("public_remarks", REMARKS + " Move-in ready.")],
        co_agent="ben.agent",
        parts=[
            _room("Living Room", "Main", "18", "14", RoomFeature=["Hardwood Floor", "Fireplace"]),
            _room("Kitchen", "Main", "14", "12", Description="Quartz counters, new in 2024"),
            _room("Primary Bedroom", "Upper", "16", "13", RoomFeature=["Walk-in Closet"]),
            _room("Bedroom", "Upper", "12", "11"),
            (
                "tour",
                {
                    "name": "3D walk-through",
                    "url": "https://my.matterport.com/show/?m=SxQL3iGyoDo",
                    "privacy": "Public",
                },
            ),
            (
                "video",
                {
                    "name": "Island Park neighbourhood",
                    "url": "https://vimeo.com/76979871",
                    "caption": "A walk from the house to the river trails.",
                },
            ),
        ],
    ),
    DemoDraft(
        "ben.agent",
        {
            **_address(
                "615", "8th", "St", "Fargo", "ND", "58103", 46.86722, -96.78902, street_dir_suffix="S"
            ),
            "property_type": "A",
            "property_sub_type": "SF",
            "list_price": Decimal("279000"),
            "year_built": 1931,
            "beds_total": 3,
            "baths_total": 2,
            "baths_full": 2,
        },
        status=DraftStatus.SUBMITTED,
    ),
    DemoDraft(
        "anna.agent",
        {
            **_address(
                "1401", "25th", "St", "Fargo", "ND", "58103", 46.86170, -96.81660, street_dir_suffix="S"
            ),
            "property_type": "A",
            "property_sub_type": "TH",
            "list_price": Decimal("214500"),
            "year_built": 2004,
            "beds_total": 2,
            "baths_total": 3,
            "baths_full": 1,
            "baths_half": 1,
            "public_remarks": "End-unit townhouse with an attached double garage.",
        },
        status=DraftStatus.CHANGES_REQUESTED,
    ),
    DemoDraft(
        "ben.agent",
        {
            **_address(
                "3002", "Broadway", "", "Fargo", "ND", "58102", 46.90850, -96.79300, street_dir_suffix="N"
            ),
            "property_type": "B",
            "property_sub_type": "DU",
            "list_price": Decimal("365000"),
            "year_built": 1978,
            "building_area_total": 2400,
            "beds_total": 4,
            "baths_total": 2,
            "baths_full": 2,
            "public_remarks": "Side-by-side duplex, both units rented, separate utilities. " + REMARKS,
        },
        status=DraftStatus.APPROVED,
    ),
    DemoDraft(
        "anna.agent",
        {
            **_address(
                "4501", "45th", "St", "Fargo", "ND", "58104", 46.82130, -96.85260, street_dir_suffix="S"
            ),
            "property_type": "D",
            "property_sub_type": "RT",
            "list_price": Decimal("1250000"),
            "year_built": 2011,
            "building_area_total": 5200,
        },
    ),
    DemoDraft(
        "ben.agent",
        {
            **_address(
                "4850",
                "Prairie Rose",
                "Dr",
                "Fargo",
                "ND",
                "58104",
                46.80100,
                -96.87000,
                street_additional_info="Lot 7",
            ),
            "property_type": "C",
            "property_sub_type": "RL",
            "list_price": Decimal("74900"),
            "standard_fields_extra": {"LotSizeAcres": 0.42},
            "custom_fields": {"Land Info": {"Zoning": "Residential"}},
            "public_remarks": "Buildable lot backing onto a pond in a new development, specials paid.",
        },
    ),
    DemoDraft(
        "anna.agent",
        {
            **_address(
                "220",
                "Roberts",
                "St",
                "Fargo",
                "ND",
                "58102",
                46.87750,
                -96.78680,
                street_dir_suffix="N",
                street_additional_info="Apt 4",
            ),
            "property_type": "F",
            "property_sub_type": "AR",
            "list_price": Decimal("1150"),
            "beds_total": 1,
            "baths_total": 1,
            "baths_full": 1,
        },
    ),
    DemoDraft(
        "carl.agent",
        {
            **_address(
                "1104", "4th", "Ave", "Moorhead", "MN", "56560", 46.87000, -96.76400, street_dir_suffix="S"
            ),
            "property_type": "A",
            "property_sub_type": "SF",
            "list_price": Decimal("249900"),
            "year_built": 1955,
            "beds_total": 3,
            "baths_total": 2,
            "baths_full": 1,
            "baths_three_quarter": 1,
            "public_remarks": REMARKS.replace("NDSU", "MSUM"),
        },
        edits=[("beds_total", 4)],
        co_agent="dana.agent",
    ),
    DemoDraft(
        "dana.agent",
        {
            **_address(
                "1110", "4th", "Ave", "Moorhead", "MN", "56560", 46.87003, -96.76322, street_dir_suffix="S"
            ),
            "property_type": "A",
            # Not in the MLS's list: the one draft the MLS refuses, on purpose.
            "property_sub_type": "MOBILE",
            "list_price": Decimal("259000"),
            "year_built": 1962,
            "beds_total": 3,
            "baths_total": 1,
            "baths_full": 1,
        },
    ),
    DemoDraft(
        "carl.agent",
        {
            **_address(
                "3312", "14th", "St", "Moorhead", "MN", "56560", 46.84600, -96.75200, street_dir_suffix="S"
            ),
            "property_type": "A",
            "property_sub_type": "SF",
            "list_price": Decimal("399900"),
            "year_built": 2019,
            "building_area_total": 2650,
            "beds_total": 4,
            "baths_total": 3,
            "baths_full": 2,
            "baths_half": 1,
            "public_remarks": REMARKS,
        },
        status=DraftStatus.LIVE,
        parts=[
            _room("Kitchen", "Main", "16", "13", RoomFeature=["Hardwood Floor"]),
            _room("Family Room", "Main", "20", "16", RoomFeature=["Fireplace", "Vaulted Ceiling"]),
            _room("Primary Bedroom", "Upper", "17", "14", RoomFeature=["Walk-in Closet", "Private Bath"]),
            ("tour", {"name": "Virtual open house", "url": "https://my.matterport.com/show/?m=zEWsxhZpGba"}),
        ],
    ),
    DemoDraft(
        "dana.agent",
        {
            **_address("12345", "County Road 12", "", "Moorhead", "MN", "56560", 46.90200, -96.66000),
            "property_type": "E",
            "property_sub_type": "CR",
            "list_price": Decimal("1890000"),
            "standard_fields_extra": {"LotSizeAcres": 160},
            "custom_fields": {"Land Info": {"Zoning": "Agricultural", "Tillable Acres": 148}},
            "public_remarks": "Quarter section of productive Red River Valley cropland with a machine shed.",
        },
    ),
    DemoDraft(
        "carl.agent",
        {
            **_address(
                "2801",
                "Highway 10",
                "",
                "Moorhead",
                "MN",
                "56560",
                46.87400,
                -96.71600,
                street_dir_suffix="E",
            ),
            "property_type": "D",
            "property_sub_type": "OF",
            "list_price": Decimal("875000"),
            "building_area_total": 6400,
            "year_built": 1998,
        },
        status=DraftStatus.PROMOTION_FAILED,
    ),
    DemoDraft(
        "dana.agent",
        {
            **_address(
                "18", "Elm", "St", "Moorhead", "MN", "56560", 46.87300, -96.77100, street_dir_suffix="N"
            ),
            "property_type": "A",
            "property_sub_type": "SF",
            "list_price": Decimal("189000"),
            "year_built": 1948,
            "beds_total": 2,
            "baths_total": 1,
            "baths_full": 1,
        },
        trashed=True,
    ),
]


class Command(BaseCommand):
    help = (
        "Create demo users and drafts (idempotent: running it again adds nothing), then read the MLS's lists."
    )

    def add_arguments(self, parser) -> None:
        parser.add_argument("--without-mls", action="store_true", help="Do not read the MLS's lists.")
        parser.add_argument(
            "--logins", action="store_true", help="Only print the demo logins (make run's last words)."
        )

    def print_logins(self) -> None:
        self.stdout.write(
            f"Sign in at /accounts/login/ with any of these; the password of all is {DEMO_PASSWORD}"
        )
        for username, (first, last, office_key, role) in PEOPLE.items():
            self.stdout.write(f"  {username:<14} {first} {last}, {role.label}, {OFFICES[office_key]['name']}")

    def handle(self, *args, without_mls: bool = False, logins: bool = False, **options) -> None:
        if logins:
            self.print_logins()
            return
        # Drafts seeded as live are published through the MLS like any other (approved, then
        # the worker makes the live listing); without the MLS they are only marked live.
        self.publish: list[tuple[int, str]] = []
        self.without_mls = without_mls
        with transaction.atomic():
            people = self._people()
            created = sum(self._draft(spec, people) for spec in DRAFTS)
        self.stdout.write(self.style.SUCCESS(f"Demo data ready: {created} new drafts, {len(DRAFTS)} in all."))
        self.print_logins()
        if not without_mls:
            self._read_the_mls()
            for draft_id, reviewer in self.publish:
                call_command("publish_drafts", draft_id, by=reviewer, stdout=self.stdout)

    def _read_the_mls(self) -> None:
        """The MLS's lists, layout and rules (mls/metadata.py refresh()), by the mls app's
        command: the editor is laid out by the MLS from the first page. Without the MLS the
        editor falls back to its fixed layout and says so."""
        try:
            call_command("refresh_mls_metadata", serve_sandbox=True, stdout=self.stdout)
        except Exception as error:  # the demo runs on without the MLS's lists
            self.stdout.write(f"The MLS's lists could not be read ({error}); the editor uses its own layout.")

    def _people(self) -> dict[str, User]:
        company, _ = Company.objects.get_or_create(
            slug="red-river-realty", defaults={"name": "Red River Realty"}
        )
        offices = {}
        for key, values in OFFICES.items():
            offices[key], _ = Office.objects.get_or_create(
                company=company,
                name=values["name"],
                defaults={k: v for k, v in values.items() if k != "name"},
            )
        people = {}
        for index, (username, (first, last, office_key, role)) in enumerate(PEOPLE.items()):
            user, created = User.objects.get_or_create(
                username=username,
                defaults={
                    "first_name": first,
                    "last_name": last,
                    "email": f"{username}@redriver.example",
                    "office": offices[office_key],
                    "role": role,
                    "preferred_phone": OFFICES[office_key]["phone"],
                    "remote_agent_id": f"2008091714273998923800{index:04d}",
                },
            )
            if created:
                user.set_password(DEMO_PASSWORD)
                user.save(update_fields=["password"])
            # Office admins may open /admin/ and the sandbox's page (both need a staff login).
            is_staff = role == Role.OFFICE_ADMIN
            if user.is_staff != is_staff:
                user.is_staff = is_staff
                user.save(update_fields=["is_staff"])
            people[username] = user
        return people

    def _draft(self, spec: DemoDraft, people: dict[str, User]) -> bool:
        agent = people[spec.agent]
        values = spec.values
        exists = Draft.objects.filter(
            office=agent.office,
            street_number=values["street_number"],
            street_name=values["street_name"],
            city=values["city"],
        ).exists()
        if exists:
            return False
        draft = Draft.start(by=agent, **values)
        if spec.co_agent:
            draft.save_field(
                "co_list_agent",
                people[spec.co_agent].pk,
                by=agent,
                seen_version=draft.version,
                seen_value=None,
            )
            draft.refresh_from_db()
        for name, new_value in spec.edits:
            draft.save_field(
                name, new_value, by=agent, seen_version=draft.version, seen_value=getattr(draft, name)
            )
            draft.refresh_from_db()
        # Before the status: a part added to a reviewed draft sends it back to drafting.
        for kind, part_values in spec.parts:
            ListingPart.objects.add(draft, kind, by=agent, **part_values)
        if spec.status != DraftStatus.DRAFT:
            reviewer = (
                people["fran.admin"] if agent.office.name == OFFICES["fargo"]["name"] else people["mo.admin"]
            )
            status = spec.status
            if status == DraftStatus.LIVE and not self.without_mls:
                status = DraftStatus.APPROVED
                self.publish.append((draft.pk, reviewer.username))
            Draft.objects.filter(pk=draft.pk).update(status=status)
            actor = agent if spec.status == DraftStatus.SUBMITTED else reviewer
            DraftEvent.record(
                draft,
                actor,
                DraftEvent.Kind.STATUS_CHANGED,
                field="status",
                old=DraftStatus.DRAFT,
                new=status,
            )
        if spec.trashed:
            draft.move_to_trash(by=agent)
        return True
