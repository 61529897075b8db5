import json
import os
from datetime import datetime, timezone

import boto3
from botocore.exceptions import ClientError

s3 = boto3.client("s3")


def handler(event, context):
    queue_name, body = parse(event)
    data = get_json_data(queue_name)
    put_data = create_put_data(data, body)
    put_json_data(queue_name, put_data)


def parse(event):
    record = event["Records"][0]
    arn = record["eventSourceARN"]
    queue_name = arn.split(":")[-1]
    body = json.loads(record["body"])
    return queue_name, body


def get_json_data(queue_name):
    option = {"Bucket": os.environ["DATA_BUCKET_NAME"], "Key": f"{queue_name}.json"}
    try:
        resp = s3.get_object(**option)
        text = resp["Body"].read().decode()
        return json.loads(text)
    except ClientError as e:
        try:
            if e.response["Error"]["Code"] == "NoSuchKey":
                return []
        except Exception:
            pass
        raise e


def create_put_data(data, body):
    now = datetime.now(timezone.utc)
    result = data + [{"date": str(now), "unixtime": now.timestamp(), "body": body}]
    return result


def put_json_data(queue_name, put_data):
    option = {
        "Bucket": os.environ["DATA_BUCKET_NAME"],
        "Key": f"{queue_name}.json",
        "ContentType": "application/json",
        "Body": json.dumps(put_data, indent=2, ensure_ascii=False).encode(),
    }
    s3.put_object(**option)
