"""EventBridge schedules (rules with a ScheduleExpression and Lambda targets): the scheduled
event, fired on demand (``fire``, for tests) or on a clock (``start_clock``, for the demo and
``make apply``; rate() expressions only), each an asynchronous invocation as EventBridge makes."""

from __future__ import annotations

import json
import logging
import re
import time
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from local.runner.async_invocations import AsyncInvocations
from local.runner.pool import FunctionPool
from local.runner.threads import Threads

log = logging.getLogger("local-runner")


@dataclass
class Schedule:
    rule: str
    rule_arn: str
    expression: str
    function: str
    input: str | None = None


def rate_seconds(expression: str) -> float | None:
    """Seconds between runs of a ``rate(...)`` expression; None for cron() expressions."""
    match = re.fullmatch(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)", expression.strip())
    if not match:
        return None
    unit = {"minute": 60, "hour": 3600, "day": 86400}[match.group(2).rstrip("s")]
    return int(match.group(1)) * unit


def scheduled_event(schedule: Schedule, region: str) -> dict:
    """The event EventBridge sends for a scheduled rule (or the target's fixed Input)."""
    if schedule.input:
        return json.loads(schedule.input)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": schedule.rule_arn.split(":")[4],
        "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "region": region,
        "resources": [schedule.rule_arn],
        "detail": {},
    }


class Scheduler:
    """Fires schedules at the functions the runner runs (``pools``, read at each firing)."""

    def __init__(
        self, region: str, pools: Mapping[str, FunctionPool], invocations: AsyncInvocations, threads: Threads
    ) -> None:
        self.region, self.pools, self.invocations, self.threads = region, pools, invocations, threads

    def fire(self, schedules: list[Schedule], rule: str, sync: bool = False) -> list[Any]:
        """Fire a schedule now: asynchronously like EventBridge (returns the events queued), or
        synchronously (tests; returns each target's InvocationResult)."""
        targets = [s for s in schedules if s.rule == rule and s.function in self.pools]
        if not targets:
            raise KeyError(f"no schedule {rule!r} with a Lambda target")
        results: list[Any] = []
        for schedule in targets:
            event = scheduled_event(schedule, self.region)
            if sync:
                results.append(self.pools[schedule.function].invoke(event))
            else:
                self.invocations.put(schedule.function, event)
                results.append(event)
        return results

    def start_clock(self, schedules: list[Schedule]) -> None:
        """Fire every rate() schedule at its rate, first one period after start (as EventBridge)."""
        for schedule in schedules:
            period = rate_seconds(schedule.expression)
            if period is None:
                log.warning("clock skips %s: only rate() expressions run on the clock", schedule.rule)
                continue
            self.threads.spawn(self._tick, schedule, period, name=f"clock-{schedule.rule}")

    def _tick(self, schedule: Schedule, period: float) -> None:
        while not self.threads.stopping.wait(period):
            if schedule.function in self.pools:
                self.invocations.put(schedule.function, scheduled_event(schedule, self.region))
