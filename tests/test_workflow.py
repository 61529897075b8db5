"""Unit tests of the SNS workflow: preprocessor, services, routing, large payloads."""

from __future__ import annotations

import json
import uuid
import warnings

import boto3
import pytest

from shared import large_payload, workflow
from shared import sqs as sender
from shared.messages import ServiceResult
from tests.conftest import configure, load_function
from tests.helpers import Context, create_table, queue_arn, sqs_record

preprocessor = load_function("workflow_preprocessor")
enrich = load_function("workflow_enrich")
summarize = load_function("workflow_summarize")
BUCKET, IDEMPOTENCY = "workflow", "idempotency"


@pytest.fixture
def env(aws, monkeypatch):
    sqs, sns = boto3.client("sqs"), boto3.client("sns")
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    connector = sns.create_topic(Name="connector")["TopicArn"]
    notifier = sns.create_topic(Name="notifier")["TopicArn"]
    queues = {}
    for name in ("enrich", "summarize"):
        queues[name] = sqs.create_queue(QueueName=name)["QueueUrl"]
        sns.subscribe(
            TopicArn=connector,
            Protocol="sqs",
            Endpoint=queue_arn(queues[name]),
            Attributes={"FilterPolicy": json.dumps({"service": [name, "all"]})},
        )
    results = sqs.create_queue(QueueName="results")["QueueUrl"]
    sns.subscribe(
        TopicArn=notifier, Protocol="sqs", Endpoint=queue_arn(results), Attributes={"RawMessageDelivery": "true"}
    )
    create_table(IDEMPOTENCY, "id")
    configure(
        monkeypatch, preprocessor, document_bucket=BUCKET, connector_topic_arn=connector, idempotency_table=IDEMPOTENCY
    )
    preprocessor._once.cache_clear()
    services = {
        "enrich": workflow.Service("enrich", "preprocessor", enrich.enrich, BUCKET, notifier, connector, "summarize"),
        "summarize": workflow.Service("summarize", "enrich", summarize.summarize, BUCKET, notifier, connector),
    }
    monkeypatch.setattr(enrich, "SERVICE", services["enrich"])
    monkeypatch.setattr(summarize, "SERVICE", services["summarize"])
    yield {"connector": connector, "queues": queues, "results": results, "services": services}
    preprocessor._once.cache_clear()


def receive(url: str) -> list[dict]:
    sqs = boto3.client("sqs")
    got = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
    for m in got:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return got


def records(url: str) -> list[dict]:
    return [sqs_record(m["Body"], message_id=m["MessageId"]) for m in receive(url)]


def results(url: str) -> list[ServiceResult]:
    return [ServiceResult.model_validate_json(large_payload.resolve(m["Body"])) for m in receive(url)]


def test_preprocessor_issues_a_uuid4_and_stores_the_document(env):
    request = preprocessor.parse({"document": {"a": 1}})
    started = preprocessor.start_workflow(request, BUCKET, env["connector"], "enrich")
    assert uuid.UUID(started["request_id"]).version == 4
    assert workflow.read_document(BUCKET, started["request_id"], "preprocessor") == {"a": 1}
    with pytest.raises(preprocessor.InvalidPreprocessRequest, match="document"):
        preprocessor.parse({"document": {}})
    with pytest.raises(preprocessor.InvalidPreprocessRequest, match="document"):
        preprocessor.parse({"doc": {"a": 1}})


def test_a_request_flows_through_both_services(env):
    started = preprocessor.start_workflow(
        preprocessor.parse({"document": {"name": "x", "n": 2}}), BUCKET, env["connector"], "enrich"
    )
    request_id = started["request_id"]
    assert receive(env["queues"]["summarize"]) == []  # routed to the entry service only
    out = enrich.lambda_handler({"Records": records(env["queues"]["enrich"])}, Context("enrich"))
    assert out == {"batchItemFailures": []}
    enriched = workflow.read_document(BUCKET, request_id, "enrich")
    assert enriched["name"] == "x" and enriched["_enrichment"]["field_count"] == 2
    summarize.lambda_handler({"Records": records(env["queues"]["summarize"])}, Context("summarize"))
    summary = workflow.read_document(BUCKET, request_id, "summarize")
    assert summary["field_count"] == 3 and summary["largest_field"] == "_enrichment"
    done = results(env["results"])
    assert [(r.service, r.request_id) for r in done] == [("enrich", request_id), ("summarize", request_id)]
    assert done[1].document == summary and done[1].output_key == f"requests/{request_id}/summarize.json"


def test_publishing_a_request_id_starts_a_service_mid_workflow(env):
    request_id = str(uuid.uuid4())
    workflow.write_document(BUCKET, request_id, "enrich", {"already": "enriched"})
    workflow.publish_connector(env["connector"], request_id, source="operator", route="summarize")
    assert receive(env["queues"]["enrich"]) == []
    summarize.lambda_handler({"Records": records(env["queues"]["summarize"])}, Context("summarize"))
    assert workflow.read_document(BUCKET, request_id, "summarize")["field_count"] == 1
    # "all" reaches every service
    workflow.publish_connector(env["connector"], request_id, source="operator", route="all")
    assert len(receive(env["queues"]["enrich"])) == 1 and len(receive(env["queues"]["summarize"])) == 1


def test_a_redelivered_message_rewrites_the_same_stage_and_its_notification_is_identical(env):
    start_id = preprocessor.start_workflow(
        preprocessor.parse({"document": {"a": 1}}), BUCKET, env["connector"], "enrich"
    )["request_id"]
    batch = records(env["queues"]["enrich"])
    enrich.lambda_handler({"Records": batch}, Context("enrich"))
    first = workflow.read_document(BUCKET, start_id, "enrich")
    enrich.lambda_handler({"Records": batch}, Context("enrich"))  # SQS delivered it again
    assert workflow.read_document(BUCKET, start_id, "enrich") == first  # an overwrite with the same bytes
    done = results(env["results"])
    # at-least-once, like SNS itself: consumers key on (request_id, service), and both copies agree
    assert {(r.request_id, r.service) for r in done} == {(start_id, "enrich")} and done[0] == done[1]
    assert len(receive(env["queues"]["summarize"])) == 2


def test_a_batch_publishes_its_notifications_and_hand_ons_with_one_publish_batch_each(env, monkeypatch):
    ids = [
        preprocessor.start_workflow(preprocessor.parse({"document": {"i": i}}), BUCKET, env["connector"], "enrich")[
            "request_id"
        ]
        for i in range(7)
    ]
    from shared.clients import client

    sns, calls = client("sns"), []
    real_batch = sns.publish_batch
    monkeypatch.setattr(sns, "publish", lambda **kw: calls.append(("publish", kw)) or {})
    monkeypatch.setattr(sns, "publish_batch", lambda **kw: calls.append(("batch", kw)) or real_batch(**kw))
    out = enrich.lambda_handler({"Records": records(env["queues"]["enrich"])}, Context("enrich"))
    assert out == {"batchItemFailures": []}
    assert [(kind, kw["TopicArn"].rsplit(":", 1)[1], len(kw["PublishBatchRequestEntries"])) for kind, kw in calls] == [
        ("batch", "notifier", 7),
        ("batch", "connector", 7),
    ]
    assert sorted(r.request_id for r in results(env["results"])) == sorted(ids)
    handed_on = [
        json.loads(json.loads(m["Body"])["Message"])["request_id"] for m in receive(env["queues"]["summarize"])
    ]
    assert sorted(handed_on) == sorted(ids)


def test_publish_batches_hold_at_most_10_entries_and_256_kib(env, monkeypatch):
    from shared.clients import client

    sns, sizes = client("sns"), []

    def record(**kw):
        entries = kw["PublishBatchRequestEntries"]
        attributes = sum(large_payload.attributes_size(e.get("MessageAttributes", {})) for e in entries)
        sizes.append((len(entries), sum(len(e["Message"]) for e in entries) + attributes))
        return {"Successful": [{"Id": e["Id"]} for e in entries], "Failed": []}

    monkeypatch.setattr(sns, "publish_batch", record)
    small = [workflow.Notification(f"s{i}", "x" * 100) for i in range(12)]
    assert workflow.publish_batch(env["connector"], small) == set()
    assert [n for n, _ in sizes] == [10, 2]
    sizes.clear()
    big = [workflow.Notification(f"b{i}", "y" * 100_000, workflow.routed("enrich")) for i in range(5)]
    assert workflow.publish_batch(env["connector"], big) == set()
    assert [n for n, _ in sizes] == [2, 2, 1]
    assert all(nbytes <= sender.MAX_PUBLISH_BATCH_BYTES for _, nbytes in sizes)
    sizes.clear()
    with pytest.raises(ValueError, match=r": 12 \(262145 bytes\)"):
        workflow.publish_batch(env["connector"], [*small, workflow.Notification("huge", "z" * 262_145)])
    assert sizes == []  # refused before anything is sent


def test_a_record_whose_notification_cannot_be_published_is_retried_alone(env, monkeypatch):
    for i in range(3):
        preprocessor.start_workflow(preprocessor.parse({"document": {"i": i}}), BUCKET, env["connector"], "enrich")
    batch = records(env["queues"]["enrich"])
    from shared.clients import client

    sns = client("sns")
    real_batch, victim = sns.publish_batch, batch[1]["messageId"]
    victim_request = json.loads(json.loads(batch[1]["body"])["Message"])["request_id"]

    def refuse_victim(**kw):  # SNS keeps failing the victim's notification, on every retry
        if not kw["TopicArn"].endswith(":notifier"):
            return real_batch(**kw)
        entries = kw["PublishBatchRequestEntries"]
        bad = [e["Id"] for e in entries if victim_request in e["Message"]]
        out = real_batch(**{**kw, "PublishBatchRequestEntries": [e for e in entries if e["Id"] not in bad]})
        out["Failed"] = [{"Id": i, "Code": "InternalError", "SenderFault": False} for i in bad]
        return out

    monkeypatch.setattr(sns, "publish_batch", refuse_victim)
    monkeypatch.setattr(sender.time, "sleep", lambda s: None)
    out = enrich.lambda_handler({"Records": batch}, Context("enrich"))
    assert out == {"batchItemFailures": [{"itemIdentifier": victim}]}
    assert victim_request not in {r.request_id for r in results(env["results"])} and len(results(env["results"])) == 0


def test_a_client_retry_with_the_same_idempotency_key_starts_one_workflow(env, monkeypatch):
    configure(monkeypatch, preprocessor, entry_service="enrich")
    first = preprocessor.lambda_handler({"document": {"a": 1}, "idempotency_key": "order-7"}, Context("pre"))
    again = preprocessor.lambda_handler({"document": {"a": 1}, "idempotency_key": "order-7"}, Context("pre"))
    assert again == first
    assert len(receive(env["queues"]["enrich"])) == 1  # one start, one hand-off
    other = preprocessor.lambda_handler({"document": {"a": 1}, "idempotency_key": "order-8"}, Context("pre"))
    assert other["request_id"] != first["request_id"]
    from aws_lambda_powertools.utilities.idempotency.exceptions import IdempotencyValidationError

    with pytest.raises(IdempotencyValidationError):  # the same key for another document is refused
        preprocessor.lambda_handler({"document": {"a": 2}, "idempotency_key": "order-7"}, Context("pre"))
    with pytest.raises(preprocessor.InvalidPreprocessRequest, match="idempotency_key"):
        preprocessor.parse({"document": {"a": 1}, "idempotency_key": ""})


def test_a_request_without_a_key_writes_no_idempotency_record(env, monkeypatch):
    preprocessor.lambda_handler({"document": {"a": 1}}, Context("pre"))
    assert boto3.client("dynamodb").scan(TableName=IDEMPOTENCY)["Items"] == []


def test_an_invalid_start_and_a_reused_key_are_rejected_counted_and_never_warn(env, monkeypatch, capsys):
    configure(monkeypatch, preprocessor, entry_service="enrich")
    preprocessor.lambda_handler({"document": {"a": 1}, "idempotency_key": "order-9"}, Context("pre"))
    preprocessor.metrics.clear_metrics()  # Powertools keeps metrics per process, not per function
    capsys.readouterr()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        with pytest.raises(preprocessor.InvalidPreprocessRequest):
            preprocessor.lambda_handler({"doc": {"a": 1}}, Context("pre"))
        with pytest.raises(Exception) as reused:  # the same key for another document
            preprocessor.lambda_handler({"document": {"a": 2}, "idempotency_key": "order-9"}, Context("pre"))
    assert type(reused.value).__name__ == "IdempotencyValidationError"
    assert [str(w.message) for w in caught] == []  # not "No application metrics to publish"
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith('{"_aws"')]
    assert [m["RequestsRejected"] for m in emf] in ([[1.0], [1.0]], [1.0, 1.0])


def test_invalid_and_unknown_requests_fail_alone(env):
    good = preprocessor.start_workflow(preprocessor.parse({"document": {"a": 1}}), BUCKET, env["connector"], "enrich")[
        "request_id"
    ]
    batch = records(env["queues"]["enrich"])
    workflow.publish_connector(env["connector"], str(uuid.uuid4()), source="operator", route="enrich")
    unknown = records(env["queues"]["enrich"])
    garbage = sqs_record('{"Type": "Notification", "Message": "not a connector message"}')
    out = enrich.lambda_handler({"Records": [garbage, *batch, *unknown]}, Context("enrich"))
    failed = {f["itemIdentifier"] for f in out["batchItemFailures"]}
    assert failed == {garbage["messageId"], unknown[0]["messageId"]}
    assert workflow.read_document(BUCKET, good, "enrich")["a"] == 1


def test_large_results_travel_as_extended_client_pointers_and_arrive_whole(env):
    big = {"text": "x" * 300_000, "n": 1}
    request_id = preprocessor.start_workflow(preprocessor.parse({"document": big}), BUCKET, env["connector"], "enrich")[
        "request_id"
    ]
    enrich.lambda_handler({"Records": records(env["queues"]["enrich"])}, Context("enrich"))
    (message,) = receive(env["results"])
    kind, ref = json.loads(message["Body"])
    assert kind == "software.amazon.payloadoffloading.PayloadS3Pointer" and ref["s3BucketName"] == BUCKET
    assert int(message["MessageAttributes"]["ExtendedPayloadSize"]["StringValue"]) > 300_000
    result = ServiceResult.model_validate_json(large_payload.resolve(message["Body"]))
    assert result.request_id == request_id and result.document["text"] == big["text"]


def test_offload_keeps_small_payloads_inline_and_counts_attributes(aws):
    boto3.client("s3").create_bucket(Bucket=BUCKET)
    body, attrs = large_payload.offload("small", BUCKET)
    assert (body, attrs) == ("small", {})
    assert large_payload.resolve("small") == "small" and large_payload.pointer('["other", {}]') is None
    exact = "y" * (large_payload.MESSAGE_LIMIT - 10)
    attribute = {"k": {"DataType": "String", "StringValue": "v" * 20}}
    body, attrs = large_payload.offload(exact, BUCKET, attributes=attribute)
    assert large_payload.pointer(body) is not None and attrs["k"] == attribute["k"]
    assert large_payload.resolve(body) == exact
