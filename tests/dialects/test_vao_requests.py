"""The VAO v3 dialect reads requests as Web API does: failures, methods, XML, types."""

from __future__ import annotations

from pathlib import Path
from typing import Final

import httpx
import pytest
import structlog
from dialect_support import (
    BODY_LIMIT,
    GATED,
    PASSWORD,
    PLAN,
    PLANS,
    SEED_PLAN,
    SIMPLE,
    add_user,
    apply_as,
    continue_with,
    halted_seed_plan,
    invalid,
    newest_run,
    padded_json,
    parse_xml,
    sent,
    settle,
    too_large,
    vao_halting_plan,
    vao_token,
)

from onward.api.dialects.vao import render
from onward.domain.access import Role
from onward.domain.runs import RunStatus
from onward.runtime import Runtime
from onward.service.plan_status import PlanStatuses, latest_run

XML: Final = {"Accept": "application/xml"}
#: the tests of the request body limit: a small limit, bodies sent both ways
LIMITED: Final = pytest.mark.parametrize("max_request_body", [BODY_LIMIT])
BOTH_WAYS: Final = pytest.mark.parametrize(
    "chunked", [False, True], ids=["content-length", "chunked"]
)
RETRY: Final = {"executionContinueOptions": "RetryFailedStep"}


# --- 500: the vendor's envelope, the cause in the log -------------------------------


@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
async def test_an_unexpected_error_is_the_vendors_500_and_is_logged(
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    monkeypatch: pytest.MonkeyPatch,
    accept: str,
) -> None:
    """A bug answers Web API's 500 in the accepted type; its traceback is logged."""

    async def broken(*_: object, **__: object) -> None:
        msg = "secret internals"
        raise RuntimeError(msg)

    monkeypatch.setattr(PlanStatuses, "list_statuses", broken)
    with structlog.testing.capture_logs() as logs:
        answer = await vao.get(PLANS, headers={**ann, "Accept": accept})

    assert answer.status_code == 500
    assert answer.headers["content-type"] == f"{accept}; charset=utf-8"
    assert "secret internals" not in answer.text
    if accept == "application/json":
        assert answer.json() == {"Message": "An error has occurred."}
    else:
        assert parse_xml(answer.content).findtext("Message") == "An error has occurred."
    assert [(e["event"], e["log_level"], e["exc_info"]) for e in logs] == [
        ("vao.request_failed", "error", True)
    ]
    assert logs[0]["path"] == PLANS


async def test_a_body_nested_too_deep_is_an_invalid_request_not_a_500(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """200,000 brackets on Continue and on the token endpoint: 400s in each shape."""
    await apply_as(runtime, SIMPLE, SEED_PLAN)
    deep = b'{"a":' + b"[" * 200_000
    why = "The body nests lists and objects more than 64 deep."

    plan = await vao.post(
        f"{PLAN}/Continue",
        headers={**ann, "Content-Type": "application/json"},
        content=deep,
    )
    sign_in = await vao.post(
        "/api/token", headers={"Content-Type": "application/json"}, content=deep
    )

    assert plan.status_code == 400
    assert plan.json() == invalid({"request": [why]})
    assert sign_in.status_code == 400
    assert sign_in.json() == {"error": "invalid_request", "error_description": why}


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("start", "9223372036854775808"),
        ("limit", "2147483648"),
        ("start", "1.0"),
        ("limit", "²"),
        ("limit", "-1"),
    ],
    ids=["past-int64", "past-int32", "decimal-point", "superscript", "negative"],
)
async def test_paging_values_are_the_vendors_int32(
    vao: httpx.AsyncClient, ann: dict[str, str], name: str, value: str
) -> None:
    """start and limit are Int32 ASCII digits; anything else is a ModelState 400."""
    answer = await vao.get(PLANS, params={name: value}, headers=ann)

    assert answer.status_code == 400
    assert answer.json() == invalid(
        {name: [f"The value '{value}' is not valid for {name}."]}
    )


async def test_paging_names_match_in_any_case_up_to_int32_max(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """START and Limit are start and limit; 2,147,483,647 is the largest value."""
    await runtime.commands.apply_plan(SIMPLE)
    await runtime.commands.apply_plan(GATED)

    page = await vao.get(PLANS, params={"START": "1", "Limit": "1"}, headers=ann)
    far = await vao.get(PLANS, params={"start": "2147483647"}, headers=ann)

    assert [p["name"] for p in page.json()["data"]] == ["web"]
    assert far.status_code == 200
    assert far.json()["pagination"] == {
        "total": 2,
        "count": 0,
        "start": 2147483647,
        "limit": 2,
    }


# --- 405: every path and method ------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/token"),
        ("GET", "/token"),
        ("GET", "/api/logout"),
        ("PUT", "/api/token"),
        ("DELETE", "/token"),
        ("OPTIONS", "/api/logout"),
    ],
)
async def test_a_wrong_method_on_the_sign_in_paths_is_the_vendors_405(
    vao: httpx.AsyncClient, method: str, path: str
) -> None:
    """Web API's 405 with Allow: POST, not Onward's problem+json."""
    answer = await vao.request(method, path)

    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert answer.headers["content-type"] == "application/json; charset=utf-8"
    assert answer.json() == {
        "Message": f"The requested resource does not support http method '{method}'."
    }


@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("HEAD", PLANS, "GET"),
        ("HEAD", "/api/token", "POST"),
        ("OPTIONS", PLANS, "GET"),
        ("OPTIONS", f"{PLAN}/Continue", "POST"),
        ("HEAD", f"{PLAN}/Groups", "GET"),
    ],
)
async def test_head_and_options_are_405s_with_allow(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    method: str,
    path: str,
    allow: str,
) -> None:
    """Web API serves neither HEAD nor OPTIONS on these resources: 405 and Allow."""
    await apply_as(runtime, SIMPLE, SEED_PLAN)

    answer = await vao.request(method, path, headers=ann)

    assert answer.status_code == 405
    assert answer.headers["allow"] == allow
    assert answer.headers["content-type"] == "application/json; charset=utf-8"


# --- XML: well-formed whatever the client sent ---------------------------------------


async def test_a_control_character_in_the_path_never_reaches_the_xml(
    vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """GET /Plans/%01 in XML: a document that parses, the character replaced."""
    answer = await vao.get(f"{PLANS}/%01", headers={**ann, **XML})

    assert answer.status_code == 400
    error = parse_xml(answer.content)
    assert error.findtext("ModelState/planId") == (
        "The value '\ufffd' is not valid for planId."
    )


async def test_a_clients_keys_are_encoded_as_web_api_encodes_element_names(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """A JSON key sent back in ModelState becomes XmlConvert's _xHHHH_ name."""
    await apply_as(runtime, SIMPLE, SEED_PLAN)

    answer = await vao.post(
        f"{PLAN}/Continue",
        headers={**ann, **XML, "Content-Type": "application/json"},
        content=b'{"<x y>":1,"<X Y>":2}',
    )

    assert answer.status_code == 400
    state = parse_xml(answer.content).find("ModelState")
    assert state is not None
    assert [(e.tag, e.text) for e in state] == [
        (
            "_x003C_X_x0020_Y_x003E_",
            "The property is given twice with different values (<X Y>).",
        )
    ]


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("restorePointDate", "restorePointDate"),
        ("params.restore_point", "params.restore_point"),
        ("a-b", "a-b"),
        ("1st", "_x0031_st"),
        ("-a", "_x002D_a"),
        ("a b", "a_x0020_b"),
        ("a:b", "a_x003A_b"),
        ("_x0041_", "_x005F_x0041_"),
        ("_x0041", "_x0041"),
        ("\u00e9", "_x00E9_"),
        ("\U0001f600", "_x0001F600_"),
        ("\x01", "_x0001_"),
        ("", "MVC-Empty"),
    ],
)
def test_element_names_are_encoded_as_xmlconvert_encodes_local_names(
    key: str, name: str
) -> None:
    """Name characters stay; others, and underscores read as escapes, are escaped."""
    assert render.xml_name(key) == name


def test_the_messages_of_a_property_are_one_text_in_xml() -> None:
    """As XmlWriter writes a string[]: the messages separated by spaces."""
    body = {"ModelState": {"k": render.TextList(("One.", "Two."))}}

    content = render.to_xml("Error", body)

    assert parse_xml(content).findtext("ModelState/k") == "One. Two."


async def test_a_lone_surrogate_in_a_body_is_an_answer_not_a_500(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """An escaped lone surrogate is read as U+FFFD, as Json.NET reads it; JSON, XML."""
    await apply_as(runtime, SIMPLE, SEED_PLAN)
    body = b'{"executionContinueOptions": "\\ud800"}'
    headers = {**ann, "Content-Type": "application/json"}

    as_json = await vao.post(f"{PLAN}/Continue", headers=headers, content=body)
    as_xml = await vao.post(
        f"{PLAN}/Continue", headers={**headers, **XML}, content=body
    )

    message = as_json.json()["ModelState"]["executionContinueOptions"][0]
    assert as_json.status_code == 400
    assert message == (
        "Error converting value \"\ufffd\" to type 'ExecutionContinueOptions'. "
        "Path 'executionContinueOptions'."
    )
    assert as_xml.status_code == 400
    xml_message = parse_xml(as_xml.content).findtext(
        "ModelState/executionContinueOptions"
    )
    assert xml_message == message


# --- paths in any case ---------------------------------------------------------------


async def test_vao_paths_match_in_any_case(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str], tmp_path: Path
) -> None:
    """Lower- and upper-case paths reach the same resources, as Web API's routes do."""
    await apply_as(runtime, vao_halting_plan(tmp_path / "marker"), SEED_PLAN)
    lower_plan = f"/api/v3/plans/{SEED_PLAN}"

    restored = await vao.post(f"{lower_plan}/restore", headers=ann)
    await settle(runtime)
    shown = await vao.get(f"/API/V3/PLANS/{SEED_PLAN.upper()}", headers=ann)
    groups = await vao.get(f"{lower_plan}/groups", headers=ann)
    continued = await continue_with(vao, ann, "RetryFailedStep", path=lower_plan)
    await settle(runtime)

    assert restored.status_code == 200
    assert shown.status_code == 200
    assert (shown.json()["id"], shown.json()["stateName"]) == (SEED_PLAN, "HALTED")
    assert [g["name"] for g in groups.json()["data"]] == ["g"]
    assert continued.status_code == 200
    assert (await newest_run(runtime, "web")).status is RunStatus.SUCCEEDED


@pytest.mark.parametrize("path", ["/API/TOKEN", "/Token", "/api/Token"])
async def test_the_token_endpoint_matches_in_any_case(
    runtime: Runtime, vao: httpx.AsyncClient, path: str
) -> None:
    """The sign-in path in any case issues a token; logout too."""
    await add_user(runtime, "ann")

    answer = await vao.post(
        path,
        data={"grant_type": "password", "username": "ann", "password": PASSWORD},
    )
    bearer = {"Authorization": f"Bearer {answer.json()['access_token']}"}
    out = await vao.post("/API/LOGOUT", headers=bearer)

    assert answer.status_code == 200
    assert out.status_code == 200


async def test_other_apis_under_api_keep_their_own_paths(
    vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """Enterprise Manager and the native API answer their paths, never VAO."""
    em = await vao.get("/api/jobs")
    native = await vao.get("/api/v1/workspaces", headers=ann)
    unknown = await vao.get("/API/V1/WORKSPACES", headers=ann)

    assert em.status_code == 401
    assert em.headers["content-type"].startswith("application/xml")
    assert not em.text.startswith('{"Message"')
    assert native.headers["content-type"].startswith("application/json")
    assert "Message" not in native.text
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"


# --- booleans as Json.NET and Web API read them --------------------------------------


@pytest.mark.parametrize(
    ("value", "chained"),
    [(True, True), ("TRUE", True), (" false ", False), (1, True), (0, False)],
    ids=["json-true", "text-any-case", "text-spaces", "one", "zero"],
)
async def test_booleans_are_read_as_json_net_reads_them(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    value: object,
    chained: bool,
) -> None:
    """JSON booleans, "true"/"false" in any case and numbers are booleans."""
    await apply_as(runtime, SIMPLE, SEED_PLAN)

    answer = await vao.post(
        f"{PLAN}/Restore", headers=ann, json={"executeChainedPlans": value}
    )

    assert answer.status_code == 200
    assert (await newest_run(runtime, "web")).chain is chained


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("yes", "Could not convert string to boolean: yes."),
        ("1", "Could not convert string to boolean: 1."),
        ("", "Error converting value {null} to type 'System.Boolean'."),
        (None, "Error converting value {null} to type 'System.Boolean'."),
        ([True], "Error reading boolean. Unexpected token: StartArray."),
    ],
    ids=["yes", "text-one", "empty", "null", "list"],
)
async def test_other_booleans_are_refused_in_json_nets_words(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    value: object,
    message: str,
) -> None:
    """Any other text, null or a list for a boolean: 400 naming its path."""
    await apply_as(runtime, SIMPLE, SEED_PLAN)

    answer = await vao.post(
        f"{PLAN}/Restore", headers=ann, json={"executeChainedPlans": value}
    )

    assert answer.status_code == 400
    assert answer.json() == invalid(
        {"executeChainedPlans": [f"{message} Path 'executeChainedPlans'."]}
    )
    assert await latest_run(runtime.store, workspace="default", plan="web") is None


@pytest.mark.parametrize(
    ("value", "status"),
    [("TRUE", 200), (" false ", 200), ("yes", 400), ("1", 400), ("", 400)],
)
async def test_only_enabled_is_a_dotnet_boolean(
    vao: httpx.AsyncClient, ann: dict[str, str], value: str, status: int
) -> None:
    """onlyEnabled is true or false in any case; anything else is a 400."""
    answer = await vao.get(PLANS, params={"onlyEnabled": value}, headers=ann)

    assert answer.status_code == status
    if status == 400:
        assert answer.json() == invalid(
            {"onlyEnabled": [f"The value '{value}' is not valid for onlyEnabled."]}
        )


# --- dates, text and the continue option as Json.NET reads them ----------------------

#: a replica plan whose run procedure takes a restore point too
DATED_REPLICA: Final = """
name: web-dr
kind: replica
params: {restore_point: {type: datetime, required: false}}
groups: [{name: g, targets: [a], steps: [{name: test, action: noop}]}]
procedures:
  failover:
    groups: [{name: vms, targets: [vm1], steps: [{name: boot, action: noop}]}]
"""


@pytest.mark.parametrize("operation", ["Failover", "Restore"])
@pytest.mark.parametrize(
    ("value", "token"),
    [
        (12, "Integer"),
        (1767225600.5, "Float"),
        (True, "Boolean"),
        (["2026-03-01"], "StartArray"),
        ({"date": "2026-03-01"}, "StartObject"),
    ],
    ids=["integer", "float", "boolean", "list", "object"],
)
async def test_a_restore_date_is_text_or_null_never_a_number(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    operation: str,
    value: object,
    token: str,
) -> None:
    """No Unix time: a number (or a boolean, list, object) is Json.NET's 400."""
    await apply_as(runtime, DATED_REPLICA, SEED_PLAN)

    answer = await vao.post(
        f"{PLAN}/{operation}", headers=ann, json={"restorePointDate": value}
    )

    assert answer.status_code == 400
    assert answer.json() == invalid(
        {
            "restorePointDate": [
                f"Error reading date. Unexpected token: {token}. "
                "Path 'restorePointDate'."
            ]
        }
    )
    assert await latest_run(runtime.store, workspace="default", plan="web-dr") is None


@pytest.mark.parametrize("operation", ["Failover", "Restore"])
@pytest.mark.parametrize(
    ("value", "restore_point"),
    [
        ("2026-03-01T12:30:00Z", "2026-03-01T12:30:00+00:00"),
        ("2026-03-01", "2026-03-01T00:00:00+00:00"),
        ("", None),
        (None, None),
    ],
    ids=["iso-8601", "a-day", "empty-is-latest", "null-is-latest"],
)
async def test_a_restore_date_is_iso_8601_text_and_empty_text_is_the_latest(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    operation: str,
    value: str | None,
    restore_point: str | None,
) -> None:
    """ISO 8601 text is the restore point; "" is none, as Json.NET reads DateTime?."""
    await apply_as(runtime, DATED_REPLICA, SEED_PLAN)

    answer = await vao.post(
        f"{PLAN}/{operation}", headers=ann, json={"restorepointDate": value}
    )
    run = await newest_run(runtime, "web-dr")

    assert answer.status_code == 200
    assert run.params.get("restore_point") == restore_point


@pytest.mark.parametrize(
    ("operation", "body", "name", "message"),
    [
        (
            "Continue",
            {"executionContinueOptions": None},
            "executionContinueOptions",
            "Error converting value {null} to type 'ExecutionContinueOptions'. "
            "Path 'executionContinueOptions'.",
        ),
        (
            "Continue",
            {"executionContinueOptions": 3},
            "executionContinueOptions",
            "Error converting value 3 to type 'ExecutionContinueOptions'. "
            "Path 'executionContinueOptions'.",
        ),
        (
            "Continue",
            {"executionContinueOptions": True},
            "executionContinueOptions",
            "Error converting value True to type 'ExecutionContinueOptions'. "
            "Path 'executionContinueOptions'.",
        ),
        (
            "Continue",
            {"executionContinueOptions": "RetryEverything"},
            "executionContinueOptions",
            'Error converting value "RetryEverything" to type '
            "'ExecutionContinueOptions'. Path 'executionContinueOptions'.",
        ),
        (
            "Continue",
            {"executionContinueOptions": ["RetryFailedStep"]},
            "executionContinueOptions",
            "Cannot deserialize the current JSON array (e.g. [1,2,3]) into type "
            "'ExecutionContinueOptions' because the type requires a JSON primitive "
            "value (e.g. string, number, boolean, null) to deserialize correctly. "
            "Path 'executionContinueOptions'.",
        ),
        (
            "Continue",
            {"fullStop": True},
            "executionContinueOptions",
            "The executionContinueOptions field is required.",
        ),
        (
            "Failover",
            {"restorePointDate": "2026-13-45"},
            "restorePointDate",
            "Could not convert string to DateTime: 2026-13-45. "
            "Path 'restorePointDate'.",
        ),
        (
            "Restore",
            {"restorepointDate": "yesterday"},
            "restorePointDate",
            "Could not convert string to DateTime: yesterday. Path 'restorePointDate'.",
        ),
        (
            "Halt",
            {"fullStop": None},
            "fullStop",
            "Error converting value {null} to type 'System.Boolean'. Path 'fullStop'.",
        ),
        (
            "Restore",
            {"restoreLocationId": {"id": 1}},
            "restoreLocationId",
            "Error reading string. Unexpected token: StartObject. "
            "Path 'restoreLocationId'.",
        ),
    ],
    ids=[
        "option-null",
        "option-number",
        "option-boolean",
        "option-unknown",
        "option-list",
        "option-missing",
        "impossible-date",
        "not-a-date",
        "boolean-null",
        "text-object",
    ],
)
async def test_a_bad_value_is_refused_in_json_nets_words(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    operation: str,
    body: dict[str, object],
    name: str,
    message: str,
) -> None:
    """Each refusal names the property, its path and why, as Json.NET words it."""
    await apply_as(runtime, DATED_REPLICA, SEED_PLAN)

    answer = await vao.post(f"{PLAN}/{operation}", headers=ann, json=body)

    assert answer.status_code == 400
    assert answer.json() == invalid({name: [message]})


async def test_numbers_and_booleans_are_text_to_a_text_property(
    runtime: Runtime, vao: httpx.AsyncClient, ann: dict[str, str]
) -> None:
    """restoreLocationId 5 or true is read as its text (Json.NET's ReadAsString)."""
    await apply_as(runtime, DATED_REPLICA, SEED_PLAN)

    number = await vao.post(
        f"{PLAN}/Restore", headers=ann, json={"restoreLocationId": 5}
    )
    await settle(runtime)
    boolean = await vao.post(
        f"{PLAN}/Restore", headers=ann, json={"restoreLocationId": True}
    )

    assert (number.status_code, boolean.status_code) == (200, 200)


# --- 413: a body over the server's limit ----------------------------------------------


@LIMITED
@BOTH_WAYS
@pytest.mark.parametrize("accept", ["application/json", "application/xml"])
async def test_a_body_over_the_limit_is_web_apis_413_and_continues_nothing(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    tmp_path: Path,
    chunked: bool,
    accept: str,
) -> None:
    """A Continue body a byte over the limit: 413 in the accepted type, still halted."""
    await halted_seed_plan(runtime, vao, ann, tmp_path / "marker")
    body = padded_json(RETRY, BODY_LIMIT + 1)
    with structlog.testing.capture_logs() as logs:
        answer = await vao.post(
            f"{PLAN}/Continue",
            headers={**ann, "Accept": accept, "Content-Type": "application/json"},
            content=sent(body, chunked=chunked),
        )

    assert answer.status_code == 413
    assert answer.headers["content-type"] == f"{accept}; charset=utf-8"
    if accept == "application/json":
        assert answer.json() == {"Message": too_large()}
    else:
        assert parse_xml(answer.content).findtext("Message") == too_large()
    assert (await newest_run(runtime, "web")).status is RunStatus.HALTED
    assert [entry for entry in logs if entry["log_level"] == "error"] == []


@LIMITED
@BOTH_WAYS
async def test_a_body_of_the_limits_size_continues_the_plan(
    runtime: Runtime,
    vao: httpx.AsyncClient,
    ann: dict[str, str],
    tmp_path: Path,
    chunked: bool,
) -> None:
    """A Continue body of exactly the limit is read as before: 200, the plan goes on."""
    await halted_seed_plan(runtime, vao, ann, tmp_path / "marker")

    answer = await vao.post(
        f"{PLAN}/Continue",
        headers={**ann, "Content-Type": "application/json"},
        content=sent(padded_json(RETRY, BODY_LIMIT), chunked=chunked),
    )
    await settle(runtime)

    assert answer.status_code == 200, answer.text
    assert (await newest_run(runtime, "web")).status is RunStatus.SUCCEEDED


@LIMITED
@BOTH_WAYS
async def test_a_body_over_the_limit_is_refused_where_no_body_is_read(
    runtime: Runtime, vao: httpx.AsyncClient, chunked: bool
) -> None:
    """Disable reads no body, yet one over the limit is a 413 and disables nothing."""
    await add_user(runtime, "amy", role=Role.AUTHOR)
    amy = await vao_token(vao, "amy")
    await apply_as(runtime, SIMPLE, SEED_PLAN)

    answer = await vao.post(
        f"{PLAN}/Disable",
        headers=amy,
        content=sent(b"x" * (BODY_LIMIT + 1), chunked=chunked),
    )
    shown = await vao.get(PLAN, headers=amy)

    assert answer.status_code == 413
    assert answer.json() == {"Message": too_large()}
    assert shown.json()["enabled"] is True


@LIMITED
@BOTH_WAYS
async def test_a_token_request_over_the_limit_is_a_413_too(
    vao: httpx.AsyncClient, chunked: bool
) -> None:
    """The token endpoint's 413 is Web API's body, as every VAO path's."""
    form = b"grant_type=password&username=ann&password=" + b"x" * BODY_LIMIT

    answer = await vao.post(
        "/api/token",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        content=sent(form, chunked=chunked),
    )

    assert answer.status_code == 413
    assert answer.json() == {"Message": too_large()}
