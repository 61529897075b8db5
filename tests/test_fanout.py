"""Unit tests of the cron fan-out counter and worker."""

from __future__ import annotations

import json

import boto3
import pytest

from shared.messages import FanoutTick
from tests.conftest import configure, load_function
from tests.helpers import Context, create_queue_with_dlq, create_table, queue_arn, scheduled_event, sns_event

counter = load_function("fanout_counter")
worker = load_function("fanout_worker")
TABLE = "items"


@pytest.fixture
def env(aws, monkeypatch):
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    url, dlq = create_queue_with_dlq("work")
    topic = sns.create_topic(Name="fanout")["TopicArn"]
    inbox = sqs.create_queue(QueueName="ticks")["QueueUrl"]
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn(inbox), Attributes={"RawMessageDelivery": "true"})
    create_table(TABLE, "message_id")
    configure(monkeypatch, counter, work_queue_url=url, fanout_topic_arn=topic)
    configure(monkeypatch, worker, work_queue_url=url, items_table=TABLE)
    return {"url": url, "dlq": dlq, "topic": topic, "ticks": inbox}


def send(url: str, bodies: list[str]) -> None:
    sqs = boto3.client("sqs")
    for start in range(0, len(bodies), 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        )


def item(n: int) -> str:
    return json.dumps({"key": f"k{n}", "data": {"n": n}})


def drain_ticks(url: str) -> list[FanoutTick]:
    sqs, ticks = boto3.client("sqs"), []
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        ticks += [FanoutTick.model_validate_json(m["Body"]) for m in got]
        sqs.delete_message_batch(
            QueueUrl=url, Entries=[{"Id": m["MessageId"], "ReceiptHandle": m["ReceiptHandle"]} for m in got]
        )
    return ticks


def stored() -> list[dict]:
    return boto3.client("dynamodb").scan(TableName=TABLE)["Items"]


@pytest.mark.parametrize(
    ("depth", "cap", "expected"),
    [(0, 100, 0), (1, 100, 1), (10, 100, 1), (11, 100, 2), (1000, 100, 100), (1001, 100, 100), (1001, 200, 101)],
)
def test_workers_needed_is_ceil_of_depth_over_ten_capped(depth, cap, expected):
    assert counter.workers_needed(depth, cap) == expected


def test_counter_publishes_one_tick_per_ten_messages_in_batches(env):
    send(env["url"], [item(n) for n in range(25)])
    result = counter.lambda_handler(scheduled_event(), Context("counter"))
    assert result["depth"] == 25 and result["workers"] == 3
    ticks = drain_ticks(env["ticks"])
    assert sorted(t.index for t in ticks) == [0, 1, 2] and {t.of for t in ticks} == {3}
    assert {t.tick_id for t in ticks} == {result["tick_id"]}


def test_counter_respects_the_cap(env, monkeypatch):
    configure(monkeypatch, counter, max_workers=2)
    send(env["url"], [item(n) for n in range(50)])
    assert counter.lambda_handler(scheduled_event(), Context("counter"))["workers"] == 2
    assert len(drain_ticks(env["ticks"])) == 2


def test_counter_publishes_nothing_for_an_empty_queue(env):
    assert counter.lambda_handler(scheduled_event(), Context("counter"))["workers"] == 0
    assert drain_ticks(env["ticks"]) == []


def test_publish_retries_entries_sns_refused(env, monkeypatch):
    from shared.clients import client

    sns = client("sns")
    real, calls = sns.publish_batch, []

    def flaky(**kwargs):
        calls.append(len(kwargs["PublishBatchRequestEntries"]))
        if len(calls) == 1:  # the first batch: SNS refuses its first entry
            out = real(**{**kwargs, "PublishBatchRequestEntries": kwargs["PublishBatchRequestEntries"][1:]})
            out["Failed"] = [
                {"Id": kwargs["PublishBatchRequestEntries"][0]["Id"], "Code": "InternalError", "SenderFault": False}
            ]
            return out
        return real(**kwargs)

    monkeypatch.setattr(sns, "publish_batch", flaky)
    assert counter.publish_ticks(env["topic"], "t", 12) == 12
    assert calls == [10, 2, 1]
    assert sorted(t.index for t in drain_ticks(env["ticks"])) == list(range(12))


def test_worker_long_polls_writes_by_message_id_and_deletes_what_it_wrote(env, monkeypatch):
    from shared.clients import client

    sqs = client("sqs")
    real, waits = sqs.receive_message, []
    monkeypatch.setattr(sqs, "receive_message", lambda **kw: waits.append(kw["WaitTimeSeconds"]) or real(**kw))
    send(env["url"], [item(n) for n in range(15)])
    out = worker.lambda_handler(sns_event(FanoutTick(tick_id="t", index=0, of=1).model_dump_json()), Context("worker"))
    assert out == {"received": 10, "written": 10}
    assert waits and all(w >= 1 for w in waits)  # never a short poll
    items = stored()
    assert len(items) == 10 and {i["tick_id"]["S"] for i in items} == {"t"}
    depth = boto3.client("sqs").get_queue_attributes(QueueUrl=env["url"], AttributeNames=["All"])["Attributes"]
    assert depth["ApproximateNumberOfMessages"] == "5"


def test_redelivered_message_rewrites_the_same_item(env):
    send(env["url"], [item(1)])
    got = boto3.client("sqs").receive_message(QueueUrl=env["url"])["Messages"][0]
    record = worker.item_for(got["MessageId"], worker.WorkItem.model_validate_json(got["Body"]), "t1")
    assert worker.write_items(TABLE, {got["MessageId"]: record}) == {got["MessageId"]}
    # visibility 0: it is received again, as after a crash between write and delete
    worker.drain_once(env["url"], TABLE, FanoutTick(tick_id="t2", index=0, of=1), wait_seconds=1)
    items = stored()
    assert len(items) == 1 and items[0]["message_id"]["S"] == got["MessageId"]


def test_invalid_message_stays_for_its_dlq_while_valid_ones_are_written(env):
    send(env["url"], [item(1), "not json", json.dumps({"key": ""}), item(2)])
    tick = FanoutTick(tick_id="t", index=0, of=1)
    first = worker.drain_once(env["url"], TABLE, tick, wait_seconds=1)
    assert (first.received, first.written, first.invalid) == (4, 2, 2)
    assert {i["key"]["S"] for i in stored()} == {"k1", "k2"}
    for _ in range(3):  # maxReceiveCount 2: the next receives move them to the DLQ
        worker.drain_once(env["url"], TABLE, tick, wait_seconds=1)
    dead = boto3.client("sqs").receive_message(QueueUrl=env["dlq"], MaxNumberOfMessages=10)["Messages"]
    assert sorted(m["Body"] for m in dead) == sorted(["not json", json.dumps({"key": ""})])


def test_unprocessed_items_are_retried_and_never_deleted_unwritten(env, monkeypatch):
    from shared.clients import client

    ddb = client("dynamodb")
    real = ddb.batch_write_item

    def throttled(**kwargs):
        requests = kwargs["RequestItems"][TABLE]
        out = real(RequestItems={TABLE: requests[:1]})
        out["UnprocessedItems"] = {TABLE: requests[1:]} if len(requests) > 1 else {}
        return out

    monkeypatch.setattr(ddb, "batch_write_item", throttled)
    monkeypatch.setattr(worker, "WRITE_ATTEMPTS", 2)
    monkeypatch.setattr(worker.time, "sleep", lambda s: None)
    send(env["url"], [item(n) for n in range(3)])
    result = worker.drain_once(env["url"], TABLE, FanoutTick(tick_id="t", index=0, of=1), wait_seconds=1)
    assert (result.received, result.written) == (3, 2)
    attrs = boto3.client("sqs").get_queue_attributes(QueueUrl=env["url"], AttributeNames=["All"])["Attributes"]
    assert int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"]) == 1


def test_worker_rejects_a_malformed_tick(env):
    with pytest.raises(Exception, match="validation error"):
        worker.lambda_handler(sns_event('{"tick_id": ""}'), Context("worker"))
