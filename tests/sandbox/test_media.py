"""Photos, documents, tickets and ticket uploads, for listings and incomplete listings."""

from __future__ import annotations

import hashlib
import io
import re

import pytest
import requests
from PIL import Image

from tests.sandbox.conftest import MISSING_ID, b64, envelope_error, jpeg, pdf

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(params=["incomplete", "listing"])
def owner(request, sandbox) -> str:
    if request.param == "incomplete":
        return f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    return f"/v1/listings/{sandbox.create_listing()}"


def photo_names(sandbox, owner):
    return [(p["Name"], p["Primary"]) for p in sandbox.results(f"{owner}/photos")]


def test_first_photo_is_primary_and_post_answers_the_full_photo(sandbox, owner):
    first = sandbox.add_photo(owner, "Front", Caption="Step onto the porch")
    assert re.fullmatch(r"\d{26}", first["Id"])
    assert first["ResourceUri"] == f"{owner}/photos/{first['Id']}"
    assert first["Primary"] is True and first["Caption"] == "Step onto the porch"
    expected = {
        "UriThumb",
        "Uri300",
        "Uri640",
        "Uri800",
        "Uri1024",
        "Uri1280",
        "Uri1600",
        "Uri2048",
        "UriLarge",
    }
    assert expected <= set(first)
    second = sandbox.add_photo(owner, "Back")
    assert second["Primary"] is False and second["Caption"] == ""
    assert photo_names(sandbox, owner) == [("Front", True), ("Back", False)]
    assert sandbox.results(f"{owner}/photos/{second['Id']}")[0]["Name"] == "Back"


@pytest.mark.parametrize(
    ("photo", "code"),
    [
        ({"Name": "x" * 41}, 1053),
        ({"Caption": "c" * 1001}, 1053),
        ({"Primary": True}, 1053),
        ({"FileName": None}, 1050),
        ({"Name": None}, 1050),
        ({"Picture": None}, 1050),
        ({"Picture": "not base64!!"}, 1053),
        ({"Picture": b64(b"plain text, not an image")}, 1053),
    ],
)
def test_photo_post_rules(sandbox, photo, code):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    body = {"Picture": b64(jpeg()), "FileName": "a.jpg", "Name": "Porch", **photo}
    body = {key: value for key, value in body.items() if value is not None}
    response = sandbox.post(f"{owner}/photos", {"Photos": [body]})
    assert envelope_error(response) == (400, code)
    assert sandbox.results(f"{owner}/photos") == []


def test_name_of_40_and_caption_of_1000_are_fine(sandbox):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    photo = sandbox.add_photo(owner, "n" * 40, Caption="c" * 1000)
    assert len(photo["Name"]) == 40 and len(photo["Caption"]) == 1000
    path = f"{owner}/photos/{photo['Id']}"
    assert envelope_error(sandbox.put(path, {"Photos": [{"Name": "n" * 41}]})) == (400, 1053)
    assert envelope_error(sandbox.put(path, {"Photos": [{"Caption": "c" * 1001}]})) == (400, 1053)


def test_primary_false_does_not_unset_and_true_moves_it(sandbox, owner):
    first = sandbox.add_photo(owner, "A")
    second = sandbox.add_photo(owner, "B")
    response = sandbox.put(
        f"{owner}/photos/{first['Id']}", {"Photos": [{"Primary": False, "Caption": "new"}]}
    )
    assert response.status_code == 200
    assert response.json()["D"]["Results"][0]["Primary"] is True
    assert photo_names(sandbox, owner) == [("A", True), ("B", False)]
    sandbox.put(f"{owner}/photos/{second['Id']}", {"Photos": [{"Primary": True}]})
    assert photo_names(sandbox, owner) == [("A", False), ("B", True)]


def test_replacing_the_picture_gives_a_new_resource_uri(sandbox, owner):
    photo = sandbox.add_photo(owner, "Porch", color="red")
    replaced = sandbox.put(
        f"{owner}/photos/{photo['Id']}",
        {"Photos": [{"Picture": b64(jpeg(color="blue")), "FileName": "blue.jpg", "Name": "Blue porch"}]},
    )
    assert replaced.status_code == 200
    new = replaced.json()["D"]["Results"][0]
    assert new["Id"] != photo["Id"] and new["ResourceUri"] != photo["ResourceUri"]
    assert new["UriLarge"] != photo["UriLarge"] and new["Primary"] is True and new["Name"] == "Blue porch"
    assert envelope_error(sandbox.get(f"{owner}/photos/{photo['Id']}")) == (404, 404)
    (state_photo,) = next(item for group in sandbox.state().values() for item in group)["Photos"]
    assert (
        state_photo["sha256"] == hashlib.sha256(requests.get(new["UriLarge"], timeout=5).content).hexdigest()
    )
    assert state_photo["FileName"] == "blue.jpg"
    (entry,) = sandbox.control("GET", "calls?route=photos.replace")["journal"]
    assert entry["method"] == "PUT" and entry["applied"] is True
    missing_name = sandbox.put(f"{owner}/photos/{new['Id']}", {"Photos": [{"Picture": b64(jpeg())}]})
    assert envelope_error(missing_name) == (400, 1053)


def test_replaced_id_can_stay_an_alias(sandbox):
    sandbox.options(photo_replace_keeps_old_id=True)
    owner = f"/v1/listings/{sandbox.create_listing()}"
    photo = sandbox.add_photo(owner)
    body = {"Photos": [{"Picture": b64(jpeg(color="green")), "FileName": "g.jpg"}]}
    new_id = sandbox.put(f"{owner}/photos/{photo['Id']}", body).json()["D"]["Results"][0]["Id"]
    assert sandbox.results(f"{owner}/photos/{photo['Id']}")[0]["Id"] == new_id


def test_order_by_single_put_and_by_collection_put(sandbox, owner):
    ids = [sandbox.add_photo(owner, name)["Id"] for name in "ABCD"]
    sandbox.put(f"{owner}/photos/{ids[3]}", {"Photos": [{"Order": "1"}]})  # the Ruby gem sends a string
    assert [n for n, _ in photo_names(sandbox, owner)] == ["D", "A", "B", "C"]
    sandbox.put(f"{owner}/photos/{ids[0]}", {"Photos": [{"Order": 99}]})
    assert [n for n, _ in photo_names(sandbox, owner)] == ["D", "B", "C", "A"]
    response = sandbox.put(
        f"{owner}/photos", {"Photos": [{"Id": i} for i in (ids[2], ids[0], ids[3], ids[1])]}
    )
    assert response.json() == {"D": {"Success": True}}
    assert [n for n, _ in photo_names(sandbox, owner)] == ["C", "A", "D", "B"]
    assert envelope_error(sandbox.put(f"{owner}/photos", {"Photos": [{"Id": ids[0]}]})) == (400, 1053)
    assert envelope_error(sandbox.put(f"{owner}/photos", {"Photos": [{"Id": MISSING_ID}]})) == (400, 1053)
    assert envelope_error(sandbox.put(f"{owner}/photos/{ids[0]}", {"Photos": [{"Order": 0}]})) == (400, 1053)
    orders = {
        p["Name"]: p["Order"]
        for item in sandbox.state()["incomplete_listings"] + sandbox.state()["listings"]
        for p in item["Photos"]
    }
    assert orders == {"C": 1, "A": 2, "D": 3, "B": 4}


def test_partial_reorder_when_switched_on(sandbox):
    sandbox.options(reorder_requires_all=False)
    owner = f"/v1/listings/{sandbox.create_listing()}"
    ids = [sandbox.add_photo(owner, name)["Id"] for name in "ABC"]
    sandbox.put(f"{owner}/photos", {"Photos": [{"Id": ids[2]}]})
    assert [n for n, _ in photo_names(sandbox, owner)] == ["C", "A", "B"]


def test_rotate_turns_the_image(sandbox):
    owner = f"/v1/listings/{sandbox.create_listing()}"
    photo = sandbox.add_photo(owner, size=(200, 100))
    response = sandbox.put(f"{owner}/photos/{photo['Id']}", {"Photos": [{"Rotate": "clockwise"}]})
    rotated = response.json()["D"]["Results"][0]
    assert rotated["Id"] == photo["Id"] and rotated["UriLarge"] != photo["UriLarge"]
    image = Image.open(io.BytesIO(requests.get(rotated["UriLarge"], timeout=5).content))
    assert image.size == (100, 200)
    bad = sandbox.put(f"{owner}/photos/{photo['Id']}", {"Photos": [{"Rotate": "sideways"}]})
    assert envelope_error(bad) == (400, 1053)


def test_delete_and_batch_delete_keep_one_primary(sandbox, owner):
    ids = [sandbox.add_photo(owner, name)["Id"] for name in "ABCD"]
    assert sandbox.delete(f"{owner}/photos/{ids[0]}").json() == {"D": {"Success": True}}
    assert photo_names(sandbox, owner) == [("B", True), ("C", False), ("D", False)]
    assert envelope_error(sandbox.delete(f"{owner}/photos/{ids[1]},{MISSING_ID}")) == (404, 404)
    assert len(photo_names(sandbox, owner)) == 3
    batch = sandbox.delete(f"{owner}/photos/{ids[1]},{ids[2]}")
    assert batch.json() == {"D": {"Success": True, "Results": [{"Id": f"{ids[1]},{ids[2]}"}]}}
    assert photo_names(sandbox, owner) == [("D", True)]
    assert sandbox.calls()["counts"]["photos.batch_delete"] == 2
    sandbox.delete(f"{owner}/photos/{ids[3]}")
    assert photo_names(sandbox, owner) == []
    restored = sandbox.put(f"{owner}/photos/{ids[0]}/versions/current", {"Version": 1})
    assert restored.status_code == 200
    assert photo_names(sandbox, owner) == [("A", True)]


SIZES = {
    "UriThumb": (160, 120),
    "Uri300": (300, 225),
    "Uri640": (640, 480),
    "Uri800": (800, 600),
    "Uri1024": (1024, 768),
    "Uri1280": (1280, 960),
    "Uri1600": (1600, 1200),
    "Uri2048": (1600, 1200),  # never enlarged
    "UriLarge": (1600, 1200),
}


def test_size_uris_serve_the_image_at_those_sizes(sandbox):
    owner = f"/v1/listings/{sandbox.create_listing()}"
    photo = sandbox.add_photo(owner, size=(1600, 1200))
    for attribute, size in SIZES.items():
        response = requests.get(photo[attribute], timeout=5)
        assert response.status_code == 200, attribute
        assert response.headers["Content-Type"] == "image/jpeg"
        assert Image.open(io.BytesIO(response.content)).size == size, attribute
    again = requests.get(photo["Uri640"], timeout=5)
    assert Image.open(io.BytesIO(again.content)).size == (640, 480)
    assert sandbox.calls()["counts"]["files.photo"] == 10
    portrait = sandbox.add_photo(owner, "Tall", size=(300, 900))
    assert Image.open(io.BytesIO(requests.get(portrait["Uri640"], timeout=5).content)).size == (160, 480)


def test_photos_limits_are_options(sandbox):
    sandbox.options(photo_max_count=1, photo_formats=["PNG"])
    owner = f"/v1/listings/{sandbox.create_listing()}"
    rejected = sandbox.post(
        f"{owner}/photos", {"Photos": [{"Picture": b64(jpeg()), "FileName": "a.jpg", "Name": "A"}]}
    )
    assert envelope_error(rejected) == (400, 1053)
    png = io.BytesIO()
    Image.new("RGB", (10, 10)).save(png, "PNG")
    body = {"Photos": [{"Picture": b64(png.getvalue()), "FileName": "a.png", "Name": "A"}]}
    assert sandbox.post(f"{owner}/photos", body).status_code == 201
    assert envelope_error(sandbox.post(f"{owner}/photos", body)) == (400, 1053)


# --- tickets and uploads ------------------------------------------------------------------------------


def test_ticket_shape_and_single_use_photo_upload(sandbox, owner):
    ticket = sandbox.ticket(owner, "photos")
    assert re.fullmatch(r"[0-9a-f]{32}", ticket["Token"])
    assert ticket["ExpiresIn"] == 3600 and ticket["Service"] == "PhotoUploads"
    assert ticket["Uri"] == sandbox.url("/uploads/photos")
    form = {"Token": ticket["Token"], "Name": "Porch", "Caption": "Nice", "Primary": "false"}
    files = {"File": ("porch.jpg", jpeg())}
    first = requests.post(ticket["Uri"], data=form, files=files, timeout=5)  # no Authorization header
    assert first.status_code == 201
    photo_id = first.json()["D"]["Results"][0]["Id"]
    assert sandbox.results(f"{owner}/photos/{photo_id}")[0]["Primary"] is True  # first photo
    second = requests.post(ticket["Uri"], data=form, files={"File": ("porch.jpg", jpeg())}, timeout=5)
    assert envelope_error(second) == (401, 1000)
    assert len(sandbox.results(f"{owner}/photos")) == 1
    other = sandbox.ticket(owner, "photos")
    form = {"Token": other["Token"], "Name": "Yard", "Primary": "TRUE"}
    requests.post(other["Uri"], data=form, files={"File": ("yard.jpg", jpeg(color="green"))}, timeout=5)
    assert photo_names(sandbox, owner) == [("Porch", False), ("Yard", True)]


def test_failed_upload_does_not_use_the_ticket(sandbox):
    owner = f"/v1/listings/{sandbox.create_listing()}"
    ticket = sandbox.ticket(owner, "photos")
    too_long = {"Token": ticket["Token"], "Name": "x" * 41}
    assert envelope_error(requests.post(ticket["Uri"], data=too_long, files={"File": ("a.jpg", jpeg())})) == (
        400,
        1053,
    )
    assert envelope_error(requests.post(ticket["Uri"], data={"Token": ticket["Token"], "Name": "A"})) == (
        400,
        1050,
    )
    ok = requests.post(
        ticket["Uri"], data={"Token": ticket["Token"], "Name": "A"}, files={"File": ("a.jpg", jpeg())}
    )
    assert ok.status_code == 201


def test_ticket_expires(sandbox):
    owner = f"/v1/listings/{sandbox.create_listing()}"
    ticket = sandbox.ticket(owner, "photos")
    sandbox.clock(advance_seconds=3601)
    response = requests.post(
        ticket["Uri"],
        data={"Token": ticket["Token"], "Name": "Late"},
        files={"File": ("a.jpg", jpeg())},
        timeout=5,
    )
    assert envelope_error(response) == (401, 1000)
    assert "expired" in response.json()["D"]["Message"]
    sandbox.options(ticket_ttl_seconds=5, ticket_error_status=403, ticket_error_code=1500)
    short = sandbox.ticket(owner, "photos")
    assert short["ExpiresIn"] == 5
    sandbox.clock(advance_seconds=6)
    late = requests.post(
        short["Uri"], data={"Token": short["Token"], "Name": "L"}, files={"File": ("a.jpg", jpeg())}
    )
    assert envelope_error(late) == (403, 1500)


def test_ticket_services_and_redirect(sandbox):
    owner = f"/v1/listings/{sandbox.create_listing()}"
    generic = sandbox.post(f"{owner}/tickets", {"Service": "DocumentUploads"}).json()["D"]["Results"][0]
    assert generic["Uri"] == sandbox.url("/uploads/documents")
    assert envelope_error(sandbox.post(f"{owner}/tickets", {})) == (400, 1050)
    assert envelope_error(sandbox.post(f"{owner}/photos/tickets", {"Service": "DocumentUploads"})) == (
        400,
        1053,
    )
    photo_ticket = sandbox.ticket(owner, "photos")
    wrong_service = requests.post(
        generic["Uri"], data={"Token": photo_ticket["Token"], "Name": "x"}, files={"File": ("d.pdf", pdf())}
    )
    assert envelope_error(wrong_service)[0] == 401
    response = requests.post(
        photo_ticket["Uri"],
        data={"Token": photo_ticket["Token"], "Name": "Porch", "RedirectTo": "https://portal.example/done"},
        files={"File": ("a.jpg", jpeg())},
        allow_redirects=False,
        timeout=5,
    )
    assert response.status_code == 302 and response.headers["Location"] == "https://portal.example/done"
    assert len(sandbox.results(f"{owner}/photos")) == 1


def test_incomplete_tickets_can_be_switched_off(sandbox):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    sandbox.options(incomplete_tickets=False)
    assert envelope_error(sandbox.post(f"{owner}/photos/tickets", {"Service": "PhotoUploads"})) == (404, 404)


# --- documents ----------------------------------------------------------------------------------------


def documents(sandbox, owner):
    return [(d["Name"], d["Privacy"]) for d in sandbox.results(f"{owner}/documents")]


def test_document_privacy_defaults_and_forced_names(sandbox, owner):
    sandbox.upload_document(owner, "Floor Plan", "public")
    sandbox.upload_document(owner, "Survey", None)  # metadata default: Private
    sandbox.upload_document(owner, "Property Disclosure", "public")  # HasEdit name: forced
    sandbox.upload_document(owner, "Plat", "datashare")
    assert documents(sandbox, owner) == [
        ("Floor Plan", "Public"),
        ("Survey", "Private"),
        ("Property Disclosure", "HasEdit"),
        ("Plat", "DataShare"),
    ]
    row = sandbox.results(f"{owner}/documents")[0]
    assert row["ResourceUri"].startswith(f"{owner}/documents/")
    assert requests.get(row["Uri"], timeout=5).content == pdf()


def test_document_reorder_rename_privacy_delete(sandbox, owner):
    ids = [sandbox.upload_document(owner, name) for name in ("A", "B", "C")]
    assert (
        sandbox.put(f"{owner}/documents", {"Documents": [{"Id": i} for i in reversed(ids)]}).status_code
        == 200
    )
    assert [n for n, _ in documents(sandbox, owner)] == ["C", "B", "A"]
    assert sandbox.put(f"{owner}/documents/{ids[0]}", {"Documents": [{"Order": 1}]}).status_code == 200
    assert [n for n, _ in documents(sandbox, owner)] == ["A", "C", "B"]
    sandbox.put(f"{owner}/documents/{ids[0]}", {"Documents": [{"Order": 10}]})
    assert [n for n, _ in documents(sandbox, owner)] == ["C", "B", "A"]
    assert sandbox.put(f"{owner}/documents/{ids[1]}", {"Name": "My Document"}).status_code == 200
    assert sandbox.put(f"{owner}/documents/{ids[2]}", {"Privacy": "DataShare"}).status_code == 200
    assert documents(sandbox, owner) == [("C", "DataShare"), ("My Document", "Public"), ("A", "Public")]
    assert envelope_error(sandbox.put(f"{owner}/documents/{ids[2]}", {"Privacy": "Secret"})) == (400, 1053)
    both = sandbox.put(f"{owner}/documents/{ids[2]}", {"Name": "X", "Privacy": "Public"})
    assert envelope_error(both) == (400, 1053)
    sandbox.put(f"{owner}/documents/{ids[1]}", {"Name": "Private Document"})
    assert documents(sandbox, owner)[1] == ("Private Document", "HasEdit")
    assert envelope_error(sandbox.put(f"{owner}/documents/{ids[1]}", {"Privacy": "Public"})) == (400, 1053)
    assert sandbox.delete(f"{owner}/documents/{ids[0]}").json() == {"D": {"Success": True}}
    assert [n for n, _ in documents(sandbox, owner)] == ["C", "Private Document"]
    state = next(item for group in sandbox.state().values() for item in group)
    assert [(d["Name"], d["Privacy"], d["Order"]) for d in state["Documents"]] == [
        ("C", "DataShare", 1),
        ("Private Document", "HasEdit", 2),
    ]


def test_required_documents_follow_the_fields(sandbox):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete(YearBuilt=1950)}"
    assert sandbox.results(f"{owner}/documents/required") == [
        {"Name": "Property Disclosure", "Present": False},
        {"Name": "Lead Based Paint Disclosure", "Present": False},
    ]
    sandbox.upload_document(owner, "Property Disclosure", "hasedit")
    sandbox.put(owner, {"YearBuilt": 1990})
    assert sandbox.results(f"{owner}/documents/required") == [
        {"Name": "Property Disclosure", "Present": True}
    ]


def test_documents_accept_pdf_only_by_default(sandbox):
    owner = f"/v1/listings/{sandbox.create_listing()}"
    ticket = sandbox.ticket(owner, "documents")
    form = {"Token": ticket["Token"], "Name": "Pic", "confidentiality": "public"}
    response = requests.post(ticket["Uri"], data=form, files={"File": ("a.jpg", jpeg())}, timeout=5)
    assert envelope_error(response) == (400, 1053)
