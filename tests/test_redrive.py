"""The redrive command: DLQ messages go back to their source queue, once."""

from __future__ import annotations

import json
import os

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError

from ops import redrive
from shared.clients import client
from tests.helpers import create_queue_with_dlq


def dead_letter(url: str, bodies: list[str]) -> None:
    """Receive each message past maxReceiveCount (1) so SQS moves it to the DLQ."""
    sqs = boto3.client("sqs")
    for body in bodies:
        sqs.send_message(
            QueueUrl=url, MessageBody=body, MessageAttributes={"kind": {"DataType": "String", "StringValue": "x"}}
        )
    for _ in range(3):
        sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)


def test_falls_back_to_moving_messages_itself_and_keeps_attributes(aws):
    url, dlq = create_queue_with_dlq("work", max_receive_count=1)
    dead_letter(url, ["a", "b", "c"])
    result = redrive.redrive(dlq)
    assert (result.source_url, result.moved) == (url, 3)
    back = boto3.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"])
    assert sorted(m["Body"] for m in back["Messages"]) == ["a", "b", "c"]
    assert all(m["MessageAttributes"]["kind"]["StringValue"] == "x" for m in back["Messages"])
    assert redrive.redrive(dlq).moved == 0  # nothing left: a second run moves nothing


def test_limit_moves_at_most_that_many(aws):
    url, dlq = create_queue_with_dlq("work", max_receive_count=1)
    dead_letter(url, [str(n) for n in range(5)])
    assert redrive.redrive(dlq, limit=2).moved == 2
    attrs = boto3.client("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "3"


def test_uses_sqs_message_move_task_where_available(aws, monkeypatch):
    url, dlq = create_queue_with_dlq("work", max_receive_count=1)
    calls = []
    monkeypatch.setattr(
        client("sqs"), "start_message_move_task", lambda **kw: calls.append(kw) or {"TaskHandle": "task-1"}
    )
    result = redrive.redrive(dlq)
    assert result.task == "task-1" and result.moved is None
    assert calls == [{"SourceArn": redrive._arn(dlq), "DestinationArn": redrive._arn(url)}]


def test_refuses_a_queue_that_is_nobodys_dlq(aws):
    url, _ = create_queue_with_dlq("work")
    with pytest.raises(ValueError, match="DLQ of 0 queues"):
        redrive.redrive(url)


def test_command_line_prints_the_result(aws, capsys):
    url, dlq = create_queue_with_dlq("work", max_receive_count=1)
    dead_letter(url, ["a"])
    assert redrive.main([dlq]) == 0
    assert json.loads(capsys.readouterr().out)["moved"] == 1


def test_max_counts_messages_even_where_sqs_has_a_move_task(aws, monkeypatch):
    """A move task takes a rate, never a count: with a limit the messages are moved here."""
    url, dlq = create_queue_with_dlq("work", max_receive_count=1)
    dead_letter(url, [str(n) for n in range(5)])
    calls = []
    monkeypatch.setattr(
        client("sqs"), "start_message_move_task", lambda **kw: calls.append(kw) or {"TaskHandle": "task-1"}
    )
    result = redrive.redrive(dlq, limit=2)
    assert (result.moved, result.task, calls) == (2, None, [])
    attrs = boto3.client("sqs").get_queue_attributes(QueueUrl=dlq, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "3"


def test_rate_is_the_move_tasks_messages_per_second(aws, monkeypatch):
    url, dlq = create_queue_with_dlq("work", max_receive_count=1)
    calls = []
    monkeypatch.setattr(
        client("sqs"), "start_message_move_task", lambda **kw: calls.append(kw) or {"TaskHandle": "task-1"}
    )
    assert redrive.main([dlq, "--rate", "50"]) == 0
    assert calls == [
        {"SourceArn": redrive._arn(dlq), "DestinationArn": redrive._arn(url), "MaxNumberOfMessagesPerSecond": 50}
    ]


@pytest.mark.parametrize(("kwargs", "field"), [({"rate": 0}, "rate"), ({"rate": 501}, "rate"), ({"limit": 0}, "limit")])
def test_out_of_range_rate_or_limit_is_refused_before_any_request(aws, kwargs, field):
    _, dlq = create_queue_with_dlq("work", max_receive_count=1)
    with pytest.raises(ValueError, match=field):
        redrive.redrive(dlq, **kwargs)


def test_command_line_refuses_max_and_rate_together(aws, capsys):
    _, dlq = create_queue_with_dlq("work", max_receive_count=1)
    with pytest.raises(SystemExit):
        redrive.main([dlq, "--max", "1", "--rate", "5"])
    assert "not allowed with" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("url", "status", "says"),
    [
        ("notaurl", 2, "not a queue URL: 'notaurl'"),
        ("https://sqs.us-east-1.amazonaws.com/123456789012", 2, "not a queue URL"),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/q\n", 2, "not a queue URL"),
        (f"https://sqs.us-east-1.amazonaws.com/123456789012/{'q' * 76}.fifo", 2, "not a queue URL"),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/nope", 1, "no queue at https://sqs"),
    ],
)
def test_command_line_answers_a_bad_url_or_a_missing_queue_with_one_line(aws, capsys, url, status, says):
    assert redrive.main([url]) == status
    err = capsys.readouterr().err
    assert err.startswith(f"error: {says}") and len(err.strip().splitlines()) == 1, err


def test_command_line_without_credentials_says_which_variable_to_set(monkeypatch, tmp_path, capsys):
    from shared import clients

    for key in [k for k in os.environ if k.startswith("AWS_")]:  # keys, profiles, container and web identity
        monkeypatch.delenv(key)
    for key in ("AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.setenv(key, str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    clients.reset()
    try:
        assert redrive.main(["https://sqs.us-east-1.amazonaws.com/123456789012/work-dlq"]) == 1
    finally:
        clients.reset()
    err = capsys.readouterr().err
    assert err.strip() == "error: no AWS credentials: set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)"


def test_an_unreachable_endpoint_is_named_with_what_to_check():
    exc = EndpointConnectionError(endpoint_url="http://127.0.0.1:4566/")
    said = redrive.problem(exc, "http://127.0.0.1:4566/123456789012/work-dlq")
    assert said.startswith("cannot reach http://127.0.0.1:4566/") and "AWS_ENDPOINT_URL" in said
