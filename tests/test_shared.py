"""shared/: the grouped batch processor and the assignment protocol."""

from __future__ import annotations

import json
import re
import time

import boto3
import pytest
from aws_lambda_powertools.utilities.batch import EventType, process_partial_response
from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

from shared import assignments, sqs
from shared.batch import GroupedBatchProcessor, GroupFailure
from shared.messages import StickySqsRecord
from tests.conftest import REPO


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


def test_a_processor_forgets_the_groups_of_its_previous_batch():
    processor = GroupedBatchProcessor(EventType.SQS, model=StickySqsRecord, group_key=lambda r: r.body.user_id)
    seen: list[list[str]] = []
    for records in ([rec("1", body("a", 1))], [rec("2", body("a", 2)), rec("3", "garbage")]):
        response = process_partial_response(
            event={"Records": records},
            record_handler=lambda group: seen.append([r.messageId for r in group]),
            processor=processor,
        )
    assert seen == [["1"], ["2"]] and failures(response) == ["3"]


def test_the_grouped_processor_uses_only_the_hooks_it_overrides():
    """Powertools' documented hooks (_prepare, _process_record) are overridden; no other private name is used."""
    source = (REPO / "shared" / "batch.py").read_text()
    used, defined = set(re.findall(r"\.(_[a-z]\w*)", source)), set(re.findall(r"def (_[a-z]\w*)", source))
    assert used and used <= defined, used - defined


@pytest.fixture
def table(aws):
    boto3.client("dynamodb").create_table(
        TableName="t",
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    return "t"


POOL = 2  # pool queues 0 and 1


def test_only_one_assign_wins_and_the_loser_reserves_on_the_winners_queue(table):
    won = assignments.assign(table, "u", 0, 1, POOL, 60)
    assert won is not None
    assert assignments.assign(table, "u", 1, 1, POOL, 60) is None
    got = assignments.reserve(table, "u", 2, POOL, 60)
    assert (got.queue_index, got.first_seq, got.created) == (0, won.first_seq + 1, False)


def test_every_use_extends_the_lease_and_nothing_is_counted(table):
    assignments.assign(table, "u", 0, 3, POOL, 60, now=1000.0)
    assert assignments.get(table, "u")["expires_at"]["N"] == "1060"
    assignments.reserve(table, "u", 1, POOL, 60, now=2000.0)
    item = assignments.get(table, "u")
    assert item["expires_at"]["N"] == "2060" and "inflight" not in item
    assert int(item["seq"]["N"]) == assignments.seq_base(1000.0) + 4  # counted on from the creation time


def test_reserve_refuses_a_queue_that_left_the_pool_and_assign_moves_it(table):
    first = assignments.assign(table, "u", 9, 5, 10, 60)  # queue 9 of a pool of ten, which shrinks to two
    assert assignments.assign(table, "u", 1, 1, 10, 60) is None  # in the pool: kept
    assert assignments.reserve(table, "u", 1, POOL, 60) is None
    moved = assignments.assign(table, "u", 1, 1, POOL, 60)
    assert (moved.queue_index, moved.first_seq) == (1, first.first_seq + 5)  # seq carries on
    assert assignments.reserve(table, "u", 1, POOL, 60).queue_index == 1


@pytest.mark.parametrize("how", ["reserve", "assign"])
def test_a_users_seqs_never_go_backwards_after_ttl_deleted_its_assignment(table, how):
    """The lease ran out (no message of it can still be queued) and DynamoDB's TTL deleted the
    item: the user's next seqs still sort after every seq it was given before, so its
    document stays in ingest order and an old dead letter redriven later sorts before them."""
    created = time.time() - 61
    first = assignments.reserve(table, "u", 1, POOL, 60, now=created, candidate=0)
    old = assignments.reserve(table, "u", 1000, POOL, 60, now=created + 1)
    boto3.client("dynamodb").delete_item(TableName=table, Key={"user_id": {"S": "u"}})  # as TTL does
    if how == "reserve":
        again = assignments.reserve(table, "u", 1, POOL, 60, candidate=1)
    else:
        again = assignments.assign(table, "u", 1, 1, POOL, 60)
    assert again.created and again.first_seq > old.first_seq + 999 > first.first_seq


def test_an_expired_but_not_yet_deleted_assignment_is_reused(table):
    """DynamoDB deletes expired items lazily; by then no message sent under the lease is queued."""
    assignments.assign(table, "u", 0, 1, POOL, 60, now=time.time() - 1000)
    assert assignments.reserve(table, "u", 1, POOL, 60).queue_index == 0


# --- shared/sqs.py: send in batches, retry the refused entries -------------------------------


def fake_batch_api(refuse: dict[str, list[str]]):
    """A SendMessageBatch-shaped call; ``refuse[id]`` lists the codes to answer on successive tries."""
    calls: list[list[str]] = []

    def call(entries):
        calls.append([e["Id"] for e in entries])
        failed = []
        for e in entries:
            codes = refuse.get(e["Id"], [])
            if codes:
                code = codes.pop(0)
                failed.append({"Id": e["Id"], "Code": code, "SenderFault": code == "InvalidParameterValue"})
        return {"Failed": failed}

    return call, calls


def entries(n: int, size: int = 1) -> list[dict]:
    return [{"Id": str(i), "MessageBody": "x" * size} for i in range(n)]


def test_send_batch_sends_tens_and_retries_only_the_refused_entries(monkeypatch):
    monkeypatch.setattr(sqs.time, "sleep", lambda s: None)
    call, calls = fake_batch_api({"3": ["InternalError"], "11": ["Throttled", "Throttled"]})
    sqs.send_batch(call, entries(12), what="test")
    assert calls == [[str(i) for i in range(10)], ["10", "11"], ["3", "11"], ["11"]]


def test_send_batch_raises_naming_what_stays_refused_and_never_retries_a_sender_fault(monkeypatch):
    delays = []
    monkeypatch.setattr(sqs.time, "sleep", delays.append)
    call, calls = fake_batch_api({"1": ["InvalidParameterValue"], "2": ["InternalError"] * 9})
    with pytest.raises(
        sqs.BatchSendFailed, match=r"2 entries refused: 1 \(InvalidParameterValue\), 2 \(InternalError\)"
    ):
        sqs.send_batch(call, entries(3), what="test", attempts=3)
    assert calls == [["0", "1", "2"], ["2"], ["2"]]  # bounded: 3 passes, backoff between them
    assert delays == [sqs.BASE_DELAY_SECONDS, 2 * sqs.BASE_DELAY_SECONDS]


def test_batches_are_packed_by_bytes_too():
    call, calls = fake_batch_api({})
    sqs.send_batch(call, entries(6, size=400_000), what="test", max_bytes=sqs.MAX_BATCH_BYTES)
    assert calls == [["0", "1"], ["2", "3"], ["4", "5"]]  # 2 x 400 KB per 1 MiB batch


def test_an_entry_larger_than_a_batch_request_is_refused_before_anything_is_sent():
    call, calls = fake_batch_api({})
    with pytest.raises(ValueError, match=r"1 \(11 bytes\)"):
        sqs.send_batch(call, [*entries(1), *entries(2, size=11)[1:]], what="test", max_bytes=10)
    assert calls == []


def test_send_batch_works_with_sns_publish_batch(aws):
    sns = boto3.client("sns")
    topic = sns.create_topic(Name="t")["TopicArn"]
    sqs.send_batch(
        lambda e: sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=e),
        [{"Id": str(i), "Message": str(i)} for i in range(23)],
        what="PublishBatch",
    )


class _Recorder:
    def __init__(self) -> None:
        self.calls: list[tuple[str, tuple, dict]] = []

    def __getattr__(self, name: str):
        return lambda *args, **kwargs: self.calls.append((name, args, kwargs))


def test_a_rejection_is_logged_counted_and_raised_and_other_errors_pass_untouched():
    from shared.rejections import rejections

    logger, metrics = _Recorder(), _Recorder()
    with pytest.raises(ValueError, match="bad field"), rejections(logger, metrics, ValueError):  # type: ignore[arg-type]
        raise ValueError("bad field")
    assert logger.calls == [
        ("warning", ("request rejected",), {"extra": {"reason": "bad field", "error_type": "ValueError"}})
    ]
    assert [(name, kwargs["name"], kwargs["value"]) for name, _, kwargs in metrics.calls] == [
        ("add_metric", "RequestsRejected", 1)
    ]
    logger.calls.clear(), metrics.calls.clear()
    with pytest.raises(KeyError), rejections(logger, metrics, ValueError):  # type: ignore[arg-type]
        raise KeyError("ours, not the caller's")
    with rejections(logger, metrics, ValueError):  # type: ignore[arg-type]
        pass
    assert logger.calls == [] and metrics.calls == []
    with pytest.raises(KeyError), rejections(logger, metrics, "KeyError"):  # type: ignore[arg-type]
        raise KeyError("a class named, not imported")
    assert [name for name, _, _ in metrics.calls] == ["add_metric"]
