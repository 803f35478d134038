"""
Plan use cases for the APIs: apply, read, validate with lines, delete, in a workspace.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

from onward import errors
from onward.service.commands import Caller, Commands
from onward.service.plan_files import line_of
from onward.service.ports import PlanSummary, PlanVersion

#: the plan formats a text may be given in
FORMATS: Final = ("yaml", "json")


@dataclass(frozen=True, slots=True, kw_only=True)
class Applied:
    """A stored plan version, and whether applying it made that version."""

    version: PlanVersion
    created: bool


class PlanLibrary:
    """Keeps the plans of each workspace."""

    def __init__(self, *, commands: Commands) -> None:
        self._commands = commands
        self._store = commands.store

    async def list_plans(self, workspace: str) -> list[PlanSummary]:
        """Return the workspace's plans by name."""
        return await self._store.list_plans(workspace=workspace)

    async def get(
        self, workspace: str, name: str, version: int | None = None
    ) -> PlanVersion:
        """Return a version of a plan (the latest by default)."""
        return await self._store.get_plan_version(
            workspace=workspace, name=name, version=version
        )

    async def versions(self, workspace: str, name: str) -> list[PlanVersion]:
        """Return every version of a plan, oldest first."""
        return await self._store.list_plan_versions(workspace=workspace, name=name)

    def validate(
        self, text: str, *, format: str | None = None
    ) -> list[errors.LocatedProblem]:
        """Return the problems of a plan text, actions included (none: valid)."""
        _check_format(format)
        try:
            self._commands.check_plan(text, format=format)
        except errors.InvalidDefinitionError as exc:
            return _located(text, exc.problems)
        return []

    async def apply(
        self,
        caller: Caller,
        text: str,
        *,
        format: str | None = None,
        name: str | None = None,
    ) -> Applied:
        """Store a plan text in the caller's workspace as its next version.

        Args:
            caller: who applies it, in which workspace.
            text: the plan in YAML or JSON.
            format: ``yaml`` or ``json``; guessed from the text when None.
            name: the name the plan must have (when it is addressed by name).

        Raises:
            PlanInvalidError: the text is not a valid plan, or not named ``name``.
        """
        _check_format(format)
        try:
            plan, _ = self._commands.check_plan(text, format=format)
        except errors.InvalidDefinitionError as exc:
            raise errors.PlanInvalidError(_located(text, exc.problems)) from None
        if name is not None and plan.name != name:
            message = f"the plan is named {plan.name!r}, not {name!r} as addressed"
            raise errors.PlanInvalidError(
                [
                    errors.LocatedProblem(
                        path="name", message=message, line=line_of(text, "name")
                    )
                ]
            )
        before = await self._latest_number(caller.workspace, plan.name)
        stored = await self._commands.apply_plan(text, format=format, caller=caller)
        return Applied(version=stored, created=stored.version > before)

    async def delete(self, workspace: str, name: str) -> None:
        """Delete a plan and its versions; raise PlanInUseError if runs use it."""
        await self._store.delete_plan(workspace=workspace, name=name)

    async def _latest_number(self, workspace: str, name: str) -> int:
        try:
            latest = await self._store.get_plan_version(workspace=workspace, name=name)
        except errors.PlanNotFoundError:
            return 0
        return latest.version


def _located(
    text: str, problems: Sequence[errors.Problem]
) -> list[errors.LocatedProblem]:
    return [
        errors.LocatedProblem(
            path=p.path, message=p.message, line=line_of(text, p.path)
        )
        for p in problems
    ]


def _check_format(format: str | None) -> None:
    if format is not None and format not in FORMATS:
        message = f"unknown plan format {format!r}: use 'yaml' or 'json'"
        raise errors.PlanInvalidError(
            [errors.LocatedProblem(path="format", message=message, line=None)]
        )
