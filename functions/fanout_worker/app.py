"""Cron fan-out worker: triggered by one SNS tick, drains up to 10 messages into DynamoDB.

Long-polls (never short-polls: a short poll samples a subset of SQS hosts and often
returns fewer messages than are queued). Each valid message is written with its SQS
message id as the key — so a redelivered message rewrites the same item, never a second
one — and only written messages are deleted. An invalid message is logged with the
reason and left on the queue; after maxReceiveCount receives SQS moves it to the DLQ.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from config import Config
from pydantic import ValidationError

from shared import sqs
from shared.messages import FanoutTick, FanoutTickEvent, WorkItem
from shared.rejections import problems

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=["botocore"])  # every AWS call goes through botocore (shared/clients.py)

CONFIG = Config.from_environ(os.environ)
WRITE_ATTEMPTS = 5


@dataclass(frozen=True)
class DrainResult:
    received: int
    written: int
    invalid: int


def item_for(message_id: str, item: WorkItem, tick_id: str) -> dict:
    return {
        "message_id": {"S": message_id},
        "key": {"S": item.key},
        "data": {"S": json.dumps(item.data, sort_keys=True)},
        "tick_id": {"S": tick_id},
        "stored_at": {"N": str(int(time.time()))},
    }


def write_items(table: str, items: dict[str, dict]) -> set[str]:
    """BatchWriteItem ``items`` (message id -> item), unprocessed ones retried (shared/sqs.py);
    returns the ids that were written."""
    return set(items) - sqs.write_items(table, items, key="message_id", attempts=WRITE_ATTEMPTS)


def drain_once(queue_url: str, table: str, tick: FanoutTick, wait_seconds: int) -> DrainResult:
    messages = sqs.receive(queue_url, wait_seconds)
    items: dict[str, dict] = {}
    invalid = 0
    for m in messages:
        try:
            items[m["MessageId"]] = item_for(m["MessageId"], WorkItem.model_validate_json(m["Body"]), tick.tick_id)
        except ValidationError as exc:
            invalid += 1
            reason = problems(exc)
            logger.error("invalid work item left for its DLQ", extra={"message_id": m["MessageId"], "reason": reason})
    written = write_items(table, items) if items else set()
    done = [m for m in messages if m["MessageId"] in written]
    for failure in sqs.delete(queue_url, done):  # written, not deleted: its redelivery rewrites the same item
        logger.warning("delete failed", extra={"failure": failure})
    return DrainResult(received=len(messages), written=len(written), invalid=invalid)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=FanoutTickEvent)
def lambda_handler(event: FanoutTickEvent, context: LambdaContext) -> dict:
    results = [
        drain_once(CONFIG.work_queue_url, CONFIG.items_table, record.Sns.Message, CONFIG.receive_wait_seconds)
        for record in event.Records
    ]
    for name, value in (
        ("MessagesReceived", sum(r.received for r in results)),
        ("ItemsWritten", sum(r.written for r in results)),
        ("InvalidMessages", sum(r.invalid for r in results)),
    ):
        metrics.add_metric(name=name, unit=MetricUnit.Count, value=value)
    return {"received": sum(r.received for r in results), "written": sum(r.written for r in results)}
