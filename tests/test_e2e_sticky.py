"""Sticky-queue pattern end to end: emulator + terraform apply + local runner, both queue types."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from tests.conftest import BOTH_QUEUE_TYPES
from tests.harness import dead_letters
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


def in_queue(sqs, url: str) -> int:
    attrs = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return sum(
        int(attrs.get(a, 0))
        for a in (
            "ApproximateNumberOfMessages",
            "ApproximateNumberOfMessagesNotVisible",
            "ApproximateNumberOfMessagesDelayed",
        )
    )


def pending_in_pools(stack, pools) -> int:
    """Messages still in the pool queues, not counting the dead-letter scenario's poison."""
    sqs = stack.client("sqs")
    pools = list(pools)
    total = sum(in_queue(sqs, q["url"]) for q in pools)
    poison = stack.scenarios.get(f"sticky-{stack.queue_type}")
    if poison is not None and in_queue(sqs, poison.pool["dlq_url"]) == 0:
        total -= 1  # the poison has not reached its DLQ yet
    return total


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
    # A late duplicate needs a message still in a pool queue: wait until none is left (bar the
    # dead-letter scenario's poison), then the documents are final and exact.
    pools = stack.outputs["sticky_queue"]["pool_queues"].values()
    assert wait_for(lambda: pending_in_pools(stack, pools) == 0, timeout=120), "pool queues never drained"
    for user in users:
        entries = read_document(stack, user)["entries"]
        assert [e["body"]["n"] for e in entries] == list(range(PER_USER)), user
        assert [e["message_id"] for e in entries] == [f"{user}-{n}" for n in range(PER_USER)]
        assert [e["seq"] - entries[0]["seq"] for e in entries] == list(range(PER_USER))
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
        last_seq = read_document(stack, user)["entries"][-1]["seq"]
        assert "inflight" not in item and item["seq"]["N"] == str(last_seq)  # a lease: nothing to release


def test_invalid_message_reaches_dlq_while_valid_ones_in_its_batch_succeed(stack):
    # sent at stack start (tests/harness/dead_letters.py): the visibility timeouts run meanwhile
    scenario = dead_letters.sticky(stack)
    sqs = stack.client("sqs")

    doc = wait_for(lambda: read_document(stack, scenario.user), timeout=60)
    assert doc, "the valid messages of the batch were not applied"
    assert [e["body"]["n"] for e in doc["entries"]] == [1, 2, 3]

    def dead_letters_():
        got = sqs.receive_message(QueueUrl=scenario.pool["dlq_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
        return got.get("Messages")

    # maxReceiveCount receives, each after the visibility timeout (6 x the dispatcher's timeout)
    visibility = int(
        sqs.get_queue_attributes(QueueUrl=scenario.pool["url"], AttributeNames=["VisibilityTimeout"])["Attributes"][
            "VisibilityTimeout"
        ]
    )
    moved = wait_for(dead_letters_, timeout=visibility * 3 + 60, interval=2)
    assert moved and [m["Body"] for m in moved] == [scenario.poison]
    assert [e["body"]["n"] for e in read_document(stack, scenario.user)["entries"]] == [1, 2, 3]


def test_invalid_ingest_request_is_rejected_with_a_clear_error(stack):
    lam = stack.client("lambda")
    function = stack.outputs["sticky_queue"]["ingester_function_name"]
    response = lam.invoke(FunctionName=function, Payload=json.dumps({"messages": [{"user_id": "a b", "body": 1}]}))
    error = json.loads(response["Payload"].read())
    assert response["FunctionError"] == "Unhandled"
    assert error["errorType"] == "InvalidIngestRequest"
    assert "messages.0.user_id" in error["errorMessage"]


def test_demo_traffic_summary(stack):
    from local.demo import USERS, sticky_queue_demo

    lines = "\n".join(sticky_queue_demo(stack))
    assert f"in send order: {USERS}/{USERS} users" in lines
    assert "users that ever changed queue: 0" in lines
