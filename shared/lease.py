"""A named lease in DynamoDB: at most one owner at a time, expiring if its owner dies.

Item: ``{lease_id, owner, expires_at}`` (``expires_at`` is also the table's TTL attribute,
so stale leases are cleaned up; an expired lease is free even before TTL deletes it).
"""

from __future__ import annotations

import time

from botocore.exceptions import ClientError

from shared.clients import client


def _conditional_failed(exc: ClientError) -> bool:
    return exc.response["Error"]["Code"] == "ConditionalCheckFailedException"


def acquire(table: str, name: str, owner: str, seconds: int, now: float | None = None) -> bool:
    """Take the lease if it is free or expired (or already ours)."""
    now = time.time() if now is None else now
    try:
        client("dynamodb").put_item(
            TableName=table,
            Item={"lease_id": {"S": name}, "owner": {"S": owner}, "expires_at": {"N": str(int(now + seconds))}},
            ConditionExpression="attribute_not_exists(lease_id) OR expires_at < :now OR #o = :owner",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":now": {"N": str(int(now))}, ":owner": {"S": owner}},
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            return False
        raise
    return True


def renew(table: str, name: str, owner: str, seconds: int, now: float | None = None) -> bool:
    """Extend our lease; False if someone else took it (we must stop)."""
    now = time.time() if now is None else now
    try:
        client("dynamodb").update_item(
            TableName=table,
            Key={"lease_id": {"S": name}},
            UpdateExpression="SET expires_at = :exp",
            ConditionExpression="#o = :owner",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":exp": {"N": str(int(now + seconds))}, ":owner": {"S": owner}},
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            return False
        raise
    return True


def release(table: str, name: str, owner: str) -> bool:
    """Give the lease up if it is still ours."""
    try:
        client("dynamodb").delete_item(
            TableName=table,
            Key={"lease_id": {"S": name}},
            ConditionExpression="#o = :owner",
            ExpressionAttributeNames={"#o": "owner"},
            ExpressionAttributeValues={":owner": {"S": owner}},
        )
    except ClientError as exc:
        if _conditional_failed(exc):
            return False
        raise
    return True
