"""The code base passes its own static checks: ruff, mypy --strict and import-linter."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def run_tool(*command: str) -> subprocess.CompletedProcess[str]:
    """Run a tool from this environment at the project root and capture its output."""
    return subprocess.run(
        [str(BIN / command[0]), *command[1:]],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
        timeout=600,
    )


@pytest.mark.parametrize(
    "command",
    [
        ("ruff", "check", "src", "tests", "bench"),
        ("ruff", "format", "--check", "src", "tests", "bench"),
        ("mypy",),
        ("lint-imports",),
    ],
    ids=["ruff", "ruff-format", "mypy", "import-linter"],
)
def test_static_check_passes(command: tuple[str, ...]) -> None:
    """Each static check exits 0 on the whole code base."""
    result = run_tool(*command)

    assert result.returncode == 0, result.stdout + result.stderr


#: words of the vendors whose APIs Onward speaks (STYLE §3.5: only in a dialect)
VENDOR_WORDS = re.compile(
    r"veeam|\bvao\b|enterprise.manager|restsvc|jp1|hitachi|\bhsso\b|secmaster"
    r"|huawei|sdk-hmac|\bplaybook.instance",
    re.IGNORECASE,
)
#: where vendor words belong: the dialects, and the app that includes their routers
VENDOR_PLACES = ("api/dialects/", "api/app.py")


def test_vendor_words_live_only_in_their_dialects() -> None:
    """No module outside ``api/dialects/<name>/`` names a vendor or its words."""
    source = ROOT / "src" / "onward"
    found = [
        f"{path.relative_to(source)}:{number}: {line.strip()}"
        for path in sorted(source.rglob("*"))
        if path.is_file()
        and path.suffix in {".py", ".html", ".js", ".css", ".toml", ".yaml"}
        and not str(path.relative_to(source)).startswith(VENDOR_PLACES)
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if VENDOR_WORDS.search(line)
    ]

    assert found == []
