"""
The web console over HTTP, in process: sessions, CSRF, roles, pages, forms, events.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import httpx
import pytest
from console_helpers import (
    APPROVAL_PLAN,
    FAILING_PLAN,
    HALTING_PLAN,
    PARAMS_PLAN,
    PASSWORD,
    Browser,
    form_token,
    log_in,
    settle,
    started,
)
from fastapi import FastAPI

from onward.domain.access import Role
from onward.domain.runs import RunStatus
from onward.runtime import Runtime
from onward.service.commands import Caller
from onward.service.ports import RunFilter
from onward.ui.session import safe_next

BrowserFactory = Callable[..., Awaitable[Browser]]

#: a plan with two problems, on lines 7 and 9
BROKEN_PLAN = """\
name: broken
groups:
  - name: g
    targets: [a]
    steps:
      - name: one
        action: teleport
      - name: two
        timeout: soon
        action: noop
"""


def _preview_token(page: str) -> str:
    found = re.search(r'name="preview_token" value="([^"]+)"', page)
    assert found is not None, page
    return found.group(1)


# -- sessions ---------------------------------------------------------------------


async def test_a_signed_out_visitor_is_sent_to_the_login_page(
    anonymous: httpx.AsyncClient,
) -> None:
    """A page asked for without a session redirects to the login form, back after."""
    answer = await anonymous.get("/w/default/runs")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login?next=/w/default/runs"


async def test_login_sets_an_httponly_samesite_session_cookie(
    runtime: Runtime, anonymous: httpx.AsyncClient
) -> None:
    """A good password sets the session in an HttpOnly, SameSite=Lax cookie."""
    await runtime.auth.create_admin("ada", PASSWORD)
    form = await anonymous.get("/login?next=/w/default/plans")
    answer = await anonymous.post(
        "/login",
        data={
            "username": "ada",
            "password": PASSWORD,
            "csrf_token": form_token(form.text),
            "next": "/w/default/plans",
        },
    )

    cookie = answer.headers["set-cookie"].lower()
    assert answer.status_code == 303
    assert answer.headers["location"] == "/w/default/plans"
    assert "onward_session=" in cookie
    assert "httponly" in cookie
    assert "samesite=lax" in cookie


async def test_login_goes_nowhere_outside_the_console(
    runtime: Runtime, anonymous: httpx.AsyncClient
) -> None:
    """A ``next`` that leaves the site is replaced by the console's home."""
    await runtime.auth.create_admin("ada", PASSWORD)
    form = await anonymous.get("/login")
    answer = await anonymous.post(
        "/login",
        data={
            "username": "ada",
            "password": PASSWORD,
            "csrf_token": form_token(form.text),
            "next": "//evil.example/",
        },
    )

    assert answer.headers["location"] == "/"


@pytest.mark.parametrize(
    "target",
    ["//evil.example/", "/\\evil.example", "/\t/evil.example", "https://evil.example/"],
    ids=["scheme-relative", "backslash", "tab", "absolute"],
)
def test_no_next_target_leads_off_site(target: str) -> None:
    """Every spelling of another site is replaced by the console's home."""
    assert safe_next(target) == "/"


async def test_a_wrong_password_shows_the_form_again(
    runtime: Runtime, anonymous: httpx.AsyncClient
) -> None:
    """A wrong password answers 401 with the form and a message, and no session."""
    await runtime.auth.create_admin("ada", PASSWORD)
    form = await anonymous.get("/login")
    answer = await anonymous.post(
        "/login",
        data={
            "username": "ada",
            "password": "wrong password",
            "csrf_token": form_token(form.text),
        },
    )

    assert answer.status_code == 401
    assert "Invalid username or password." in answer.text
    assert "onward_session" not in answer.headers.get("set-cookie", "")


async def test_a_login_without_its_form_token_is_refused(
    runtime: Runtime, anonymous: httpx.AsyncClient
) -> None:
    """The login form is CSRF-protected too (double-submit cookie)."""
    await runtime.auth.create_admin("ada", PASSWORD)
    answer = await anonymous.post(
        "/login", data={"username": "ada", "password": PASSWORD}
    )

    assert answer.status_code == 403
    assert "onward_session" not in answer.headers.get("set-cookie", "")


async def test_logout_ends_the_session(
    browser_factory: BrowserFactory, app: FastAPI
) -> None:
    """After signing out, the old session cookie no longer opens a page."""
    browser = await browser_factory("ada")
    secret = browser.client.cookies["onward_session"]
    answer = await browser.post("/logout")
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://onward",
        cookies={"onward_session": secret},
    ) as replay:
        again = await replay.get("/w/default/runs")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/login"
    assert again.status_code == 303
    assert again.headers["location"].startswith("/login")


async def test_home_opens_the_runs_of_the_default_workspace(
    browser_factory: BrowserFactory,
) -> None:
    """``/`` goes to the runs of the default workspace."""
    browser = await browser_factory("ada", Role.VIEWER)
    answer = await browser.get("/")

    assert answer.status_code == 303
    assert answer.headers["location"] == "/w/default/runs"


async def test_a_workspace_without_a_role_is_not_found(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """A workspace the user has no role in is answered 404, as in the API."""
    await runtime.auth.create_workspace("secret")
    browser = await browser_factory("ada", Role.ADMIN)
    answer = await browser.get("/w/secret/runs")

    assert answer.status_code == 404
    assert "text/html" in answer.headers["content-type"]


# -- CSRF -------------------------------------------------------------------------


async def test_a_post_without_the_csrf_token_is_refused(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """A form post without its token is refused with 403 and changes nothing."""
    browser = await browser_factory("ada")
    answer = await browser.client.post(
        "/w/default/plans", data={"source": HALTING_PLAN}
    )
    plans = await runtime.store.list_plans(workspace="default")

    assert answer.status_code == 403
    assert "security token" in answer.text
    assert plans == []


async def test_a_token_of_another_session_is_refused(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """The token is tied to its session: another user's token does not work."""
    ada = await browser_factory("ada")
    bob = await browser_factory("bob")
    answer = await ada.client.post(
        "/w/default/plans", data={"source": HALTING_PLAN, "csrf_token": bob.csrf}
    )

    assert answer.status_code == 403
    assert await runtime.store.list_plans(workspace="default") == []


async def test_htmx_sends_the_token_in_a_header(
    browser_factory: BrowserFactory,
) -> None:
    """A request with the token in X-CSRF-Token (as htmx sends it) is accepted."""
    browser = await browser_factory("ada")
    answer = await browser.client.post(
        "/w/default/plans/validate",
        data={"source": HALTING_PLAN},
        headers={"X-CSRF-Token": browser.csrf, "HX-Request": "true"},
    )

    assert answer.status_code == 200
    assert "The plan is valid." in answer.text


# -- roles ------------------------------------------------------------------------


@pytest.mark.parametrize("role", list(Role), ids=[r.value for r in Role])
async def test_each_page_renders_for_each_role(
    role: Role, browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """Every page of a workspace renders for every role."""
    run_id = await started(runtime, HALTING_PLAN)
    browser = await browser_factory("ada", role)
    pages = [
        "/w/default/runs",
        "/w/default/runs?status=halted&plan=halting&since=2000-01-01&until=2999-01-01",
        "/w/default/plans",
        "/w/default/plans/halting",
        "/w/default/plans/halting?version=1",
        f"/w/default/runs/{run_id}",
        "/w/default/operations",
    ]
    statuses = {page: (await browser.get(page)).status_code for page in pages}

    assert statuses == dict.fromkeys(pages, 200)


async def test_a_viewer_sees_no_action_buttons(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """A viewer's pages offer no start, upload, continue, cancel or approve."""
    run_id = await started(runtime, HALTING_PLAN)
    viewer = await browser_factory("vera", Role.VIEWER)
    run_page = (await viewer.get(f"/w/default/runs/{run_id}")).text
    plan_page = (await viewer.get("/w/default/plans/halting")).text
    plans_page = (await viewer.get("/w/default/plans")).text

    assert "Run halted" in run_page
    assert "Preview" not in run_page
    assert "Cancel the run" not in run_page
    assert "may watch this run" in run_page
    assert "Start run" not in plan_page
    assert "Edit as a new version" not in plan_page
    assert "Disable the plan" not in plan_page
    assert "Upload a plan" not in plans_page


async def test_an_operator_is_offered_the_six_continue_choices(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """A halted run's banner offers the six options to an operator, and cancel."""
    run_id = await started(runtime, HALTING_PLAN)
    operator = await browser_factory("otto", Role.OPERATOR)
    page = (await operator.get(f"/w/default/runs/{run_id}")).text
    options = re.findall(r'name="option" value="([a-z-]+)"', page)

    assert options == [
        "retry-step",
        "proceed-step",
        "retry-target",
        "proceed-target",
        "retry-group",
        "proceed-group",
    ]
    assert "Cancel the run" in page
    assert "Upload a plan" not in (await operator.get("/w/default/plans")).text


@pytest.mark.parametrize(
    ("path", "data"),
    [
        ("continue", {"option": "retry-step"}),
        ("retry", {}),
        ("cancel", {}),
        ("preview", {"option": "retry-step"}),
        ("approval", {"decision": "approve"}),
    ],
    ids=["continue", "retry", "cancel", "preview", "approval"],
)
async def test_a_viewer_posting_a_run_command_is_refused(
    path: str,
    data: dict[str, str],
    browser_factory: BrowserFactory,
    runtime: Runtime,
) -> None:
    """The server refuses a viewer's command with 403 even with a good token."""
    run_id = await started(runtime, HALTING_PLAN)
    viewer = await browser_factory("vera", Role.VIEWER)
    answer = await viewer.post(f"/w/default/runs/{run_id}/{path}", data)
    run = await runtime.store.get_run(run_id)

    assert answer.status_code == 403
    assert run.status is RunStatus.HALTED


async def test_a_viewer_cannot_start_runs_or_save_plans(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """Starting a run and saving a plan need operator and author roles."""
    await started(runtime, HALTING_PLAN)
    viewer = await browser_factory("vera", Role.VIEWER)
    start = await viewer.post("/w/default/plans/halting/runs", {"version": "1"})
    save = await viewer.post("/w/default/plans", {"source": FAILING_PLAN})
    upload_form = await viewer.get("/w/default/plans/new")
    page = await runtime.store.list_runs(RunFilter())

    assert (start.status_code, save.status_code, upload_form.status_code) == (
        403,
        403,
        403,
    )
    assert len(page.runs) == 1


# -- plans ------------------------------------------------------------------------


async def test_validating_a_plan_shows_each_problem_at_its_line(
    browser_factory: BrowserFactory,
) -> None:
    """Validation lists every problem with its line, and shows those lines."""
    browser = await browser_factory("ada", Role.AUTHOR)
    answer = await browser.post(
        "/w/default/plans/validate",
        {"source": BROKEN_PLAN},
        headers={"HX-Request": "true"},
    )

    assert answer.status_code == 200
    assert "2 problems in the plan" in answer.text
    assert 'href="#src-7">Line 7</a>' in answer.text
    assert 'href="#src-9">Line 9</a>' in answer.text
    assert 'class="line bad" id="src-7"' in answer.text
    assert "teleport" in answer.text


async def test_saving_an_invalid_plan_shows_its_problems_and_keeps_the_text(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """An invalid plan is not saved: the form comes back (422) with the text."""
    browser = await browser_factory("ada", Role.AUTHOR)
    answer = await browser.post("/w/default/plans", {"source": BROKEN_PLAN})

    assert answer.status_code == 422
    assert "Line 7" in answer.text
    assert "action: teleport" in answer.text
    assert await runtime.store.list_plans(workspace="default") == []


async def test_a_yaml_syntax_error_is_reported(
    browser_factory: BrowserFactory,
) -> None:
    """A text that is not YAML is one problem naming its line."""
    browser = await browser_factory("ada", Role.AUTHOR)
    answer = await browser.post(
        "/w/default/plans/validate", {"source": "name: [unclosed\n"}
    )

    assert answer.status_code == 200
    assert "1 problem in the plan" in answer.text
    assert "invalid YAML at line" in answer.text


async def test_saving_a_plan_shows_its_new_version(
    browser_factory: BrowserFactory,
) -> None:
    """A saved plan leads to its page, saying which version was made."""
    browser = await browser_factory("ada", Role.AUTHOR)
    saved = await browser.post("/w/default/plans", {"source": HALTING_PLAN})
    page = await browser.get(saved.headers["location"])
    again = await browser.post("/w/default/plans", {"source": HALTING_PLAN})
    unchanged = await browser.get(again.headers["location"])

    assert saved.headers["location"] == "/w/default/plans/halting?version=1&saved=1"
    assert "Saved as version 1." in page.text
    assert "The plan is unchanged" in unchanged.text


async def test_the_upload_form_can_start_from_a_plans_text(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """ "Edit as a new version" fills the form with the latest text."""
    await started(runtime, HALTING_PLAN)
    browser = await browser_factory("ada", Role.AUTHOR)
    page = await browser.get("/w/default/plans/new?from=halting")

    assert page.status_code == 200
    assert "name: halting" in page.text


async def test_the_start_form_is_built_from_the_plans_params(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """Each parameter is a labelled field of its type, choices a select."""
    await runtime.commands.apply_plan(PARAMS_PLAN, caller=Caller())
    browser = await browser_factory("otto", Role.OPERATOR)
    page = (await browser.get("/w/default/plans/typed")).text

    assert '<label for="param-count">count <span class="req">(required)</span>' in page
    assert 'id="param-count" name="param.count" type="number"' in page
    assert '<select id="param-dry_run" name="param.dry_run"' in page
    assert '<option value="east" selected>east</option>' in page
    assert 'id="param-at" name="param.at" type="datetime-local"' in page


async def test_starting_a_run_from_the_form_converts_the_values(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """Form values become typed parameters; the browser lands on the run page."""
    await runtime.commands.apply_plan(PARAMS_PLAN, caller=Caller())
    browser = await browser_factory("otto", Role.OPERATOR)
    answer = await browser.post(
        "/w/default/plans/typed/runs",
        {
            "version": "1",
            "procedure": "run",
            "param.count": "3",
            "param.dry_run": "true",
            "param.site": "west",
            "param.at": "2030-01-02T03:04",
            "reason": "drill",
        },
    )
    run_id = answer.headers["location"].rsplit("/", 1)[-1]
    run = await runtime.store.get_run(run_id)
    audit = await runtime.store.list_audit(run_id)

    assert answer.status_code == 303
    assert dict(run.params) == {
        "count": 3,
        "dry_run": True,
        "site": "west",
        "at": "2030-01-02T03:04:00+00:00",
    }
    assert run.triggered_by == "otto"
    assert audit[0].reason == "drill"


async def test_a_bad_parameter_is_shown_at_its_field(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """A refused start comes back (422) with the error at the field, values kept."""
    await runtime.commands.apply_plan(PARAMS_PLAN, caller=Caller())
    browser = await browser_factory("otto", Role.OPERATOR)
    answer = await browser.post(
        "/w/default/plans/typed/runs",
        {"version": "1", "param.count": "many", "param.site": "west"},
    )

    assert answer.status_code == 422
    assert 'id="param-count-error"' in answer.text
    assert 'value="many"' in answer.text
    assert '<option value="west" selected>west</option>' in answer.text
    assert (await runtime.store.list_runs(RunFilter())).runs == ()


async def test_a_double_submitted_start_makes_one_run(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """The start form's idempotency key makes a second submit the same run."""
    await runtime.commands.apply_plan(PARAMS_PLAN, caller=Caller())
    browser = await browser_factory("otto", Role.OPERATOR)
    form = {"version": "1", "param.count": "1", "idempotency_key": "k-1"}
    first = await browser.post("/w/default/plans/typed/runs", form)
    second = await browser.post("/w/default/plans/typed/runs", form)

    assert first.headers["location"] == second.headers["location"]
    assert len((await runtime.store.list_runs(RunFilter())).runs) == 1


async def test_an_author_disables_a_plan_and_its_page_offers_no_start(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """Disabled, the plan is marked on both pages and its start form is a notice."""
    await runtime.commands.apply_plan(HALTING_PLAN, caller=Caller())
    author = await browser_factory("ada", Role.AUTHOR)
    before = (await author.get("/w/default/plans/halting")).text
    answer = await author.post(
        "/w/default/plans/halting/switch", {"switch": "disable", "reason": "freeze"}
    )
    page = (await author.get(answer.headers["location"])).text
    listed = (await author.get("/w/default/plans")).text
    summary = await runtime.store.get_plan_summary(workspace="default", name="halting")

    assert "Start run" in before
    assert "Disable the plan" in before
    assert answer.status_code == 303
    assert answer.headers["location"] == "/w/default/plans/halting?switched=disabled"
    assert summary.enabled is False
    assert "The plan is disabled: it starts no run" in page
    assert (
        '<span class="tag off"><span aria-hidden="true">⊘</span> disabled</span>'
        in page
    )
    assert "This plan is disabled:" in page
    assert "Start run" not in page
    assert 'name="switch" value="enable"' in page
    assert "Enable the plan" in page
    assert "Disable the plan" not in page
    assert "disabled</span></th>" in listed


async def test_enabling_a_disabled_plan_brings_its_start_form_back(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """Enable lets the plan start runs again, and says so."""
    await runtime.commands.apply_plan(HALTING_PLAN, caller=Caller())
    await runtime.store.set_plan_enabled(
        workspace="default", name="halting", enabled=False
    )
    author = await browser_factory("ada", Role.AUTHOR)
    answer = await author.post("/w/default/plans/halting/switch", {"switch": "enable"})
    page = (await author.get(answer.headers["location"])).text
    listed = (await author.get("/w/default/plans")).text

    assert answer.headers["location"] == "/w/default/plans/halting?switched=enabled"
    assert "The plan is enabled: it may start runs." in page
    assert "Start run" in page
    assert "Disable the plan" in page
    assert "tag off" not in page + listed


async def test_an_operator_cannot_switch_a_plan_nor_start_a_disabled_one(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """Only authors switch plans; an operator sees the notice instead of the form."""
    await runtime.commands.apply_plan(HALTING_PLAN, caller=Caller())
    operator = await browser_factory("otto", Role.OPERATOR)
    enabled_page = (await operator.get("/w/default/plans/halting")).text
    refused = await operator.post(
        "/w/default/plans/halting/switch", {"switch": "disable"}
    )
    await runtime.store.set_plan_enabled(
        workspace="default", name="halting", enabled=False
    )
    disabled_page = (await operator.get("/w/default/plans/halting")).text
    started = await operator.post("/w/default/plans/halting/runs", {"version": "1"})

    assert "Disable the plan" not in enabled_page
    assert refused.status_code == 403
    assert "An author can enable it again." in disabled_page
    assert "Start run" not in disabled_page
    assert "Enable the plan" not in disabled_page
    assert started.status_code == 409
    assert "onward plan enable halting" in started.text
    assert (await runtime.store.list_runs(RunFilter())).runs == ()


async def test_switching_a_plan_without_the_csrf_token_is_refused(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """The switch forms are CSRF-protected like every other form."""
    await runtime.commands.apply_plan(HALTING_PLAN, caller=Caller())
    author = await browser_factory("ada", Role.AUTHOR)
    answer = await author.client.post(
        "/w/default/plans/halting/switch", data={"switch": "disable"}
    )
    summary = await runtime.store.get_plan_summary(workspace="default", name="halting")

    assert answer.status_code == 403
    assert summary.enabled is True


async def test_a_switch_that_is_neither_enable_nor_disable_is_refused(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """Only the two switches are understood; anything else changes nothing (422)."""
    await runtime.commands.apply_plan(HALTING_PLAN, caller=Caller())
    author = await browser_factory("ada", Role.AUTHOR)
    answer = await author.post("/w/default/plans/halting/switch", {"switch": "off"})
    summary = await runtime.store.get_plan_summary(workspace="default", name="halting")

    assert answer.status_code == 422
    assert "choose enable or disable" in answer.text
    assert summary.enabled is True


# -- runs -------------------------------------------------------------------------


async def test_preview_then_confirm_goes_on_with_the_halted_run(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """The preview names what starts; confirming it continues the run."""
    run_id = await started(runtime, HALTING_PLAN)
    browser = await browser_factory("otto", Role.OPERATOR)
    preview = await browser.post(
        f"/w/default/runs/{run_id}/preview",
        {"command": "continue", "option": "proceed-step"},
        headers={"HX-Request": "true"},
    )
    answer = await browser.post(
        f"/w/default/runs/{run_id}/continue",
        {
            "option": "proceed-step",
            "preview_token": _preview_token(preview.text),
            "reason": "known flake",
        },
    )
    await settle(runtime)
    run = await runtime.store.get_run(run_id)
    audit = await runtime.store.list_audit(run_id)

    assert "Preview: Proceed to next step" in preview.text
    assert "Confirm: Proceed to next step" in preview.text
    assert answer.status_code == 303
    assert answer.headers["location"] == f"/w/default/runs/{run_id}"
    assert run.status is RunStatus.SUCCEEDED
    assert (audit[-1].command, audit[-1].actor, audit[-1].reason) == (
        "continue",
        "otto",
        "known flake",
    )


async def test_a_retry_step_preview_names_the_failed_step(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """Previewing "retry failed step" lists the failed step as what starts."""
    run_id = await started(runtime, HALTING_PLAN)
    browser = await browser_factory("otto", Role.OPERATOR)
    preview = await browser.post(
        f"/w/default/runs/{run_id}/preview",
        {"command": "continue", "option": "retry-step"},
        headers={"HX-Request": "true"},
    )

    assert "Will start (1)" in preview.text
    assert "<li>g / b / check</li>" in preview.text


async def test_a_preview_without_javascript_renders_the_whole_page(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """Without htmx, the preview comes inside the run page, its option chosen."""
    run_id = await started(runtime, HALTING_PLAN)
    browser = await browser_factory("otto", Role.OPERATOR)
    page = await browser.post(
        f"/w/default/runs/{run_id}/preview",
        {"command": "continue", "option": "retry-group"},
    )

    assert page.status_code == 200
    assert "<h1>Run <code>" in page.text
    assert "Confirm: Retry group" in page.text
    assert 'value="retry-group" checked' in page.text


async def test_a_stale_preview_is_refused(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """Confirming with a token of an older state of the run answers 409."""
    run_id = await started(runtime, HALTING_PLAN)
    browser = await browser_factory("otto", Role.OPERATOR)
    answer = await browser.post(
        f"/w/default/runs/{run_id}/continue",
        {"option": "retry-step", "preview_token": f"{run_id}.v1"},
    )

    assert answer.status_code == 409
    assert "changed since this page was shown" in answer.text
    assert (await runtime.store.get_run(run_id)).status is RunStatus.HALTED


async def test_an_unknown_option_is_refused(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """An option that is not one of the six answers 422 and changes nothing."""
    run_id = await started(runtime, HALTING_PLAN)
    browser = await browser_factory("otto", Role.OPERATOR)
    answer = await browser.post(
        f"/w/default/runs/{run_id}/continue", {"option": "jump"}
    )

    assert answer.status_code == 422
    assert "unknown continue option" in answer.text


async def test_cancelling_a_halted_run(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """The cancel form ends a halted run cancelled."""
    run_id = await started(runtime, HALTING_PLAN)
    browser = await browser_factory("otto", Role.OPERATOR)
    answer = await browser.post(
        f"/w/default/runs/{run_id}/cancel", {"reason": "drill over"}
    )
    await settle(runtime)

    assert answer.status_code == 303
    assert (await runtime.store.get_run(run_id)).status is RunStatus.CANCELLED


async def test_a_failed_run_offers_a_retry_that_can_be_previewed(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """A failed run's banner previews and confirms a retry."""
    run_id = await started(runtime, FAILING_PLAN)
    browser = await browser_factory("otto", Role.OPERATOR)
    page = await browser.get(f"/w/default/runs/{run_id}")
    preview = await browser.post(
        f"/w/default/runs/{run_id}/preview",
        {"command": "retry"},
        headers={"HX-Request": "true"},
    )
    answer = await browser.post(
        f"/w/default/runs/{run_id}/retry",
        {"preview_token": _preview_token(preview.text)},
    )
    await settle(runtime)
    run = await runtime.store.get_run(run_id)

    assert "Preview the retry" in page.text
    assert "Confirm: Retry the run" in preview.text
    assert answer.status_code == 303
    assert run.run_attempt == 2


async def test_a_waiting_approval_is_approved_from_the_page(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """A waiting approval step has Approve and Reject; approving lets the run end."""
    run_id = await started(runtime, APPROVAL_PLAN)
    browser = await browser_factory("otto", Role.OPERATOR)
    page = await browser.get(f"/w/default/runs/{run_id}")
    attempt_id = re.search(r'name="attempt_id" value="([^"]+)"', page.text)
    assert attempt_id is not None
    answer = await browser.post(
        f"/w/default/runs/{run_id}/approval",
        {"attempt_id": attempt_id.group(1), "decision": "approve", "comment": "ok"},
    )
    await settle(runtime)

    assert "Waiting for approval" in page.text
    assert answer.status_code == 303
    assert (await runtime.store.get_run(run_id)).status is RunStatus.SUCCEEDED


async def test_the_run_page_shows_matrix_attempts_logs_and_audit(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """A run page has every cell's status in words, the attempts, logs, audit."""
    run_id = await started(runtime, HALTING_PLAN)
    browser = await browser_factory("vera", Role.VIEWER)
    page = (await browser.get(f"/w/default/runs/{run_id}")).text

    assert page.count('class="cell s-succeeded"') == 3
    assert 'class="cell s-failed"' in page
    assert "hello a" in page
    assert "g / b / check" in page
    assert "<td>start</td>" in page
    assert f'sse-connect="/w/default/runs/{run_id}/events?after=' in page


async def test_the_runs_list_filters_by_status(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """Only the runs of the chosen statuses are listed."""
    halted = await started(runtime, HALTING_PLAN)
    failed = await started(runtime, FAILING_PLAN)
    browser = await browser_factory("vera", Role.VIEWER)
    page = (await browser.get("/w/default/runs?status=failed")).text
    partial = await browser.get(
        "/w/default/runs?plan=halting", headers={"HX-Request": "true"}
    )

    assert failed in page
    assert halted not in page
    assert halted in partial.text
    assert "<html" not in partial.text


async def test_the_operations_page_lists_commands(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """A run started from the console is an operation on the operations page."""
    await runtime.commands.apply_plan(PARAMS_PLAN, caller=Caller())
    browser = await browser_factory("otto", Role.OPERATOR)
    await browser.post("/w/default/plans/typed/runs", {"param.count": "1"})
    await settle(runtime)
    page = (await browser.get("/w/default/operations")).text

    assert "<td>start</td>" in page
    assert "1 of 1 steps succeeded" in page


# -- live updates -----------------------------------------------------------------


async def test_the_event_stream_of_a_finished_run_sends_its_parts_then_ends(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """The stream sends the run's HTML fragments and log lines, then ``end``."""
    run_id = await started(runtime, FAILING_PLAN)
    browser = await browser_factory("vera", Role.VIEWER)
    answer = await browser.get(f"/w/default/runs/{run_id}/events")
    events = re.findall(r"^event: (\w+)$", answer.text, flags=re.MULTILINE)

    assert answer.headers["content-type"].startswith("text/event-stream")
    assert answer.text.startswith("retry: ")
    assert events[:5] == ["summary", "matrix", "attempts", "banner", "audit"]
    assert events[-1] == "end"
    assert re.search(r'^data: +<td class="cell s-failed"', answer.text, re.MULTILINE)


async def test_the_event_stream_goes_on_after_the_last_log_line_seen(
    browser_factory: BrowserFactory, runtime: Runtime
) -> None:
    """Log lines up to ``after`` (or Last-Event-ID) are not sent again."""
    run_id = await started(runtime, HALTING_PLAN)
    await runtime.commands.cancel_run(run_id, caller=Caller())
    await settle(runtime)
    browser = await browser_factory("vera", Role.VIEWER)
    everything = await browser.get(f"/w/default/runs/{run_id}/events")
    last = re.findall(r"^id: (\d+)$", everything.text, flags=re.MULTILINE)[-1]
    rest = await browser.get(
        f"/w/default/runs/{run_id}/events", headers={"Last-Event-ID": last}
    )

    assert "event: log" in everything.text
    assert "hello a" in everything.text
    assert "event: log" not in rest.text
    assert "event: end" in rest.text


async def test_a_signed_out_event_stream_is_told_to_stop(
    anonymous: httpx.AsyncClient, runtime: Runtime
) -> None:
    """Without a session, an EventSource gets 204, which stops its reconnecting."""
    run_id = await started(runtime, FAILING_PLAN)
    answer = await anonymous.get(
        f"/w/default/runs/{run_id}/events", headers={"Accept": "text/event-stream"}
    )

    assert answer.status_code == 204


# -- the HTTP side -----------------------------------------------------------------


async def test_console_pages_carry_a_content_security_policy(
    browser_factory: BrowserFactory,
) -> None:
    """Pages forbid inline scripts and framing, and are not cached."""
    browser = await browser_factory("vera", Role.VIEWER)
    answer = await browser.get("/w/default/runs")

    assert "script-src 'self'" in answer.headers["content-security-policy"]
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["cache-control"] == "no-store"


async def test_the_console_is_not_in_the_openapi_document(app: FastAPI) -> None:
    """The console's routes stay out of the REST API's OpenAPI document."""
    paths = app.openapi()["paths"]

    assert not [p for p in paths if p == "/" or p.startswith(("/w/", "/login"))]


async def test_the_static_files_are_served(anonymous: httpx.AsyncClient) -> None:
    """htmx, its SSE extension and the stylesheet are served without signing in."""
    answers = [
        await anonymous.get(f"/static/{name}")
        for name in (
            "vendor/htmx.min.js",
            "vendor/htmx-ext-sse.min.js",
            "console.css",
            "console.js",
        )
    ]

    assert [a.status_code for a in answers] == [200, 200, 200, 200]
    assert answers[0].text.startswith("/* htmx.org 2.0.11")


async def test_a_user_signs_in_with_the_login_helper(
    runtime: Runtime, anonymous: httpx.AsyncClient
) -> None:
    """The login form leads to a page carrying the session's CSRF token."""
    await runtime.auth.create_admin("ada", PASSWORD)
    token = await log_in(anonymous, "ada", PASSWORD)

    assert len(token) == 64
