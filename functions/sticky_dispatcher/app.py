"""Sticky-queue dispatcher: append each user's messages to its history in S3 (shared/history.py).

One dispatcher per pool queue (at most 2 concurrent invocations: see docs/sticky.md).
Records of one batch are grouped by user so each user's document is read once and written
at most once per batch (the head; a rollover also writes one segment, a late delivery the
segment that covers it). Every write is conditional on the ETag read (or on the object not
existing), so a second writer cannot lose an update: the loser re-reads and merges.
Entries are de-duplicated by ``message_id`` and kept sorted by the ingest sequence number:
the document itself is the exactly-once record (no per-message idempotency records).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from config import Config

from shared.batch import GroupedBatchProcessor
from shared.clients import client, precondition_failed
from shared.history import (
    HEAD_MAX_BYTES,
    DocumentCache,
    covering_segment,
    dump,
    finish_rollover,
    head_key,
    merge,
    pending_segment,
    segment_key,
    split_by_seal,
    start_rollover,
)
from shared.messages import DocumentSegment, StickyMessage, StickySqsRecord, UserDocument

logger = Logger()
metrics = Metrics()
tracer = Tracer(patch_modules=["botocore"])  # every AWS call goes through botocore (shared/clients.py)

CONFIG = Config.from_environ(os.environ)
DOCUMENT_BUCKET, FIFO = CONFIG.document_bucket, CONFIG.fifo
WRITE_ATTEMPTS = 8
DOCUMENT_CACHE_BYTES = 16 * 2**20

processor = GroupedBatchProcessor(
    event_type=EventType.SQS,
    model=StickySqsRecord,
    group_key=lambda r: r.body.user_id,
    fifo=FIFO,
    logger=logger,  # each failed record is logged with its reason
)


class ConcurrentWrite(RuntimeError):
    """The document kept changing under us; the records are retried by SQS."""


class MissingSegment(RuntimeError):
    """A seq at or below the head's sealed_through has no segment: the history was damaged."""


documents = DocumentCache(DOCUMENT_CACHE_BYTES)


def seal(s3: Any, bucket: str, segment: DocumentSegment) -> None:
    """Store a rollover's segment once: a 412 means another writer stored the same one first."""
    try:
        s3.put_object(
            Bucket=bucket,
            Key=segment_key(segment.user_id, segment.last_seq),
            Body=dump(segment),
            ContentType="application/json",
            IfNoneMatch="*",
        )
        metrics.add_metric(name="DocumentRollovers", unit=MetricUnit.Count, value=1)
    except ClientError as exc:
        if not precondition_failed(exc):
            raise


def append_to_segments(s3: Any, bucket: str, user_id: str, messages: Sequence[StickyMessage]) -> int:
    """Write messages whose seq a sealed segment covers into that segment (a late delivery or a
    redrive): the segment is found by one LIST, read, merged and written on its ETag."""
    by_key: dict[str, list[StickyMessage]] = {}
    for m in messages:
        key = covering_segment(s3, bucket, user_id, m.seq)
        if key is None:
            raise MissingSegment(f"no segment of user {user_id} holds seq {m.seq}")
        by_key.setdefault(key, []).append(m)
    added = 0
    for key, group in by_key.items():
        for _ in range(WRITE_ATTEMPTS):
            current = s3.get_object(Bucket=bucket, Key=key)
            segment = DocumentSegment.model_validate_json(current["Body"].read())
            changed = merge(segment.entries, group, datetime.now(UTC))
            if changed == 0:
                break
            try:
                s3.put_object(
                    Bucket=bucket, Key=key, Body=dump(segment), ContentType="application/json", IfMatch=current["ETag"]
                )
                added += changed
                break
            except ClientError as exc:
                if not precondition_failed(exc):
                    raise
        else:
            raise ConcurrentWrite(f"gave up writing {key} after {WRITE_ATTEMPTS} conflicting attempts")
    return added


def append_to_document(bucket: str, user_id: str, messages: Sequence[StickyMessage]) -> int:
    """Apply messages to a user's history (shared/history.py); return how many entries changed.

    One conditional head write per attempt, after a read unless this process holds the head's
    last version; retried on a lost race. A head marked for rollover is sealed first. Nothing
    new for a cached version is checked by a read: only the stored head says "already applied".
    """
    s3 = client("s3")
    key = head_key(user_id)
    cache_key = f"{bucket}/{key}"
    for _ in range(WRITE_ATTEMPTS):
        cached = documents.get(cache_key)
        if cached is not None:
            etag, body = cached
            head, condition = UserDocument.model_validate_json(body), {"IfMatch": etag}
        else:
            try:
                current = s3.get_object(Bucket=bucket, Key=key)
                body = current["Body"].read()
                head = UserDocument.model_validate_json(body)  # a head that does not parse is not cached:
                documents.put(cache_key, current["ETag"], body)  # once repaired, the next read sees the repair
                condition = {"IfMatch": current["ETag"]}
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                    raise
                head, condition = UserDocument(user_id=user_id), {"IfNoneMatch": "*"}
        rolled = head.sealing is not None
        if rolled:
            segment = pending_segment(head)
            seal(s3, bucket, segment)
            finish_rollover(head, segment)
        fresh, sealed = split_by_seal(head, messages)
        added = append_to_segments(s3, bucket, user_id, sealed) if sealed else 0
        added_here = merge(head.entries, fresh, datetime.now(UTC))
        if added_here == 0 and not rolled:
            if cached is not None and fresh:  # only the stored version may say "already applied"
                documents.drop(cache_key)
                continue
            return added
        new_body = dump(head)
        start_rollover(head, len(new_body), HEAD_MAX_BYTES)
        if head.sealing is not None:
            new_body = dump(head)
        try:
            out = s3.put_object(Bucket=bucket, Key=key, Body=new_body, ContentType="application/json", **condition)
            documents.put(cache_key, out["ETag"], new_body)
            return added + added_here
        except ClientError as exc:
            documents.drop(cache_key)
            if not (precondition_failed(exc) or exc.response["Error"]["Code"] == "NoSuchKey"):
                raise
            metrics.add_metric(name="DocumentWriteConflicts", unit=MetricUnit.Count, value=1)
    raise ConcurrentWrite(f"gave up writing {key} after {WRITE_ATTEMPTS} conflicting attempts")


def unique_by_message_id(messages: Sequence[StickyMessage]) -> list[StickyMessage]:
    """One message per message_id (the lowest seq wins), in seq order."""
    first: dict[str, StickyMessage] = {}
    for m in sorted(messages, key=lambda m: m.seq):
        first.setdefault(m.message_id, m)
    return list(first.values())


def apply_user_messages(records: Sequence[StickySqsRecord]) -> int:
    """Group handler: append one user's messages to its document; returns how many were new.

    The document is the exactly-once record: an entry per message_id, written only if the
    document is still the version read (If-Match / If-None-Match). No other record is kept,
    and nothing is released: the assignment is a lease (shared/assignments.py).
    """
    messages = unique_by_message_id([r.body for r in records])
    user_id = messages[0].user_id
    logger.append_keys(
        user_id=user_id,
        message_ids=[m.message_id for m in messages],
        correlation_ids=sorted({m.correlation_id for m in messages if m.correlation_id}),
    )
    added = append_to_document(DOCUMENT_BUCKET, user_id, messages)
    metrics.add_metric(name="MessagesAppended", unit=MetricUnit.Count, value=added)
    if added < len(records):
        logger.info("skipped already-applied messages", extra={"count": len(records) - added})
    return added


@logger.inject_lambda_context(log_event=False)
@tracer.capture_lambda_handler
@metrics.log_metrics
def lambda_handler(event: dict, context: LambdaContext) -> PartialItemFailureResponse:
    return process_partial_response(
        event=event,
        record_handler=apply_user_messages,
        processor=processor,
        context=context,
    )
