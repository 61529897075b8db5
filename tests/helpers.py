"""Helpers for unit tests (moto decorator mode): contexts, tables, event records."""

from __future__ import annotations

import json
import os
import time
import uuid
from pathlib import Path
from typing import Any

import boto3
import pytest

from local.tables import scan  # noqa: F401 - the tests' scan is the platform's


class Context:
    """A LambdaContext stand-in."""

    def __init__(self, name: str = "fn", remaining_ms: int = 30_000) -> None:
        self.function_name = name
        self.memory_limit_in_mb = 128
        self.invoked_function_arn = f"arn:aws:lambda:us-east-1:123456789012:function:{name}"
        self.aws_request_id = str(uuid.uuid4())
        self._remaining_ms = remaining_ms

    def get_remaining_time_in_millis(self) -> int:
        return self._remaining_ms


def clear_shell_aws(patch: pytest.MonkeyPatch) -> None:
    """Keep a test's AWS environment its own: no endpoint, profile or region the shell exports
    (the `export` line `make apply` prints sets AWS_ENDPOINT_URL), moto's fake keys, us-east-1."""
    for name in [n for n in os.environ if n.startswith("AWS_ENDPOINT_URL")]:
        patch.delenv(name)
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_REGION"):
        patch.delenv(name, raising=False)
    patch.setenv("AWS_ACCESS_KEY_ID", "test")
    patch.setenv("AWS_SECRET_ACCESS_KEY", "test")
    patch.setenv("AWS_DEFAULT_REGION", "us-east-1")


def create_table(name: str, key: str) -> None:
    boto3.client("dynamodb").create_table(
        TableName=name,
        KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )


def create_queue_with_dlq(name: str, max_receive_count: int = 2, visibility: int = 0) -> tuple[str, str]:
    """A queue (visibility 0 by default: a failed message is visible again at once) and its DLQ."""
    sqs = boto3.client("sqs")
    dlq = sqs.create_queue(QueueName=f"{name}-dlq")["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    redrive = json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": str(max_receive_count)})
    url = sqs.create_queue(QueueName=name, Attributes={"VisibilityTimeout": str(visibility), "RedrivePolicy": redrive})[
        "QueueUrl"
    ]
    return url, dlq


def queue_arn(url: str) -> str:
    return boto3.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def sqs_record(body: str, queue: str = "queue", message_id: str | None = None) -> dict:
    """One record of an SQS event as Lambda delivers it."""
    return {
        "messageId": message_id or str(uuid.uuid4()),
        "receiptHandle": "rh",
        "body": body,
        "attributes": {
            "ApproximateReceiveCount": "1",
            "SentTimestamp": "1",
            "SenderId": "x",
            "ApproximateFirstReceiveTimestamp": "1",
        },
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": f"arn:aws:sqs:us-east-1:123456789012:{queue}",
        "awsRegion": "us-east-1",
    }


def sns_event(message: str, topic: str = "topic", message_id: str | None = None) -> dict:
    """An SNS event as Lambda receives it from a subscription."""
    arn = f"arn:aws:sns:us-east-1:123456789012:{topic}"
    return {
        "Records": [
            {
                "EventVersion": "1.0",
                "EventSubscriptionArn": f"{arn}:sub",
                "EventSource": "aws:sns",
                "Sns": {
                    "SignatureVersion": "1",
                    "Timestamp": "2026-01-01T00:00:00.000Z",
                    "Signature": "x",
                    "SigningCertUrl": "https://sns.us-east-1.amazonaws.com/cert.pem",
                    "MessageId": message_id or str(uuid.uuid4()),
                    "Message": message,
                    "MessageAttributes": {},
                    "Type": "Notification",
                    "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe",
                    "TopicArn": arn,
                    "Subject": None,
                },
            }
        ]
    }


def scheduled_event(rule: str = "tick") -> dict:
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:events:us-east-1:123456789012:rule/{rule}"],
        "detail": {},
    }


def wait_for(predicate, timeout: float, interval: float = 0.5):
    """Poll ``predicate`` until it returns something truthy or ``timeout`` seconds pass."""
    deadline = time.time() + timeout
    while time.time() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    return predicate()


def make_function(tmp_path: Path, source: str, timeout: int = 2, env: dict | None = None, memory: int = 128) -> Any:
    """A one-file function (``app.handler``) in the local runner's pool, as the runner would deploy it."""
    from local.runner.pool import FunctionPool, FunctionSpec

    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(source)
    spec = FunctionSpec(
        name="f",
        arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        handler="app.handler",
        timeout=timeout,
        memory=memory,
        environment=env or {},
        concurrency=1,
        log_group="/aws/lambda/f",
    )
    return FunctionPool(spec, code, {"PATH": "/usr/bin"}, tmp_path / "f.log")


def outside_make(env: dict[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) without what a parent make passes its children, so a
    test that runs ``make`` sees what a user's shell would, inside ``make test`` too."""
    inherited = ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES", "MAKE_TERMOUT", "MAKE_TERMERR")
    return {k: v for k, v in (os.environ if env is None else env).items() if k not in inherited}
