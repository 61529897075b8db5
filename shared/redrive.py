"""Move messages from a dead-letter queue back to its source queue, once the cause is fixed.

    python -m shared.redrive <dlq-url> [--max N]      (make redrive DLQ=<dlq-url>)

Uses SQS's own DLQ redrive (StartMessageMoveTask) where the endpoint has it; otherwise
(emulators) moves messages itself: receive, send to the source queue with the same body,
attributes and FIFO group, then delete from the DLQ — so a message is never lost, at worst
delivered twice (every consumer here is idempotent).
"""

from __future__ import annotations

import argparse
import json
import sys
import uuid
from dataclasses import dataclass
from typing import Any

from botocore.exceptions import ClientError

from shared.clients import client

UNSUPPORTED = {"UnsupportedOperation", "InvalidAction", "NotImplemented", "501", "UnknownOperationException"}


@dataclass(frozen=True)
class Redrive:
    dlq_url: str
    source_url: str
    moved: int | None  # None when SQS moves them asynchronously (task started)
    task: str | None = None


def _arn(url: str) -> str:
    return client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def source_queue(dlq_url: str) -> str:
    """The one queue whose redrive policy targets ``dlq_url``."""
    sqs = client("sqs")
    sources = sqs.list_dead_letter_source_queues(QueueUrl=dlq_url).get("queueUrls", [])
    if len(sources) != 1:
        raise ValueError(f"{dlq_url} is the DLQ of {len(sources)} queues; expected exactly one")
    return sources[0]


def _copy_attributes(message: dict[str, Any]) -> dict[str, Any]:
    return {
        name: {k: v for k, v in value.items() if k in ("DataType", "StringValue", "BinaryValue")}
        for name, value in message.get("MessageAttributes", {}).items()
    }


def move_messages(dlq_url: str, source_url: str, limit: int | None = None) -> int:
    """Receive from the DLQ, send to the source, delete from the DLQ; returns the number moved."""
    sqs, moved = client("sqs"), 0
    fifo = source_url.endswith(".fifo")
    while limit is None or moved < limit:
        batch = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10 if limit is None else max(1, min(10, limit - moved)),
            WaitTimeSeconds=1,
            AttributeNames=["All"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not batch:
            break
        for message in batch:
            entry: dict[str, Any] = {"QueueUrl": source_url, "MessageBody": message["Body"]}
            if attributes := _copy_attributes(message):
                entry["MessageAttributes"] = attributes
            if fifo:
                entry["MessageGroupId"] = message["Attributes"].get("MessageGroupId", "redrive")
                entry["MessageDeduplicationId"] = str(uuid.uuid4())
            sqs.send_message(**entry)
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])
            moved += 1
    return moved


def _unsupported(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    status = exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return error.get("Code") in UNSUPPORTED or (status in (500, 501) and "not been implemented" in str(exc))


def redrive(dlq_url: str, limit: int | None = None) -> Redrive:
    source_url = source_queue(dlq_url)
    sqs = client("sqs")
    try:
        kwargs: dict[str, Any] = {"SourceArn": _arn(dlq_url), "DestinationArn": _arn(source_url)}
        if limit:
            kwargs["MaxNumberOfMessagesPerSecond"] = min(limit, 500)
        task = sqs.start_message_move_task(**kwargs)["TaskHandle"]
        return Redrive(dlq_url, source_url, moved=None, task=task)
    except NotImplementedError:  # an in-process emulator without the API
        pass
    except ClientError as exc:
        if not _unsupported(exc):
            raise
    return Redrive(dlq_url, source_url, moved=move_messages(dlq_url, source_url, limit))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dlq_url")
    parser.add_argument("--max", type=int, default=None, help="move at most this many messages")
    args = parser.parse_args(argv)
    result = redrive(args.dlq_url, args.max)
    print(json.dumps(result.__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
