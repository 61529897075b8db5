"""shared/: the grouped batch processor and the assignment protocol."""

from __future__ import annotations

import json
import time

import boto3
import pytest
from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from shared import assignments
from shared.batch import GroupedBatchProcessor, GroupFailure
from shared.messages import StickySqsRecord


def rec(mid: str, body: dict | str, group: str | None = None) -> dict:
    attributes = {
        "ApproximateReceiveCount": "1",
        "SentTimestamp": "1",
        "SenderId": "x",
        "ApproximateFirstReceiveTimestamp": "1",
    }
    if group:
        attributes.update(MessageGroupId=group, MessageDeduplicationId=mid, SequenceNumber="1")
    return {
        "messageId": mid,
        "receiptHandle": "rh",
        "body": body if isinstance(body, str) else json.dumps(body),
        "attributes": attributes,
        "messageAttributes": {},
        "md5OfBody": "x",
        "eventSource": "aws:sqs",
        "eventSourceARN": "arn:aws:sqs:us-east-1:1:q",
        "awsRegion": "us-east-1",
    }


def body(user: str, seq: int) -> dict:
    return {"user_id": user, "seq": seq, "message_id": f"{user}{seq}", "body": seq}


def run(records, handler, fifo=False):
    processor = GroupedBatchProcessor(
        EventType.SQS, model=StickySqsRecord, group_key=lambda r: r.body.user_id, fifo=fifo
    )
    return process_partial_response(event={"Records": records}, record_handler=handler, processor=processor)


def failures(response) -> list[str]:
    return [f["itemIdentifier"] for f in response["batchItemFailures"]]


def test_handler_gets_each_group_once_in_order():
    seen = []
    records = [rec("1", body("a", 1)), rec("2", body("b", 1)), rec("3", body("a", 2))]
    assert failures(run(records, lambda group: seen.append([(r.body.user_id, r.body.seq) for r in group]))) == []
    assert seen == [[("a", 1), ("a", 2)], [("b", 1)]]


def test_invalid_record_fails_alone_and_failing_group_fails_whole():
    def handler(group):
        if group[0].body.user_id == "b":
            raise RuntimeError("b is broken")

    records = [rec("1", body("a", 1)), rec("2", "not json"), rec("3", body("b", 1)), rec("4", body("b", 2))]
    assert sorted(failures(run(records, handler))) == ["2", "3", "4"]


def test_group_failure_can_fail_some_records():
    def handler(group):
        raise GroupFailure({1: ValueError("second one")})

    records = [rec("1", body("a", 1)), rec("2", body("a", 2)), rec("3", body("a", 3))]
    assert failures(run(records, handler)) == ["2"]
    assert failures(run(records, handler, fifo=True)) == ["2", "3"]  # FIFO: nothing after a failure


def test_fifo_fails_the_rest_of_a_group_after_its_first_failure():
    def handler(group):
        raise GroupFailure({0: ValueError("first")})

    records = [
        rec("1", body("a", 1), "a"),
        rec("2", "garbage", "b"),
        rec("3", body("b", 2), "b"),
        rec("4", body("a", 2), "a"),
        rec("5", body("c", 1), "c"),
    ]
    with pytest.raises(BatchProcessingError):  # every record failed: the whole batch is retried
        run(records, handler, fifo=True)

    ok = run(records, lambda group: None, fifo=True)
    assert sorted(failures(ok)) == ["2", "3"]


@pytest.fixture
def table(aws):
    boto3.client("dynamodb").create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "t"


def test_only_one_create_wins(table):
    assert assignments.create(table, "u", "q1", 1) is not None
    assert assignments.create(table, "u", "q2", 1) is None
    assert assignments.reserve(table, "u", 1).queue_url == "q1"


def test_ttl_only_when_nothing_is_in_flight(table):
    assignments.create(table, "u", "q", 3)
    assert assignments.release(table, "u", 2, ttl_seconds=60) == 1
    assert "expires_at" not in assignments.get(table, "u")
    assert assignments.release(table, "u", 1, ttl_seconds=60, now=1000.0) == 0
    assert assignments.get(table, "u")["expires_at"]["N"] == "1060"
    assignments.reserve(table, "u", 1)  # used again: the TTL is removed
    assert "expires_at" not in assignments.get(table, "u")


def test_release_without_an_assignment_is_a_no_op(table):
    assert assignments.release(table, "nobody", 3, ttl_seconds=60) == 0
    assert assignments.get(table, "nobody") is None


def test_expired_but_not_yet_deleted_assignment_is_reused(table):
    """DynamoDB deletes expired items lazily; reusing one is safe since nothing was in flight."""
    assignments.create(table, "u", "q", 1)
    assignments.release(table, "u", 1, ttl_seconds=0, now=time.time() - 100)
    assert assignments.reserve(table, "u", 1).queue_url == "q"
