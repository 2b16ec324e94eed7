"""Envelope, headers, auth, OAuth grants, 404 and every 405 the pages list."""

from __future__ import annotations

import pytest
import requests

from tests.sandbox.conftest import CONTROL_HEADERS, MISSING_ID, TOKEN, envelope_error

pytestmark = pytest.mark.django_db(transaction=True)


def test_missing_user_agent_is_1016(sandbox):
    response = requests.get(
        sandbox.url("/v1/listings"), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    assert envelope_error(response) == (400, 1016)


def test_user_agent_check_can_be_switched_off(sandbox):
    sandbox.options(require_user_agent=False)
    response = requests.get(
        sandbox.url("/v1/listings"), headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5
    )
    assert response.status_code == 200


@pytest.mark.parametrize("authorization", [None, "Bearer wrong-token", "Basic abc", "Bearer "])
def test_bad_or_missing_token_is_1000(sandbox, authorization):
    headers = {"X-SparkApi-User-Agent": "t"}
    if authorization is not None:
        headers["Authorization"] = authorization
    response = requests.get(sandbox.url("/v1/listings"), headers=headers, timeout=5)
    assert envelope_error(response) == (401, 1000)


def test_oauth_prefix_is_accepted_like_bearer(sandbox):
    headers = {"X-SparkApi-User-Agent": "t", "Authorization": f"OAuth {TOKEN}"}
    assert requests.get(sandbox.url("/v1/listings"), headers=headers, timeout=5).status_code == 200


def grant(sandbox, **params):
    body = {"client_id": "sandbox-client", "client_secret": "sandbox-secret", **params}
    return requests.post(sandbox.url("/v1/oauth2/grant"), json=body, timeout=5)


def use(sandbox, token):
    headers = {"X-SparkApi-User-Agent": "t", "Authorization": f"Bearer {token}"}
    return requests.get(sandbox.url("/v1/propertytypes"), headers=headers, timeout=5)


def test_authorization_code_grant_issues_a_working_token_once(sandbox):
    response = grant(sandbox, grant_type="authorization_code", code="abc", redirect_uri="https://x/cb")
    assert response.status_code == 200
    tokens = response.json()
    assert set(tokens) == {"access_token", "refresh_token", "expires_in"}
    assert tokens["expires_in"] == 3600
    assert use(sandbox, tokens["access_token"]).status_code == 200
    again = grant(sandbox, grant_type="authorization_code", code="abc", redirect_uri="https://x/cb")
    assert again.status_code == 400 and again.json()["error"] == "invalid_grant"


def test_grant_refuses_a_wrong_client_secret(sandbox):
    response = grant(
        sandbox, client_secret="nope", grant_type="authorization_code", code="c", redirect_uri="u"
    )
    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_refresh_grant_rotates_the_refresh_token(sandbox):
    first = grant(sandbox, grant_type="authorization_code", code="c1", redirect_uri="u").json()
    second = grant(sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    assert second.json()["access_token"] != first["access_token"]
    reuse = grant(sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert reuse.status_code == 400 and reuse.json()["error"] == "invalid_grant"


def test_expire_tokens_turns_issued_tokens_into_1020_but_not_the_settings_token(sandbox):
    tokens = grant(sandbox, grant_type="authorization_code", code="c2", redirect_uri="u").json()
    sandbox.control("POST", "expire_tokens")
    assert envelope_error(use(sandbox, tokens["access_token"])) == (401, 1020)
    assert use(sandbox, TOKEN).status_code == 200
    refreshed = grant(sandbox, grant_type="refresh_token", refresh_token=tokens["refresh_token"]).json()
    assert use(sandbox, refreshed["access_token"]).status_code == 200


def test_issued_tokens_expire_after_the_ttl(sandbox, settings):
    settings.SPARK_SANDBOX_TOKEN_TTL = 60
    tokens = grant(sandbox, grant_type="authorization_code", code="c3", redirect_uri="u").json()
    assert tokens["expires_in"] == 60
    sandbox.clock(advance_seconds=61)
    assert envelope_error(use(sandbox, tokens["access_token"])) == (401, 1020)


def test_openid_token_endpoint_takes_a_form_and_basic_auth(sandbox):
    response = requests.post(
        sandbox.url("/openid/token"),
        data={"grant_type": "authorization_code", "code": "c4", "redirect_uri": "u"},
        auth=("sandbox-client", "sandbox-secret"),
        timeout=5,
    )
    assert response.status_code == 200
    assert response.json()["token_type"] == "Bearer"


def test_revoked_token_is_1000(sandbox):
    token = grant(sandbox, grant_type="authorization_code", code="c5", redirect_uri="u").json()[
        "access_token"
    ]
    assert sandbox.delete(f"/v1/oauth2/token/{token}").status_code == 200
    assert envelope_error(use(sandbox, token)) == (401, 1000)


def test_body_that_is_not_json_is_1035(sandbox):
    response = sandbox.http.post(
        sandbox.url("/v1/listings/incomplete"), data="{not json", headers={"Content-Type": "application/json"}
    )
    assert envelope_error(response) == (400, 1035)
    form = sandbox.http.post(sandbox.url("/v1/listings/incomplete"), data={"City": "Fargo"})
    assert envelope_error(form) == (400, 1035)
    unwrapped = sandbox.http.post(sandbox.url("/v1/listings/incomplete"), json={"City": "Fargo"})
    assert envelope_error(unwrapped) == (400, 1035)


def test_unknown_paths_and_ids_are_404_in_the_envelope(sandbox):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    for path in [
        "/v1/nothing/here",
        f"/v1/listings/incomplete/{MISSING_ID}",
        f"/v1/listings/{MISSING_ID}",
        f"{owner}/photos/{MISSING_ID}",
        f"{owner}/documents/{MISSING_ID}",
        f"/v1/listings/{MISSING_ID}/photos",
        "/v1/standardfields/NoSuchField",
    ]:
        assert envelope_error(sandbox.get(path)) == (404, 404), path
    # An incomplete listing is not a listing, and the reverse.
    assert envelope_error(sandbox.get(f"/v1/listings/{owner.rsplit('/', 1)[1]}")) == (404, 404)


NOT_IMPLEMENTED = [
    ("PUT", "/v1/listings/incomplete"),
    ("DELETE", "/v1/listings/incomplete"),
    ("POST", "{incomplete}"),
    ("POST", "/v1/listings/incomplete/nearby"),
    ("PUT", "/v1/listings/incomplete/nearby"),
    ("DELETE", "/v1/listings/incomplete/nearby"),
    ("PUT", "/v1/listings"),
    ("DELETE", "/v1/listings"),
    ("POST", "{listing}"),
    ("DELETE", "{listing}"),
    ("POST", "/v1/my/listings"),
    ("PUT", "/v1/office/listings"),
    ("DELETE", "/v1/company/listings"),
    ("POST", "/v1/listings/nearby"),
    ("PUT", "/v1/listings/nearby"),
    ("DELETE", "/v1/listings/nearby"),
    ("DELETE", "{listing}/photos"),
    ("DELETE", "{incomplete}/photos"),
    ("POST", "{listing}/photos/{photo}"),
    ("POST", "{incomplete}/photos/{photo}"),
    ("POST", "{listing}/documents"),
    ("DELETE", "{listing}/documents"),
    ("POST", "{incomplete}/documents/{document}"),
    ("GET", "{listing}/tickets"),
    ("PUT", "{listing}/photos/tickets"),
    ("DELETE", "{listing}/documents/tickets"),
    ("GET", "/v1/listings/validation"),
    ("PUT", "/v1/listings/validation"),
    ("DELETE", "/v1/listings/validation"),
    ("GET", "{listing}/validation"),
    ("POST", "/v1/listings/photos/meta"),
    ("PUT", "/v1/listings/documents/meta"),
    ("DELETE", "/v1/listings/incomplete/photos/meta"),
    ("GET", "/v1/oauth2/grant"),
]


def test_every_verb_the_pages_mark_not_implemented_is_405(sandbox):
    incomplete = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    listing = f"/v1/listings/{sandbox.create_listing()}"
    photo = sandbox.add_photo(listing)["Id"]
    document = sandbox.upload_document(incomplete, "Survey")
    for method, template in NOT_IMPLEMENTED:
        path = template.format(incomplete=incomplete, listing=listing, photo=photo, document=document)
        response = sandbox.call(method, path)
        assert envelope_error(response) == (405, 405), (method, path)
    counts = sandbox.calls()["counts"]
    assert counts["incomplete.not_allowed"] == 6
    assert counts["photos.not_allowed"] == 6  # 4 above + 2 on the photos meta


def test_photo_collection_put_can_be_the_old_405(sandbox):
    listing = f"/v1/listings/{sandbox.create_listing()}"
    photo = sandbox.add_photo(listing)["Id"]
    sandbox.options(photo_collection_put="not_allowed")
    assert envelope_error(sandbox.put(f"{listing}/photos", {"Photos": [{"Id": photo}]})) == (405, 405)


def test_metadata_services(sandbox):
    fields = sandbox.results("/v1/standardfields")[0]
    assert fields["ListPrice"]["Type"] == "Decimal"
    assert fields["PrivateRemarks"]["MlsVisible"]["PropertyTypes"] == []
    detail = sandbox.results("/v1/standardfields/PropertyType")[0]["PropertyType"]
    assert {"Name": "Residential", "Value": "A", "Applies To": ["A"]} in detail["FieldList"]
    codes = [p["MlsCode"] for p in sandbox.results("/v1/propertytypes")]
    assert codes == ["A", "B", "C", "D", "E", "F"]
    assert len(sandbox.results("/v1/propertytypes/all")) == 7
    rules = sandbox.results("/v1/listings/rules/propertytypes/A")
    assert {"Field": "BedsTotal", "Action": "SET_REQUIRED"}.items() <= rules[8].items()
    photos_meta = sandbox.results("/v1/listings/incomplete/photos/meta")[0]
    assert "Automatic" in photos_meta["Privacy"]["Options"]
    documents_meta = sandbox.results("/v1/listings/documents/propertytypes/A/meta")[0]
    assert documents_meta["Privacy"]["HasEditNames"] == {"A": ["Private Document", "Property Disclosure"]}


def test_html_page_shows_what_the_mls_holds(sandbox):
    owner = f"/v1/listings/incomplete/{sandbox.create_incomplete()}"
    sandbox.add_photo(owner, "Porch")
    sandbox.add_photo(owner, "Kitchen")
    sandbox.upload_document(owner, "Property Disclosure")
    page = requests.get(sandbox.url("/"), headers=CONTROL_HEADERS, timeout=5)
    assert page.status_code == 200
    html = page.text
    assert "611 8th St S" in html and "Porch" in html and "Kitchen" in html
    assert html.count("sb-badge") == 1  # one primary
    assert "HasEdit" in html
    assert "<script" not in html and "style=" not in html
    assert page.headers["Content-Security-Policy"]
    thumb = html.split('<img src="', 1)[1].split('"', 1)[0]
    assert requests.get(thumb.replace("&amp;", "&"), timeout=5).headers["Content-Type"] == "image/jpeg"
