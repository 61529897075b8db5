"""Discovery: what ``terraform apply`` deployed, read from the emulator's APIs, so nothing is
listed twice: functions (handler, timeout, memory, environment, reserved concurrency, role, log
group), SQS event source mappings (batch size, batching window, maximum concurrency,
ReportBatchItemFailures) and EventBridge schedules with Lambda targets."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from local.runner.pool import FunctionSpec
from local.runner.schedules import Schedule
from local.runner.sqs_pollers import SqsMapping

ACTIVE_MAPPING_STATES = ("Enabled", "Creating", "Updating")


@dataclass
class Deployed:
    functions: dict[str, FunctionSpec] = field(default_factory=dict)
    mappings: list[SqsMapping] = field(default_factory=list)
    schedules: list[Schedule] = field(default_factory=list)


def discover(client: Callable[[str], Any], default_concurrency: int) -> Deployed:
    """The deployed functions, their SQS mappings and schedules. A function throttled to zero is
    left out (AWS never runs it); one without reserved concurrency runs at most
    ``default_concurrency`` at once (or its mapping's maximum concurrency, if lower)."""
    lam = client("lambda")
    mappings = sqs_mappings(lam, client("sqs"))
    esm_concurrency = {m.function: m.maximum_concurrency for m in mappings if m.maximum_concurrency}
    found = Deployed(mappings=mappings, schedules=schedules(client("events")))
    for page in lam.get_paginator("list_functions").paginate():
        for cfg in page["Functions"]:
            name = cfg["FunctionName"]
            reserved = lam.get_function_concurrency(FunctionName=name).get("ReservedConcurrentExecutions")
            if reserved == 0:
                continue  # throttled to zero: AWS never runs it
            concurrency = reserved or esm_concurrency.get(name) or default_concurrency
            found.functions[name] = FunctionSpec(
                name=name,
                arn=cfg["FunctionArn"],
                handler=cfg["Handler"],
                timeout=cfg.get("Timeout", 3),
                memory=cfg.get("MemorySize", 128),
                environment=(cfg.get("Environment") or {}).get("Variables", {}),
                concurrency=min(concurrency, default_concurrency) if not reserved else reserved,
                reserved=reserved,
                log_group=(cfg.get("LoggingConfig") or {}).get("LogGroup") or f"/aws/lambda/{name}",
                role=cfg.get("Role"),
            )
    return found


def sqs_mappings(lam: Any, sqs: Any) -> list[SqsMapping]:
    """The active event source mappings whose source is an SQS queue."""
    mappings: list[SqsMapping] = []
    for page in lam.get_paginator("list_event_source_mappings").paginate():
        for m in page["EventSourceMappings"]:
            arn = m["EventSourceArn"]
            if not arn.startswith("arn:aws:sqs:") or m.get("State", "Enabled") not in ACTIVE_MAPPING_STATES:
                continue
            _, _, _, _, account, queue_name = arn.split(":")
            mappings.append(
                SqsMapping(
                    uuid=m["UUID"],
                    function=m["FunctionArn"].split(":")[6],
                    queue_url=sqs.get_queue_url(QueueName=queue_name, QueueOwnerAWSAccountId=account)["QueueUrl"],
                    queue_arn=arn,
                    batch_size=m.get("BatchSize", 10),
                    batching_window=m.get("MaximumBatchingWindowInSeconds", 0),
                    report_failures="ReportBatchItemFailures" in (m.get("FunctionResponseTypes") or []),
                    maximum_concurrency=(m.get("ScalingConfig") or {}).get("MaximumConcurrency"),
                )
            )
    return mappings


def schedules(events: Any) -> list[Schedule]:
    """Each Lambda target of each enabled rule with a ScheduleExpression."""
    found: list[Schedule] = []
    for page in events.get_paginator("list_rules").paginate():
        for rule in page["Rules"]:
            if not rule.get("ScheduleExpression") or rule.get("State") != "ENABLED":
                continue
            for target in events.list_targets_by_rule(Rule=rule["Name"])["Targets"]:
                if target["Arn"].startswith("arn:aws:lambda:"):
                    found.append(
                        Schedule(
                            rule=rule["Name"],
                            rule_arn=rule["Arn"],
                            expression=rule["ScheduleExpression"],
                            function=target["Arn"].split(":")[6],
                            input=target.get("Input"),
                        )
                    )
    return found
