import json
import os
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from uuid import uuid4

import boto3
from boto3.dynamodb.conditions import Key
from botocore.exceptions import ClientError

DELTA = timedelta(minutes=5)

sqs = boto3.client("sqs")
dynamodb = boto3.resource("dynamodb")


def handler(event, context):
    data = create_put_data(event)
    queue_url = get_queue_url(data["userId"])
    send_data(data, queue_url)


def create_put_data(event):
    result = {"userId": event["userId"], "message": event["message"]}

    return result


# フローチャートで示したSQS Queue URLを取得するための処理
def get_queue_url(user_id):
    from_dynamodb = update_ttl_and_get_queue_url(user_id)
    if from_dynamodb is not None:
        return from_dynamodb
    for _ in range(1):
        from_queue = get_queue_url_from_queue()
        if from_queue is not None:
            break
        send_queue_urls()
        from_queue = get_queue_url_from_queue()
    put_user_queue_data(user_id, from_queue)
    return from_queue


# フローチャートの①の処理
# 引数で指定したuserIdで直近SQS Queueを使用していたら、Queue URLを取得する
def update_ttl_and_get_queue_url(user_id):
    table = dynamodb.Table(os.environ["RECENT_USER_QUEUE_TABLE_NAME"])
    now = datetime.now(timezone.utc)
    expired = now + DELTA
    option = {
        "Key": {"userId": user_id},
        "ReturnValues": "ALL_NEW",
        "UpdateExpression": "set #expired = :expired",
        "ExpressionAttributeNames": {"#expired": "expired"},
        "ExpressionAttributeValues": {":expired": int(expired.timestamp())},
        "ConditionExpression": Key("userId").eq(user_id),
    }
    try:
        resp = table.update_item(**option)
        return resp["Attributes"]["queueUrl"]
    except ClientError as e:
        try:
            if e.response["Error"]["Code"] == "ConditionalCheckFailedException":
                return None
        except Exception:
            pass
        raise e


# フローチャートの②と④の処理
# トリガーに設定していないSQS Queueからトリガーに設定しているSQS QueueのURLを取得する処理
def get_queue_url_from_queue():
    url = os.environ["URL_STORE_QUEUE_URL"]
    option = {"QueueUrl": url, "MaxNumberOfMessages": 1, "WaitTimeSeconds": 0}
    resp = sqs.receive_message(**option)
    if "Messages" not in resp:
        return None
    message = resp["Messages"][0]
    del_option = {"QueueUrl": url, "ReceiptHandle": message["ReceiptHandle"]}
    sqs.delete_message(**del_option)
    return message["Body"]


# フローチャートの③の処理
# トリガーに設定していないSQS Queueに対して、トリガーに設定しているSQS QueueのURLを詰め込む
def send_queue_urls():
    option = {
        "QueueUrl": os.environ["URL_STORE_QUEUE_URL"],
        "Entries": [
            {"Id": str(uuid4()), "MessageBody": url}
            for url in os.environ["PARALLELE_TRIGGER_QUEUE_URLS"].split(",")
        ],
    }
    for _ in range(3):
        resp = sqs.send_message_batch(**option)
        if len(resp["Successful"]) > 0:
            return
    raise Exception("I could not send queue urls to sqs queue.")


# フローチャートの⑤の処理
# DynamoDBにSQS Queueとuser_idの組を保存する
def put_user_queue_data(user_id, queue_url):
    table = dynamodb.Table(os.environ["RECENT_USER_QUEUE_TABLE_NAME"])
    now = datetime.now(timezone.utc)
    expired = now + DELTA
    item = {
        "userId": user_id,
        "queueUrl": queue_url,
        "expired": int(expired.timestamp()),
    }
    table.put_item(Item=item)


def default(obj):
    if isinstance(obj, Decimal):
        return int(obj) if int(obj) == obj else float(obj)
    try:
        return str(obj)
    except Exception:
        return None


def send_data(data, queue_url):
    option = {
        "QueueUrl": queue_url,
        "MessageBody": json.dumps(data, default=default, ensure_ascii=False),
    }
    sqs.send_message(**option)
