"""User -> pool-queue assignments in DynamoDB (sticky-queue pattern): a lease, not a counter.

Item: ``{user_id, queue_url, seq, expires_at}``.

* ``seq`` is the user's last assigned sequence number (orders the user's document). A new
  item starts at ``seq_base(now)``, the creation time in microseconds, and each reserve adds
  its count. An item is deleted only after its lease ran out, at least ``lease_seconds``
  after it was created, so a user's next item starts above every seq the deleted one gave
  out unless that user averaged a million messages a second: seqs never go backwards for a
  document, across leases too (an old dead letter redriven later still sorts before newer
  messages, and a resend of an old ``message_id`` still keeps its first place). Seqs stay
  below 2**53 (exact in any JSON reader) until the year 2255.
* ``expires_at`` (the table's TTL attribute) is a lease: every ingest that uses the
  assignment sets it to ``now + lease_seconds``, in the same UpdateItem that reserves the
  sequence numbers. ``lease_seconds`` is at least the pool queues' message retention, so
  when a lease runs out none of the messages sent under it can still be in its queue
  (SQS has applied, dead-lettered or dropped each one). Only then may DynamoDB delete the
  item and the user get another queue. Nothing is counted in flight, so nothing has to be
  released: duplicates, resends, failures, failed sends and dead letters cannot leak.
* An assignment is used only if its queue is still in the pool (``queue_url IN pool``, one
  condition in the same write); after a pool resize a user on a removed queue is moved to
  a queue of the new pool, keeping its ``seq``.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared.clients import client

MAX_POOL = 100  # DynamoDB's IN takes at most 100 operands; pool_size is validated <= 100


@dataclass(frozen=True)
class Assignment:
    user_id: str
    queue_url: str
    first_seq: int  # the first of the ``count`` sequence numbers reserved by this call
    expires_at: int  # the lease: the assignment may be deleted after this (epoch seconds)
    created: bool  # True when this call (re)assigned the queue


def seq_base(now: float) -> int:
    """The seq a new assignment counts on from: ``now`` in microseconds (see the module docstring)."""
    return int(now * 1_000_000)


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def _pool_values(pool: Sequence[str]) -> tuple[str, dict[str, dict[str, str]]]:
    if not 1 <= len(pool) <= MAX_POOL:
        raise ValueError(f"pool must have 1..{MAX_POOL} queues, not {len(pool)}")
    names = [f":p{i}" for i in range(len(pool))]
    return ", ".join(names), {n: {"S": url} for n, url in zip(names, pool, strict=True)}


def _assignment(user_id: str, item: dict[str, Any], count: int, created: bool) -> Assignment:
    last = int(item["seq"]["N"])
    return Assignment(user_id, item["queue_url"]["S"], last - count + 1, int(item["expires_at"]["N"]), created)


def reserve(
    table: str,
    user_id: str,
    count: int,
    pool: Sequence[str],
    lease_seconds: int,
    now: float | None = None,
    candidate: str | None = None,
) -> Assignment | None:
    """Use the user's assignment if its queue is in ``pool``: reserve ``count`` seqs, extend the lease.

    One UpdateItem. With ``candidate`` (a pool queue the caller holds for new users), a user
    without an assignment gets that queue in the same write (``created``); a user with one
    keeps it, so two ingesters creating at once both end on the first one's queue.
    None when the user has no assignment (and no candidate was given) or its queue left the pool.
    """
    names, values = _pool_values(pool)
    now = time.time() if now is None else now
    expires = int(now + lease_seconds)
    base = seq_base(now)
    values |= {":n": {"N": str(count)}, ":exp": {"N": str(expires)}}
    if candidate is None:
        update, condition = "SET seq = seq + :n, expires_at = :exp", f"queue_url IN ({names})"
    else:
        update = "SET queue_url = if_not_exists(queue_url, :q), seq = if_not_exists(seq, :base) + :n, expires_at = :exp"
        condition = f"attribute_not_exists(queue_url) OR queue_url IN ({names})"
        values |= {":q": {"S": candidate}, ":base": {"N": str(base)}}
    try:
        out = client("dynamodb").update_item(
            TableName=table,
            Key={"user_id": {"S": user_id}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
            ReturnValues="ALL_OLD",
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            return None
        raise
    old = out.get("Attributes")
    if not old:  # no item before this write: the candidate is the user's queue now
        assert candidate is not None
        return Assignment(user_id, candidate, base + 1, expires, created=True)
    return Assignment(user_id, old["queue_url"]["S"], int(old["seq"]["N"]) + 1, expires, created=False)


def assign(
    table: str,
    user_id: str,
    queue_url: str,
    count: int,
    pool: Sequence[str],
    lease_seconds: int,
    now: float | None = None,
) -> Assignment | None:
    """Point the user at ``queue_url`` unless it has a usable assignment; None if another ingester won.

    Creates the item, or moves a user whose queue left the pool (its ``seq`` carries on).
    """
    names, values = _pool_values(pool)
    now = time.time() if now is None else now
    expires = int(now + lease_seconds)
    try:
        out = client("dynamodb").update_item(
            TableName=table,
            Key={"user_id": {"S": user_id}},
            UpdateExpression="SET queue_url = :q, seq = if_not_exists(seq, :base) + :n, expires_at = :exp",
            ConditionExpression=f"attribute_not_exists(queue_url) OR NOT (queue_url IN ({names}))",
            ExpressionAttributeValues={
                ":q": {"S": queue_url},
                ":base": {"N": str(seq_base(now))},
                ":n": {"N": str(count)},
                ":exp": {"N": str(expires)},
                **values,
            },
            ReturnValues="ALL_NEW",
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            return None
        raise
    return _assignment(user_id, out["Attributes"], count, created=True)


def get(table: str, user_id: str) -> dict[str, Any] | None:
    item = client("dynamodb").get_item(TableName=table, Key={"user_id": {"S": user_id}}, ConsistentRead=True)
    return item.get("Item")
