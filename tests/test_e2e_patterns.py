"""Patterns 2-4 end to end: emulator + terraform apply + local runner (standard stack)."""

from __future__ import annotations

import json
import threading
import uuid

import pytest

from shared import large_payload
from shared.messages import ServiceResult
from tests.conftest import STANDARD
from tests.helpers import scan, wait_for

pytestmark = [pytest.mark.e2e, STANDARD]


def depth(stack, url: str) -> int:
    attrs = stack.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"]
    return int(attrs["ApproximateNumberOfMessages"]) + int(attrs["ApproximateNumberOfMessagesNotVisible"])


def dead_letters(stack, dlq_url: str) -> list[str]:
    got = stack.client("sqs").receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)
    return [m["Body"] for m in got.get("Messages", [])]


# --- pattern 2 --------------------------------------------------------------------------


def test_cron_fanout_drains_1000_messages_in_one_tick_and_dead_letters_a_malformed_one(stack):
    out = stack.outputs["cron_fanout"]
    url, table, ddb = out["work_queue"]["url"], out["items_table_name"], stack.client("dynamodb")
    sqs = stack.client("sqs")
    bodies = [json.dumps({"key": f"e2e-{n}", "data": {"n": n}}) for n in range(1000)]
    malformed = json.dumps({"key": "", "data": "not an object"})
    for start in range(0, 1000, 10):
        sqs.send_message_batch(
            QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": b} for i, b in enumerate(bodies[start : start + 10])]
        )
    sqs.send_message(QueueUrl=url, MessageBody=malformed)
    assert depth(stack, url) == 1001

    (tick,) = stack.runner.fire(out["schedule_rule_name"], sync=True)
    assert tick.ok and tick.payload["depth"] == 1001 and tick.payload["workers"] == 101

    def stored() -> list[dict] | None:
        items = scan(ddb, table)
        return items if len(items) >= 1000 else None

    items = wait_for(stored, timeout=240, interval=2)
    assert items is not None, f"only {len(scan(stack.client('dynamodb'), table))} of 1000 items stored after one tick"
    assert sorted(i["key"]["S"] for i in items) == sorted(f"e2e-{n}" for n in range(1000))
    assert {i["tick_id"]["S"] for i in items} == {tick.payload["tick_id"]}

    # the malformed message is received again by later ticks until SQS dead-letters it
    def moved() -> list[str]:
        stack.runner.fire(out["schedule_rule_name"])
        return dead_letters(stack, out["work_queue"]["dlq_url"])

    visibility = 6 * stack.runner.functions[out["worker_function_name"]].timeout
    assert wait_for(moved, timeout=visibility * 3 + 60, interval=5) == [malformed]
    assert len(scan(ddb, table)) == 1000 and depth(stack, url) == 0


# --- pattern 3 --------------------------------------------------------------------------


def test_relay_processes_500_objects_in_one_chain_never_two_at_once(stack):
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

    stack.runner.fire(out["schedule_rule_name"])  # as EventBridge: asynchronously
    leases = stack.client("dynamodb")
    held = wait_for(lambda: leases.scan(TableName=out["lease_table_name"])["Items"], timeout=30, interval=0.2)
    assert held, "the chain never took the lease"
    (mid_chain,) = stack.runner.fire(out["schedule_rule_name"], sync=True)  # the schedule fires mid-chain
    assert mid_chain.ok and mid_chain.payload["outcome"] == "lease-held", mid_chain.payload

    def processed() -> list[dict] | None:
        items = scan(stack.client("dynamodb"), out["results_table_name"], "object_id", f"{bucket}/{prefix}")
        return items if len(items) >= 500 else None

    items = wait_for(processed, timeout=300, interval=2)
    assert items is not None, "not every object was processed"
    documents = [json.loads(i["document"]["S"]) for i in items]
    assert sorted(d["key"] for d in documents) == sorted(keys)  # URL-decoded keys, each once
    assert len({d["chain_id"] for d in documents}) == 1  # one chain did it all
    hops = sorted({d["hop"] for d in documents})
    assert hops == list(range(1, len(hops) + 1)) and len(hops) > 1  # a relay of consecutive hops
    assert held[0]["owner"]["S"] == documents[0]["chain_id"]
    # the chain ends by itself: lease released, queue empty, the s3:TestEvent ignored (not dead-lettered)
    assert wait_for(lambda: not leases.scan(TableName=out["lease_table_name"])["Items"], timeout=60)
    assert depth(stack, out["relay_queue"]["url"]) == 0
    assert dead_letters(stack, out["relay_queue"]["dlq_url"]) == []


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
    results = {}
    wait_for(lambda: results.update(workflow_results(stack, {request_id})) or len(results) == 2, timeout=30)
    (enriched, enriched_body), (summary, _) = results[(request_id, "enrich")], results[(request_id, "summarize")]
    assert large_payload.pointer(enriched_body) is not None  # > 256 KiB: sent as an S3 pointer...
    assert enriched.document["blob"] == document["blob"]  # ...and arrived whole
    assert summary.document == read(stack, request_id, "summarize")


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


def test_invalid_connector_message_reaches_the_service_dlq(stack):
    out = stack.outputs["sns_workflow"]
    stack.client("sns").publish(
        TopicArn=out["connector_topic_arn"],
        Message=json.dumps({"request_id": "not-a-uuid"}),
        MessageAttributes={"service": {"DataType": "String", "StringValue": "enrich"}},
    )
    queue = out["service_queues"]["enrich"]
    visibility = 6 * stack.runner.functions[out["service_function_names"]["enrich"]].timeout
    moved = wait_for(lambda: dead_letters(stack, queue["dlq_url"]), timeout=visibility * 3 + 60, interval=2)
    assert moved and json.loads(json.loads(moved[0])["Message"])["request_id"] == "not-a-uuid"


# --- make demo ----------------------------------------------------------------------------


def test_demo_summaries_of_patterns_2_to_4(stack):
    from tests.harness import demo

    demo.fanout_send(stack, items=50)
    demo.relay_send(stack, objects=30)
    lines = demo.workflow_demo(stack, requests=2)
    lines += demo.fanout_report(stack, items=50, fire=True)
    lines += demo.relay_report(stack, objects=30, fire=True)
    text = "\n".join(lines)
    assert "complete: 2/2" in text and "results larger than 256 KiB sent as S3 pointers: 1" in text
    assert "demo items in the table: 50 " in text
    assert "processed: 30 " in text and "by 1 chain(s)" in text
