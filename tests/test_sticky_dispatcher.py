"""Unit tests of the dispatcher: grouping, conditional writes, idempotency, partial failures."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime

import boto3
import pytest

from shared import assignments
from shared.messages import StickyMessage, UserDocument
from tests.conftest import load_function
from tests.helpers import sqs_record

dispatcher = load_function("sticky_dispatcher")
BUCKET, TABLE, IDEMPOTENCY = "docs", "assignments", "idempotency"


class Context:
    function_name = "dispatcher"
    memory_limit_in_mb = 128
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:dispatcher"
    aws_request_id = "req"

    def get_remaining_time_in_millis(self) -> int:
        return 3000


@pytest.fixture
def env(aws, monkeypatch):
    ddb = boto3.client("dynamodb")
    for name, key in ((TABLE, "user_id"), (IDEMPOTENCY, "id")):
        ddb.create_table(
            TableName=name,
            KeySchema=[{"AttributeName": key, "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": key, "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    monkeypatch.setenv("IDEMPOTENCY_TABLE", IDEMPOTENCY)
    monkeypatch.setattr(dispatcher, "DOCUMENT_BUCKET", BUCKET)
    monkeypatch.setattr(dispatcher, "ASSIGNMENT_TABLE", TABLE)
    dispatcher.persistence_layer.cache_clear()
    yield
    dispatcher.persistence_layer.cache_clear()


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
    assert dispatcher.merge(doc, [message("u", 3), message("u", 1)], now) == 2
    assert dispatcher.merge(doc, [message("u", 2), message("u", 1)], now) == 1
    assert [e.seq for e in doc.entries] == [1, 2, 3]


def test_a_lost_race_is_retried_on_the_new_etag(env, monkeypatch):
    """Another writer changes the document between our read and our write: nothing is lost."""
    dispatcher.append_to_document(BUCKET, "u", [message("u", 1)])
    s3 = dispatcher.client("s3")
    real_get = s3.get_object
    raced = {"done": False}

    def get_then_someone_writes(**kwargs):
        current = real_get(**kwargs)
        if not raced["done"]:
            raced["done"] = True
            dispatcher.append_to_document(BUCKET, "u", [message("u", 2)])  # the other writer
        return current

    monkeypatch.setattr(s3, "get_object", get_then_someone_writes)
    assert dispatcher.append_to_document(BUCKET, "u", [message("u", 3)]) == 1
    assert document("u") == [1, 2, 3]


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
    for user in ("a", "b"):
        assignments.create(TABLE, user, "q", 3)
    puts = []
    s3 = dispatcher.client("s3")
    real_put = s3.put_object
    monkeypatch.setattr(s3, "put_object", lambda **kw: puts.append(kw["Key"]) or real_put(**kw))
    bad = record(json.dumps({"user_id": "a", "seq": "x"}))
    records = [record(message(u, s).model_dump_json()) for s in (1, 2, 3) for u in ("a", "b")]
    event = {"Records": records[:2] + [bad] + records[2:]}

    response = dispatcher.lambda_handler(event, Context())

    assert response == {"batchItemFailures": [{"itemIdentifier": bad["messageId"]}]}
    assert sorted(puts) == ["users/a.json", "users/b.json"]  # one write per user per batch
    assert document("a") == [1, 2, 3] and document("b") == [1, 2, 3]
    for user in ("a", "b"):
        item = assignments.get(TABLE, user)
        assert item["inflight"]["N"] == "0" and int(item["expires_at"]["N"]) > time.time()


def test_redelivered_messages_are_applied_once(env):
    assignments.create(TABLE, "u", "q", 2)
    event = {"Records": [record(message("u", 1).model_dump_json()), record(message("u", 2).model_dump_json())]}
    dispatcher.lambda_handler(event, Context())
    dispatcher.lambda_handler(event, Context())  # at-least-once delivery: the same messages again
    assert document("u") == [1, 2]
    assert assignments.get(TABLE, "u")["inflight"]["N"] == "0"  # released once, not twice


def test_failed_write_releases_claims_so_a_retry_applies(env, monkeypatch):
    assignments.create(TABLE, "u", "q", 1)
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
