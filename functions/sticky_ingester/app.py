"""Sticky-queue ingester: route each user's messages to the one pool queue assigned to it.

Input: ``{"messages": [{"user_id", "body", "message_id"?}, ...]}`` or one such message.
Invalid input raises InvalidIngestRequest (nothing is sent). See shared/assignments.py for
why an assignment cannot change while a user still has messages in flight.
"""

from __future__ import annotations

import json
import os
import time
from collections import defaultdict
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from pydantic import ValidationError

from shared import assignments
from shared.clients import client
from shared.messages import IngestMessage, IngestRequest, IngestResult, StickyMessage

logger = Logger()
metrics = Metrics()
tracer = Tracer()

ASSIGNMENT_TABLE = os.environ.get("ASSIGNMENT_TABLE", "")
URL_STORE_QUEUE_URL = os.environ.get("URL_STORE_QUEUE_URL", "")
POOL_QUEUE_URLS = [u for u in os.environ.get("POOL_QUEUE_URLS", "").split(",") if u]


class InvalidIngestRequest(ValueError):
    """The request does not match IngestRequest; the message lists every problem."""


class PoolUnavailable(RuntimeError):
    """No queue URL could be taken from the URL store."""


def parse(event: Any) -> IngestRequest:
    payload = event if isinstance(event, dict) and "messages" in event else {"messages": [event]}
    try:
        return IngestRequest.model_validate(payload)
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise InvalidIngestRequest(f"invalid ingest request: {problems}") from None


def take_queue_url(store_url: str, pool: list[str], attempts: int = 10) -> str:
    """Take the next pool queue URL from the URL store and put it back at the end.

    The store is seeded lazily with the pool when it is completely empty. A URL not in the
    current pool (stale) is dropped. The copy is sent back before the original is deleted,
    so the store is never seen empty once seeded.
    """
    sqs = client("sqs")
    for _ in range(attempts):
        got = sqs.receive_message(QueueUrl=store_url, MaxNumberOfMessages=1, WaitTimeSeconds=1)
        messages = got.get("Messages", [])
        if not messages:
            attrs = sqs.get_queue_attributes(
                QueueUrl=store_url,
                AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
            )["Attributes"]
            if int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"]) == 0:
                seed_store(store_url, pool)
            continue
        message = messages[0]
        url = message["Body"]
        if url in pool:
            sqs.send_message(QueueUrl=store_url, MessageBody=url)
        else:
            logger.warning("dropping stale queue URL from the store", extra={"queue_url": url})
        sqs.delete_message(QueueUrl=store_url, ReceiptHandle=message["ReceiptHandle"])
        if url in pool:
            return url
    raise PoolUnavailable(f"no queue URL available from {store_url}")


def seed_store(store_url: str, pool: list[str]) -> None:
    logger.info("seeding the URL store", extra={"pool_size": len(pool)})
    for start in range(0, len(pool), 10):
        chunk = pool[start : start + 10]
        client("sqs").send_message_batch(
            QueueUrl=store_url, Entries=[{"Id": str(i), "MessageBody": url} for i, url in enumerate(chunk)]
        )


def assign(user_id: str, count: int) -> assignments.Assignment:
    """Reuse the user's queue, or take one from the store; a race loser adopts the winner's."""
    while True:
        found = assignments.reserve(ASSIGNMENT_TABLE, user_id, count)
        if found is not None:
            return found
        created = assignments.create(
            ASSIGNMENT_TABLE, user_id, take_queue_url(URL_STORE_QUEUE_URL, POOL_QUEUE_URLS), count
        )
        if created is not None:
            return created


def send(queue_url: str, messages: list[StickyMessage]) -> None:
    """Send in order, 10 per call; entries SQS rejects are retried, then raise."""
    fifo = queue_url.endswith(".fifo")
    sqs = client("sqs")
    for start in range(0, len(messages), 10):
        pending = {str(i): m for i, m in enumerate(messages[start : start + 10])}
        for attempt in range(5):
            entries = []
            for entry_id, m in pending.items():
                entry: dict[str, Any] = {"Id": entry_id, "MessageBody": m.model_dump_json()}
                if fifo:
                    entry["MessageGroupId"] = m.user_id
                    entry["MessageDeduplicationId"] = f"{m.user_id}:{m.seq}"
                entries.append(entry)
            out = sqs.send_message_batch(QueueUrl=queue_url, Entries=entries)
            pending = {f["Id"]: pending[f["Id"]] for f in out.get("Failed", [])}
            if not pending:
                break
            time.sleep(0.1 * 2**attempt)
        if pending:
            raise RuntimeError(f"SQS refused {len(pending)} message(s) for {queue_url}")


def ingest(request: IngestRequest, correlation_id: str | None = None) -> IngestResult:
    by_user: dict[str, list[IngestMessage]] = defaultdict(list)
    for message in request.messages:
        by_user[message.user_id].append(message)
    queues: dict[str, str] = {}
    for user_id, user_messages in by_user.items():
        assignment = assign(user_id, len(user_messages))
        send(
            assignment.queue_url,
            [
                StickyMessage(
                    user_id=user_id,
                    seq=assignment.first_seq + i,
                    message_id=m.message_id,
                    body=m.body,
                    correlation_id=correlation_id,
                )
                for i, m in enumerate(user_messages)
            ],
        )
        queues[user_id] = assignment.queue_url
        metrics.add_metric(name="NewAssignments", unit=MetricUnit.Count, value=int(assignment.created))
    metrics.add_metric(name="MessagesIngested", unit=MetricUnit.Count, value=len(request.messages))
    return IngestResult(accepted=len(request.messages), queues=queues)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    logger.set_correlation_id(context.aws_request_id)
    request = parse(event)
    result = ingest(request, correlation_id=context.aws_request_id)
    logger.info("ingested", extra={"accepted": result.accepted, "users": len(result.queues)})
    return json.loads(result.model_dump_json())
