"""Sticky-queue pattern end to end: emulator + terraform apply + local runner, both queue types."""

from __future__ import annotations

import json
import threading
import time
import uuid

import pytest

from tests.conftest import BOTH_QUEUE_TYPES
from tests.helpers import wait_for

pytestmark = [pytest.mark.e2e, BOTH_QUEUE_TYPES]

USERS, PER_USER, THREADS = 20, 25, 8


def read_document(stack, user_id: str) -> dict | None:
    s3 = stack.client("s3")
    try:
        body = s3.get_object(Bucket=stack.outputs["document_bucket"], Key=f"users/{user_id}.json")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def invoke_ingester(lam, function: str, payload: dict) -> dict:
    response = lam.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    body = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, body
    return body


def test_concurrent_users_each_get_exactly_their_messages_in_order(stack):
    run = uuid.uuid4().hex[:6]
    users = [f"user-{run}-{i:02d}" for i in range(USERS)]
    function = stack.outputs["sticky_queue"]["ingester_function_name"]
    queues_seen: dict[str, set[str]] = {u: set() for u in users}
    errors: list[BaseException] = []
    lock = threading.Lock()

    def sender(thread_index: int) -> None:
        lam = stack.client("lambda")
        mine = users[thread_index::THREADS]
        try:
            # round-robin over this thread's users so every user's messages interleave with others
            for n in range(PER_USER):
                for user in mine:
                    payload = {"user_id": user, "body": {"n": n}, "message_id": f"{user}-{n}"}
                    if n % 5 == 0:  # some requests are batches of one, some single messages
                        payload = {"messages": [payload]}
                    result = invoke_ingester(lam, function, payload)
                    with lock:
                        queues_seen[user].update(result["queues"].values())
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=sender, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors, errors

    def all_complete():
        return all(len((read_document(stack, u) or {}).get("entries", [])) >= PER_USER for u in users)

    assert wait_for(all_complete, timeout=180), "not every document received all its messages"
    time.sleep(2)  # anything duplicated late would show up now
    for user in users:
        entries = read_document(stack, user)["entries"]
        assert [e["body"]["n"] for e in entries] == list(range(PER_USER)), user
        assert [e["message_id"] for e in entries] == [f"{user}-{n}" for n in range(PER_USER)]
        assert [e["seq"] for e in entries] == list(range(1, PER_USER + 1))
        assert len(queues_seen[user]) == 1, f"{user} was routed to {queues_seen[user]}"

    # load is spread over the pool, and every assignment holds a lease (its TTL) and no count
    assert len(set().union(*queues_seen.values())) > 1
    ddb = stack.client("dynamodb")
    table = stack.outputs["sticky_queue"]["assignment_table_name"]
    for user in users:
        item = wait_for(
            lambda u=user: (
                ddb.get_item(TableName=table, Key={"user_id": {"S": u}}, ConsistentRead=True)["Item"]
                if "expires_at" in ddb.get_item(TableName=table, Key={"user_id": {"S": u}}, ConsistentRead=True)["Item"]
                else None
            ),
            timeout=30,
        )
        assert "inflight" not in item and item["seq"]["N"] == str(PER_USER)  # a lease: nothing to release


def test_invalid_message_reaches_dlq_while_valid_ones_in_its_batch_succeed(stack):
    pool = stack.outputs["sticky_queue"]["pool_queues"]["00"]
    sqs = stack.client("sqs")
    user = f"dlq-{uuid.uuid4().hex[:6]}"
    fifo = stack.queue_type == "fifo"

    def entry(i: int, body: str, group: str) -> dict:
        e = {"Id": str(i), "MessageBody": body}
        if fifo:
            e.update(MessageGroupId=group, MessageDeduplicationId=uuid.uuid4().hex)
        return e

    valid = [json.dumps({"user_id": user, "seq": n, "message_id": f"{user}-{n}", "body": {"n": n}}) for n in (1, 2, 3)]
    poison = json.dumps({"user_id": user, "seq": "not-a-number", "body": None})
    sqs.send_message_batch(
        QueueUrl=pool["url"],
        Entries=[
            entry(0, valid[0], user),
            entry(1, poison, "poison"),
            entry(2, valid[1], user),
            entry(3, valid[2], user),
        ],
    )

    doc = wait_for(lambda: read_document(stack, user), timeout=60)
    assert [e["body"]["n"] for e in doc["entries"]] == [1, 2, 3]

    def dead_letters():
        got = sqs.receive_message(QueueUrl=pool["dlq_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return got.get("Messages")

    # maxReceiveCount receives, each after the visibility timeout (6 x the dispatcher's timeout)
    visibility = int(
        sqs.get_queue_attributes(QueueUrl=pool["url"], AttributeNames=["VisibilityTimeout"])["Attributes"][
            "VisibilityTimeout"
        ]
    )
    moved = wait_for(dead_letters, timeout=visibility * 3 + 60, interval=2)
    assert moved and [m["Body"] for m in moved] == [poison]
    assert [e["body"]["n"] for e in read_document(stack, user)["entries"]] == [1, 2, 3]


def test_invalid_ingest_request_is_rejected_with_a_clear_error(stack):
    lam = stack.client("lambda")
    function = stack.outputs["sticky_queue"]["ingester_function_name"]
    response = lam.invoke(FunctionName=function, Payload=json.dumps({"messages": [{"user_id": "a b", "body": 1}]}))
    error = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "InvalidIngestRequest"
    assert "messages.0.user_id" in error["errorMessage"]


def test_demo_traffic_summary(stack):
    from tests.harness.demo import USERS, sticky_queue_demo

    lines = "\n".join(sticky_queue_demo(stack))
    assert f"in send order: {USERS}/{USERS} users" in lines
    assert "users that ever changed queue: 0" in lines
