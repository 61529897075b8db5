"""Sticky-queue dispatcher: append each user's messages to ``users/<user_id>.json`` in S3.

One dispatcher per pool queue (at most 2 concurrent invocations: see docs/sticky.md).
Records of one batch are grouped by user so each user's document is read once and written
at most once per batch. The write is conditional on the ETag read (or on the object not
existing), so a second writer cannot lose an update: the loser re-reads and merges.
Entries are de-duplicated by ``message_id`` and kept sorted by the ingest sequence number:
the document itself is the exactly-once record (no per-message idempotency records).
"""

from __future__ import annotations

import os
from collections import OrderedDict
from collections.abc import Sequence
from datetime import UTC, datetime

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.types import PartialItemFailureResponse
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from config import Config

from shared.batch import GroupedBatchProcessor
from shared.clients import client
from shared.messages import DocumentEntry, StickyMessage, StickySqsRecord, UserDocument

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


def document_key(user_id: str) -> str:
    return f"users/{user_id}.json"


def merge(document: UserDocument, messages: Sequence[StickyMessage], now: datetime) -> int:
    """Add messages not yet in the document, keep entries ordered by seq; return how many entries changed.

    A message_id keeps its lowest seq: a client resend (a later seq) applied before its
    original does not move the entry once the original arrives, whatever the order of delivery.
    """
    present = {e.message_id: e for e in document.entries}
    changed = 0
    for m in messages:
        entry = present.get(m.message_id)
        if entry is not None:
            if m.seq < entry.seq:
                entry.seq = m.seq
                changed += 1
            continue
        present[m.message_id] = DocumentEntry(
            seq=m.seq, message_id=m.message_id, body=m.body, ingested_at=m.ingested_at, appended_at=now
        )
        document.entries.append(present[m.message_id])
        changed += 1
    document.entries.sort(key=lambda e: e.seq)
    return changed


class DocumentCache:
    """The documents this process last wrote (or read): key -> (ETag, body), least recently used first.

    A dispatcher is the only writer of its users' documents most of the time, so the next
    batch of a user writes with If-Match on the ETag it got back, without reading first. A
    stale entry costs one refused write (412), then the read path. Bounded in bytes.
    """

    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self.entries: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self.size = 0

    def get(self, key: str) -> tuple[str, bytes] | None:
        if key in self.entries:
            self.entries.move_to_end(key)
        return self.entries.get(key)

    def put(self, key: str, etag: str, body: bytes) -> None:
        self.drop(key)
        if len(body) > self.max_bytes:
            return
        self.entries[key] = (etag, body)
        self.size += len(body)
        while self.size > self.max_bytes:
            _, (_, oldest) = self.entries.popitem(last=False)
            self.size -= len(oldest)

    def drop(self, key: str) -> None:
        old = self.entries.pop(key, None)
        if old is not None:
            self.size -= len(old[1])


documents = DocumentCache(DOCUMENT_CACHE_BYTES)


def append_to_document(bucket: str, user_id: str, messages: Sequence[StickyMessage]) -> int:
    """One conditional write per attempt, after a read unless this process holds the document's
    last version; retried on a lost race. Nothing new for a cached version: checked by a read."""
    s3 = client("s3")
    key = document_key(user_id)
    cache_key = f"{bucket}/{key}"
    for _ in range(WRITE_ATTEMPTS):
        cached = documents.get(cache_key)
        if cached is not None:
            etag, body = cached
            document, condition = UserDocument.model_validate_json(body), {"IfMatch": etag}
        else:
            try:
                current = s3.get_object(Bucket=bucket, Key=key)
                body = current["Body"].read()
                document = UserDocument.model_validate_json(body)  # a document that does not parse is not cached:
                documents.put(cache_key, current["ETag"], body)  # once repaired, the next read sees the repair
                condition = {"IfMatch": current["ETag"]}
            except ClientError as exc:
                if exc.response["Error"]["Code"] not in ("NoSuchKey", "404"):
                    raise
                document, condition = UserDocument(user_id=user_id), {"IfNoneMatch": "*"}
        added = merge(document, messages, datetime.now(UTC))
        if added == 0:
            if cached is not None:  # only the stored version may say "already applied"
                documents.drop(cache_key)
                continue
            return 0
        new_body = document.model_dump_json(indent=1).encode()
        try:
            out = s3.put_object(Bucket=bucket, Key=key, Body=new_body, ContentType="application/json", **condition)
            documents.put(cache_key, out["ETag"], new_body)
            return added
        except ClientError as exc:
            documents.drop(cache_key)
            if exc.response["Error"]["Code"] not in ("PreconditionFailed", "ConditionalRequestConflict", "NoSuchKey"):
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
