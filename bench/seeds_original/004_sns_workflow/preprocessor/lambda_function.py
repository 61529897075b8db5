# coding: utf-8
import os
import json
import hashlib
from datetime import datetime
import boto3

s3 = boto3.resource("s3")
sns = boto3.resource("sns")

def lambda_handler(event, context): 

    service_name = "preprocessor"
    s3_bucket = os.environ["S3_BUCKET"]
    s3_prefix = os.environ["S3_PREFIX"]
    sns_topic_arn = os.environ["SNS_TOPIC_ARN_CONNECTOR"]
    print(sns_topic_arn)

    timestamp = datetime.now().strftime("%Y%m%d%H%M%S%f")
    request_id = hashlib.md5(timestamp.encode()).hexdigest()
    
    # Upload sample data
    s3_key = os.path.join(s3_prefix, service_name, f"{request_id}.json")
    s3_obj = s3.Object(bucket_name=s3_bucket, key=s3_key)
    data = {"key1": "val1", "key2": "val2", "key3": "val3", }
    print(s3_obj.put(Body=bytes(json.dumps(data).encode('UTF-8'))))

    # Publish to SNS Topic
    sns_topic = sns.Topic(sns_topic_arn)
    response_body = {"request_id": request_id}
    print(sns_topic.publish(Message=json.dumps(response_body)))
    
    return {'statusCode': 200, 'body': response_body}
