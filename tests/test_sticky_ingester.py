"""Unit tests of the ingester's logic against moto (decorator mode)."""

from __future__ import annotations

import json

import boto3
import pytest

from shared import assignments
from tests.conftest import load_function

ingester = load_function("sticky_ingester")
TABLE = "assignments"


@pytest.fixture
def env(aws, monkeypatch):
    ddb = boto3.client("dynamodb")
    ddb.create_table(
        TableName=TABLE,
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    sqs = boto3.client("sqs")
    store = sqs.create_queue(QueueName="store")["QueueUrl"]
    pool = [sqs.create_queue(QueueName=f"pool-{i}")["QueueUrl"] for i in range(3)]
    monkeypatch.setattr(ingester, "ASSIGNMENT_TABLE", TABLE)
    monkeypatch.setattr(ingester, "URL_STORE_QUEUE_URL", store)
    monkeypatch.setattr(ingester, "POOL_QUEUE_URLS", pool)
    return {"store": store, "pool": pool, "sqs": sqs}


def drain(sqs, url):
    out = []
    while True:
        got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
        if not got:
            return out
        out += [json.loads(m["Body"]) for m in got]
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


def test_parse_accepts_a_single_message_or_a_batch():
    single = ingester.parse({"user_id": "u1", "body": {"a": 1}})
    batch = ingester.parse({"messages": [{"user_id": "u1", "body": 1}, {"user_id": "u2", "body": 2}]})
    assert [m.user_id for m in single.messages] == ["u1"]
    assert [m.user_id for m in batch.messages] == ["u1", "u2"]
    assert single.messages[0].message_id  # generated when the client gives none


@pytest.mark.parametrize(
    "event, where",
    [
        ({"messages": []}, "messages"),
        ({"messages": [{"user_id": "bad id", "body": 1}]}, "messages.0.user_id"),
        ({"messages": [{"body": 1}]}, "messages.0.user_id"),
        ({"messages": [{"user_id": "u", "body": 1, "extra": True}]}, "messages.0.extra"),
    ],
)
def test_parse_rejects_invalid_input_naming_the_field(event, where):
    with pytest.raises(ingester.InvalidIngestRequest, match=where.replace(".", r"\.")):
        ingester.parse(event)


def test_store_is_seeded_lazily_and_rotates_through_the_pool(env):
    taken = [ingester.take_queue_url(env["store"], env["pool"]) for _ in range(6)]
    assert sorted(set(taken)) == sorted(env["pool"])
    attrs = env["sqs"].get_queue_attributes(QueueUrl=env["store"], AttributeNames=["All"])["Attributes"]
    assert int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"]) == 3


def test_stale_urls_in_the_store_are_dropped(env):
    env["sqs"].send_message(QueueUrl=env["store"], MessageBody="https://old/queue")
    env["sqs"].send_message(QueueUrl=env["store"], MessageBody=env["pool"][1])
    assert ingester.take_queue_url(env["store"], env["pool"]) == env["pool"][1]


def test_a_user_keeps_its_queue_and_gets_consecutive_seqs(env):
    first = ingester.assign("u1", 3)
    second = ingester.assign("u1", 2)
    assert first.created and not second.created
    assert second.queue_url == first.queue_url
    assert (first.first_seq, second.first_seq) == (1, 4)
    item = assignments.get(TABLE, "u1")
    assert item["inflight"]["N"] == "5" and "expires_at" not in item


def test_race_loser_adopts_the_winners_queue(env, monkeypatch):
    """Two ingesters miss the assignment at once; the second create fails and reuses the first."""
    real_reserve = assignments.reserve
    calls = {"n": 0}

    def reserve_then_lose(table, user_id, count):
        calls["n"] += 1
        if calls["n"] == 1:  # our first look: nothing yet; meanwhile another ingester wins
            assignments.create(table, user_id, env["pool"][2], 1)
            return None
        return real_reserve(table, user_id, count)

    monkeypatch.setattr(ingester.assignments, "reserve", reserve_then_lose)
    got = ingester.assign("u9", 1)
    assert got.queue_url == env["pool"][2] and not got.created and got.first_seq == 2


def test_ingest_sends_each_users_messages_in_order_to_its_queue(env):
    request = ingester.parse(
        {"messages": [{"user_id": u, "body": n, "message_id": f"{u}{n}"} for n in range(12) for u in ("a", "b")]}
    )
    result = ingester.ingest(request, correlation_id="req-1")
    assert result.accepted == 24
    for user in ("a", "b"):
        sent = [m for m in drain(env["sqs"], result.queues[user]) if m["user_id"] == user]
        assert [m["body"] for m in sent] == list(range(12))
        assert [m["seq"] for m in sent] == list(range(1, 13))
        assert {m["correlation_id"] for m in sent} == {"req-1"}  # dispatcher logs carry the ingest request id


def test_fifo_queues_get_the_user_as_message_group(aws):
    sqs = boto3.client("sqs")
    url = sqs.create_queue(QueueName="p.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    from shared.messages import StickyMessage

    ingester.send(url, [StickyMessage(user_id="u", seq=i, message_id=str(i), body=i) for i in range(1, 4)])
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["MessageGroupId"])["Messages"]
    assert {m["Attributes"]["MessageGroupId"] for m in got} == {"u"}
    assert [json.loads(m["Body"])["seq"] for m in got] == [1, 2, 3]
