"""Pydantic models: one per message on the wire."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, Json, StringConstraints

UserId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]


class _Strict(BaseModel):
    # defer_build: a model's validator is built when first used, not when a handler imports this module
    model_config = ConfigDict(extra="forbid", frozen=True, defer_build=True)


class _Deferred(BaseModel):
    model_config = ConfigDict(defer_build=True)


class SqsRecordModel(_Deferred):
    """An SQS record as the event source mapping delivers it (the fields of Powertools' SqsRecordModel
    that we read). Defined here: importing Powertools' parser models builds every event model it has,
    which costs a handler more import time than all of its own code."""

    messageId: str  # noqa: N815 (AWS spelling)
    receiptHandle: str  # noqa: N815
    body: Any
    attributes: dict[str, Any]
    messageAttributes: dict[str, Any]  # noqa: N815
    md5OfBody: str  # noqa: N815
    eventSource: Literal["aws:sqs"]  # noqa: N815
    eventSourceARN: str  # noqa: N815
    awsRegion: str  # noqa: N815


# --- Pattern 1: sticky queue -------------------------------------------------------------


class IngestMessage(_Strict):
    """One message a client hands to the sticky ingester."""

    user_id: UserId
    body: Any = Field(description="Any JSON value; stored verbatim in the user's document.")
    message_id: str = Field(
        default_factory=lambda: str(uuid.uuid4()),
        min_length=1,
        max_length=128,
        description="Client idempotency key: a resend of the same id is not appended again while its original is"
        " in the history's head or last sealed segment (docs/sticky.md).",
    )


class IngestRequest(_Strict):
    """The ingester's input: a batch of messages (a single message is accepted too)."""

    messages: list[IngestMessage] = Field(min_length=1, max_length=500)


class IngestResult(_Strict):
    """What the ingester returns: where each user's messages went."""

    accepted: int
    queues: dict[str, str] = Field(description="user_id -> queue URL used for this request")


class StickyMessage(_Strict):
    """A message on a pool queue, consumed by that queue's dispatcher."""

    user_id: UserId
    seq: int = Field(ge=1, description="Per-user sequence number assigned at ingest; orders the document.")
    message_id: str = Field(min_length=1, max_length=128)
    body: Any
    ingested_at: datetime = Field(default_factory=lambda: datetime.now(UTC))
    correlation_id: str | None = Field(default=None, description="Request id of the ingest call, for log correlation.")


class UrlStoreCursor(_Strict):
    """The URL store's one message: where the pool's rotation stands.

    A take hands out the pool queues from ``next`` on (modulo the current pool size) and
    puts back a cursor that far ahead."""

    next: int = Field(ge=0, description="Index of the next pool queue to hand to a new user.")


class StickySqsRecord(SqsRecordModel):
    """SQS record whose body is a StickyMessage (used by the batch processor's parser)."""

    body: Json[StickyMessage]  # type: ignore[assignment]


class DocumentEntry(BaseModel):
    """One appended message inside a user's document."""

    seq: int
    message_id: str
    body: Any
    ingested_at: datetime
    appended_at: datetime


class UserDocument(BaseModel):
    """The head of a user's history in S3 at ``users/<user_id>.json`` (shared/history.py).

    ``entries`` holds the newest entries, those with a seq above ``sealed_through``; older
    entries live in sealed segments (``DocumentSegment``). ``sealing`` marks a rollover in
    progress: the entries up to that seq are being copied into their segment.
    """

    user_id: str
    entries: list[DocumentEntry] = Field(default_factory=list)
    sealed_through: int = Field(default=0, ge=0, description="Every seq up to this one lives in a segment.")
    segments: int = Field(default=0, ge=0, description="How many segments have been sealed.")
    sealing: int | None = Field(default=None, description="A rollover in progress: seal the entries up to this seq.")
    recent_ids: list[str] = Field(
        default_factory=list, description="The message_ids of the last sealed segment: resends of them are recognised."
    )


class DocumentSegment(BaseModel):
    """A sealed part of a user's history at ``users/<user_id>/segments/<last_seq:016d>.json``.

    Segments split the seq space: a segment holds every entry with a seq above the previous
    segment's ``last_seq`` and up to its own, sorted by seq.
    """

    user_id: str
    last_seq: int
    entries: list[DocumentEntry]


# --- Pattern 2: cron fan-out -------------------------------------------------------------


class WorkItem(_Strict):
    """A message on the fan-out work queue; a worker stores it in DynamoDB."""

    key: str = Field(min_length=1, max_length=256, description="Business key of the item.")
    data: dict[str, Any] = Field(default_factory=dict)


class FanoutTick(_Strict):
    """One SNS message from the counter = one worker drain of up to 10 messages."""

    tick_id: str = Field(min_length=1, max_length=64, description="Id of the scheduled run that published it.")
    index: int = Field(ge=0)
    of: int = Field(ge=1)


class ScheduledEvent(_Deferred):
    """The EventBridge event a schedule rule delivers to the counter (the fields of Powertools'
    EventBridgeModel). Defined here for the reason SqsRecordModel is."""

    model_config = ConfigDict(defer_build=True, populate_by_name=True)

    version: str
    id: str
    source: str
    account: str
    time: datetime
    region: str
    resources: list[str]
    detail_type: str = Field(alias="detail-type")
    detail: dict[str, Any]
    replay_name: str | None = Field(default=None, alias="replay-name")


class _SnsNotification(_Deferred):
    """The fields of Powertools' SnsNotificationModel, the message being a FanoutTick (JSON)."""

    Type: Literal["Notification"]
    MessageId: str
    TopicArn: str
    Subject: str | None = None
    Message: Json[FanoutTick]
    Timestamp: datetime
    UnsubscribeUrl: str
    MessageAttributes: dict[str, Any] | None = None
    SigningCertUrl: str | None = None
    Signature: str | None = None
    SignatureVersion: str | None = None


class _SnsRecord(_Deferred):
    EventSource: Literal["aws:sns"]
    EventVersion: str
    EventSubscriptionArn: str
    Sns: _SnsNotification


class FanoutTickEvent(_Deferred):
    """The SNS event that starts a worker: each record's message is one FanoutTick."""

    Records: list[_SnsRecord]


# --- Pattern 3: relay consumer ------------------------------------------------------------


class RelayBaton(_Strict):
    """The payload a relay hop passes to the next one (asynchronous self-invocation)."""

    chain_id: str = Field(min_length=1, max_length=64)
    hop: int = Field(ge=1)
    started_at: float = Field(description="Epoch seconds when the chain started (its time budget runs from here).")


class ProcessedObject(_Strict):
    """What the relay consumer records for each S3 object it processed."""

    object_id: str = Field(description="bucket/key@etag: the idempotency key of one object version.")
    bucket: str
    key: str
    size: int
    sha256: str
    chain_id: str
    hop: int


# --- Pattern 4: SNS preprocessor / services -----------------------------------------------

UUID4 = r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$"
RequestId = Annotated[str, StringConstraints(pattern=UUID4)]


class PreprocessRequest(_Strict):
    """The preprocessor's input: any JSON object, stored as the workflow's first document."""

    document: dict[str, Any] = Field(min_length=1)
    idempotency_key: str | None = Field(
        default=None,
        min_length=1,
        max_length=128,
        description="Optional client key: a retried request with the same key starts no second workflow "
        "(it returns the first one's request_id); the same key with another document is refused.",
    )


class ConnectorMessage(_Strict):
    """On the connector topic: which request a service should process.

    The ``service`` message attribute routes it (subscription filter policies); "all"
    reaches every service subscribed to it.
    """

    request_id: RequestId
    source: str = Field(default="external", min_length=1, max_length=64, description="Who published it.")


class ServiceResult(_Strict):
    """On the notifier topic: a service finished a request; ``document`` is its output."""

    request_id: RequestId
    service: str
    output_key: str
    document: dict[str, Any]


class _S3Bucket(_Deferred):
    name: str


class _S3Object(_Deferred):
    key: str = Field(description="URL-encoded, as S3 sends it.")
    size: int | None = None
    eTag: str | None = None  # noqa: N815 (AWS spelling)
    versionId: str | None = None  # noqa: N815
    sequencer: str | None = None


class _S3Entity(_Deferred):
    bucket: _S3Bucket
    object: _S3Object


class S3EventRecord(_Deferred):
    """The fields of an S3 event notification record the relay consumer relies on."""

    eventName: str  # noqa: N815
    s3: _S3Entity


class S3Notification(_Deferred):
    """Body of an S3 event notification delivered to SQS (extra fields are ignored)."""

    Records: list[S3EventRecord] = Field(min_length=1)  # noqa: N815


class S3TestEvent(_Deferred):
    """What S3 sends once when a notification configuration is saved; carries no object."""

    Service: Literal["Amazon S3"]  # noqa: N815
    Event: Literal["s3:TestEvent"]  # noqa: N815


class ConnectorNotification(_Deferred):
    """The SNS envelope SQS receives from the connector topic (raw delivery off).

    Not Powertools' SnsNotificationModel: its before-validator raises TypeError (not a
    validation error) on a non-object body such as ``0``, which fails the whole batch
    instead of the one record (found by tests/test_reliability.py).
    """

    Type: Literal["Notification"]
    MessageId: str
    TopicArn: str
    Message: Json[ConnectorMessage]
    MessageAttributes: dict[str, dict[str, str]] | None = None
    Timestamp: datetime | None = None


class ConnectorSqsRecord(SqsRecordModel):
    """A service queue record: SNS envelope around a ConnectorMessage."""

    body: Json[ConnectorNotification]  # type: ignore[assignment]
