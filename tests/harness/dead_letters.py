"""Dead-letter scenarios that start when the stack does.

A poison message reaches its DLQ only after maxReceiveCount receives, each one visibility
timeout (6 x the consumer's timeout) after the last: minutes, whatever the machine. Sent at
stack start, every scenario waits out its timeouts at the same time as the others and while
the rest of the suite runs; each test then asserts its outcome. A test run on its own
(``-k``) starts its scenario itself.
"""

from __future__ import annotations

import json
import threading
import uuid
from dataclasses import dataclass, field
from typing import Any


@dataclass
class StickyPoison:
    user: str
    valid: list[str]
    poison: str
    pool: dict[str, Any]  # the pool queue's outputs (url, dlq_url, ...)


@dataclass
class FanoutPoison:
    body: str
    tick_ids: list[str] = field(default_factory=list)  # every tick the ticker fired
    errors: list[str] = field(default_factory=list)  # ticks that failed (retried at the next)
    ticker: threading.Thread | None = None
    stop: threading.Event = field(default_factory=threading.Event)


def sticky(stack: Any) -> StickyPoison:
    """Three valid messages and one poison in one batch on pool queue 00 of ``stack``'s type."""
    key = f"sticky-{stack.queue_type}"
    if key in stack.scenarios:
        return stack.scenarios[key]
    pool = stack.outputs["sticky_queue"]["pool_queues"]["00"]
    user = f"dlq-{uuid.uuid4().hex[:6]}"
    fifo = stack.queue_type == "fifo"

    def entry(i: int, body: str, group: str) -> dict:
        e = {"Id": str(i), "MessageBody": body}
        if fifo:
            e.update(MessageGroupId=group, MessageDeduplicationId=uuid.uuid4().hex)
        return e

    valid = [json.dumps({"user_id": user, "seq": n, "message_id": f"{user}-{n}", "body": {"n": n}}) for n in (1, 2, 3)]
    poison = json.dumps({"user_id": user, "seq": "not-a-number", "body": None})
    stack.client("sqs").send_message_batch(
        QueueUrl=pool["url"],
        Entries=[
            entry(0, valid[0], user),
            entry(1, poison, "poison"),
            entry(2, valid[1], user),
            entry(3, valid[2], user),
        ],
    )
    scenario = stack.scenarios[key] = StickyPoison(user, valid, poison, pool)
    return scenario


def workflow(stack: Any) -> str:
    """An invalid connector message for the enrich service; returns its (invalid) request id."""
    if "workflow" in stack.scenarios:
        return stack.scenarios["workflow"]
    request_id = f"not-a-uuid-{uuid.uuid4().hex[:6]}"
    stack.client("sns").publish(
        TopicArn=stack.outputs["sns_workflow"]["connector_topic_arn"],
        Message=json.dumps({"request_id": request_id}),
        MessageAttributes={"service": {"DataType": "String", "StringValue": "enrich"}},
    )
    stack.scenarios["workflow"] = request_id
    return request_id


def fanout_ticks(stack: Any, body: str, every: float = 30.0) -> FanoutPoison:
    """Keep firing the fan-out schedule (as its rate would) until ``body`` is dead-lettered.

    The malformed message itself is sent by the fan-out test (its first tick must count it);
    from then on later ticks receive it again (and anything the first tick left). A tick
    every 30 s is enough: the poison is visible again only once per visibility timeout
    (6 x the worker timeout = 60 s locally). Faster ticks over-provision: each counts the
    messages the previous tick's workers have not received yet and starts workers for them
    again (5 s ticks queued ~2,000 idle workers for 1,000 messages, which then loaded the
    emulator for minutes). For the same reason a tick is skipped while workers started by an
    earlier one are still queued in the runner (the test's own tick starts 101). The ticker
    stops by itself when the work queue's DLQ holds a message (the poison is the only
    message the suite dead-letters there).
    """
    if "fanout" in stack.scenarios:
        return stack.scenarios["fanout"]
    out = stack.outputs["cron_fanout"]
    scenario = FanoutPoison(body)

    def dead_lettered() -> bool:
        attrs = stack.client("sqs").get_queue_attributes(
            QueueUrl=out["work_queue"]["dlq_url"],
            AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
        )["Attributes"]
        return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"]) > 0

    def tick() -> None:
        while not scenario.stop.is_set():
            try:  # a failed tick is tried again at the next, as the schedule fires again
                if dead_lettered():
                    return
                if stack.runner.pending(out["worker_function_name"]) == 0:
                    scenario.tick_ids += [event["id"] for event in stack.runner.fire(out["schedule_rule_name"])]
            except Exception as exc:  # noqa: BLE001 - recorded; the dead-letter test reports it
                scenario.errors.append(f"{type(exc).__name__}: {exc}")
            scenario.stop.wait(every)

    scenario.ticker = threading.Thread(target=tick, name="fanout-ticker", daemon=True)
    scenario.ticker.start()
    stack.scenarios["fanout"] = scenario
    return scenario


def start(stack: Any) -> None:
    """Send every scenario's poison now (each sticky queue type the deployment has)."""
    for queue_type in ("standard", *stack.variants):
        sticky(stack.view(queue_type))
    workflow(stack)
