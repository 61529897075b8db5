"""Pydantic models: one per message on the wire."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Annotated, Any

from aws_lambda_powertools.utilities.parser.models import SqsRecordModel
from pydantic import BaseModel, ConfigDict, Field, Json, StringConstraints

UserId = Annotated[str, StringConstraints(min_length=1, max_length=128, pattern=r"^[A-Za-z0-9._:@-]+$")]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# --- Pattern 1: sticky queue -------------------------------------------------------------


class IngestMessage(_Strict):
    """One message a client hands to the sticky ingester."""

    user_id: UserId
    body: Any = Field(description="Any JSON value; stored verbatim in the user's document.")
    message_id: str = Field(
        default_factory=lambda: str(uuid.uuid4()),
        min_length=1,
        max_length=128,
        description="Client idempotency key: resending the same id never duplicates an entry.",
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
    """The per-user JSON document in S3 at ``users/<user_id>.json``."""

    user_id: str
    entries: list[DocumentEntry] = Field(default_factory=list)
