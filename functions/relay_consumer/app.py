"""Relay consumer: S3 object notifications on SQS, drained by a baton relay of invocations.

A schedule starts a chain; each hop processes a few batches, deletes what it processed and,
while messages remain, invokes this function asynchronously with the next hop's baton.
A DynamoDB lease (shared/lease.py) keeps it to one chain at a time: a schedule firing
mid-chain finds the lease held and returns. A hop hands the lease on to the next one only
while it still holds it, and the next hop takes its turn once (a duplicated asynchronous
delivery stops); results are keyed by object version and written with BatchWriteItem, so a
redelivered notification overwrites its result (no per-object idempotency record);
a chain stops at MAX_HOPS or when CHAIN_BUDGET_SECONDS have passed (the next schedule
continues), and if a hop dies its lease expires so a later schedule can start afresh.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext
from config import Config
from pydantic import ValidationError

from shared import lease, sqs
from shared.clients import client
from shared.messages import ProcessedObject, RelayBaton, S3EventRecord, S3Notification, S3TestEvent
from shared.rejections import problems

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=["botocore"])  # every AWS call goes through botocore (shared/clients.py)

CONFIG = Config.from_environ(os.environ)
LEASE_NAME = "relay"  # the lease's key in LEASE_TABLE: one chain at a time
WAIT_SECONDS = 1  # a long poll (short polls miss messages), the shortest: an empty receive ends the hop
SAFETY_MS = 2000  # stop receiving when less than this (plus the slowest batch so far) is left


class InvalidEvent(ValueError):
    """Neither a scheduled event nor a relay baton."""


@dataclass
class HopResult:
    chain_id: str
    hop: int
    outcome: str  # "lease-held", "lease-lost", "relayed", "done", "budget-exhausted", "max-hops"
    processed: int = 0
    ignored: int = 0
    failed: int = 0
    details: dict[str, Any] = field(default_factory=dict)


def parse(event: Any, now: float) -> RelayBaton:
    """A baton from the previous hop, or a fresh chain for a scheduled event."""
    if isinstance(event, dict) and "chain_id" in event:
        try:
            return RelayBaton.model_validate(event)
        except ValidationError as exc:
            raise InvalidEvent(f"invalid relay baton: {problems(exc)}") from None
    if isinstance(event, dict) and event.get("source") == "aws.events":
        return RelayBaton(chain_id=str(uuid.uuid4()), hop=1, started_at=now)
    raise InvalidEvent("expected a scheduled event or a relay baton")


def lease_seconds(timeout_seconds: int) -> int:
    """Long enough to cover this hop plus the asynchronous start of the next one."""
    return 2 * timeout_seconds + 30


def read_object(record: S3EventRecord, baton: RelayBaton) -> ProcessedObject:
    """The work on one object: read it and digest it (keyed by object version)."""
    bucket, key = record.s3.bucket.name, unquote_plus(record.s3.object.key)
    body = client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    etag = record.s3.object.eTag or hashlib.md5(body, usedforsecurity=False).hexdigest()
    return ProcessedObject(
        object_id=f"{bucket}/{key}@{etag}",
        bucket=bucket,
        key=key,
        size=len(body),
        sha256=hashlib.sha256(body).hexdigest(),
        chain_id=baton.chain_id,
        hop=baton.hop,
    )


def result_item(result: ProcessedObject, processed_at: int) -> dict[str, Any]:
    return {
        "object_id": {"S": result.object_id},
        "document": {"S": result.model_dump_json()},
        "chain_id": {"S": result.chain_id},
        "hop": {"N": str(result.hop)},
        "processed_at": {"N": str(processed_at)},
    }


def handle_message(body: str, baton: RelayBaton) -> list[ProcessedObject]:
    """The results of one SQS message (none for an s3:TestEvent). Raises if it must be retried."""
    parsed = json.loads(body)
    if isinstance(parsed, dict) and parsed.get("Event") == "s3:TestEvent":
        S3TestEvent.model_validate(parsed)
        return []
    records = S3Notification.model_validate(parsed).Records
    return [read_object(r, baton) for r in records if r.eventName.startswith("ObjectCreated")]


def write_results(table: str, results: list[ProcessedObject], attempts: int = 4) -> set[str]:
    """Put ``results`` with BatchWriteItem (shared/sqs.py: 25 per request, UnprocessedItems retried
    with backoff). Results are keyed by object version, so a rewrite is an overwrite: no
    idempotency record is needed. Returns the object_ids that could not be written.
    """
    items = {r.object_id: result_item(r, int(time.time())) for r in results}  # a key once per request
    return sqs.write_items(table, items, key="object_id", attempts=attempts)


def drain_batch(baton: RelayBaton) -> tuple[int, int, int, int]:
    """One receive of up to 10; writes their results in one go and deletes the messages whose results
    are all written. Returns (received, processed, ignored, failed)."""
    messages = sqs.receive(CONFIG.queue_url, WAIT_SECONDS)
    outcomes: list[tuple[dict[str, Any], list[ProcessedObject]]] = []
    failed = 0
    for m in messages:
        try:
            outcomes.append((m, handle_message(m["Body"], baton)))
        except Exception as exc:  # left on the queue: retried after visibility, then its DLQ
            failed += 1
            logger.exception("message failed", extra={"message_id": m["MessageId"], "reason": str(exc)})
    unwritten = write_results(CONFIG.results_table, [r for _, results in outcomes for r in results])
    done, processed, ignored = [], 0, 0
    for m, results in outcomes:
        if any(r.object_id in unwritten for r in results):  # retried; the rewrite is an overwrite
            failed += 1
            logger.warning("results not written", extra={"message_id": m["MessageId"]})
            continue
        done.append(m)
        processed, ignored = processed + len(results), ignored + (not results)
    for failure in sqs.delete(CONFIG.queue_url, done):  # processed, not deleted: the redelivery overwrites
        logger.warning("delete failed", extra={"failure": failure})
    return len(messages), processed, ignored, failed


def messages_remain() -> bool:
    attrs = client("sqs").get_queue_attributes(
        QueueUrl=CONFIG.queue_url, AttributeNames=["ApproximateNumberOfMessages"]
    )
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"]) > 0


def run_hop(
    baton: RelayBaton,
    context: LambdaContext,
    timeout_seconds: int,
    clock: Callable[[], float] = time.time,
) -> HopResult:
    """Hold the lease, drain a few batches, then finish the chain or hand the lease on and relay.

    ``clock`` (epoch seconds) times the lease, the chain budget and the batches.
    """
    hold = lease_seconds(timeout_seconds)
    if baton.hop == 1 and not lease.acquire(CONFIG.lease_table, LEASE_NAME, baton.chain_id, hold, clock()):
        return HopResult(baton.chain_id, baton.hop, "lease-held")
    if baton.hop > 1 and not lease.take_turn(CONFIG.lease_table, LEASE_NAME, baton.chain_id, baton.hop, hold, clock()):
        return HopResult(baton.chain_id, baton.hop, "lease-lost")  # taken by another chain, or a duplicate hop
    result = HopResult(baton.chain_id, baton.hop, "done")
    slowest_ms, received = 0.0, -1
    for _ in range(CONFIG.batches_per_hop):
        if context.get_remaining_time_in_millis() < SAFETY_MS + slowest_ms:  # another as slow would not fit
            break
        started = clock()
        received, processed, ignored, failed = drain_batch(baton)
        slowest_ms = max(slowest_ms, (clock() - started) * 1000)
        result.processed, result.ignored, result.failed = (
            result.processed + processed,
            result.ignored + ignored,
            result.failed + failed,
        )
        if received == 0:
            break
    if received == 0 or not messages_remain():  # a long poll that found nothing: the queue is drained
        lease.release(CONFIG.lease_table, LEASE_NAME, baton.chain_id)
        return result
    if baton.hop >= CONFIG.max_hops or clock() - baton.started_at >= CONFIG.chain_budget_seconds:
        result.outcome = "max-hops" if baton.hop >= CONFIG.max_hops else "budget-exhausted"
        lease.release(CONFIG.lease_table, LEASE_NAME, baton.chain_id)  # the next schedule continues
        return result
    if not lease.hand_on(CONFIG.lease_table, LEASE_NAME, baton.chain_id, baton.hop, hold, clock()):
        result.outcome = "lease-lost"  # another chain holds it now: relaying would make two chains
        return result
    following = RelayBaton(chain_id=baton.chain_id, hop=baton.hop + 1, started_at=baton.started_at)
    client("lambda").invoke(
        FunctionName=context.invoked_function_arn, InvocationType="Event", Payload=following.model_dump_json().encode()
    )
    result.outcome = "relayed"
    return result


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> dict:
    baton = parse(event, time.time())
    logger.append_keys(chain_id=baton.chain_id, hop=baton.hop)
    timeout = max(1, context.get_remaining_time_in_millis() // 1000)  # ~ the function's timeout
    result = run_hop(baton, context, timeout)
    logger.info("relay hop", extra={"outcome": result.outcome, "processed": result.processed, "failed": result.failed})
    metrics.add_metric(name="ObjectsProcessed", unit=MetricUnit.Count, value=result.processed)
    metrics.add_metric(name="RelayHops", unit=MetricUnit.Count, value=1)
    return {
        "chain_id": result.chain_id,
        "hop": result.hop,
        "outcome": result.outcome,
        "processed": result.processed,
        "ignored": result.ignored,
        "failed": result.failed,
    }
