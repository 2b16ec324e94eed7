"""The request pipeline itself: internal errors, and constant query counts on collections."""

from __future__ import annotations

import json

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from sandbox import faults
from sandbox.envelope import success
from sandbox.models import Call
from sandbox.pipeline import endpoint, handle

pytestmark = pytest.mark.django_db(transaction=True)


def broken_handler(api):
    raise RuntimeError("a bug in a handler")


def test_an_exception_in_a_handler_answers_500_in_the_envelope(rf):
    view = endpoint("test", GET=handle("test.broken", broken_handler, auth=False))
    response = view(rf.get("/sandbox/v1/broken"))
    assert response.status_code == 500
    assert json.loads(response.content) == {
        "D": {"Success": False, "Code": 1026, "Message": "Internal error in the sandbox"}
    }
    call = Call.objects.get()
    assert (call.route, call.status, call.code, call.applied) == ("test.broken", 500, 1026, False)


def answer_ok(api):
    return success()


def test_drop_after_apply_answers_502_when_the_socket_is_out_of_reach(rf):
    """The request factory has no socket: the documented fallback is a 502 after applying."""
    faults.install({"rules": [{"kind": "drop_after_apply", "routes": ["test.ok"]}]})
    view = endpoint("test", GET=handle("test.ok", answer_ok, auth=False))
    response = view(rf.get("/sandbox/v1/ok"))
    assert response.status_code == 502
    assert json.loads(response.content)["D"]["Code"] == 1510
    assert Call.objects.get().fault == "drop_after_apply"


def count_queries(sandbox, path: str, **params) -> int:
    with CaptureQueriesContext(connection) as captured:
        assert sandbox.get(path, params=params).status_code == 200
    return len(captured)


def test_collections_use_a_constant_number_of_queries(sandbox):
    def add_listing():
        listing = sandbox.create_listing()
        owner = f"/v1/listings/{listing}"
        sandbox.add_photo(owner, "A")
        sandbox.add_photo(owner, "B")
        sandbox.upload_document(owner, "Survey")

    add_listing()
    add_listing()
    small = count_queries(sandbox, "/v1/listings", _expand="Photos,Documents", _limit=25)
    state_small = count_queries(sandbox, "/_control/state")
    for _ in range(3):
        add_listing()
    assert count_queries(sandbox, "/v1/listings", _expand="Photos,Documents", _limit=25) == small
    assert count_queries(sandbox, "/_control/state") == state_small
    assert small <= 8
