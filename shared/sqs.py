"""Receiving and deleting for functions that poll a queue themselves (no event source mapping)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shared.clients import client


def receive(queue_url: str, wait_seconds: int, max_messages: int = 10) -> list[dict[str, Any]]:
    """A long poll (``wait_seconds`` >= 1): short polls sample a subset of hosts and miss messages."""
    if wait_seconds < 1:
        raise ValueError("use a long poll: wait_seconds >= 1")
    return (
        client("sqs")
        .receive_message(QueueUrl=queue_url, MaxNumberOfMessages=max_messages, WaitTimeSeconds=wait_seconds)
        .get("Messages", [])
    )


def delete(queue_url: str, messages: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Delete received messages, 10 per request; returns the failed entries (they will be redelivered)."""
    failed: list[dict[str, Any]] = []
    for start in range(0, len(messages), 10):
        chunk = messages[start : start + 10]
        out = client("sqs").delete_message_batch(
            QueueUrl=queue_url,
            Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
        )
        failed.extend(out.get("Failed", []))
    return failed
