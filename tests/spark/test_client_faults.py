"""Every sandbox fault switch, and how the client classifies what it sees.

Sandbox only (they drive ``_control/faults``). Timeouts are kept small so the suite stays fast.
"""

from __future__ import annotations

import time
from typing import Any

import pytest

from spark.errors import (
    SparkConflict,
    SparkConnectionError,
    SparkError,
    SparkMethodNotAllowed,
    SparkPermissionDenied,
    SparkRateLimited,
    SparkServerError,
    SparkTimeout,
    SparkTokenExpired,
    SparkUnavailable,
    SparkValidationError,
)
from tests.spark.conftest import MINIMAL_DRAFT

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.sandbox_only]


def incomplete_ids(sandbox) -> list[str]:
    return [listing["Id"] for listing in sandbox.state()["incomplete_listings"]]


def wait_for(predicate, timeout: float = 5.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def journaled(sandbox, fault: str) -> bool:
    return any(call["fault"] == fault for call in sandbox.calls()["journal"])


def settle(sandbox, fault: str, timeout: float = 5.0) -> None:
    """Wait until the sandbox has journaled the faulted call.

    The live server's threads share one SQLite connection, and the sandbox finishes a dropped or
    hung request after the client has given up; control calls made meanwhile can collide with it.
    """
    assert wait_for(lambda: journaled(sandbox, fault), timeout), f"no {fault} call in the journal"


def raised(call) -> SparkError:
    with pytest.raises(SparkError) as caught:
        call()
    return caught.value


@pytest.mark.parametrize(
    ("status", "code", "error_class", "ambiguous"),
    [
        (500, 1026, SparkServerError, False),
        (502, 1510, SparkUnavailable, True),
        (503, 1510, SparkUnavailable, False),
        (504, 1515, SparkUnavailable, True),
    ],
)
def test_server_errors_are_transient_and_502_504_ambiguous_for_writes(
    spark, sandbox, status, code, error_class, ambiguous
):
    sandbox.faults({"kind": "server_error", "status": status, "routes": ["incomplete.create"]})
    error = raised(lambda: spark.create_incomplete_listing(MINIMAL_DRAFT))
    assert type(error) is error_class
    assert (error.status, error.code) == (status, code)
    assert error.transient and not error.permanent
    assert error.ambiguous is ambiguous
    assert error.route == "incomplete.create"


def test_server_error_without_envelope(spark, sandbox):
    sandbox.faults({"kind": "server_error", "status": 502, "envelope": False})
    write = raised(lambda: spark.create_incomplete_listing(MINIMAL_DRAFT))
    assert isinstance(write, SparkServerError) and write.code is None
    assert write.transient and write.ambiguous
    read = raised(lambda: spark.list_incomplete_listings())
    assert read.transient and not read.ambiguous


@pytest.mark.parametrize(
    ("rule", "status", "retry_after"),
    [
        ({"status": 429, "retry_after": "2"}, 429, 2.0),
        ({"status": 503, "retry_after": None}, 503, None),
        ({"status": 429, "retry_after": None}, 429, None),
        ({"status": 503, "retry_after": "7"}, 503, 7.0),
    ],
)
def test_rate_limits_as_429_or_503_carry_their_wait(spark, sandbox, rule, status, retry_after):
    sandbox.faults({"kind": "rate_limit", **rule})
    error = raised(lambda: spark.list_incomplete_listings())
    assert type(error) is SparkRateLimited
    assert (error.status, error.code) == (status, 1550)
    assert error.retry_after == retry_after
    assert error.transient and not error.ambiguous


def test_rate_limit_retry_after_as_http_date(spark, sandbox):
    sandbox.faults({"kind": "rate_limit", "status": 429, "retry_after_date_in": 5})
    error = raised(lambda: spark.list_incomplete_listings())
    assert isinstance(error, SparkRateLimited)
    assert 3.0 <= error.retry_after <= 6.0


def test_rate_limit_default_status_option(spark, sandbox):
    sandbox.options(rate_limit_status=503)
    sandbox.faults({"kind": "rate_limit"})
    error = raised(lambda: spark.property_types())
    assert isinstance(error, SparkRateLimited) and error.status == 503


def test_token_expired_with_a_static_token(spark, sandbox):
    sandbox.faults({"kind": "token_expired", "times": 1})
    error = raised(lambda: spark.list_incomplete_listings())
    assert type(error) is SparkTokenExpired
    assert (error.status, error.code) == (401, 1020)
    assert error.permanent
    assert spark.list_incomplete_listings().results == []  # `times` spent: the token works again


@pytest.mark.parametrize(
    ("status", "code", "error_class"),
    [
        (400, 1053, SparkValidationError),
        (400, 1050, SparkValidationError),
        (409, 1055, SparkConflict),
        (403, 1500, SparkPermissionDenied),
        (405, 1017, SparkMethodNotAllowed),
        (503, 1515, SparkUnavailable),
        (503, 1024, SparkUnavailable),
    ],
)
def test_injected_errors_are_classified(spark, sandbox, status, code, error_class):
    sandbox.faults({"kind": "error", "status": status, "code": code, "routes": ["incomplete.create"]})
    error = raised(lambda: spark.create_incomplete_listing(MINIMAL_DRAFT))
    assert type(error) is error_class
    assert (error.status, error.code) == (status, code)
    assert error.transient is (status == 503)
    assert not error.ambiguous
    assert incomplete_ids(sandbox) == []


def test_hang_times_out_and_a_write_is_ambiguous_and_applied_late(spark_target, sandbox):
    client = spark_target.client(read_timeout=0.5)
    sandbox.faults({"kind": "hang", "hang_seconds": 1.5, "routes": ["incomplete.create"], "times": 1})
    started = time.monotonic()
    error = raised(lambda: client.create_incomplete_listing(MINIMAL_DRAFT))
    assert time.monotonic() - started < 1.4
    assert type(error) is SparkTimeout
    assert error.transient and error.ambiguous
    # The remote applied it after all: this is why the sync engine lists before re-sending.
    time.sleep(1.5 - (time.monotonic() - started))
    settle(sandbox, "hang")
    assert len(incomplete_ids(sandbox)) == 1


def test_hang_on_a_read_is_not_ambiguous(spark_target, sandbox):
    client = spark_target.client(read_timeout=0.3)
    sandbox.faults({"kind": "hang", "hang_seconds": 0.8, "routes": ["incomplete.list"], "times": 1})
    error = raised(lambda: client.list_incomplete_listings())
    assert type(error) is SparkTimeout and error.transient and not error.ambiguous
    time.sleep(0.5)
    settle(sandbox, "hang")


def test_latency_beyond_the_read_timeout(spark_target, sandbox):
    client = spark_target.client(read_timeout=0.2)
    sandbox.faults(latency_ms=600)
    error = raised(lambda: client.property_types())
    assert isinstance(error, SparkTimeout) and not error.ambiguous
    assert wait_for(lambda: sandbox.count("propertytypes.list") == 1)  # the slow call has finished


def test_drop_after_apply_is_an_ambiguous_connection_error(spark, sandbox):
    sandbox.faults({"kind": "drop_after_apply", "routes": ["incomplete.create"], "times": 1})
    error = raised(lambda: spark.create_incomplete_listing(MINIMAL_DRAFT))
    assert isinstance(error, SparkConnectionError | SparkServerError)
    assert error.transient and error.ambiguous
    settle(sandbox, "drop_after_apply")
    assert len(incomplete_ids(sandbox)) == 1  # applied before the connection was dropped
    journal = [c for c in sandbox.calls()["journal"] if c["route"] == "incomplete.create"]
    assert journal[-1]["applied"] and journal[-1]["fault"] == "drop_after_apply"


def test_drop_on_a_read_is_not_ambiguous(spark, sandbox):
    sandbox.faults({"kind": "drop_after_apply", "routes": ["incomplete.list"], "times": 1})
    error = raised(lambda: spark.list_incomplete_listings())
    assert error.transient and not error.ambiguous
    settle(sandbox, "drop_after_apply")


def test_trickled_body_is_cut_at_the_total_deadline(spark_target, sandbox):
    client = spark_target.client(read_timeout=2.0, total_timeout=0.8)
    sandbox.faults(
        {"kind": "trickle", "trickle_interval": 0.1, "trickle_bytes": 1, "routes": ["incomplete.create"]}
    )
    started = time.monotonic()
    error = raised(lambda: client.create_incomplete_listing(MINIMAL_DRAFT))
    elapsed = time.monotonic() - started
    assert type(error) is SparkTimeout
    assert error.status in (200, 201)  # the headers said success; the body never completed
    assert error.transient and error.ambiguous
    assert elapsed < 0.8 + 0.5
    assert len(incomplete_ids(sandbox)) == 1


def test_a_slow_but_steady_body_within_the_deadline_is_read(spark_target, sandbox):
    client = spark_target.client(read_timeout=2.0, total_timeout=10.0)
    sandbox.faults(
        {"kind": "trickle", "trickle_interval": 0.01, "trickle_bytes": 64, "routes": ["propertytypes.list"]}
    )
    assert client.property_types().results


def test_faults_respect_probability_routes_methods_and_times(spark, sandbox):
    sandbox.faults(
        {
            "kind": "server_error",
            "status": 500,
            "routes": ["propertytypes.list"],
            "methods": ["GET"],
            "times": 2,
        },
        seed=7,
    )
    outcomes = []
    for _ in range(3):
        try:
            spark.property_types()
            outcomes.append("ok")
        except SparkServerError:
            outcomes.append("500")
    assert outcomes == ["500", "500", "ok"]
    assert spark.standard_fields().results  # another route is untouched

    sandbox.faults({"kind": "server_error", "probability": 0.0})
    assert spark.property_types().results


def test_before_request_hook_sees_every_request(spark_target, sandbox):
    seen: list[tuple[str, str]] = []
    client = spark_target.client(before_request=lambda method, route: seen.append((method, route)))
    created = client.create_incomplete_listing(MINIMAL_DRAFT)
    client.list_incomplete_listings()
    sandbox.faults({"kind": "server_error", "status": 503, "times": 1})
    with pytest.raises(SparkUnavailable):
        client.get_incomplete_listing(created.resource_id)
    assert seen == [
        ("POST", "incomplete.create"),
        ("GET", "incomplete.list"),
        ("GET", "incomplete.get"),
    ]
    journal_routes = [c["route"] for c in sandbox.calls()["journal"]]
    assert journal_routes == [route for _method, route in seen]


def test_before_request_hook_can_refuse_a_call(spark_target, sandbox):
    class Throttled(Exception):
        pass

    def refuse(method: str, route: str) -> Any:
        raise Throttled(route)

    client = spark_target.client(before_request=refuse)
    with pytest.raises(Throttled):
        client.create_incomplete_listing(MINIMAL_DRAFT)
    assert sandbox.calls()["journal"] == []
