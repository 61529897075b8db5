"""Move messages from a dead-letter queue back to its source queue, once the cause is fixed.

    python -m ops.redrive <dlq-url> [--max N | --rate R]   (make redrive DLQ=<dlq-url> ...)

Without --max: SQS's own DLQ redrive (StartMessageMoveTask) moves every message, at most
--rate messages per second if given (1-500, SQS's limit). StartMessageMoveTask cannot stop
after a count, so --max N (move at most N messages) always moves them itself, as it also does
where the endpoint lacks the API (emulators): receive, send to the source queue with the same
body, attributes and FIFO group, then delete from the DLQ — so a message is never lost, at
worst delivered twice (every consumer here is idempotent).
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import re
import sys
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError, EndpointConnectionError, NoCredentialsError

from shared.clients import client

MAX_RATE = 500  # StartMessageMoveTask: MaxNumberOfMessagesPerSecond is 1-500
# <scheme>://<host>[/<path>]/<12-digit account>/<queue name>: AWS, the emulator and LocalStack's URL styles
# (a queue name is at most 80 characters, ".fifo" included)
QUEUE_URL = re.compile(r"https?://[^/\s]+(/[^/\s]+)*/\d{12}/([A-Za-z0-9_-]{1,75}\.fifo|[A-Za-z0-9_-]{1,80})")
UNSUPPORTED = {"UnsupportedOperation", "InvalidAction", "NotImplemented", "501", "UnknownOperationException"}


@dataclass(frozen=True)
class Redrive:
    dlq_url: str
    source_url: str
    moved: int | None  # None when SQS moves them asynchronously (task started)
    task: str | None = None


def _host_port(url: str) -> tuple[str, int]:
    """The URL's host (every loopback name as one) and port (the scheme's default if none)."""
    parts = urlsplit(url)
    host = (parts.hostname or "").lower()
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = host == "localhost" or host.endswith((".localhost", ".localhost.localstack.cloud"))
    return ("loopback" if loopback else host, parts.port or (443 if parts.scheme == "https" else 80))


def _aws(host: str) -> bool:
    return host.endswith((".amazonaws.com", ".amazonaws.com.cn"))


def wrong_endpoint(dlq_url: str, endpoint_url: str) -> str | None:
    """Why ``dlq_url`` is not a queue of the endpoint the SQS client talks to, or None.

    Requests go to the client's endpoint whatever host the queue URL names, so a URL of another
    stack (a stopped emulator's port) would act on this one's queue of the same name. AWS's
    own hosts (sqs.<region>.amazonaws.com, the legacy queue.amazonaws.com) pass: AWS refuses a
    queue of another region itself."""
    url, endpoint = _host_port(dlq_url), _host_port(endpoint_url)
    if url == endpoint or (_aws(url[0]) and _aws(endpoint[0])):
        return None
    return f"{dlq_url} is not a queue of {endpoint_url}, the endpoint this redrive talks to"


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


def redrive(dlq_url: str, limit: int | None = None, rate: int | None = None) -> Redrive:
    """Move the DLQ's messages back: at most ``limit`` of them (moved here, one by one), or all
    of them by an SQS move task at most ``rate`` per second."""
    if limit is not None and limit < 1:
        raise ValueError(f"limit must be at least 1, got {limit}")
    if rate is not None and not 1 <= rate <= MAX_RATE:
        raise ValueError(f"rate must be 1-{MAX_RATE} messages per second, got {rate}")
    if limit is not None and rate is not None:
        raise ValueError("give a limit (messages moved here) or a rate (an SQS move task), not both")
    if not QUEUE_URL.fullmatch(dlq_url):
        raise ValueError(f"not a queue URL: {dlq_url!r} (https://sqs.<region>.amazonaws.com/<account id>/<queue name>)")
    if wrong := wrong_endpoint(dlq_url, client("sqs").meta.endpoint_url):
        raise ValueError(wrong)
    source_url = source_queue(dlq_url)
    if limit is not None:  # a move task cannot stop after a count
        return Redrive(dlq_url, source_url, moved=move_messages(dlq_url, source_url, limit))
    try:
        kwargs: dict[str, Any] = {"SourceArn": _arn(dlq_url), "DestinationArn": _arn(source_url)}
        if rate is not None:
            kwargs["MaxNumberOfMessagesPerSecond"] = rate
        task = client("sqs").start_message_move_task(**kwargs)["TaskHandle"]
        return Redrive(dlq_url, source_url, moved=None, task=task)
    except NotImplementedError:  # an in-process emulator without the API
        pass
    except ClientError as exc:
        if not _unsupported(exc):
            raise
    return Redrive(dlq_url, source_url, moved=move_messages(dlq_url, source_url))


def problem(exc: ClientError | BotoCoreError, dlq_url: str) -> str:
    """What went wrong with a request, in one line a user can act on."""
    if isinstance(exc, NoCredentialsError):
        return "no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"
    if isinstance(exc, EndpointConnectionError):
        endpoint = exc.kwargs.get("endpoint_url")
        return f"cannot reach {endpoint}: is the local stack running (make apply), is AWS_ENDPOINT_URL right?"
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        if error.get("Code") in ("AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"):
            return f"no queue at {dlq_url} (or its source queue): check the URL, the account and the region"
        return f"{exc.operation_name} refused: {error.get('Code')}: {error.get('Message')}"
    return str(exc)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("dlq_url")
    how = parser.add_mutually_exclusive_group()
    how.add_argument("--max", type=int, default=None, help="move at most this many messages (moved one by one)")
    how.add_argument(
        "--rate", type=int, default=None, help=f"move all, at most this many per second (1-{MAX_RATE}; SQS move task)"
    )
    args = parser.parse_args(argv)
    try:
        result = redrive(args.dlq_url, args.max, args.rate)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except (ClientError, BotoCoreError) as exc:
        print(f"error: {problem(exc, args.dlq_url)}", file=sys.stderr)
        return 1
    print(json.dumps(result.__dict__))
    return 0


if __name__ == "__main__":
    sys.exit(main())
