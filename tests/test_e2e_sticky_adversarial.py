"""Sticky queues tried as clients and AWS would: bursts, duplicates, resends, oversized input.

The unit tests at the top check the local runner's throttling model (AWS: an SQS mapping
polls five batches at once unless its maximum concurrency says otherwise, and a batch
beyond a function's reserved concurrency is throttled: its receive is spent). The e2e
tests run the deployed stack (docs/sticky.md, burst policy).
"""

from __future__ import annotations

import json
import threading
import time
import uuid
from pathlib import Path

import pytest

from local.runner import LocalLambdaRunner
from local.runner.pool import FunctionPool, FunctionSpec
from local.runner.sqs_pollers import AWS_INITIAL_POLLERS, SqsMapping
from tests.conftest import STANDARD
from tests.helpers import wait_for


def spec(reserved: int | None, concurrency: int = 1) -> FunctionSpec:
    return FunctionSpec("f", "arn:aws:lambda:us-east-1:1:function:f", "app.h", 3, 128, {}, concurrency, "/g", reserved)


def mapping(maximum_concurrency: int | None) -> SqsMapping:
    return SqsMapping("u", "f", "url", "arn", 10, 0, True, maximum_concurrency)


def test_runner_polls_a_reserved_function_as_aws_does(tmp_path: Path):
    runner = LocalLambdaRunner(endpoint="http://unused", region="us-east-1", code_fetcher=lambda name: b"")
    cases = [(spec(reserved=1), None, AWS_INITIAL_POLLERS), (spec(2, 2), 2, 2), (spec(None, 4), None, 4)]
    for function, maximum, expected in cases:
        runner.pools["f"] = FunctionPool(function, tmp_path, {}, tmp_path / "log")
        assert runner.pollers(mapping(maximum)) == expected


def test_a_batch_beyond_reserved_concurrency_is_throttled_not_invoked(tmp_path: Path):
    pool = FunctionPool(spec(reserved=1), tmp_path, {}, tmp_path / "log")
    pool._slots.acquire()  # the one allowed invocation is running
    assert pool.try_invoke({"Records": []}) is None
    assert (pool.throttles, pool.invocations) == (1, 0)


# --- end to end ------------------------------------------------------------------------------


def read_document(stack, user_id: str) -> dict | None:
    s3 = stack.client("s3")
    try:
        body = s3.get_object(Bucket=stack.outputs["document_bucket"], Key=f"users/{user_id}.json")["Body"].read()
    except s3.exceptions.NoSuchKey:
        return None
    return json.loads(body)


def invoke(lam, function: str, payload: dict) -> tuple[bool, dict]:
    response = lam.invoke(FunctionName=function, Payload=json.dumps(payload).encode())
    return "FunctionError" not in response, json.loads(response["Payload"].read())


@pytest.mark.e2e
@STANDARD
def test_a_burst_with_duplicates_and_resends_applies_each_message_once_and_dead_letters_nothing(stack):
    out = stack.outputs["sticky_queue"]
    function = out["ingester_function_name"]
    run = uuid.uuid4().hex[:6]
    users = [f"burst-{run}-{i}" for i in range(8)]
    per_user, threads = 60, 4
    dispatchers = list(out["dispatcher_function_names"].values())
    throttles_before = sum(stack.runner.pools[d].throttles for d in dispatchers)
    errors: list[BaseException] = []

    def client_calls(t: int) -> None:
        lam = stack.client("lambda")
        try:
            for start in range(0, per_user, 10):  # batched calls: 10 messages of each of this thread's users
                messages = [
                    {"user_id": u, "body": {"n": n}, "message_id": f"{u}-{n}"}
                    for n in range(start, start + 10)
                    for u in users[t::threads]
                ]
                messages += messages[:3]  # duplicates in the same request
                ok, body = invoke(lam, function, {"messages": messages})
                assert ok, body
                ok, body = invoke(lam, function, {"messages": messages[:5]})  # a client resend of applied ids
                assert ok, body
        except BaseException as exc:
            errors.append(exc)

    workers = [threading.Thread(target=client_calls, args=(t,)) for t in range(threads)]
    for w in workers:
        w.start()
    for w in workers:
        w.join()
    assert not errors, errors

    def complete() -> bool:
        return all(len((read_document(stack, u) or {}).get("entries", [])) >= per_user for u in users)

    assert wait_for(complete, timeout=180), "not every document received all its messages"
    time.sleep(3)  # a duplicate applied late would show up now
    for user in users:
        entries = read_document(stack, user)["entries"]
        assert [e["message_id"] for e in entries] == [f"{user}-{n}" for n in range(per_user)], user
        seqs = [e["seq"] for e in entries]
        assert seqs == sorted(seqs)

    sqs = stack.client("sqs")
    for queue in out["pool_queues"].values():
        got = sqs.receive_message(QueueUrl=queue["dlq_url"], MaxNumberOfMessages=10, WaitTimeSeconds=1)
        assert not [m for m in got.get("Messages", []) if run in m["Body"]], "a good message was dead-lettered"
    assert sum(stack.runner.pools[d].throttles for d in dispatchers) == throttles_before  # no receive spent idle

    ddb, table = stack.client("dynamodb"), out["assignment_table_name"]
    for user in users:  # a lease: nothing counted in flight, so nothing can be left to release
        item = ddb.get_item(TableName=table, Key={"user_id": {"S": user}}, ConsistentRead=True)["Item"]
        assert "inflight" not in item and int(item["expires_at"]["N"]) > time.time()


@pytest.mark.e2e
@STANDARD
def test_an_oversized_body_rejects_the_request_naming_the_field_and_nothing_is_sent(stack):
    out = stack.outputs["sticky_queue"]
    user = f"big-{uuid.uuid4().hex[:6]}"
    messages = [{"user_id": user, "body": 1, "message_id": "ok"}, {"user_id": user, "body": "x" * 300_000}]
    ok, error = invoke(stack.client("lambda"), out["ingester_function_name"], {"messages": messages})
    assert not ok and error["errorType"] == "InvalidIngestRequest"
    assert "messages.1.body" in error["errorMessage"] and "262144" in error["errorMessage"]
    time.sleep(3)
    assert read_document(stack, user) is None  # the valid message was not sent either
    ddb = stack.client("dynamodb")
    item = ddb.get_item(TableName=out["assignment_table_name"], Key={"user_id": {"S": user}}, ConsistentRead=True)
    assert "Item" not in item  # nothing reserved
