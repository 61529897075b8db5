"""Sticky-queue dispatcher: append each user's messages to ``users/<user_id>.json`` in S3.

One dispatcher per pool queue, reserved concurrency 1. Records of one batch are grouped by
user so each user's document is read and written once per batch. The write is conditional
on the ETag read (or on the object not existing), so even an unexpected second writer
cannot lose an update: the loser re-reads and merges. Entries are de-duplicated by
``message_id`` and kept sorted by the ingest sequence number, and each message is applied
once through the idempotency table.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError

from shared import assignments
from shared.batch import GroupedBatchProcessor
from shared.clients import client
from shared.idempotency import apply_once, persistence_layer
from shared.messages import DocumentEntry, StickyMessage, StickySqsRecord, UserDocument

logger = Logger()
metrics = Metrics()
tracer = Tracer()

DOCUMENT_BUCKET = os.environ.get("DOCUMENT_BUCKET", "")
ASSIGNMENT_TABLE = os.environ.get("ASSIGNMENT_TABLE", "")
ASSIGNMENT_TTL_SECONDS = int(os.environ.get("ASSIGNMENT_TTL_SECONDS", "300"))
FIFO = os.environ.get("QUEUE_TYPE", "standard") == "fifo"
WRITE_ATTEMPTS = 8

processor = GroupedBatchProcessor(
    event_type=EventType.SQS,
    model=StickySqsRecord,
    group_key=lambda r: r.body.user_id,
    fifo=FIFO,
    logger=logger,  # each failed record is logged with its reason
)


class ConcurrentWrite(RuntimeError):
    """The document kept changing under us; the records are retried by SQS."""


def document_key(user_id: str) -> str:
    return f"users/{user_id}.json"


def merge(document: UserDocument, messages: Sequence[StickyMessage], now: datetime) -> int:
    """Add messages not yet in the document, keep entries ordered by seq; return how many were added."""
    present = {e.message_id for e in document.entries}
    added = 0
    for m in messages:
        if m.message_id in present:
            continue
        document.entries.append(
            DocumentEntry(seq=m.seq, message_id=m.message_id, body=m.body, ingested_at=m.ingested_at, appended_at=now)
        )
        present.add(m.message_id)
        added += 1
    document.entries.sort(key=lambda e: e.seq)
    return added


def append_to_document(bucket: str, user_id: str, messages: Sequence[StickyMessage]) -> int:
    """One read + one conditional write per attempt; retried on a lost race."""
    s3 = client("s3")
    key = document_key(user_id)
    for _ in range(WRITE_ATTEMPTS):
        try:
            current = s3.get_object(Bucket=bucket, Key=key)
            document = UserDocument.model_validate_json(current["Body"].read())
            condition = {"IfMatch": current["ETag"]}
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                raise
            document, condition = UserDocument(user_id=user_id), {"IfNoneMatch": "*"}
        added = merge(document, messages, datetime.now(UTC))
        if added == 0:
            return 0
        try:
            s3.put_object(
                Bucket=bucket,
                Key=key,
                Body=document.model_dump_json(indent=1).encode(),
                ContentType="application/json",
                **condition,
            )
            return added
        except ClientError as exc:
            if exc.response["Error"]["Code"] not in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise
            metrics.add_metric(name="DocumentWriteConflicts", unit=MetricUnit.Count, value=1)
    raise ConcurrentWrite(f"gave up writing {key} after {WRITE_ATTEMPTS} conflicting attempts")


def apply_user_messages(records: Sequence[StickySqsRecord], remaining_ms: int | None = None) -> int:
    """Group handler: apply one user's messages once, then release their in-flight count."""
    messages = [r.body for r in records]
    user_id = messages[0].user_id
    logger.append_keys(
        user_id=user_id,
        message_ids=[m.message_id for m in messages],
        correlation_ids=sorted({m.correlation_id for m in messages if m.correlation_id}),
    )
    applied, skipped = apply_once(
        messages,
        payload=lambda m: {"message_id": f"{m.user_id}:{m.message_id}"},
        apply=lambda todo: append_to_document(DOCUMENT_BUCKET, user_id, todo),
        layer=persistence_layer(),
        remaining_ms=remaining_ms,
    )
    if applied:
        assignments.release(ASSIGNMENT_TABLE, user_id, len(applied), ASSIGNMENT_TTL_SECONDS)
    metrics.add_metric(name="MessagesAppended", unit=MetricUnit.Count, value=len(applied))
    if skipped:
        logger.info("skipped already-applied messages", extra={"user_id": user_id, "count": len(skipped)})
    return len(applied)


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event,
        record_handler=lambda group: apply_user_messages(group, context.get_remaining_time_in_millis()),
        processor=processor,
        context=context,
    )
