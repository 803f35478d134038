"""JP1/AO refusals and failures: numbers, odd input, methods, 409s, 401s, 500s."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Final, NoReturn

import httpx
import pytest
from dialect_support import (
    BODY_LIMIT,
    QUICK_PLAN,
    SEED_AUTH,
    SEED_PASSWORD,
    TASKS,
    apply,
    basic_raw,
    failed_marker_run,
    halted_marker_run,
    jp1_error,
    padded_json,
    run_number,
    sent,
    start,
    store_user,
    too_large,
    wait_for,
)
from structlog.testing import capture_logs

from onward import errors
from onward.domain.access import Role
from onward.domain.runs import Run, RunStatus
from onward.runtime import Runtime
from onward.service.numbers import Numbers

#: JavaScript's and jq's largest exact integer
MAX_SAFE_INTEGER: Final = 2**53 - 1
#: more digits than Python converts to an int (4,300)
MANY_NINES: Final = "9" * 5000
#: the actions JP1/AO's dialect does not carry out
UNSUPPORTED_ACTIONS: Final = ("update", "delete", "resubmit", "archive", "response")


async def quick_runs(runtime: Runtime, *run_ids: str) -> list[Run]:
    """Run the quick plan once per run id given, in order, each to its end."""
    await apply(runtime, QUICK_PLAN)
    runs = []
    for run_id in run_ids:
        run = await start(runtime, "quick", run_id=run_id)
        runs.append(await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED))
    return runs


def ids(response: httpx.Response) -> list[int]:
    """Return the instanceIDs of a task list, in its order."""
    return [task["instanceID"] for task in response.json()["data"]]


# --- numbers: what jq and JavaScript read exactly --------------------------------


@pytest.mark.usefixtures("system")
async def test_instance_ids_are_small_numbers_in_the_order_tasks_were_made(
    runtime: Runtime, jp1ao: httpx.AsyncClient
) -> None:
    """The first tasks are 1, 2, 3, exact for JSON clients that read doubles."""
    await quick_runs(runtime, "run_a", "run_b", "run_c")

    response = await jp1ao.get(TASKS, headers=SEED_AUTH)

    assert ids(response) == [3, 2, 1]
    assert all(number <= MAX_SAFE_INTEGER for number in ids(response))


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize(
    ("sort", "expected"),
    [
        (None, [2, 1]),
        ("instanceID ASC", [1, 2]),
        ("instanceID DESC", [2, 1]),
        ("submitTime ASC", [1, 2]),
        ("submitTime DESC, instanceID DESC", [2, 1]),
    ],
)
async def test_tasks_sort_by_their_numbers_not_by_their_run_ids(
    runtime: Runtime,
    jp1ao: httpx.AsyncClient,
    sort: str | None,
    expected: list[int],
) -> None:
    """A task made later sorts later even when its run id sorts earlier."""
    await quick_runs(runtime, "run_zzzz", "run_0000")
    params = {"HQL::sortBy": sort} if sort else {}

    response = await jp1ao.get(TASKS, params=params, headers=SEED_AUTH)

    assert ids(response) == expected


@pytest.mark.usefixtures("system")
async def test_a_task_is_found_by_its_number_and_an_unused_number_is_404(
    runtime: Runtime, jp1ao: httpx.AsyncClient
) -> None:
    """GET Tasks/1 is the first task; Tasks/2 does not exist yet."""
    (run,) = await quick_runs(runtime, "run_only")

    found = await jp1ao.get(f"{TASKS}/1", headers=SEED_AUTH)
    missing = await jp1ao.get(f"{TASKS}/2", headers=SEED_AUTH)

    assert found.json()["instanceID"] == await run_number(runtime, run) == 1
    jp1_error(missing, 404, "KNAE02102-E")


@pytest.mark.usefixtures("system")
async def test_leading_zeros_name_the_same_number(
    runtime: Runtime, jp1ao: httpx.AsyncClient
) -> None:
    """Tasks/0001 is task 1, and so is a filter on 5,000 zeros and a one."""
    await quick_runs(runtime, "run_only")

    found = await jp1ao.get(f"{TASKS}/0001", headers=SEED_AUTH)
    listed = await jp1ao.get(
        TASKS,
        params={"HQL::filter": f"instanceID eq {'0' * 5000}1"},
        headers=SEED_AUTH,
    )

    assert found.json()["instanceID"] == 1
    assert ids(listed) == [1]


# --- odd input: the documented 400, 401 or 404, never a 500 ----------------------


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize(
    "path",
    [
        f"{TASKS}/%C2%B2",
        f"{TASKS}/%D9%A3",
        f"{TASKS}/{MANY_NINES}",
        f"{TASKS}/9223372036854775808",
        f"{TASKS}/0",
        f"{TASKS}/%FF",
        f"{TASKS}/%C2%B2/actions",
        f"{TASKS}/%C2%B2/actions/rerunStart",
    ],
)
async def test_task_ids_that_are_not_ascii_numbers_are_404(
    jp1ao: httpx.AsyncClient, path: str
) -> None:
    """Superscripts, other scripts' digits, huge numbers and bad UTF-8 find nothing."""
    response = await jp1ao.get(path, headers=SEED_AUTH)

    jp1_error(response, 404, "KNAE02102-E")


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize(
    "params",
    [
        {"HQL::offset": "²"},
        {"HQL::limit": "²"},
        {"serviceID": "²"},
        {"HQL::offset": MANY_NINES},
        {"HQL::limit": MANY_NINES},
        {"HQL::limit": "9223372036854775808"},
        {"serviceID": MANY_NINES},
        {"HQL::filter": "instanceID eq ²"},
        {"HQL::filter": "instanceID eq ٣"},
        {"HQL::filter": f"instanceID eq {MANY_NINES}"},
        {"HQL::filter": f"serviceID in [1, {MANY_NINES}]"},
        {"HQL::filter": "submitTime gt '2026-13-01T00:00:00Z'"},
        {"HQL::filter": "submitTime gt '0000-01-01T00:00:00Z'"},
        {"HQL::filter": "submitTime gt '2026-02-30T00:00:00Z'"},
        {"HQL::filter": "submitTime gt '2026-01-01T24:00:00Z'"},
        {"HQL::filter": "submitTime gt '2026-01-01T00:00:00+25:00'"},
        {"HQL::filter": "submitTime gt '10000-01-01T00:00:00Z'"},
        {"HQL::filter": "status in []"},
        {"HQL::filter": "()"},
        {"HQL::filter": "status not in"},
        {"HQL::filter": "'failed' eq status"},
        {"HQL::limit": "1", "HQL::offset": "1", "alt": "json", "HQL::fields": ""},
    ],
)
async def test_numbers_dates_and_filters_out_of_range_are_400(
    jp1ao: httpx.AsyncClient, params: dict[str, str]
) -> None:
    """Numbers JP1/AO cannot hold, impossible dates and broken HQL answer 400."""
    response = await jp1ao.get(TASKS, params=params, headers=SEED_AUTH)

    body = jp1_error(response, 400, "ONWARD-E400")
    assert body["message"].startswith("A query parameter is invalid: ")


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize("query", ["HQL::filter=%FF", "%FF=1", "HQL::limit=%FF"])
async def test_query_parameters_that_are_not_utf8_are_400(
    jp1ao: httpx.AsyncClient, query: str
) -> None:
    """Bytes that are not UTF-8 in the query answer 400."""
    response = await jp1ao.get(f"{TASKS}?{query}", headers=SEED_AUTH)

    jp1_error(response, 400, "ONWARD-E400")


@pytest.mark.usefixtures("system")
async def test_a_repeated_query_parameter_is_400(jp1ao: httpx.AsyncClient) -> None:
    """The same parameter given twice is refused, not silently picked."""
    response = await jp1ao.get(f"{TASKS}?HQL::limit=1&HQL::limit=2", headers=SEED_AUTH)

    body = jp1_error(response, 400, "ONWARD-E400")
    assert body["message"] == "A query parameter is invalid: HQL::limit is given twice"


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b'{"a":' + b"[" * 200_000, "more than 64 deep"),
        (b"\xff\xfe{}", "not UTF-8"),
        (b'{"name": "rerunStart"', "not valid JSON"),
    ],
)
async def test_invoke_bodies_too_deep_or_not_utf8_are_400(
    runtime: Runtime,
    jp1ao: httpx.AsyncClient,
    tmp_path: Path,
    body: bytes,
    message: str,
) -> None:
    """A body nested past the limit or not UTF-8 is JP1/AO's generic 400."""
    run = await halted_marker_run(runtime, tmp_path)
    number = await run_number(runtime, run)

    response = await jp1ao.post(
        f"{TASKS}/{number}/actions/rerunStart/invoke",
        content=body,
        headers={**SEED_AUTH, "Content-Type": "application/json"},
    )

    assert message in jp1_error(response, 400, "generic error")["message"]
    assert (await runtime.store.get_run(run.run_id)).status is RunStatus.HALTED


#: the seed's descriptor of rerunStart, posted back to invoke it
RERUN: Final = {"name": "rerunStart", "method": "POST", "parameters": []}


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize("max_request_body", [BODY_LIMIT])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_invoke_body_over_the_limit_is_413_and_reruns_nothing(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path, chunked: bool
) -> None:
    """A descriptor a byte over the limit: JP1/AO's 413, CORS headers; still failed."""
    run = await halted_marker_run(runtime, tmp_path)
    number = await run_number(runtime, run)
    with capture_logs() as logs:
        response = await jp1ao.post(
            f"{TASKS}/{number}/actions/rerunStart/invoke",
            content=sent(padded_json(RERUN, BODY_LIMIT + 1), chunked=chunked),
            headers={**SEED_AUTH, "Content-Type": "application/json"},
        )

    assert jp1_error(response, 413, "ONWARD-E413")["message"] == too_large()
    assert "www-authenticate" not in response.headers
    assert (await runtime.store.get_run(run.run_id)).status is RunStatus.HALTED
    assert [entry for entry in logs if entry["log_level"] == "error"] == []


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize("max_request_body", [BODY_LIMIT])
@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
async def test_an_invoke_body_of_the_limits_size_reruns_the_task(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path, chunked: bool
) -> None:
    """A descriptor of exactly the limit is read as before: 200, the task goes on."""
    run = await halted_marker_run(runtime, tmp_path)
    number = await run_number(runtime, run)
    (tmp_path / "marker").touch()

    response = await jp1ao.post(
        f"{TASKS}/{number}/actions/rerunStart/invoke",
        content=sent(padded_json(RERUN, BODY_LIMIT), chunked=chunked),
        headers={**SEED_AUTH, "Content-Type": "application/json"},
    )

    assert response.status_code == 200, response.text
    assert response.json()["state"] == "success"
    await wait_for(runtime, run.run_id, RunStatus.SUCCEEDED)


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize(
    ("headers", "message"),
    [
        (basic_raw(b"\xff\xfe:\xfd"), "The Basic credentials cannot be read."),
        (basic_raw(b"system"), "The Basic credentials cannot be read."),
        ({"Authorization": "Basic c3lz=dGVt"}, "The Basic credentials cannot be read."),
        ({"Authorization": "Basic"}, "The Basic credentials cannot be read."),
        (basic_raw(b":"), "Invalid username or password"),
        ({"Authorization": "HSSO   "}, "The user does not have login permission."),
    ],
)
async def test_unreadable_basic_credentials_are_401(
    jp1ao: httpx.AsyncClient, headers: dict[str, str], message: str
) -> None:
    """Not base64, no colon, not UTF-8 or empty: 401, never 500."""
    response = await jp1ao.get(TASKS, headers=headers)

    assert jp1_error(response, 401, "ONWARD-E401")["message"] == message
    assert response.headers["www-authenticate"] == 'Basic realm="Automation"'


async def test_a_disabled_user_is_401(
    runtime: Runtime, jp1ao: httpx.AsyncClient
) -> None:
    """A disabled account has no login permission, even with its password."""
    user = await store_user(
        runtime, "system", password=SEED_PASSWORD, roles={"default": Role.OPERATOR}
    )
    await runtime.store.update_user(replace(user, disabled=True))

    response = await jp1ao.get(TASKS, headers=SEED_AUTH)

    assert jp1_error(response, 401, "ONWARD-E401")["message"] == (
        "Invalid username or password"
    )


@pytest.mark.usefixtures("system")
async def test_too_many_failed_logins_are_401_with_retry_after(
    jp1ao: httpx.AsyncClient,
) -> None:
    """After five wrong passwords even the right one waits, told for how long."""
    wrong = basic_raw(b"system:wrong")
    for _ in range(5):
        await jp1ao.get(TASKS, headers=wrong)

    response = await jp1ao.get(TASKS, headers=SEED_AUTH)

    jp1_error(response, 401, "ONWARD-E401")
    assert 1 <= int(response.headers["retry-after"]) <= 300


# --- methods -------------------------------------------------------------------


@pytest.mark.usefixtures("system")
async def test_head_answers_the_headers_of_get_without_a_body(
    runtime: Runtime, jp1ao: httpx.AsyncClient
) -> None:
    """HEAD on a task or the list: GET's status and headers, no body (curl -I)."""
    await quick_runs(runtime, "run_only")

    for path in (TASKS, f"{TASKS}/1", f"{TASKS}/1/actions"):
        got = await jp1ao.get(path, headers=SEED_AUTH)
        head = await jp1ao.head(path, headers=SEED_AUTH)

        assert head.status_code == 200
        assert head.content == b""
        assert head.headers == got.headers


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("PUT", TASKS, "GET, HEAD, OPTIONS"),
        ("POST", TASKS, "GET, HEAD, OPTIONS"),
        ("DELETE", TASKS, "GET, HEAD, OPTIONS"),
        ("PATCH", TASKS, "GET, HEAD, OPTIONS"),
        ("TRACE", TASKS, "GET, HEAD, OPTIONS"),
        ("FROB", TASKS, "GET, HEAD, OPTIONS"),
        ("PUT", f"{TASKS}/1", "GET, HEAD, OPTIONS"),
        ("DELETE", f"{TASKS}/1", "GET, HEAD, OPTIONS"),
        ("POST", f"{TASKS}/1/actions/stop", "GET, HEAD, OPTIONS"),
        ("GET", f"{TASKS}/1/actions/stop/invoke", "OPTIONS, POST"),
        ("PUT", f"{TASKS}/1/actions/stop/invoke", "OPTIONS, POST"),
    ],
)
async def test_a_method_the_path_does_not_take_is_405_with_allow(
    jp1ao: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    """Wrong methods answer JP1/AO's body, 405, Allow and the CORS headers."""
    response = await jp1ao.request(method, path, headers=SEED_AUTH)

    body = jp1_error(response, 405, "ONWARD-E405")
    assert body["message"] == f"The {method} method is not supported by this resource."
    assert response.headers["allow"] == allow


@pytest.mark.usefixtures("system")
async def test_head_of_a_path_without_get_is_405_without_a_body(
    jp1ao: httpx.AsyncClient,
) -> None:
    """HEAD on invoke: 405 with Allow and the CORS headers, no body."""
    response = await jp1ao.head(f"{TASKS}/1/actions/stop/invoke", headers=SEED_AUTH)

    assert response.status_code == 405
    assert response.content == b""
    assert response.headers["allow"] == "OPTIONS, POST"
    assert response.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        (TASKS, "GET, HEAD, OPTIONS"),
        (f"{TASKS}/1/actions/stop/invoke", "OPTIONS, POST"),
        ("/Automation/v1/objects/Services", None),
    ],
)
async def test_a_preflight_is_200_with_allow_where_the_path_exists(
    jp1ao: httpx.AsyncClient, path: str, allow: str | None
) -> None:
    """OPTIONS needs no credentials and answers 200, CORS headers and Allow."""
    response = await jp1ao.options(path)

    assert response.status_code == 200
    assert response.headers["access-control-allow-methods"] == (
        "GET, POST, DELETE, PUT, HEAD, OPTIONS"
    )
    assert response.headers.get("allow") == allow


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize("method", ["GET", "HEAD", "PUT", "FROB"])
@pytest.mark.parametrize(
    "path",
    ["/Automation/v1/objects/Services/1", "/Automation/v1", "/Automation/v2/objects"],
)
async def test_an_unknown_path_is_404_whatever_the_method(
    jp1ao: httpx.AsyncClient, method: str, path: str
) -> None:
    """A JP1/AO path the dialect does not have answers 404 for every method."""
    response = await jp1ao.request(method, path, headers=SEED_AUTH)

    assert response.status_code == 404
    assert response.headers["access-control-allow-origin"] == "*"
    if method != "HEAD":
        jp1_error(response, 404, "KNAE02102-E")


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize("action", UNSUPPORTED_ACTIONS)
async def test_actions_the_dialect_does_not_carry_out_are_404(
    runtime: Runtime, jp1ao: httpx.AsyncClient, action: str
) -> None:
    """update, delete, resubmit, archive, response: neither described nor invoked."""
    await quick_runs(runtime, "run_only")

    got = await jp1ao.get(f"{TASKS}/1/actions/{action}", headers=SEED_AUTH)
    posted = await jp1ao.post(f"{TASKS}/1/actions/{action}/invoke", headers=SEED_AUTH)

    jp1_error(got, 404, "KNAE02102-E")
    jp1_error(posted, 404, "KNAE02102-E")


# --- refusals in JP1/AO's words --------------------------------------------------


@pytest.mark.usefixtures("system")
@pytest.mark.parametrize(
    ("action", "status"),
    [
        ("stop", "completed"),
        ("forceStop", "completed"),
        ("rerunStart", "completed"),
        ("rerunStepStart", "completed"),
    ],
)
async def test_an_action_on_a_completed_task_is_refused_in_jp1_words(
    runtime: Runtime, jp1ao: httpx.AsyncClient, action: str, status: str
) -> None:
    """409 names the action, the instanceID and the JP1/AO status, not the run."""
    (run,) = await quick_runs(runtime, "run_only")

    response = await jp1ao.post(f"{TASKS}/1/actions/{action}/invoke", headers=SEED_AUTH)

    body = jp1_error(response, 409, "ONWARD-E409")
    assert body["message"] == (
        f"The {action} action is not available for task 1: its status is {status}."
    )
    assert run.run_id not in response.text


@pytest.mark.usefixtures("system")
async def test_a_second_stop_is_refused_with_the_canceled_status(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """Stopping a canceled task: 409 "its status is canceled" (not 'cancelled')."""
    run = await halted_marker_run(runtime, tmp_path)
    number = await run_number(runtime, run)
    stop = f"{TASKS}/{number}/actions/forceStop/invoke"
    assert (await jp1ao.post(stop, headers=SEED_AUTH)).status_code == 200
    await wait_for(runtime, run.run_id, RunStatus.CANCELLED)

    response = await jp1ao.post(stop, headers=SEED_AUTH)

    assert jp1_error(response, 409, "ONWARD-E409")["message"] == (
        f"The forceStop action is not available for task {number}: "
        "its status is canceled."
    )


@pytest.mark.usefixtures("system")
async def test_rerun_step_start_of_a_failed_task_is_refused_in_jp1_words(
    runtime: Runtime, jp1ao: httpx.AsyncClient, tmp_path: Path
) -> None:
    """A failed (ended) run retries from its failed step only: 409, status failed."""
    run = await failed_marker_run(runtime, tmp_path)
    number = await run_number(runtime, run)

    response = await jp1ao.post(
        f"{TASKS}/{number}/actions/rerunStepStart/invoke", headers=SEED_AUTH
    )

    assert jp1_error(response, 409, "ONWARD-E409")["message"] == (
        f"The rerunStepStart action is not available for task {number}: "
        "its status is failed."
    )


@pytest.mark.usefixtures("system")
async def test_a_concurrent_change_is_refused_in_jp1_words(
    runtime: Runtime,
    jp1ao: httpx.AsyncClient,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A lost compare-and-set: 409 asking to get the task again."""
    number = await run_number(runtime, await halted_marker_run(runtime, tmp_path))

    async def stale(*_: object, **__: object) -> NoReturn:
        raise errors.StaleStateError(subject="Run run_x", expected_version=3)

    monkeypatch.setattr(runtime.commands, "cancel_run", stale)

    response = await jp1ao.post(
        f"{TASKS}/{number}/actions/stop/invoke", headers=SEED_AUTH
    )

    assert jp1_error(response, 409, "ONWARD-E409")["message"] == (
        f"Task {number} was changed by another request during the stop action. "
        "Get the task again, then retry."
    )


# --- 500: whatever fails, JP1/AO's body and headers --------------------------------


@pytest.mark.usefixtures("system")
async def test_an_unexpected_failure_is_jp1s_500_with_its_traceback_logged(
    jp1ao: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A bug answers JP1/AO's 500 with its CORS headers; the traceback is logged."""

    async def broken(*_: object, **__: object) -> NoReturn:
        msg = "secret internals"
        raise RuntimeError(msg)

    monkeypatch.setattr(Numbers, "find_run", broken)
    with capture_logs() as logs:
        response = await jp1ao.get(f"{TASKS}/1", headers=SEED_AUTH)

    body = jp1_error(response, 500, "ONWARD-E500")
    assert body["message"] == "A server processing error occurred."
    assert "secret internals" not in response.text
    assert [(log["event"], log["log_level"], log["exc_info"]) for log in logs] == [
        ("jp1ao.request_failed", "error", True)
    ]
    assert (logs[0]["method"], logs[0]["path"]) == ("GET", f"{TASKS}/1")


@pytest.mark.usefixtures("system")
async def test_an_onward_error_without_a_jp1_status_is_a_logged_500(
    jp1ao: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An Onward error the table does not name answers 500; its message is logged."""

    async def broken(*_: object, **__: object) -> NoReturn:
        msg = "secret internals"
        raise errors.ActionError(msg)

    monkeypatch.setattr(Numbers, "scan", broken)
    with capture_logs() as logs:
        response = await jp1ao.get(TASKS, headers=SEED_AUTH)

    assert jp1_error(response, 500, "ONWARD-E500")["message"] == (
        "A server processing error occurred."
    )
    assert [(log["event"], log["error"]) for log in logs] == [
        ("jp1ao.error", "secret internals")
    ]
    assert "secret internals" not in response.text
