"""The seed implementations (their code as published: bench/seeds_original/), ported to run
in-process on the same stack.

Ported as written, flaws included, so their AWS request counts can be compared with ours:
000 sticky queues (ingester/dispatcher), 001 cron fan-out (test-cron/test-sqs2ddb),
002 relay consumer (JavaScript in the post; ported line by line), 004 SNS preprocessor/
services. Only what they need to run here differs: clients honour AWS_ENDPOINT_URL, and the
relay's self-invocation is counted instead of sent (the seed function is not deployed).
The seeds' logging is kept (001 logs each event and its responses, 004 prints its
responses): CloudWatch Logs bills it. Their ``logger`` is ``log`` here (the bench captures it
per invocation, see bench/run.py SeedLambda); ``print`` goes to stdout, also captured.
"""

from __future__ import annotations

import json
import logging
import math
import os
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
from botocore.exceptions import ClientError

DELTA = timedelta(minutes=5)
log = logging.getLogger("bench.seed")  # the seeds' logging.getLogger(); captured per invocation
log.setLevel(logging.INFO)
log.propagate = False


# --- 000: sticky queues (seeds_original/000_sticky_queues/src) ----------------------------


def sticky_ingester(event: dict, env: dict[str, str]) -> None:
    sqs, table = boto3.client("sqs"), boto3.resource("dynamodb").Table(env["RECENT_USER_QUEUE_TABLE_NAME"])
    data = {"userId": event["userId"], "message": event["message"]}
    user_id = data["userId"]
    expired = int((datetime.now(UTC) + DELTA).timestamp())
    try:
        queue_url = table.update_item(
            Key={"userId": user_id},
            ReturnValues="ALL_NEW",
            UpdateExpression="set #expired = :expired",
            ExpressionAttributeNames={"#expired": "expired"},
            ExpressionAttributeValues={":expired": expired},
            ConditionExpression=boto3.dynamodb.conditions.Key("userId").eq(user_id),
        )["Attributes"]["queueUrl"]
    except ClientError as e:
        if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        queue_url = _url_from_store(sqs, env)
        if queue_url is None:
            sqs.send_message_batch(
                QueueUrl=env["URL_STORE_QUEUE_URL"],
                Entries=[
                    {"Id": str(uuid.uuid4()), "MessageBody": u} for u in env["PARALLELE_TRIGGER_QUEUE_URLS"].split(",")
                ],
            )
            queue_url = _url_from_store(sqs, env)
        table.put_item(Item={"userId": user_id, "queueUrl": queue_url, "expired": expired})
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(data, ensure_ascii=False))


def _url_from_store(sqs: Any, env: dict[str, str]) -> str | None:
    resp = sqs.receive_message(QueueUrl=env["URL_STORE_QUEUE_URL"], MaxNumberOfMessages=1, WaitTimeSeconds=0)
    if "Messages" not in resp:
        return None
    message = resp["Messages"][0]
    sqs.delete_message(QueueUrl=env["URL_STORE_QUEUE_URL"], ReceiptHandle=message["ReceiptHandle"])
    return message["Body"]


def sticky_dispatcher(event: dict, env: dict[str, str]) -> None:
    s3 = boto3.client("s3")
    record = event["Records"][0]  # the seed reads only the first record (batch size 1)
    queue_name, body = record["eventSourceARN"].split(":")[-1], json.loads(record["body"])
    key = f"{queue_name}.json"
    try:
        data = json.loads(s3.get_object(Bucket=env["DATA_BUCKET_NAME"], Key=key)["Body"].read().decode())
    except ClientError as e:
        if e.response["Error"]["Code"] != "NoSuchKey":
            raise
        data = []
    now = datetime.now(UTC)
    data = data + [{"date": str(now), "unixtime": now.timestamp(), "body": body}]
    s3.put_object(
        Bucket=env["DATA_BUCKET_NAME"],
        Key=key,
        ContentType="application/json",
        Body=json.dumps(data, indent=2, ensure_ascii=False).encode(),
    )


# --- 001: cron fan-out (seeds_original/001_cron_fanout) ---------------------------------


def fanout_cron(event: dict, queue_name: str, topic_arn: str) -> int:
    log.info(event)
    count = int(boto3.resource("sqs").get_queue_by_name(QueueName=queue_name).attributes["ApproximateNumberOfMessages"])
    publishes = int(math.ceil(float(count) / 10))
    responses = []
    for _ in range(publishes):
        responses.append(boto3.resource("sns").Topic(topic_arn).publish(Message="test"))
    log.info(responses)
    return publishes


def fanout_sqs2ddb(event: dict, queue_name: str, table_name: str) -> int:
    log.info(event)
    responses = []
    queue = boto3.resource("sqs").get_queue_by_name(QueueName=queue_name)
    messages = queue.receive_messages(MaxNumberOfMessages=10)  # a short poll, as in the seed
    entries = [{"Id": m.message_id, "ReceiptHandle": m.receipt_handle} for m in messages]
    items = [
        {"uuid": uuid.uuid1().urn, **{k: json.loads(m.body)[k] for k in ("key1", "key2", "key3")}} for m in messages
    ]
    with boto3.resource("dynamodb").Table(table_name).batch_writer() as batch:
        for item in items:
            batch.put_item(Item=item)
    if entries:
        responses.append(queue.delete_messages(Entries=entries))
    log.info(responses)
    return len(messages)


# --- 002: relay consumer (seeds_original/002_relay_consumer/index.js) -------------------


def relay_hop(queue_url: str, work: Any) -> bool:
    """One hop; returns True when it would invoke itself again."""
    sqs = boto3.client("sqs")
    data = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1)  # seed: 0 (invalid)
    messages = data.get("Messages", [])
    if not messages:
        return False
    entries = []
    for idx, message in enumerate(messages):
        work(message)  # "do something" — the same work as ours, for a fair count
        entries.append({"Id": str(idx), "ReceiptHandle": message["ReceiptHandle"]})
    sqs.delete_message_batch(QueueUrl=queue_url, Entries=entries)
    attrs = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attrs["Attributes"]["ApproximateNumberOfMessages"]) > 0


# --- 004: SNS preprocessor / services (seeds_original/004_sns_workflow) -----------------


def workflow_preprocessor(env: dict[str, str], document: dict) -> str:
    print(env["SNS_TOPIC_ARN_CONNECTOR"])
    timestamp = datetime.now().strftime("%Y%m%d%H%M%S%f")
    request_id = __import__("hashlib").md5(timestamp.encode()).hexdigest()
    key = os.path.join(env["S3_PREFIX"], "preprocessor", f"{request_id}.json")
    print(boto3.resource("s3").Object(bucket_name=env["S3_BUCKET"], key=key).put(Body=json.dumps(document).encode()))
    topic = boto3.resource("sns").Topic(env["SNS_TOPIC_ARN_CONNECTOR"])
    print(topic.publish(Message=json.dumps({"request_id": request_id})))
    return request_id


def workflow_service(event: dict, env: dict[str, str], service_name: str) -> None:
    s3, sns = boto3.resource("s3"), boto3.resource("sns")
    for record in event["Records"]:
        request_id = json.loads(json.loads(record["body"])["Message"])["request_id"]
        key = os.path.join(env["S3_PREFIX"], "preprocessor", f"{request_id}.json")
        data = json.loads(s3.Object(bucket_name=env["S3_BUCKET"], key=key).get()["Body"].read().decode("utf-8"))
        data["key1"] = None
        key_new = os.path.join(env["S3_PREFIX"], service_name, f"{request_id}.json")
        print(s3.Object(bucket_name=env["S3_BUCKET"], key=key_new).put(Body=json.dumps(data).encode("UTF-8")))
        print(sns.Topic(env["SNS_TOPIC_ARN_NOTIFIER"]).publish(Message=json.dumps({"request_id": request_id})))
