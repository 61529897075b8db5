"""Patterns 2-4 end to end: emulator + terraform apply + local runner (standard stack)."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from shared import large_payload
from shared.messages import ServiceResult
from tests.conftest import LATE, REPO, STANDARD
from tests.harness import dead_letters
from tests.helpers import scan, wait_for

pytestmark = [pytest.mark.e2e]


def depth(stack, url: str) -> int:
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def dead_letters_of(stack, dlq_url: str) -> list[str]:
    got = stack.client("sqs").receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [m["Body"] for m in got.get("Messages", [])]


# --- pattern 2 --------------------------------------------------------------------------


@STANDARD
def test_cron_fanout_tick_starts_a_worker_per_10_messages_and_stores_1000_items_once(stack):
    out = stack.outputs["cron_fanout"]
    url, table, ddb = out["work_queue"]["url"], out["items_table_name"], stack.client("dynamodb")
    sqs = stack.client("sqs")
    run = uuid.uuid4().hex[:6]
    bodies = [json.dumps({"key": f"e2e-{run}-{n}", "data": {"n": n}}) for n in range(1000)]
    malformed = json.dumps({"key": "", "data": f"not an object {run}"})
    before = depth(stack, url)  # the demo test writes to the same queue
    for start in range(0, 1000, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        )
    sqs.send_message(QueueUrl=url, MessageBody=malformed)
    assert depth(stack, url) == before + 1001

    (tick,) = stack.runner.fire(out["schedule_rule_name"], sync=True)
    # one worker per 10 queued messages (the cap, 200, is above 101)
    assert tick.ok and tick.payload["depth"] >= 1001 and tick.payload["workers"] == -(-tick.payload["depth"] // 10)
    # Later ticks (the schedule keeps firing, as its rate would) receive the malformed message
    # again until SQS dead-letters it -- test_cron_fanout_malformed_message_is_dead_lettered,
    # last in this file, asserts that, so its visibility timeouts run during the other tests --
    # and anything a slow worker of the first tick left behind.
    ticker = dead_letters.fanout_ticks(stack, malformed)

    def stored() -> list[dict] | None:
        items = scan(ddb, table, "key", f"e2e-{run}-")
        return items if len(items) >= 1000 else None

    items = wait_for(stored, timeout=240, interval=2)
    stored_now = len(scan(ddb, table, "key", f"e2e-{run}-"))
    assert items is not None, f"only {stored_now} of 1000 items stored; ticker errors: {ticker.errors}"
    assert sorted(i["key"]["S"] for i in items) == sorted(f"e2e-{run}-{n}" for n in range(1000))  # each once
    assert {i["tick_id"]["S"] for i in items} <= {tick.payload["tick_id"], *ticker.tick_ids}
    assert tick.payload["tick_id"] in {i["tick_id"]["S"] for i in items}


# --- pattern 3 --------------------------------------------------------------------------


@STANDARD
def test_relay_processes_every_object_once_with_at_most_one_chain_at_a_time(stack):
    out = stack.outputs["relay_consumer"]
    bucket, prefix = out["inbox_bucket"], f"e2e-{uuid.uuid4().hex[:6]}/"
    keys = [f"{prefix}object {n:03d}.txt" for n in range(500)]

    def put(part: list[str]) -> None:
        client = stack.client("s3")
        for key in part:
            client.put_object(Bucket=bucket, Key=key, Body=key.encode())

    threads = [threading.Thread(target=put, args=(keys[i::4],)) for i in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert wait_for(lambda: depth(stack, out["relay_queue"]["url"]) >= 500, timeout=30)

    def processed() -> list[dict] | None:
        items = scan(stack.client("dynamodb"), out["results_table_name"], "object_id", f"{bucket}/{prefix}")
        return items if len(items) >= 500 else None

    # The schedule fires (as EventBridge: asynchronously) again and again while the objects are
    # processed: however fast or slow the machine, the lease must keep it to one chain at a time.
    def fire_until_processed() -> list[dict] | None:
        stack.runner.fire(out["schedule_rule_name"])
        return wait_for(processed, timeout=3, interval=0.5)

    items = wait_for(fire_until_processed, timeout=300, interval=0)
    assert items is not None, "not every object was processed"
    documents = [json.loads(i["document"]["S"]) for i in items]
    assert sorted(d["key"] for d in documents) == sorted(keys)  # URL-decoded keys, each once
    chains: dict[str, list[dict]] = {}
    for item in items:
        chains.setdefault(item["chain_id"]["S"], []).append(item)
    spans = []
    for chain_items in chains.values():
        hops = sorted({int(i["hop"]["N"]) for i in chain_items})
        assert hops == list(range(hops[0], hops[-1] + 1)), hops  # a relay of consecutive hops
        times = [int(i["processed_at"]["N"]) for i in chain_items]
        spans.append((min(times), max(times)))
    spans.sort()
    assert all(prev[1] <= nxt[0] for prev, nxt in zip(spans, spans[1:], strict=False)), spans  # never two at once
    assert max(int(i["hop"]["N"]) for i in items) > 1  # <= batches_per_hop x 10 per hop: 500 need a relay
    # the chain ends by itself: lease released, queue empty, the s3:TestEvent ignored (not dead-lettered)
    leases = stack.client("dynamodb")
    assert wait_for(lambda: not leases.scan(TableName=out["lease_table_name"])["Items"], timeout=60)
    assert depth(stack, out["relay_queue"]["url"]) == 0
    assert dead_letters_of(stack, out["relay_queue"]["dlq_url"]) == []


@STANDARD
def test_relay_schedule_firing_while_the_lease_is_held_starts_no_second_chain(stack):
    out = stack.outputs["relay_consumer"]
    ddb, table = stack.client("dynamodb"), out["lease_table_name"]
    assert wait_for(lambda: not ddb.scan(TableName=table)["Items"], timeout=60), "a chain is still running"
    # another chain holds the lease (injected: no race with a real chain's timing)
    held = {"lease_id": {"S": "relay"}, "owner": {"S": "another-chain"}, "expires_at": {"N": str(2**31)}}
    ddb.put_item(TableName=table, Item=held)
    try:
        (fired,) = stack.runner.fire(out["schedule_rule_name"], sync=True)
        assert fired.ok and fired.payload["outcome"] == "lease-held", fired.payload
        assert fired.payload.get("processed", 0) == 0
        assert ddb.get_item(TableName=table, Key={"lease_id": {"S": "relay"}})["Item"]["owner"]["S"] == "another-chain"
    finally:
        ddb.delete_item(TableName=table, Key={"lease_id": {"S": "relay"}})


# --- pattern 4 --------------------------------------------------------------------------


def workflow_results(stack, request_ids: set[str]) -> dict[tuple[str, str], ServiceResult]:
    """Drain the results queue (shared by tests), keeping the results of ``request_ids``."""
    sqs, url, found = stack.client("sqs"), stack.outputs["sns_workflow"]["results_queue"]["url"], {}
    while got := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=1).get("Messages"):
        for m in got:
            result = ServiceResult.model_validate_json(large_payload.resolve(m["Body"], stack.client("s3")))
            if result.request_id in request_ids:
                found[(result.request_id, result.service)] = (result, m["Body"])
                sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return found


def read(stack, request_id: str, stage: str) -> dict | None:
    s3 = stack.client("s3")
    try:
        key = f"requests/{request_id}/{stage}.json"
        return json.loads(
            s3.get_object(Bucket=stack.outputs["sns_workflow"]["document_bucket"], Key=key)["Body"].read()
        )
    except s3.exceptions.NoSuchKey:
        return None


@STANDARD
def test_workflow_request_flows_through_both_services_with_a_large_payload(stack):
    out = stack.outputs["sns_workflow"]
    lam = stack.client("lambda")
    document = {"title": "e2e", "blob": "z" * 400_000}
    response = lam.invoke(FunctionName=out["preprocessor_function_name"], Payload=json.dumps({"document": document}))
    started = json.loads(response["Payload"].read())
    assert "FunctionError" not in response, started
    request_id = started["request_id"]
    assert uuid.UUID(request_id).version == 4

    assert wait_for(lambda: read(stack, request_id, "summarize"), timeout=120), "the workflow did not finish"
    assert read(stack, request_id, "enrich")["blob"] == document["blob"]
    results: dict = {}
    assert wait_for(lambda: results.update(workflow_results(stack, {request_id})) or len(results) == 2, timeout=30), (
        f"results of {request_id}: {sorted(results)}"
    )
    (enriched, enriched_body), (summary, _) = results[(request_id, "enrich")], results[(request_id, "summarize")]
    assert large_payload.pointer(enriched_body) is not None  # > 256 KiB: sent as an S3 pointer...
    assert enriched.document["blob"] == document["blob"]  # ...and arrived whole
    assert summary.document == read(stack, request_id, "summarize")


@STANDARD
def test_publishing_a_request_id_to_the_connector_starts_a_service_mid_workflow(stack):
    out = stack.outputs["sns_workflow"]
    request_id = str(uuid.uuid4())
    stack.client("s3").put_object(
        Bucket=out["document_bucket"], Key=f"requests/{request_id}/enrich.json", Body=json.dumps({"from": "operator"})
    )
    stack.client("sns").publish(
        TopicArn=out["connector_topic_arn"],
        Message=json.dumps({"request_id": request_id, "source": "operator"}),
        MessageAttributes={"service": {"DataType": "String", "StringValue": "summarize"}},
    )
    summary = wait_for(lambda: read(stack, request_id, "summarize"), timeout=60)
    assert summary and summary["field_count"] == 1
    assert read(stack, request_id, "preprocessor") is None and read(stack, request_id, "enrich") == {"from": "operator"}


@STANDARD
def test_the_service_sample_events_fail_without_their_input_and_start_mid_workflow_with_it(stack):
    """events/workflow_{enrich,summarize}.json, invoked as events/README.md says (make invoke)."""
    out, lam = stack.outputs["sns_workflow"], stack.client("lambda")
    functions = out["service_function_names"]

    def invoke(service: str) -> tuple[str | None, dict]:
        sample = (REPO / "events" / f"workflow_{service}.json").read_bytes()
        response = lam.invoke(FunctionName=functions[service], Payload=sample)
        return response.get("FunctionError"), json.loads(response["Payload"].read())

    record = json.loads(json.loads((REPO / "events" / "workflow_enrich.json").read_text())["Records"][0]["body"])
    request_id = json.loads(record["Message"])["request_id"]
    stack.client("s3").delete_object(Bucket=out["document_bucket"], Key=f"requests/{request_id}/preprocessor.json")
    error, payload = invoke("enrich")
    assert error == "Unhandled" and "no preprocessor document" in payload["errorMessage"]  # the record failed

    stack.client("s3").put_object(
        Bucket=out["document_bucket"], Key=f"requests/{request_id}/preprocessor.json", Body=b'{"title": "hello"}'
    )
    assert invoke("enrich") == (None, {"batchItemFailures": []})
    assert invoke("summarize") == (None, {"batchItemFailures": []})
    assert (read(stack, request_id, "enrich") or {}).get("title") == "hello"
    assert (read(stack, request_id, "summarize") or {}).get("field_count", 0) >= 1


@STANDARD
def test_invalid_connector_message_reaches_the_service_dlq(stack):
    out = stack.outputs["sns_workflow"]
    request_id = dead_letters.workflow(stack)  # published at stack start
    queue = out["service_queues"]["enrich"]
    visibility = 6 * stack.runner.functions[out["service_function_names"]["enrich"]].timeout

    def moved() -> list[str]:
        return [b for b in dead_letters_of(stack, queue["dlq_url"]) if request_id in b]

    found = wait_for(moved, timeout=visibility * 3 + 60, interval=2)
    assert found and json.loads(json.loads(found[0])["Message"])["request_id"] == request_id


# --- make demo ----------------------------------------------------------------------------


@STANDARD
def test_demo_summaries_of_patterns_2_to_4(stack):
    from local import demo

    demo.fanout_send(stack, items=50)
    demo.relay_send(stack, objects=30)
    lines = demo.workflow_demo(stack, requests=2)
    lines += demo.fanout_report(stack, items=50, fire=True)
    lines += demo.relay_report(stack, objects=30, fire=True)
    text = "\n".join(lines)
    assert "complete: 2/2" in text and "results larger than 256 KiB sent as S3 pointers: 1" in text
    assert "demo items in the table: 50 " in text
    assert "processed: 30 " in text and " chain(s), " in text  # chains: see the relay test (one at a time)


# --- late: the fan-out dead-letter scenario (started by the fan-out test) -----------------


@LATE  # with the last group of the session: its visibility timeouts run out during the others
def test_cron_fanout_malformed_message_is_dead_lettered(stack):
    out = stack.outputs["cron_fanout"]
    scenario = stack.scenarios.get("fanout")
    if scenario is None:  # run on its own: start the scenario here
        malformed = json.dumps({"key": "", "data": f"not an object {uuid.uuid4().hex[:6]}"})
        stack.client("sqs").send_message(QueueUrl=out["work_queue"]["url"], MessageBody=malformed)
        scenario = dead_letters.fanout_ticks(stack, malformed)
    visibility = 6 * stack.runner.functions[out["worker_function_name"]].timeout
    try:
        moved = wait_for(
            lambda: [b for b in dead_letters_of(stack, out["work_queue"]["dlq_url"]) if b == scenario.body],
            timeout=visibility * 3 + 60,
            interval=2,
        )
    finally:
        scenario.stop.set()
    assert moved == [scenario.body], f"ticker errors: {scenario.errors}"
    assert [i for i in scan(stack.client("dynamodb"), out["items_table_name"]) if not i["key"]["S"]] == []
