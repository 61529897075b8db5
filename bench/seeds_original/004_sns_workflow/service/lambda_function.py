# coding: utf-8
import os
import json
import boto3

s3 = boto3.resource("s3")
sns = boto3.resource("sns")
sqs = boto3.resource("sqs")
sqs_client = boto3.client("sqs")

def lambda_handler(event, context): 

    previous_service_name = "preprocessor"
    service_name = "service01"
    s3_bucket = os.environ["S3_BUCKET"]
    s3_prefix = os.environ["S3_PREFIX"]
    sns_topic_arn = os.environ["SNS_TOPIC_ARN_NOTIFIER"]
    records = event["Records"]
    consumed_request_ids = list()
    
    for record in records:
        
        record_body = json.loads(record["body"])
        message = json.loads(record_body["Message"])
        request_id = message["request_id"]
        consumed_request_ids.append(request_id)
    
        # Download data and add some changes
        s3_key = os.path.join(s3_prefix, previous_service_name, f"{request_id}.json")
        s3_obj = s3.Object(bucket_name=s3_bucket, key=s3_key)
        data = json.loads(s3_obj.get()['Body'].read().decode('utf-8'))
        data["key1"] = None
    
        # Upload edited data
        s3_key_new = os.path.join(s3_prefix, service_name, f"{request_id}.json")
        s3_obj_new = s3.Object(bucket_name=s3_bucket, key=s3_key_new)
        print(s3_obj_new.put(Body=bytes(json.dumps(data).encode('UTF-8'))))
        
        # Publish to SNS Topic
        sns_topic = sns.Topic(sns_topic_arn)
        print(sns_topic.publish(Message=json.dumps({"request_id": request_id})))

    return {
        'statusCode': 200, 
        'body': {"consumed_request_ids": consumed_request_ids}
    }
