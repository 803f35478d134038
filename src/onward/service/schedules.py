"""
Cron schedules of timer triggers: checking them and listing their fire times.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from onward import errors
from onward.domain.plans import Plan, TriggerKind

#: fire times listed at most per check (a schedule far behind keeps its latest)
MAX_FIRES = 100_000


def schedule_problems(plan: Plan) -> list[errors.Problem]:
    """Return the problems of the plan's timer schedules and time zones."""
    problems = []
    for index, trigger in enumerate(plan.triggers):
        if trigger.kind is not TriggerKind.TIMER:
            continue
        path = f"triggers[{index}]"
        try:
            zone = ZoneInfo(trigger.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            problems.append(
                errors.Problem(
                    f"{path}.timezone", f"unknown time zone {trigger.timezone!r}"
                )
            )
            continue
        try:
            CronSim(trigger.cron, datetime(2026, 1, 1, tzinfo=zone))
        except CronSimError as exc:
            problems.append(
                errors.Problem(f"{path}.cron", f"invalid cron expression: {exc}")
            )
    return problems


def fire_times(
    cron: str, timezone: str, *, after: datetime, until: datetime
) -> Iterator[datetime]:
    """Yield the schedule's times in ``(after, until]``, in order, as UTC."""
    zone = ZoneInfo(timezone)
    for count, local in enumerate(CronSim(cron, after.astimezone(zone))):
        if local > until or count >= MAX_FIRES:
            return
        yield local.astimezone(until.tzinfo)
