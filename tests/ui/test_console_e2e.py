"""
The console end to end: a real `onward serve`, driven by headless Chromium (Playwright).

Chromium is Debian's (``/usr/bin/chromium``, which ``.ci/run`` installs when
missing); Playwright never downloads a browser here. Without Chromium or the
``playwright`` package the tests are skipped, and fail when ``CI=true``.
Screenshots for the README go to ``docs/screenshots/`` when
``ONWARD_UPDATE_SCREENSHOTS=1`` is set; otherwise to a temporary folder, so
that a test run leaves the checkout as it was.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import httpx
import pytest

from processes import free_port

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = pytest.mark.slow

ROOT: Final = Path(__file__).resolve().parents[2]
DEMO_PLAN: Final = ROOT / "src" / "onward" / "demo" / "web-tier-dr.yaml"
SCREENSHOTS: Final = ROOT / "docs" / "screenshots"
CHROMIUM: Final = Path("/usr/bin/chromium")
CHROMIUM_ARGS: Final = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ADMIN: Final = ("admin", "admin-password-1")
VIEWER: Final = ("vera", "viewer-password-1")
#: bounds of every wait, in seconds
STARTUP_TIMEOUT: Final = 30
HALT_TIMEOUT_MS: Final = 60_000
FINISH_TIMEOUT_MS: Final = 90_000
UI_TIMEOUT_MS: Final = 15_000


def _require_browser() -> None:
    """Skip (fail under CI) unless Playwright and Debian's Chromium are here."""
    missing = []
    if importlib.util.find_spec("playwright") is None:
        missing.append(
            "the playwright package is not installed (pip install playwright)"
        )
    if not CHROMIUM.exists():
        missing.append(f"{CHROMIUM} is missing (apt-get install chromium)")
    if not missing:
        return
    reason = "; ".join(missing)
    if os.environ.get("CI", "").lower() == "true":
        pytest.fail(f"the console end-to-end tests need a browser: {reason}")
    pytest.skip(reason)


@dataclass
class Server:
    """A running `onward serve` and how to reach it."""

    url: str
    db_url: str
    env: dict[str, str]
    process: subprocess.Popen[bytes]
    log: Path

    def onward(self, *args: str, stdin: str = "") -> str:
        """Run the CLI on the server's database; return its output."""
        done = subprocess.run(
            [sys.executable, "-m", "onward", "--db", self.db_url, *args],
            env=self.env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stdout + done.stderr
        return done.stdout


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + STARTUP_TIMEOUT
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            pytest.fail(f"the server exited early:\n{server.log.read_text()}")
        try:
            if httpx.get(f"{server.url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.2)
    pytest.fail(f"the server did not become healthy:\n{server.log.read_text()}")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """Start `onward serve` with a first admin from the environment, and a viewer."""
    _require_browser()
    home = tmp_path_factory.mktemp("console-e2e")
    env = {k: v for k, v in os.environ.items() if not k.startswith("ONWARD_")}
    env.update(
        ONWARD_ADMIN_USERNAME=ADMIN[0],
        ONWARD_ADMIN_PASSWORD=ADMIN[1],
        ONWARD_HEARTBEAT_INTERVAL="0.2",
        ONWARD_POLL_INTERVAL="0.2",
        TMPDIR=str(home),
    )
    port = free_port()
    db_url = f"sqlite:///{home / 'onward.db'}"
    log = home / "serve.log"
    command = [sys.executable, "-m", "onward", "--db", db_url, "serve"]
    with log.open("wb") as out:
        process = subprocess.Popen(
            [*command, "--port", str(port)], stdout=out, stderr=out, env=env
        )
    running = Server(f"http://127.0.0.1:{port}", db_url, env, process, log)
    try:
        _wait_healthy(running)
        # after the first start: the admin is only made on an empty installation
        running.onward(
            "admin", "user", "create", VIEWER[0], "--password-stdin", stdin=VIEWER[1]
        )
        running.onward("admin", "grant", VIEWER[0], "default", "viewer")
        yield running
    finally:
        process.terminate()
        try:
            process.wait(timeout=STARTUP_TIMEOUT)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=STARTUP_TIMEOUT)


@pytest.fixture(scope="module")
def browser(server: Server) -> Iterator[Browser]:
    """Yield Debian's Chromium, headless, driven by Playwright."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield chromium
        finally:
            chromium.close()


def _page(browser: Browser, **viewport: int) -> Page:
    context = browser.new_context(
        viewport={
            "width": viewport.get("width", 1280),
            "height": viewport.get("height", 900),
        },
        reduced_motion="reduce",
    )
    page = context.new_page()
    page.set_default_timeout(UI_TIMEOUT_MS)
    return page


def _log_in(page: Page, server: Server, username: str, password: str) -> None:
    page.goto(f"{server.url}/")
    page.get_by_label("Username").fill(username)
    page.get_by_label("Password").fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_role("heading", name="Runs").wait_for()


def _shoot(page: Page, name: str, **options: Any) -> None:
    folder = _screenshot_folder()
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), **options)


def _screenshot_folder() -> Path:
    """Return docs/screenshots when asked to update them, else a temporary folder."""
    if os.environ.get("ONWARD_UPDATE_SCREENSHOTS") == "1":
        return SCREENSHOTS
    return Path(tempfile.gettempdir()) / "onward-screenshots"


def _fits_the_width(page: Page) -> bool:
    """Tell whether the page needs no sideways scrolling (tables scroll alone)."""
    return bool(
        page.evaluate("document.documentElement.scrollWidth <= window.innerWidth")
    )


def test_an_operator_starts_the_demo_plan_and_retries_the_failed_step_live(
    server: Server, browser: Browser
) -> None:
    """Log in, upload and start the demo, see it halt live, preview, retry, finish."""
    page = _page(browser)
    _log_in(page, server, *ADMIN)
    page.get_by_role("link", name="Plans").click()
    page.get_by_role("link", name="Upload a plan").click()
    text = page.get_by_label("Plan text (YAML or JSON)")
    text.fill(DEMO_PLAN.read_text().replace("parallel: 2", "parallel: two", 1))
    page.get_by_role("button", name="Validate").click()
    problems = page.locator("#problems")
    problems.get_by_role("heading", name="1 problem in the plan").wait_for()
    problem_text = problems.inner_text()
    _shoot(page, "plan-problems", full_page=True)
    text.fill(DEMO_PLAN.read_text())
    page.get_by_role("button", name="Validate").click()
    page.get_by_text("The plan is valid.").wait_for()
    page.get_by_role("button", name="Save plan").click()
    page.get_by_role("heading", name="web-tier-dr").wait_for()
    page.get_by_label("ticket").fill("CHG-4242")
    _shoot(page, "plan", full_page=True)
    page.get_by_role("button", name="Start run").click()
    page.get_by_role("heading", name="Run run_").wait_for()
    page.evaluate("window.onwardNotReloaded = true")

    banner = page.locator("#banner")
    banner.get_by_text("Run halted").wait_for(timeout=HALT_TIMEOUT_MS)
    halted_live = page.evaluate("window.onwardNotReloaded === true")
    halt_text = banner.inner_text()
    _shoot(page, "run-halted", full_page=True)
    phone = _page(browser, width=375, height=812)
    phone.context.add_cookies(page.context.cookies())
    phone.goto(page.url)
    phone.locator("#banner").get_by_text("Run halted").wait_for()
    _shoot(phone, "run-phone")
    phone_fits = _fits_the_width(phone)
    phone.context.close()
    page.get_by_label("Retry failed step").check()
    page.get_by_role("button", name="Preview").click()
    preview = page.locator("#preview")
    preview.get_by_role("heading", name="Preview: Retry failed step").wait_for()
    preview_text = preview.inner_text()
    focused = page.evaluate("document.activeElement.textContent")
    _shoot(page, "preview", full_page=True)
    page.get_by_role("button", name="Confirm: Retry failed step").click()
    banner.get_by_text("Run succeeded").wait_for(timeout=FINISH_TIMEOUT_MS)
    summary = page.locator("#summary").inner_text()
    matrix = page.locator("#matrix").inner_text()
    log = page.locator("#log").inner_text()
    _shoot(page, "run-succeeded", full_page=True)
    page.context.close()

    assert "Line 26" in problem_text
    assert "groups[0].parallel" in problem_text
    assert halted_live
    assert "databases / db2 / check replication" in halt_text
    assert "replica lag too high" in halt_text
    assert "Will start (2)" in preview_text  # db1 goes on too: the halt held it
    assert "databases / db1 / promote" in preview_text
    assert focused == "Preview: Retry failed step"  # keyboard users land on it
    assert "databases / db2 / check replication" in preview_text
    assert "succeeded" in summary
    assert "1 warning" in summary
    assert "failed" in matrix  # the non-critical warm cache step on web2
    assert "replication caught up" in log
    assert phone_fits


def test_a_viewer_watches_a_run_but_is_offered_no_action(
    server: Server, browser: Browser
) -> None:
    """A viewer sees a halted run's banner, matrix and log, and no button to act."""
    server.onward("plan", "apply", "-f", str(DEMO_PLAN))
    server.onward("run", "start", "web-tier-dr")
    page = _page(browser)
    _log_in(page, server, *VIEWER)
    page.locator("table.list a").first.click()
    page.locator("#banner").get_by_text("Run halted").wait_for(timeout=HALT_TIMEOUT_MS)
    _shoot(page, "viewer", full_page=True)
    buttons = page.get_by_role("button").all_inner_texts()
    page.get_by_role("link", name="Plans").click()
    plans_buttons = page.get_by_role("link", name="Upload a plan").count()
    page.get_by_role("link", name="web-tier-dr").click()
    plan_buttons = page.get_by_role("button").all_inner_texts()
    start_headings = page.get_by_text("Start a run").count()
    page.context.close()

    assert buttons == ["Switch", "Sign out"]
    assert start_headings == 1
    assert plans_buttons == 0
    assert plan_buttons == ["Switch", "Sign out"]
