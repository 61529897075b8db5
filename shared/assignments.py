"""User -> pool-queue assignments in DynamoDB (sticky-queue pattern).

Item: ``{user_id, queue_url, inflight, seq, expires_at?}``.

* ``inflight`` counts this user's messages sent but not yet applied by the dispatcher.
* ``seq`` is the user's last assigned sequence number (orders the document).
* ``expires_at`` is the DynamoDB TTL attribute. It is present only while ``inflight`` is
  0: every use removes it, and the dispatcher sets it again (now + TTL) when it drains the
  user's last in-flight message. So an assignment can expire only when none of the user's
  messages is queued or being processed, and a new queue can never race the old one.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared.clients import client


@dataclass(frozen=True)
class Assignment:
    user_id: str
    queue_url: str
    first_seq: int  # the first of the ``count`` sequence numbers reserved by this call
    created: bool  # True when this call created the assignment


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def reserve(table: str, user_id: str, count: int) -> Assignment | None:
    """Use an existing assignment: count ``count`` messages in flight and reserve their seqs."""
    try:
        out = client("dynamodb").update_item(
            TableName=table,
            Key={"user_id": {"S": user_id}},
            UpdateExpression="ADD inflight :n, seq :n REMOVE expires_at",
            ConditionExpression="attribute_exists(user_id)",
            ExpressionAttributeValues={":n": {"N": str(count)}},
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            return None
        raise
    item = out["Attributes"]
    last = int(item["seq"]["N"])
    return Assignment(user_id, item["queue_url"]["S"], last - count + 1, created=False)


def create(table: str, user_id: str, queue_url: str, count: int) -> Assignment | None:
    """Create the assignment; None if another ingester won the race (then reserve() again)."""
    try:
        client("dynamodb").put_item(
            TableName=table,
            Item={
                "user_id": {"S": user_id},
                "queue_url": {"S": queue_url},
                "inflight": {"N": str(count)},
                "seq": {"N": str(count)},
            },
            ConditionExpression="attribute_not_exists(user_id)",
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            return None
        raise
    return Assignment(user_id, queue_url, 1, created=True)


def release(table: str, user_id: str, count: int, ttl_seconds: int, now: float | None = None) -> int:
    """Mark ``count`` messages applied; start the TTL once nothing is in flight.

    Returns the remaining in-flight count (0 when there is no assignment: nothing to release,
    and failing here would only send already-applied messages round again).
    """
    ddb = client("dynamodb")
    try:
        out = ddb.update_item(
            TableName=table,
            Key={"user_id": {"S": user_id}},
            UpdateExpression="ADD inflight :minus",
            ConditionExpression="attribute_exists(user_id)",
            ExpressionAttributeValues={":minus": {"N": str(-count)}},
            ReturnValues="UPDATED_NEW",
        )
    except ClientError as exc:
        if _conditional_failed(exc):  # no assignment (sent around the ingester, or cleared by hand)
            return 0
        raise
    remaining = int(out["Attributes"]["inflight"]["N"])
    if remaining <= 0:
        expires = int((now if now is not None else time.time()) + ttl_seconds)
        try:
            ddb.update_item(
                TableName=table,
                Key={"user_id": {"S": user_id}},
                UpdateExpression="SET expires_at = :exp",
                ConditionExpression="inflight <= :zero",
                ExpressionAttributeValues={":exp": {"N": str(expires)}, ":zero": {"N": "0"}},
            )
        except ClientError as exc:
            if not _conditional_failed(exc):  # an ingester took it again meanwhile: keep it
                raise
    return remaining


def get(table: str, user_id: str) -> dict[str, Any] | None:
    item = client("dynamodb").get_item(TableName=table, Key={"user_id": {"S": user_id}}, ConsistentRead=True)
    return item.get("Item")
