"""Unit tests of the dispatcher: grouping, conditional writes, exactly-once by message_id, partial failures."""

from __future__ import annotations

import json
from collections import Counter
from datetime import UTC, datetime

import boto3
import pytest

from shared.messages import StickyMessage, UserDocument
from tests.conftest import configure, load_function
from tests.helpers import sqs_record
from tests.test_sticky_ingester import count_calls

dispatcher = load_function("sticky_dispatcher")
BUCKET = "docs"


class Context:
    function_name = "dispatcher"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:dispatcher"
    aws_request_id = "req"

    def get_remaining_time_in_millis(self) -> int:
        return 3000


@pytest.fixture
def env(aws, monkeypatch):
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setattr(dispatcher, "DOCUMENT_BUCKET", BUCKET)
    monkeypatch.setattr(dispatcher, "documents", dispatcher.DocumentCache(2**20))  # a fresh process


def message(user: str, seq: int, body=None) -> StickyMessage:
    return StickyMessage(user_id=user, seq=seq, message_id=f"{user}-{seq}", body=body if body is not None else seq)


def record(body: str) -> dict:
    return sqs_record(body, queue="pool-00")


def document(user: str) -> list[int]:
    body = boto3.client("s3").get_object(Bucket=BUCKET, Key=f"users/{user}.json")["Body"].read()
    return [e.seq for e in UserDocument.model_validate_json(body).entries]


def test_merge_skips_known_message_ids_and_orders_by_seq():
    doc = UserDocument(user_id="u")
    now = datetime.now(UTC)
    assert dispatcher.merge(doc.entries, [message("u", 3), message("u", 1)], now) == 2
    assert dispatcher.merge(doc.entries, [message("u", 2), message("u", 1)], now) == 1
    assert [e.seq for e in doc.entries] == [1, 2, 3]


def test_a_resend_applied_before_its_original_takes_the_originals_place():
    doc = UserDocument(user_id="u")
    now = datetime.now(UTC)
    resend = StickyMessage(user_id="u", seq=9, message_id="u-1", body=1)
    assert dispatcher.merge(doc.entries, [message("u", 2), resend], now) == 2
    assert [e.message_id for e in doc.entries] == ["u-2", "u-1"]
    assert dispatcher.merge(doc.entries, [message("u", 1)], now) == 1  # the original, delivered late
    assert [(e.message_id, e.seq) for e in doc.entries] == [("u-1", 1), ("u-2", 2)]
    assert dispatcher.merge(doc.entries, [resend], now) == 0


def test_a_lost_race_is_retried_on_the_new_etag(env, monkeypatch):
    """Another writer changes the document between our read and our write: nothing is lost."""
    dispatcher.append_to_document(BUCKET, "u", [message("u", 1)])
    dispatcher.documents.drop(f"{BUCKET}/users/u.json")  # another process: it reads first
    s3 = dispatcher.client("s3")
    real_get = s3.get_object
    raced = {"done": False}

    def get_then_someone_writes(**kwargs):
        current = real_get(**kwargs)
        if not raced["done"]:
            raced["done"] = True
            dispatcher.append_to_document(BUCKET, "u", [message("u", 2)])  # the other writer
            dispatcher.documents.drop(f"{BUCKET}/users/u.json")
        return current

    monkeypatch.setattr(s3, "get_object", get_then_someone_writes)
    assert dispatcher.append_to_document(BUCKET, "u", [message("u", 3)]) == 1
    assert document("u") == [1, 2, 3]


def test_a_users_next_batch_is_written_without_a_read(env):
    """The process holds the version it wrote: the next batch is one conditional write."""
    dispatcher.append_to_document(BUCKET, "u", [message("u", 1)])
    with count_calls() as calls:
        assert dispatcher.append_to_document(BUCKET, "u", [message("u", 2)]) == 1
    assert calls == ["s3.PutObject"] and document("u") == [1, 2]


def test_a_stale_cached_version_is_refused_and_nothing_is_lost(env):
    """Another dispatcher wrote since this one's cached version: If-Match refuses, a read follows."""
    dispatcher.append_to_document(BUCKET, "u", [message("u", 1)])
    theirs = UserDocument(user_id="u")
    dispatcher.merge(theirs.entries, [message("u", 1), message("u", 2)], datetime.now(UTC))
    boto3.client("s3").put_object(Bucket=BUCKET, Key="users/u.json", Body=theirs.model_dump_json())
    with count_calls() as calls:
        assert dispatcher.append_to_document(BUCKET, "u", [message("u", 3)]) == 1
    assert calls == ["s3.PutObject", "s3.GetObject", "s3.PutObject"]
    assert document("u") == [1, 2, 3]


@pytest.mark.parametrize("deleted", [True, False])
def test_a_cached_already_applied_is_checked_against_s3(env, deleted):
    """Only the stored document may say a message is applied: a document deleted behind the
    cache's back is written again; one that has it costs a read and no write."""
    dispatcher.append_to_document(BUCKET, "u", [message("u", 1)])
    if deleted:
        boto3.client("s3").delete_object(Bucket=BUCKET, Key="users/u.json")
    assert dispatcher.append_to_document(BUCKET, "u", [message("u", 1)]) == int(deleted)
    assert document("u") == [1]


def test_a_repaired_document_is_read_again_without_a_new_process(env):
    """A document that does not parse fails its messages (they retry, then dead-letter) and is not
    cached: once an operator restores it, the same process applies the next batch and a redrive."""
    s3 = boto3.client("s3")
    dispatcher.append_to_document(BUCKET, "u", [message("u", 1)])
    good = s3.get_object(Bucket=BUCKET, Key="users/u.json")["Body"].read()
    dispatcher.documents.drop(f"{BUCKET}/users/u.json")  # another process wrote since: no version cached
    s3.put_object(Bucket=BUCKET, Key="users/u.json", Body=b"{not json")
    for _ in range(2):
        with pytest.raises(ValueError):
            dispatcher.append_to_document(BUCKET, "u", [message("u", 2)])
    s3.put_object(Bucket=BUCKET, Key="users/u.json", Body=good)
    assert dispatcher.append_to_document(BUCKET, "u", [message("u", 2)]) == 1
    assert document("u") == [1, 2]


def test_the_document_cache_is_bounded_in_bytes():
    cache = dispatcher.DocumentCache(max_bytes=10)
    cache.put("a", "e1", b"12345")
    cache.put("b", "e2", b"123456")  # over the bound: the least recently used goes
    cache.put("c", "e3", b"x" * 11)  # larger than the bound: not kept
    assert list(cache.entries) == ["b"] and cache.size == 6


def test_first_write_is_conditional_on_absence(env, monkeypatch):
    s3 = dispatcher.client("s3")
    real_get = s3.get_object
    calls = {"n": 0}

    def missing_then_created(**kwargs):
        calls["n"] += 1
        if calls["n"] == 1:
            s3.put_object(Bucket=BUCKET, Key="users/n.json", Body=UserDocument(user_id="n").model_dump_json())
            raise s3.exceptions.NoSuchKey({"Error": {"Code": "NoSuchKey", "Message": "x"}}, "GetObject")
        return real_get(**kwargs)

    monkeypatch.setattr(s3, "get_object", missing_then_created)
    assert dispatcher.append_to_document(BUCKET, "n", [message("n", 1)]) == 1
    assert calls["n"] == 2 and document("n") == [1]


def test_batch_groups_by_user_and_fails_only_invalid_records(env, monkeypatch):
    bad = record(json.dumps({"user_id": "a", "seq": "x"}))
    records = [record(message(u, s).model_dump_json()) for s in (1, 2, 3) for u in ("a", "b")]
    event = {"Records": records[:2] + [bad] + records[2:]}

    with count_calls() as calls:
        response = dispatcher.lambda_handler(event, Context())

    assert response == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    # per user per batch: one read and one conditional write; no DynamoDB, no idempotency records
    assert sorted(calls) == ["s3.GetObject"] * 2 + ["s3.PutObject"] * 2
    assert document("a") == [1, 2, 3] and document("b") == [1, 2, 3]


def test_a_message_id_twice_in_one_batch_is_applied_once_and_the_rest_succeeds(env):
    twice = message("u", 2)
    again = StickyMessage(user_id="u", seq=3, message_id=twice.message_id, body="resent")  # a client resend
    records = [record(m.model_dump_json()) for m in (message("u", 1), twice, twice, again, message("u", 4))]
    assert dispatcher.lambda_handler({"Records": records}, Context()) == {"batchItemFailures": []}
    assert document("u") == [1, 2, 4]


def test_redelivered_messages_are_applied_once_and_cost_no_write(env):
    event = {"Records": [record(message("u", 1).model_dump_json()), record(message("u", 2).model_dump_json())]}
    dispatcher.lambda_handler(event, Context())
    with count_calls() as calls:
        assert dispatcher.lambda_handler(event, Context()) == {"batchItemFailures": []}  # at-least-once delivery
    assert document("u") == [1, 2]
    assert calls == ["s3.GetObject"]  # already in the document: nothing to write


def test_failed_write_fails_the_group_so_a_retry_applies(env, monkeypatch):
    event = {"Records": [record(message("u", 1).model_dump_json())]}
    s3 = dispatcher.client("s3")
    real_put = s3.put_object

    def broken(**kwargs):
        raise RuntimeError("S3 is down")

    monkeypatch.setattr(s3, "put_object", broken)
    with pytest.raises(Exception, match="All records failed"):
        dispatcher.lambda_handler(event, Context())
    monkeypatch.setattr(s3, "put_object", real_put)
    assert dispatcher.lambda_handler(event, Context()) == {"batchItemFailures": []}
    assert document("u") == [1]


def drain_as_the_mapping_would(url: str, batch_size: int) -> None:
    """The event source mapping (not counted): receive up to ``batch_size``, invoke, delete what succeeded."""
    sqs = boto3.client("sqs")
    while True:
        got: list[dict] = []
        while len(got) < batch_size:
            more = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]).get("Messages", [])
            if not more:
                break
            got += more
        if not got:
            return
        records = [sqs_record(m["Body"], queue="pool") | {"receiptHandle": m["ReceiptHandle"]} for m in got]
        assert dispatcher.lambda_handler({"Records": records}, Context()) == {"batchItemFailures": []}
        for m in got:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])


@pytest.mark.parametrize("per_call, goal", [(1, 3.0), (50, 1.0)])
def test_requests_per_message_ingest_plus_dispatch(env, monkeypatch, per_call, goal):
    """Every AWS request of ingester + dispatchers (the mapping's own polling excluded; the bench prices it apart).

    100 messages of 10 users; ``per_call`` messages per ingest call; drained after ingest in
    batches of 100 (the mapping's batch size with its batching window).
    """
    ingester = load_function("sticky_ingester")
    ddb, sqs = boto3.client("dynamodb"), boto3.client("sqs")
    ddb.create_table(
        TableName="assignments",
        KeySchema=[{"AttributeName": "user_id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "user_id", "AttributeType": "S"}],
        BillingMode="PAY_PER_REQUEST",
    )
    pool = [sqs.create_queue(QueueName=f"pool-{i}")["QueueUrl"] for i in range(4)]
    store = sqs.create_queue(QueueName="store")["QueueUrl"]
    configure(
        monkeypatch, ingester, assignment_table="assignments", url_store_queue_url=store, pool_queue_urls=tuple(pool)
    )
    monkeypatch.setattr(ingester, "spare_queues", [])  # a fresh process: no queues held from an earlier test
    ingester.take_queues(store, len(pool), 1)  # the store is seeded once per deployment
    messages = [{"user_id": f"u{u}", "body": {"n": n, "text": "x" * 200}} for n in range(10) for u in range(10)]

    with count_calls() as calls:
        for start in range(0, len(messages), per_call):
            ingester.ingest(ingester.parse({"messages": messages[start : start + per_call]}))
        for url in pool:
            drain_as_the_mapping_would(url, batch_size=100)

    per_message = len(calls) / len(messages)
    print(f"per_call={per_call}: {per_message:.2f} requests per message", sorted(Counter(calls).items()))
    assert per_message <= goal
    assert all(len(document(f"u{u}")) == 10 for u in range(10))
