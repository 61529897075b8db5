"""Cron fan-out counter: on each scheduled tick, start one worker per 10 queued messages.

Reads the work queue's depth and publishes ceil(depth / 10) SNS messages (capped by
MAX_WORKERS) with PublishBatch; each message triggers one fan-out worker.
"""

from __future__ import annotations

import math
import os
import uuid

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.parser import event_parser
from aws_lambda_powertools.utilities.typing import LambdaContext
from config import Config

from shared import sqs
from shared.clients import client
from shared.messages import FanoutTick, ScheduledEvent

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=["botocore"])  # every AWS call goes through botocore (shared/clients.py)

CONFIG = Config.from_environ(os.environ)
MESSAGES_PER_WORKER = 10  # ReceiveMessage returns at most 10


class PublishFailed(RuntimeError):
    """SNS refused some ticks after retries; the whole run fails so the next tick recounts."""


def queue_depth(queue_url: str) -> int:
    attrs = client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"])


def workers_needed(depth: int, cap: int, per_worker: int = MESSAGES_PER_WORKER) -> int:
    return min(math.ceil(max(depth, 0) / per_worker), cap)


def publish_ticks(topic_arn: str, tick_id: str, count: int) -> int:
    """Publish ``count`` FanoutTicks, 10 per PublishBatch; refused entries are retried (shared/sqs.py)."""
    sns = client("sns")
    ticks = [FanoutTick(tick_id=tick_id, index=i, of=count) for i in range(count)]
    failed = sqs.send_in_batches(
        lambda entries: sns.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries),
        [{"Id": str(t.index), "Message": t.model_dump_json()} for t in ticks],
    )
    if failed:
        raise PublishFailed(str(sqs.BatchSendFailed(f"PublishBatch to {topic_arn}", failed)))
    return count


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
@event_parser(model=ScheduledEvent)
def lambda_handler(event: ScheduledEvent, context: LambdaContext) -> dict:
    tick_id = event.id or str(uuid.uuid4())
    depth = queue_depth(CONFIG.work_queue_url)
    workers = workers_needed(depth, CONFIG.max_workers)
    if workers:
        publish_ticks(CONFIG.fanout_topic_arn, tick_id, workers)
    logger.info("fan-out tick", extra={"tick_id": tick_id, "depth": depth, "workers": workers})
    metrics.add_metric(name="QueueDepth", unit=MetricUnit.Count, value=depth)
    metrics.add_metric(name="WorkersStarted", unit=MetricUnit.Count, value=workers)
    return {"tick_id": tick_id, "depth": depth, "workers": workers}
