"""Payloads larger than SQS/SNS allow travel through S3, in the extended-client format.

The format is the one of the Amazon SQS/SNS Extended Client libraries (Java and Python,
``payloadoffloading``): the message body becomes
``["software.amazon.payloadoffloading.PayloadS3Pointer", {"s3BucketName": ..., "s3Key": ...}]``
and the ``ExtendedPayloadSize`` message attribute holds the original size in bytes. So a
consumer using those libraries reads our messages, and ours read theirs.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from shared.clients import client

POINTER_CLASS = "software.amazon.payloadoffloading.PayloadS3Pointer"
SIZE_ATTRIBUTE = "ExtendedPayloadSize"
LEGACY_SIZE_ATTRIBUTE = "SQSLargePayloadSize"
MESSAGE_LIMIT = 262_144  # bytes of body + attributes allowed by SNS and by our queues


def attributes_size(attributes: dict[str, dict[str, Any]]) -> int:
    """Bytes SQS/SNS count for message attributes: name, data type and value."""
    total = 0
    for name, attr in attributes.items():
        value = attr.get("StringValue") if "StringValue" in attr else attr.get("BinaryValue", b"")
        value_bytes = value.encode() if isinstance(value, str) else bytes(value or b"")
        total += len(name.encode()) + len(attr["DataType"].encode()) + len(value_bytes)
    return total


def offload(
    body: str,
    bucket: str,
    prefix: str = "payloads/",
    attributes: dict[str, dict[str, Any]] | None = None,
    limit: int = MESSAGE_LIMIT,
) -> tuple[str, dict[str, dict[str, Any]]]:
    """Return ``(body, attributes)`` to send: unchanged if it fits, else an S3 pointer."""
    attributes = dict(attributes or {})
    size = len(body.encode())
    if size + attributes_size(attributes) <= limit:
        return body, attributes
    key = f"{prefix}{uuid.uuid4()}"
    client("s3").put_object(Bucket=bucket, Key=key, Body=body.encode(), ContentType="application/json")
    attributes[SIZE_ATTRIBUTE] = {"DataType": "Number", "StringValue": str(size)}
    return json.dumps([POINTER_CLASS, {"s3BucketName": bucket, "s3Key": key}]), attributes


def pointer(body: str) -> tuple[str, str] | None:
    """``(bucket, key)`` if ``body`` is an extended-client S3 pointer, else None."""
    if not body.startswith("[") or POINTER_CLASS not in body[:100]:
        return None
    try:
        kind, ref = json.loads(body)
        return (ref["s3BucketName"], ref["s3Key"]) if kind == POINTER_CLASS else None
    except (ValueError, TypeError, KeyError):
        return None


def resolve(body: str, s3: Any = None) -> str:
    """The original payload: fetched from S3 (``s3`` or the process's client) when ``body`` is a pointer."""
    ref = pointer(body)
    if ref is None:
        return body
    return (s3 or client("s3")).get_object(Bucket=ref[0], Key=ref[1])["Body"].read().decode()
