"""
The packaged demo plan that ``onward serve --demo`` applies and starts.
"""

from __future__ import annotations

from importlib import resources
from typing import Final

__all__ = ["PLAN_FILE", "PLAN_NAME", "plan_text"]

#: the demo plan's file name, inside this package
PLAN_FILE: Final = "web-tier-dr.yaml"
#: the name the demo plan is stored under
PLAN_NAME: Final = "web-tier-dr"


def plan_text() -> str:
    """Return the demo plan's YAML text."""
    return resources.files(__name__).joinpath(PLAN_FILE).read_text(encoding="utf-8")
