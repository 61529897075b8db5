"""A named lease in DynamoDB: at most one owner at a time, expiring if its owner dies.

Item: ``{lease_id, owner, expires_at, current_hop[, next_hop]}`` (``expires_at`` is also
the table's TTL attribute, so stale leases are cleaned up; an expired lease is free even
before TTL deletes it).

A chain of invocations passes the lease on as a baton: hop N ``hand_on``s it to hop N+1
(only while hop N still holds it), and hop N+1 ``take_turn``s it (once: a second delivery
of the same asynchronous invocation finds the turn taken). So neither a hop that lost the
lease nor a duplicated hop can start a second chain.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from botocore.exceptions import ClientError

from shared.clients import client, conditional_check_failed


def _granted(write: Callable[..., Any], **request: Any) -> bool:
    """One conditional write: True if it was made, False if its condition did not hold."""
    try:
        write(**request)
    except ClientError as exc:
        if conditional_check_failed(exc):
            return False
        raise
    return True


def _update(table: str, name: str, update: str, condition: str, values: dict[str, dict[str, str]]) -> bool:
    return _granted(
        client("dynamodb").update_item,
        TableName=table,
        Key={"lease_id": {"S": name}},
        UpdateExpression=update,
        ConditionExpression=condition,
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues=values,
    )


def acquire(table: str, name: str, owner: str, seconds: int, now: float | None = None) -> bool:
    """Take the lease if it is free or expired (or already ours); the owner's hop 1 holds it."""
    now = time.time() if now is None else now
    return _granted(
        client("dynamodb").put_item,
        TableName=table,
        Item={
            "lease_id": {"S": name},
            "owner": {"S": owner},
            "expires_at": {"N": str(int(now + seconds))},
            "current_hop": {"N": "1"},
        },
        ConditionExpression="attribute_not_exists(lease_id) OR expires_at < :now OR #o = :owner",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":now": {"N": str(int(now))}, ":owner": {"S": owner}},
    )


def renew(table: str, name: str, owner: str, seconds: int, now: float | None = None) -> bool:
    """Extend our lease; False if someone else took it (we must stop)."""
    now = time.time() if now is None else now
    return _update(
        table,
        name,
        "SET expires_at = :exp",
        "#o = :owner",
        {":exp": {"N": str(int(now + seconds))}, ":owner": {"S": owner}},
    )


def hand_on(table: str, name: str, owner: str, hop: int, seconds: int, now: float | None = None) -> bool:
    """Hop ``hop`` extends the lease for hop ``hop + 1``; False if this hop no longer holds it."""
    now = time.time() if now is None else now
    return _update(
        table,
        name,
        "SET expires_at = :exp, next_hop = :next",
        "#o = :owner AND current_hop = :hop",
        {
            ":exp": {"N": str(int(now + seconds))},
            ":owner": {"S": owner},
            ":hop": {"N": str(hop)},
            ":next": {"N": str(hop + 1)},
        },
    )


def take_turn(table: str, name: str, owner: str, hop: int, seconds: int, now: float | None = None) -> bool:
    """Hop ``hop`` takes the lease handed on to it, once; False if it was lost or already taken."""
    now = time.time() if now is None else now
    return _update(
        table,
        name,
        "SET expires_at = :exp, current_hop = :hop REMOVE next_hop",
        "#o = :owner AND next_hop = :hop",
        {":exp": {"N": str(int(now + seconds))}, ":owner": {"S": owner}, ":hop": {"N": str(hop)}},
    )


def release(table: str, name: str, owner: str) -> bool:
    """Give the lease up if it is still ours."""
    return _granted(
        client("dynamodb").delete_item,
        TableName=table,
        Key={"lease_id": {"S": name}},
        ConditionExpression="#o = :owner",
        ExpressionAttributeNames={"#o": "owner"},
        ExpressionAttributeValues={":owner": {"S": owner}},
    )
