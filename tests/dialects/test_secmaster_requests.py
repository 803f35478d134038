"""SecMaster requests refused, row by row: parameters, bodies, signatures, methods.

Each refusal is SecMaster's envelope with an X-request-id and a message naming
the parameter, header or method at fault; none reaches the store or Onward's
own answers.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Final

import httpx
import pytest
from dialect_support import (
    BODY_LIMIT,
    MASTER,
    SM_BASE,
    SM_PROJECT,
    SM_REQUEST_ID,
    add_token,
    finished_quick_run,
    halted_event_run,
    padded_json,
    sent,
    serve,
    sm_answer,
    sm_error,
    sm_instances,
    store_user,
    too_large,
    wait_for,
)
from structlog.testing import capture_logs

from onward.config import Settings
from onward.domain.access import Role
from onward.domain.runs import RunStatus
from onward.runtime import Runtime

WORKSPACE: Final = "soc"
INVALID: Final = "SecMaster.00040001"
WRONG_STATE: Final = "SecMaster.00040009"
UNAUTHENTICATED: Final = "SecMaster.00040101"
NOT_FOUND: Final = "SecMaster.00040401"
TOO_LARGE: Final = "SecMaster.00041301"
PAGE: Final = "limit=10&offset=0"
JSON: Final = {"content-type": "application/json"}
NO_API: Final = "The requested API does not exist"
#: a well-formed SDK-HMAC-SHA256 header (of a key that does not exist)
SIGNATURE: Final = (
    "SDK-HMAC-SHA256 Access=ONWAAAAAAAAAAAAAAAAA, SignedHeaders=host;x-sdk-date, "
    "Signature=" + "0" * 64
)


def now_sdk_date() -> str:
    """Return the current time as the SDK writes X-Sdk-Date."""
    return f"{datetime.now(UTC):%Y%m%dT%H%M%SZ}"


# --- query parameters ---------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=%C2%B2&offset=0", "limit must be a whole number from 1 to 10000"),
        ("limit=%D9%A1&offset=0", "limit must be a whole number from 1 to 10000"),
        ("limit=%2B5&offset=0", "limit must be a whole number from 1 to 10000"),
        ("limit=%205&offset=0", "limit must be a whole number from 1 to 10000"),
        ("limit=5.0&offset=0", "limit must be a whole number from 1 to 10000"),
        ("limit=0x10&offset=0", "limit must be a whole number from 1 to 10000"),
        (
            f"limit={'1' * 5000}&offset=0",
            "limit must be a whole number from 1 to 10000",
        ),
        ("limit=1&offset=-1", "offset must be a whole number from 0 to 10000"),
        ("limit=1&offset=" + "9" * 30, "offset must be a whole number from 0 to 10000"),
        ("limit=1&offset=10000", "limit + offset must not pass 10000"),
        ("limit=1", "offset is required"),
    ],
    ids=[
        "superscript",
        "arabic-indic",
        "plus",
        "space",
        "point",
        "hex",
        "5000-digits",
        "negative",
        "30-digits",
        "past-window",
        "missing",
    ],
)
async def test_limits_and_offsets_other_than_ascii_numbers_are_400(
    secmaster: httpx.AsyncClient, operator: dict[str, str], query: str, message: str
) -> None:
    """A limit or offset of other digits, signs, spaces or huge is a 400 naming it."""
    response = await secmaster.get(f"{sm_instances()}?{query}", headers=operator)

    assert sm_error(response, 400, INVALID) == message


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "from_date=2021-13-45T00:00:00Z",
            "from_date names no such date or time: 2021-13-45T00:00:00",
        ),
        (
            "from_date=2021-02-29T00:00:00Z",
            "from_date names no such date or time: 2021-02-29T00:00:00",
        ),
        (
            "to_date=2021-01-30T24:00:00Z",
            "to_date names no such date or time: 2021-01-30T24:00:00",
        ),
        ("to_date=2021-01-30T23:00:00Z%2B2500", "to_date has an offset beyond ±23:59"),
        ("to_date=2021-01-30T23:00:00%2B08:60", "to_date has an offset beyond ±23:59"),
        (
            "to_date=9999-12-31T23:59:59.999999Z",
            "to_date must be before 9999-12-31T23:59:59.999999Z",
        ),
        (
            "from_date=0001-01-01T00:00:00%2B0100",
            "from_date is out of range: it must fall within years 1 to 9999 in UTC",
        ),
        (
            "date_type=END&to_date=9999-12-31T23:59:59-0100",
            "to_date is out of range: it must fall within years 1 to 9999 in UTC",
        ),
        (
            "from_date=0000-01-01T00:00:00Z",
            "from_date names no such date or time: 0000-01-01T00:00:00",
        ),
        (
            "from_date=2021-01-30",
            "from_date is not a time such as 2021-01-30T23:00:00Z+0800",
        ),
    ],
)
async def test_impossible_dates_are_400_naming_the_parameter(
    secmaster: httpx.AsyncClient, operator: dict[str, str], query: str, message: str
) -> None:
    """Dates past the calendar, its offsets or datetime's range are 400s, never 500."""
    response = await secmaster.get(f"{sm_instances()}?{PAGE}&{query}", headers=operator)

    assert sm_error(response, 400, INVALID) == message


@pytest.fixture
async def sql_client(
    migrated_sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[tuple[httpx.AsyncClient, dict[str, str]]]:
    """Yield a secmaster of an app over a SQLite store, and an operator's header."""
    settings = Settings(database_url=migrated_sqlite_url, access_key_master=MASTER)
    runtime = Runtime.open(settings, executes=False)
    user = await store_user(runtime, "olga", roles={WORKSPACE: Role.OPERATOR})
    headers = {"X-Auth-Token": await add_token(runtime, user)}
    async with serve(runtime, SM_BASE) as http:
        yield http, headers


@pytest.mark.parametrize(
    ("query", "status"),
    [
        ("from_date=0001-01-01T00:00:00%2B0100", 400),
        ("to_date=9999-12-31T23:59:59-0100", 400),
        ("from_date=0001-01-01T00:00:00Z&to_date=9999-12-31T23:59:59.999998Z", 200),
        ("date_type=END&from_date=0001-01-01T00:00:00Z", 200),
    ],
)
async def test_no_date_overflows_in_the_store(
    sql_client: tuple[httpx.AsyncClient, dict[str, str]], query: str, status: int
) -> None:
    """Over SQLite, the calendar's ends answer 200 or 400, never the store's 503."""
    secmaster, headers = sql_client

    response = await secmaster.get(f"{sm_instances()}?{PAGE}&{query}", headers=headers)

    body = sm_answer(response, status)
    assert body == {"count": 0, "instances": []} or body["code"] == INVALID


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("limit=1&limit=2&offset=0", "limit is given more than once"),
        (f"{PAGE}&status=FAILED&status=FINISHED", "status is given more than once"),
        (f"{PAGE}&name=a&name=", "name is given more than once"),
    ],
)
async def test_a_parameter_given_twice_is_400(
    secmaster: httpx.AsyncClient, operator: dict[str, str], query: str, message: str
) -> None:
    """A parameter the list reads may come once: twice is ambiguous, so refused."""
    response = await secmaster.get(f"{sm_instances()}?{query}", headers=operator)

    assert sm_error(response, 400, INVALID) == message


async def test_unknown_parameters_are_ignored_even_twice(
    secmaster: httpx.AsyncClient, operator: dict[str, str]
) -> None:
    """Parameters the list does not read are ignored, however often they come."""
    response = await secmaster.get(
        f"{sm_instances()}?{PAGE}&sort=a&sort=b", headers=operator
    )

    assert sm_answer(response) == {"count": 0, "instances": []}


# --- operation bodies and content types ---------------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            b'{"a":' + b"[" * 200_000,
            "The body nests lists and objects more than 64 deep.",
        ),
        (b'{"operation": "RETRY\xff"}', "The body is not UTF-8 text."),
        (
            b"{oops",
            "The body is not valid JSON: Expecting property name enclosed in double "
            "quotes: line 1 column 2 (char 1)",
        ),
        (b"[]", 'The request body must be {"operation": "RETRY" | "TERMINATE"}'),
        (b'"RETRY"', 'The request body must be {"operation": "RETRY" | "TERMINATE"}'),
        (b"null", 'The request body must be {"operation": "RETRY" | "TERMINATE"}'),
        (b"  ", 'The request body must be {"operation": "RETRY" | "TERMINATE"}'),
        (b'{"operation": null}', "operation must be RETRY or TERMINATE"),
        (b'{"operation": ["RETRY"]}', "operation must be RETRY or TERMINATE"),
        (b'{"operation": {"RETRY": 1}}', "operation must be RETRY or TERMINATE"),
        (b'{"operation": "retry"}', "operation must be RETRY or TERMINATE"),
        (b'{"operation": true}', "operation must be RETRY or TERMINATE"),
    ],
    ids=[
        "deep",
        "not-utf8",
        "not-json",
        "list",
        "string",
        "null",
        "blank",
        "operation-null",
        "operation-list",
        "operation-object",
        "operation-lower-case",
        "operation-bool",
    ],
)
async def test_operation_bodies_that_are_no_operation_are_400(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
    body: bytes,
    message: str,
) -> None:
    """A body that is not a JSON object with a known operation is a 400 naming why."""
    run = await halted_event_run(runtime, tmp_path / "marker")

    response = await secmaster.post(
        f"{sm_instances()}/{run.run_id}/operation",
        content=body,
        headers={**operator, **JSON},
    )

    assert sm_error(response, 400, INVALID) == message
    assert (await runtime.store.get_run(run.run_id)).status is RunStatus.HALTED


@pytest.mark.parametrize("max_request_body", [BODY_LIMIT])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_operation_body_over_the_limit_is_413(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
    chunked: bool,
) -> None:
    """A body a byte over the server's limit: 413 with a request id, nothing done."""
    run = await halted_event_run(runtime, tmp_path / "marker")
    body = padded_json({"operation": "TERMINATE"}, BODY_LIMIT + 1)
    with capture_logs() as logs:
        response = await secmaster.post(
            f"{sm_instances()}/{run.run_id}/operation",
            content=sent(body, chunked=chunked),
            headers={**operator, **JSON},
        )

    assert sm_error(response, 413, TOO_LARGE) == too_large()
    assert (await runtime.store.get_run(run.run_id)).status is RunStatus.HALTED
    assert [entry for entry in logs if entry["log_level"] == "error"] == []


@pytest.mark.parametrize("max_request_body", [BODY_LIMIT])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_operation_body_of_the_limits_size_is_carried_out(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
    chunked: bool,
) -> None:
    """A body of exactly the limit is read as before: TERMINATE ends the instance."""
    run = await halted_event_run(runtime, tmp_path / "marker")
    body = padded_json({"operation": "TERMINATE"}, BODY_LIMIT)

    response = await secmaster.post(
        f"{sm_instances()}/{run.run_id}/operation",
        content=sent(body, chunked=chunked),
        headers={**operator, **JSON},
    )

    assert sm_answer(response)["id"] == run.run_id
    await wait_for(runtime, run.run_id, RunStatus.CANCELLED)


@pytest.mark.parametrize(
    "content_type",
    [
        None,
        "text/plain",
        "application/xml",
        "application/jsonx",
        "application/json;charset=ISO-8859-1",
        "application/x-www-form-urlencoded",
    ],
)
async def test_an_operation_needs_a_json_content_type(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    tmp_path: Path,
    content_type: str | None,
) -> None:
    """The seed makes content-type mandatory: without JSON in UTF-8 it is a 400."""
    run = await halted_event_run(runtime, tmp_path / "marker")
    headers = dict(operator)
    if content_type is not None:
        headers["content-type"] = content_type

    response = await secmaster.post(
        f"{sm_instances()}/{run.run_id}/operation",
        content=b'{"operation": "TERMINATE"}',
        headers=headers,
    )

    message = sm_error(response, 400, INVALID)
    assert message == "content-type must be application/json;charset=UTF-8"
    assert (await runtime.store.get_run(run.run_id)).status is RunStatus.HALTED


@pytest.mark.parametrize(
    "content_type",
    [
        "application/json",
        "application/json;charset=UTF-8",
        "Application/JSON; charset=utf-8",
        'application/json; charset="UTF-8"',
    ],
)
async def test_json_content_types_are_taken(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    content_type: str,
) -> None:
    """JSON, with or without a UTF-8 charset in any case, reaches the status check."""
    run = await finished_quick_run(runtime, workspace=WORKSPACE)

    response = await secmaster.post(
        f"{sm_instances()}/{run.run_id}/operation",
        content=b'{"operation": "RETRY"}',
        headers={**operator, "content-type": content_type},
    )

    sm_error(response, 400, WRONG_STATE)


# --- signatures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("authorization", "message"),
    [
        (
            "SDK-HMAC-SHA256",
            "The SDK-HMAC-SHA256 Authorization header lacks Access, SignedHeaders, "
            "Signature",
        ),
        (
            "SDK-HMAC-SHA256 Access=ONW1, SignedHeaders=host;x-sdk-date",
            "The SDK-HMAC-SHA256 Authorization header lacks Signature",
        ),
        (
            SIGNATURE.replace("0" * 64, "zz" * 32),
            "Signature in the Authorization header must be 64 hexadecimal digits",
        ),
        (
            SIGNATURE.replace("0" * 64, "abc"),
            "Signature in the Authorization header must be 64 hexadecimal digits",
        ),
        (
            SIGNATURE.replace("ONWAAAAAAAAAAAAAAAAA", "ONW%00"),
            "Access in the Authorization header is not an access key id",
        ),
        (
            SIGNATURE.replace("host;x-sdk-date", "host;;x-sdk-date"),
            "SignedHeaders in the Authorization header must be names joined by ;",
        ),
        (
            SIGNATURE.replace("host;x-sdk-date", "content-type;host"),
            "The signature must cover the Host and X-Sdk-Date headers",
        ),
        (
            SIGNATURE.replace("SDK-HMAC-SHA256", "SDK-HMAC-SM3"),
            "The signing algorithm SDK-HMAC-SM3 is not supported; use SDK-HMAC-SHA256",
        ),
        (
            SIGNATURE.replace("SDK-HMAC-SHA256", "V11-HMAC-SHA256"),
            "The signing algorithm V11-HMAC-SHA256 is not supported; "
            "use SDK-HMAC-SHA256",
        ),
        (
            SIGNATURE,
            "Unknown, expired or revoked access key, or a wrong signature",
        ),
    ],
    ids=[
        "bare",
        "no-signature",
        "not-hex",
        "short",
        "odd-access",
        "empty-header-name",
        "date-unsigned",
        "sm3",
        "derived",
        "unknown-key",
    ],
)
async def test_malformed_signatures_are_401_naming_the_flaw(
    secmaster: httpx.AsyncClient, authorization: str, message: str
) -> None:
    """Each part of a malformed Authorization header is named in its 401."""
    response = await secmaster.get(
        f"{sm_instances()}?{PAGE}",
        headers={"Authorization": authorization, "X-Sdk-Date": now_sdk_date()},
    )

    assert sm_error(response, 401, UNAUTHENTICATED) == message


@pytest.mark.parametrize(
    "date",
    [None, "", "2021-01-01", "20210101T000000", "20211301T000000Z", "2021011T0000Z"],
)
async def test_malformed_sdk_dates_are_401(
    secmaster: httpx.AsyncClient, date: str | None
) -> None:
    """An X-Sdk-Date missing or not YYYYMMDDTHHMMSSZ (a real time) is a 401."""
    headers = {"Authorization": SIGNATURE}
    if date is not None:
        headers["X-Sdk-Date"] = date

    response = await secmaster.get(f"{sm_instances()}?{PAGE}", headers=headers)

    message = sm_error(response, 401, UNAUTHENTICATED)
    assert message == "X-Sdk-Date must be a UTC time written YYYYMMDDTHHMMSSZ"


# --- methods ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "suffix"),
    [
        ("PUT", ""),
        ("DELETE", ""),
        ("PATCH", ""),
        ("POST", ""),
        ("OPTIONS", ""),
        ("TRACE", ""),
        ("PUT", "/{id}"),
        ("DELETE", "/{id}"),
        ("PATCH", "/{id}"),
        ("POST", "/{id}"),
        ("GET", "/{id}/operation"),
        ("PUT", "/{id}/operation"),
        ("DELETE", "/{id}/operation"),
        # methods HTTP itself does not define (WebDAV's, a made-up one)
        ("PROPFIND", ""),
        ("FROB", "/{id}/operation"),
    ],
)
async def test_methods_a_path_does_not_take_are_the_gateway_s_404(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    method: str,
    suffix: str,
) -> None:
    """As Huawei's API gateway (APIG.0101), a method a path lacks is no API: 404."""
    run = await finished_quick_run(runtime, workspace=WORKSPACE)
    path = sm_instances() + suffix.format(id=run.run_id)

    response = await secmaster.request(method, f"{path}?{PAGE}", headers=operator)

    assert sm_error(response, 404, NOT_FOUND) == NO_API


@pytest.mark.parametrize("suffix", ["", "/{id}", "/{id}/operation"])
async def test_head_is_the_gateway_s_404_with_a_request_id(
    runtime: Runtime,
    secmaster: httpx.AsyncClient,
    operator: dict[str, str],
    suffix: str,
) -> None:
    """HEAD, which no SecMaster API takes, answers 404 (headers only) with its id."""
    run = await finished_quick_run(runtime, workspace=WORKSPACE)
    path = sm_instances() + suffix.format(id=run.run_id)

    response = await secmaster.head(f"{path}?{PAGE}", headers=operator)

    assert response.status_code == 404
    assert SM_REQUEST_ID.match(response.headers["x-request-id"])
    assert response.headers["content-type"] == "application/json"
    assert response.content == b""


@pytest.mark.parametrize("method", ["POST", "GET", "DELETE"])
async def test_iam_token_issuance_is_not_served_and_onwards_own_404_says_so(
    secmaster: httpx.AsyncClient, method: str
) -> None:
    """IAM's /v3/auth/tokens is outside /v1: Onward's 404, not SecMaster's body."""
    body = {
        "auth": {
            "identity": {
                "methods": ["password"],
                "password": {"user": {"name": "olga", "password": "x"}},
            },
            "scope": {"project": {"id": SM_PROJECT}},
        }
    }

    response = await secmaster.request(method, "/v3/auth/tokens", json=body)

    assert response.status_code == 404
    assert response.headers["content-type"] == "application/problem+json"
    assert "x-request-id" not in response.headers
    assert "x-subject-token" not in response.headers
    assert response.json() == {
        "type": "urn:onward:problem:not-found",
        "title": "Not Found",
        "status": 404,
        "detail": "Not Found",
        "instance": "/v3/auth/tokens",
        "code": "not-found",
    }
