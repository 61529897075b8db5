"""User -> pool-queue assignments in DynamoDB (sticky-queue pattern): a lease, not a counter.

Item: ``{user_id, queue_index, seq, expires_at}``.

* ``queue_index`` is the user's pool queue: pool queue ``i`` is named ``…-sticky-pool-<i:02d>``
  and the pool is queues ``0 .. pool_size - 1``, so "still in the pool" is
  ``queue_index < :pool_size``, one comparison whatever the pool's size.
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
* After a pool shrinks, a user on a removed queue fails the reserve's condition and is
  moved to a queue of the new pool (``assign``), keeping its ``seq``.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared.clients import client, conditional_check_failed


@dataclass(frozen=True)
class Assignment:
    user_id: str
    queue_index: int  # the user's pool queue
    first_seq: int  # the first of the ``count`` sequence numbers reserved by this call
    expires_at: int  # the lease: the assignment may be deleted after this (epoch seconds)
    created: bool  # True when this call (re)assigned the queue


def seq_base(now: float) -> int:
    """The seq a new assignment counts on from: ``now`` in microseconds (see the module docstring)."""
    return int(now * 1_000_000)


def _update(table: str, user_id: str, update: str, condition: str, values: dict[str, Any], returns: str) -> Any:
    """The UpdateItem's returned attributes, or None when its condition failed."""
    try:
        out = client("dynamodb").update_item(
            TableName=table,
            Key={"user_id": {"S": user_id}},
            UpdateExpression=update,
            ConditionExpression=condition,
            ExpressionAttributeValues=values,
            ReturnValues=returns,
        )
    except ClientError as exc:
        if conditional_check_failed(exc):
            return None
        raise
    return out.get("Attributes") or {}


def reserve(
    table: str,
    user_id: str,
    count: int,
    pool_size: int,
    lease_seconds: int,
    now: float | None = None,
    candidate: int | None = None,
) -> Assignment | None:
    """Use the user's assignment if its queue is in the pool: reserve ``count`` seqs, extend the lease.

    One UpdateItem. With ``candidate`` (a pool queue the caller holds for new users), a user
    without an assignment gets that queue in the same write (``created``); a user with one
    keeps it, so two ingesters creating at once both end on the first one's queue.
    None when the user has no assignment (and no candidate was given) or its queue left the pool.
    """
    now = time.time() if now is None else now
    expires, base = int(now + lease_seconds), seq_base(now)
    values: dict[str, Any] = {":n": {"N": str(count)}, ":exp": {"N": str(expires)}, ":size": {"N": str(pool_size)}}
    if candidate is None:
        update, condition = "SET seq = seq + :n, expires_at = :exp", "queue_index < :size"
    else:
        update = (
            "SET queue_index = if_not_exists(queue_index, :q), seq = if_not_exists(seq, :base) + :n, expires_at = :exp"
        )
        condition = "attribute_not_exists(queue_index) OR queue_index < :size"
        values |= {":q": {"N": str(candidate)}, ":base": {"N": str(base)}}
    old = _update(table, user_id, update, condition, values, "ALL_OLD")
    if old is None:
        return None
    if not old:  # no item before this write: the candidate is the user's queue now
        assert candidate is not None
        return Assignment(user_id, candidate, base + 1, expires, created=True)
    return Assignment(user_id, int(old["queue_index"]["N"]), int(old["seq"]["N"]) + 1, expires, created=False)


def assign(
    table: str,
    user_id: str,
    queue_index: int,
    count: int,
    pool_size: int,
    lease_seconds: int,
    now: float | None = None,
) -> Assignment | None:
    """Point the user at ``queue_index`` unless it has a usable assignment; None if another ingester won.

    Creates the item, or moves a user whose queue left the pool (its ``seq`` carries on).
    """
    now = time.time() if now is None else now
    expires = int(now + lease_seconds)
    new = _update(
        table,
        user_id,
        "SET queue_index = :q, seq = if_not_exists(seq, :base) + :n, expires_at = :exp",
        "attribute_not_exists(queue_index) OR queue_index >= :size",
        {
            ":q": {"N": str(queue_index)},
            ":base": {"N": str(seq_base(now))},
            ":n": {"N": str(count)},
            ":exp": {"N": str(expires)},
            ":size": {"N": str(pool_size)},
        },
        "ALL_NEW",
    )
    if new is None:
        return None
    return Assignment(user_id, queue_index, int(new["seq"]["N"]) - count + 1, expires, created=True)


def get(table: str, user_id: str) -> dict[str, Any] | None:
    item = client("dynamodb").get_item(TableName=table, Key={"user_id": {"S": user_id}}, ConsistentRead=True)
    return item.get("Item")
