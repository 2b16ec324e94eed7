"""The sandbox over real HTTP (pytest-django's live server, ``requests``)."""

from __future__ import annotations

import base64
import io
from typing import Any

import pytest
import requests
from PIL import Image

from tests.sandbox_support import CONTROL_HEADERS
from tests.sandbox_support import SANDBOX_CONTROL_TOKEN as CONTROL_TOKEN
from tests.sandbox_support import SANDBOX_TOKEN as TOKEN

AGENT = "20080917142739989238000000"
MISSING_ID = "19990101000000000000000000"

DRAFT: dict[str, Any] = {
    "PropertyType": "A",
    "PropertySubType": "SF",
    "ListPrice": 1079900,
    "StreetNumber": "611",
    "StreetName": "8th",
    "StreetSuffix": "St",
    "StreetDirSuffix": "S",
    "City": "Fargo",
    "StateOrProvince": "ND",
    "PostalCode": "58103",
    "YearBuilt": 1884,
    "BedsTotal": 8,
    "BathsTotal": 8,
    "Latitude": 46.868464,
    "Longitude": -96.792246,
}


def jpeg(size: tuple[int, int] = (64, 48), color: str = "red") -> bytes:
    buffer = io.BytesIO()
    Image.new("RGB", size, color).save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def pdf() -> bytes:
    return b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"


class Sandbox:
    """API calls with the right headers, plus the control interface."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.http.headers.update(
            {"X-SparkApi-User-Agent": "sandbox-tests", "Authorization": f"Bearer {TOKEN}", **CONTROL_HEADERS}
        )

    def url(self, path: str) -> str:
        return self.base + path

    def call(self, method: str, path: str, data: Any = None, **kwargs: Any) -> requests.Response:
        if data is not None:
            kwargs["json"] = {"D": data}
        kwargs.setdefault("timeout", 10)
        return self.http.request(method, self.url(path), **kwargs)

    def get(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("GET", path, **kwargs)

    def post(self, path: str, data: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("POST", path, data, **kwargs)

    def put(self, path: str, data: Any = None, **kwargs: Any) -> requests.Response:
        return self.call("PUT", path, data, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> requests.Response:
        return self.call("DELETE", path, **kwargs)

    def results(self, path: str, **kwargs: Any) -> list[dict[str, Any]]:
        response = self.get(path, **kwargs)
        assert response.status_code == 200, response.text
        return response.json()["D"]["Results"]

    # --- fixtures of the MLS -------------------------------------------------------------------------
    def create_incomplete(self, **changes: Any) -> str:
        response = self.post("/v1/listings/incomplete", {**DRAFT, **changes})
        assert response.status_code == 201, response.text
        return response.json()["D"]["Results"][0]["Id"]

    def create_listing(self, **changes: Any) -> str:
        fields = {key: value for key, value in {**DRAFT, **changes}.items() if value is not None}
        response = self.post("/v1/listings", fields)
        assert response.status_code == 201, response.text
        return response.json()["D"]["Results"][0]["Id"]

    def add_photo(
        self, owner: str, name: str = "Front", size=(64, 48), color: str = "red", **extra: Any
    ) -> dict:
        photo = {"Picture": b64(jpeg(size, color)), "FileName": f"{name}.jpg", "Name": name, **extra}
        response = self.post(f"{owner}/photos", {"Photos": [photo]})
        assert response.status_code == 201, response.text
        return response.json()["D"]["Results"][0]

    def ticket(self, owner: str, kind: str) -> dict[str, Any]:
        service = {"photos": "PhotoUploads", "documents": "DocumentUploads"}[kind]
        response = self.post(f"{owner}/{kind}/tickets", {"Service": service})
        assert response.status_code == 201, response.text
        return response.json()["D"]["Results"][0]

    def upload_document(
        self, owner: str, name: str, confidentiality: str | None = "public", **form: str
    ) -> str:
        ticket = self.ticket(owner, "documents")
        fields = {"Token": ticket["Token"], "Name": name, **form}
        if confidentiality is not None:
            fields["confidentiality"] = confidentiality
        response = requests.post(ticket["Uri"], data=fields, files={"File": ("doc.pdf", pdf())}, timeout=10)
        assert response.status_code == 201, response.text
        return response.json()["D"]["Results"][0]["Id"]

    # --- control -------------------------------------------------------------------------------------
    def control(self, method: str, name: str, body: Any = None) -> Any:
        response = requests.request(
            method, self.url(f"/_control/{name}"), json=body, headers=CONTROL_HEADERS, timeout=10
        )
        assert response.status_code == 200, response.text
        return response.json()

    def faults(self, *rules: dict[str, Any], seed: int = 42, latency_ms: int = 0) -> Any:
        return self.control("POST", "faults", {"seed": seed, "latency_ms": latency_ms, "rules": list(rules)})

    def calls(self) -> dict[str, Any]:
        return self.control("GET", "calls")

    def state(self) -> dict[str, Any]:
        return self.control("GET", "state")

    def options(self, **values: Any) -> Any:
        return self.control("POST", "options", values)

    def clock(self, **body: float) -> Any:
        return self.control("POST", "clock", body)


def envelope_error(response: requests.Response) -> tuple[int, int]:
    """(HTTP status, D.Code) after checking the failure envelope."""
    body = response.json()
    assert set(body) == {"D"}, body
    assert body["D"]["Success"] is False
    assert isinstance(body["D"]["Message"], str)
    return response.status_code, body["D"]["Code"]


@pytest.fixture
def sandbox(sandbox_live_server, settings) -> Sandbox:
    live_server = sandbox_live_server
    settings.SPARK_SANDBOX_CONTROL_ENABLED = True
    settings.SPARK_SANDBOX_CONTROL_TOKEN = CONTROL_TOKEN
    settings.SPARK_SANDBOX_FAULTS = ""
    settings.SPARK_SANDBOX_OPTIONS = ""
    box = Sandbox(f"{live_server.url}/sandbox")
    box.control("POST", "reset")
    return box
