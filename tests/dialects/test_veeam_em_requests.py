"""The Enterprise Manager dialect's requests: malformed input, odd text, 405s, 404s."""

from __future__ import annotations

import httpx
import pytest
from dialect_support import (
    GATED,
    JSON,
    NOBODY,
    NS,
    PASSWORD,
    SEED_JOB,
    SESSION,
    add_user,
    apply_as,
    basic,
    basic_raw,
    vendor_error,
    vendor_json_error,
    xml,
)
from starlette.requests import Request

from onward.api.dialects.veeam_em import render
from onward.runtime import Runtime

# --- 400: malformed input -----------------------------------------------------------


@pytest.mark.usefixtures("seed_session", "job")
@pytest.mark.parametrize(
    ("method", "path", "message"),
    [
        ("GET", "/api/jobs/not-a-guid", "Invalid job ID 'not-a-guid': expected a GUID"),
        ("GET", "/api/jobs/%C3%A9t%C3%A9", "Invalid job ID 'été': expected a GUID"),
        ("GET", "/api/jobs/%FF%FE", "Invalid job ID '\ufffd\ufffd': expected a GUID"),
        (
            "GET",
            f"/api/jobs/{'x' * 500}",
            f"Invalid job ID '{'x' * 80}...': expected a GUID",
        ),
        (
            "GET",
            f"/api/jobs/{SEED_JOB}?format=Xml",
            "Unknown format 'Xml'; supported: Entity",
        ),
        ("GET", "/api/jobs?format=", "Unknown format ''; supported: Entity"),
        (
            "GET",
            "/api/jobs?format=Entity&format=Entity",
            "Parameter 'format' is given more than once",
        ),
        (
            "POST",
            f"/api/jobs/{SEED_JOB}?action=clone",
            "Unknown action 'clone'; supported: start, stop, retry",
        ),
        (
            "POST",
            f"/api/jobs/{SEED_JOB}",
            "Unknown action ''; supported: start, stop, retry",
        ),
        (
            "POST",
            f"/api/jobs/{SEED_JOB}?action=start&action=stop",
            "Parameter 'action' is given more than once",
        ),
        (
            "POST",
            f"/api/jobs/{SEED_JOB}?action=%E2%80%AEtrats",
            "Unknown action '\u202etrats'; supported: start, stop, retry",
        ),
    ],
    ids=[
        "id-not-a-guid",
        "id-not-ascii",
        "id-not-utf8",
        "id-huge",
        "format-unknown",
        "format-empty",
        "format-twice",
        "action-unknown",
        "action-missing",
        "action-twice",
        "action-bidi",
    ],
)
async def test_a_malformed_job_request_is_a_400_in_the_vendors_error(
    em: httpx.AsyncClient, method: str, path: str, message: str
) -> None:
    """Each is answered 400 with the vendor's Error naming what is wrong."""
    answer = await em.request(method, path, headers=SESSION)

    assert vendor_error(answer, 400) == message


@pytest.mark.parametrize(
    ("query", "message"),
    [
        (
            "?v=v9",
            "Unsupported API version 'v9'; supported: latest, v1_0, v1_1, v1_2, "
            "v1_3, v1_4, v1_5, v1_6, v1_7, v1_8",
        ),
        (
            "?v=",
            "Unsupported API version ''; supported: latest, v1_0, v1_1, v1_2, "
            "v1_3, v1_4, v1_5, v1_6, v1_7, v1_8",
        ),
        (
            "?v=LATEST%00",
            "Unsupported API version 'LATEST\ufffd'; supported: latest, v1_0, v1_1, "
            "v1_2, v1_3, v1_4, v1_5, v1_6, v1_7, v1_8",
        ),
        ("?v=latest&v=v1_2", "Parameter 'v' is given more than once"),
    ],
    ids=["unknown", "empty", "nul", "twice"],
)
async def test_a_logon_naming_no_served_version_is_a_400(
    runtime: Runtime, em: httpx.AsyncClient, query: str, message: str
) -> None:
    """?v= oddities are refused before the credentials are checked."""
    await add_user(runtime, "ann")

    answer = await em.post(f"/api/sessionMngr/{query}", headers=basic("ann"))

    assert vendor_error(answer, 400) == message


@pytest.mark.usefixtures("seed_session", "job")
@pytest.mark.parametrize(
    ("method", "path", "headers", "message"),
    [
        ("GET", "/api/jobs", {}, "A GET request takes no body"),
        ("GET", "/api/", {}, "A GET request takes no body"),
        ("DELETE", "/api/tasks/task-1", {}, "A DELETE request takes no body"),
        (
            "GET",
            "/api/jobs",
            {"Content-Length": "x"},
            "Invalid Content-Length 'x'",
        ),
    ],
    ids=["get", "get-root", "delete", "bad-length"],
)
async def test_a_body_on_a_request_that_takes_none_is_a_400(
    em: httpx.AsyncClient,
    method: str,
    path: str,
    headers: dict[str, str],
    message: str,
) -> None:
    """GET and DELETE with a body are refused, not silently read past."""
    request = em.build_request(
        method, path, headers={**SESSION, **headers}, content=b"<Job/>"
    )
    if "Content-Length" in headers:
        request.headers["Content-Length"] = headers["Content-Length"]

    answer = await em.send(request)

    assert vendor_error(answer, 400) == message


@pytest.mark.usefixtures("seed_session", "job")
async def test_an_empty_body_and_unknown_parameters_are_accepted(
    em: httpx.AsyncClient,
) -> None:
    """Content-Length: 0 on a GET, and parameters the dialect does not read, pass."""
    answer = await em.get(
        "/api/jobs?%FF=1&_=2&_=3", headers={**SESSION, "Content-Length": "0"}
    )

    assert answer.status_code == 200


@pytest.mark.usefixtures("seed_session", "job")
async def test_an_accept_header_of_odd_bytes_is_answered_in_xml(
    em: httpx.AsyncClient,
) -> None:
    """Accept with bytes that are not UTF-8, or a q-value that is no number: XML."""
    odd = await em.get("/api/jobs", headers={**SESSION, "Accept": b"\xff\xfe, \x01"})
    bad_q = await em.get(
        "/api/jobs", headers={**SESSION, "Accept": "application/json;q=high"}
    )

    assert xml(odd).tag == f"{NS}EntityReferences"
    assert xml(bad_q).tag == f"{NS}EntityReferences"


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Basic !!!not-base64!!!"},
        basic_raw(b"ann"),
        basic_raw(b":" + PASSWORD.encode()),
        basic_raw(b"\xff\xfe:" + PASSWORD.encode()),
        basic_raw(b"ann\x00:" + PASSWORD.encode()),
        basic_raw(b"ann\x1b[2J:" + PASSWORD.encode()),
        {"Authorization": b"Basic \xe9t\xe9"},
        {"Authorization": "Basic"},
        {"Authorization": "Digest username=ann"},
    ],
    ids=[
        "not-base64",
        "no-colon",
        "no-username",
        "not-utf8",
        "nul",
        "control",
        "header-not-ascii",
        "scheme-only",
        "other-scheme",
    ],
)
async def test_bad_basic_credentials_are_challenged_as_none(
    runtime: Runtime, em: httpx.AsyncClient, headers: dict[str, str | bytes]
) -> None:
    """401 with the vendor's challenge; nothing of it reaches the login."""
    await add_user(runtime, "ann")

    answer = await em.post("/api/sessionMngr/?v=latest", headers=headers)

    assert vendor_error(answer, 401) == (
        "Authentication required: send Basic credentials"
    )
    assert answer.headers["www-authenticate"] == "Basic Realm=RestSvc"


@pytest.mark.parametrize(
    ("content", "media"),
    [
        (
            b'<LogonRequestSpec xmlns="http://www.veeam.com/ent/v1.0">'
            b"<UserName>tenant</UserName><Password>secret</Password></LogonRequestSpec>",
            "application/xml",
        ),
        (b'{"UserName": "tenant", "Password": "secret"}', "application/json"),
        (b"{<not json, not xml", "text/plain"),
    ],
    ids=["xml", "json", "malformed"],
)
async def test_a_logon_body_is_never_read_only_basic_decides(
    runtime: Runtime, em: httpx.AsyncClient, content: bytes, media: str
) -> None:
    """Tenant credentials in the body: without Basic 401, with Basic its user's 201."""
    await add_user(runtime, "ann")
    logon = "/api/sessionMngr/?v=latest"

    anonymous = await em.post(logon, content=content, headers={"Content-Type": media})
    signed = await em.post(
        logon, content=content, headers={**basic("ann"), "Content-Type": media}
    )

    assert vendor_error(anonymous, 401) == (
        "Authentication required: send Basic credentials"
    )
    assert anonymous.headers["www-authenticate"] == "Basic Realm=RestSvc"
    assert signed.status_code == 201
    assert xml(signed).findtext(f"{NS}UserName") == "ann"


# --- XML that parsers accept --------------------------------------------------------


@pytest.mark.usefixtures("seed_session")
async def test_control_characters_of_a_path_never_break_the_xml(
    em: httpx.AsyncClient,
) -> None:
    """task-%00%01: the XML carries U+FFFD instead; JSON escapes the characters."""
    in_xml = await em.get("/api/tasks/task-%00%01", headers=SESSION)
    in_json = await em.get("/api/tasks/task-%00%01", headers=JSON)

    assert vendor_error(in_xml, 404) == "Task not found: task-\ufffd\ufffd"
    assert b"\x00" not in in_xml.content
    assert vendor_json_error(in_json, 404) == "Task not found: task-\x00\x01"


@pytest.mark.usefixtures("seed_session")
async def test_markup_in_client_text_is_escaped(em: httpx.AsyncClient) -> None:
    """A job ID of <, & and quotes comes back as text, the document well formed."""
    answer = await em.get("/api/jobs/%3CJob%20a=%22%26'%3E", headers=SESSION)

    assert vendor_error(answer, 400) == (
        "Invalid job ID '<Job a=\"&'>': expected a GUID"
    )


@pytest.mark.usefixtures("seed_session")
async def test_control_characters_of_a_plan_never_break_the_xml(
    runtime: Runtime, em: httpx.AsyncClient
) -> None:
    """A description with C0 controls is written with U+FFFD in their place."""
    plan = 'name: odd\ndescription: "a\\x01b\\x1fc"\n' + GATED.split("\n", 2)[2]
    await apply_as(runtime, plan, SEED_JOB)

    answer = await em.get(f"/api/jobs/{SEED_JOB}?format=Entity", headers=SESSION)

    assert answer.status_code == 200
    assert xml(answer).findtext(f"{NS}Description") == "a\ufffdb\ufffdc"


@pytest.mark.parametrize(
    ("accept", "content"),
    [
        ("application/json", b'"a\\ud800b"'),
        (
            "application/xml",
            b'<?xml version="1.0" encoding="utf-8"?>\n'
            b'<Name xmlns="http://www.veeam.com/ent/v1.0">a\xef\xbf\xbdb</Name>',
        ),
    ],
    ids=["json", "xml"],
)
def test_a_lone_surrogate_is_written_safely_either_way(
    accept: str, content: bytes
) -> None:
    """Text no UTF-8 encodes: a JSON escape in JSON, U+FFFD in XML; never a 500."""
    request = Request({"type": "http", "headers": [(b"accept", accept.encode())]})

    answer = render.respond(request, render.leaf("Name", "a\ud800b"))

    assert answer.body == content


# --- 405 and 404 under the vendor's paths -------------------------------------------


@pytest.mark.usefixtures("seed_session")
@pytest.mark.parametrize(
    ("method", "path", "allow"),
    [
        ("POST", "/api/jobs", "GET"),
        ("PUT", "/api/jobs", "GET"),
        ("DELETE", "/api/jobs", "GET"),
        ("PATCH", "/api/jobs", "GET"),
        ("OPTIONS", "/api/jobs", "GET"),
        ("TRACE", "/api/jobs", "GET"),
        ("POST", "/api/logonSessions", "GET"),
        ("POST", "/api/", "GET"),
        ("DELETE", "/api", "GET"),
        ("GET", "/api/sessionMngr/", "POST"),
        ("PUT", "/api/sessionMngr", "POST"),
        ("PUT", f"/api/jobs/{SEED_JOB}", "GET, POST"),
        ("DELETE", f"/api/jobs/{SEED_JOB}", "GET, POST"),
        ("POST", "/api/tasks/task-1", "DELETE, GET"),
        ("PATCH", f"/api/logonSessions/{NOBODY}", "DELETE, GET"),
        # methods HTTP itself does not define (WebDAV's, a made-up one)
        ("PROPFIND", "/api/jobs", "GET"),
        ("FROB", f"/api/jobs/{SEED_JOB}", "GET, POST"),
        ("FROB", "/api/sessionMngr/", "POST"),
    ],
)
async def test_a_method_a_resource_does_not_support_is_the_vendors_405(
    em: httpx.AsyncClient, method: str, path: str, allow: str
) -> None:
    """405 with Allow, in the vendor's Error, whoever asks."""
    answer = await em.request(method, path, headers=SESSION)

    assert vendor_error(answer, 405) == f"Method {method} is not allowed on {path}"
    assert answer.headers["allow"] == allow


@pytest.mark.parametrize(
    ("path", "allow"),
    [("/api/jobs", "GET"), ("/api/", "GET"), ("/api/tasks/task-1", "DELETE, GET")],
)
async def test_head_is_a_405_with_allow_in_the_vendors_media_type(
    em: httpx.AsyncClient, path: str, allow: str
) -> None:
    """HEAD is not served: 405 with Allow, the vendor's Error as media type."""
    answer = await em.head(path, headers=JSON)

    assert answer.status_code == 405
    assert answer.headers["allow"] == allow
    assert answer.headers["content-type"] == "application/json; charset=utf-8"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/api/tasks"),
        ("POST", "/api/tasks"),
        ("GET", f"/api/jobs/{SEED_JOB}/backupSessions"),
        ("OPTIONS", "/api/logonSessions/x/y"),
        ("GET", "/api/jobs/"),
    ],
)
async def test_a_path_of_no_resource_is_the_vendors_404(
    em: httpx.AsyncClient, method: str, path: str
) -> None:
    """Under the vendor's collections, an unknown resource is 404 in its Error."""
    answer = await em.request(method, path, headers=JSON)

    assert vendor_json_error(answer, 404) == f"Resource not found: {method} {path}"
