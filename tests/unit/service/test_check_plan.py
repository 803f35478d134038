"""Plan checks report the document's problems and the action inputs' together."""

from __future__ import annotations

import pytest

from onward import errors
from onward.actions.catalog import ActionCatalog
from onward.clock import FrozenClock
from onward.service.commands import Commands
from onward.service.engine import Engine
from onward.storage.memory import MemoryStore

PLAN = """
name: broken
groups:
  - name: g
    parallel: 0
    targets: [t]
    steps:
      - {name: a, action: teleport}
      - {name: b, action: shell, with: {comand: "true"}}
"""


def test_structure_and_action_problems_are_reported_at_once() -> None:
    """A plan with a structural problem still gets its actions checked."""
    commands = Commands(
        engine=Engine(store=MemoryStore(), clock=FrozenClock()), checker=ActionCatalog()
    )

    with pytest.raises(errors.InvalidDefinitionError) as raised:
        commands.check_plan(PLAN)

    paths = [problem.path for problem in raised.value.problems]
    assert "groups[0].parallel" in paths
    assert "groups[0].steps[0].action" in paths
    assert any(path.startswith("groups[0].steps[1].with") for path in paths)
