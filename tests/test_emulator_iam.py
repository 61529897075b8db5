"""The emulator authorises requests made with assumed-role credentials as AWS would (local/iam.py).

On plain moto (no access control) every one of these calls succeeds; with moto's own
(INITIAL_NO_AUTH_ACTION_COUNT) the resource-scoped Allows never match outside SQS, IAM, STS
and S3, batch calls are checked as their moto operation, and the emulator's own keys are
checked too.
"""

from __future__ import annotations

import json
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from local import iam

ACCOUNT = "123456789012"
REGION = "us-east-1"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}


@pytest.fixture(scope="module")
def emulator():
    from local.emulator import Emulator

    emulator = Emulator(iam="enforce").start()
    try:
        yield emulator
    finally:
        emulator.stop()


def _role(emulator, statements: list[dict]) -> tuple[str, str]:
    name = f"r-{uuid.uuid4().hex[:8]}"
    admin = emulator.client("iam")
    arn = admin.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    admin.put_role_policy(
        RoleName=name,
        PolicyName="inline",
        PolicyDocument=json.dumps({"Version": "2012-10-17", "Statement": statements}),
    )
    return name, arn


def _session(emulator, role_arn: str) -> boto3.Session:
    creds = emulator.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="sess")["Credentials"]
    return boto3.Session(
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
        region_name=REGION,
    )


def _client(emulator, session: boto3.Session, service: str):
    return session.client(service, endpoint_url=emulator.endpoint, config=Config(retries={"max_attempts": 1}))


def _denied(call, *args, **kwargs) -> ClientError:
    with pytest.raises(ClientError) as info:
        call(*args, **kwargs)
    return info.value


def test_only_assumed_role_credentials_are_checked(emulator):
    admin_sqs = emulator.client("sqs")
    url = admin_sqs.create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    admin_sqs.send_message(QueueUrl=url, MessageBody="by the emulator's own keys")  # never checked
    name, arn = _role(emulator, [{"Effect": "Allow", "Action": "sqs:ReceiveMessage", "Resource": "*"}])
    sqs = _client(emulator, _session(emulator, arn), "sqs")
    sqs.receive_message(QueueUrl=url)
    error = _denied(sqs.send_message, QueueUrl=url, MessageBody="x")
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:{url.rsplit('/', 1)[-1]}"
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert error.response["Error"]["Message"] == (
        f"User: arn:aws:sts::{ACCOUNT}:assumed-role/{name}/sess is not authorized to perform: sqs:SendMessage"
        f" on resource: {queue_arn} because no identity-based policy allows the sqs:SendMessage action"
    )
    assert emulator.iam.denials[-1].action == "sqs:SendMessage"


def test_resource_scoped_allows_match_the_resource_aws_authorises(emulator):
    admin = {s: emulator.client(s) for s in ("sqs", "dynamodb", "sns", "s3")}
    suffix = uuid.uuid4().hex[:8]
    url = admin["sqs"].create_queue(QueueName=f"q-{suffix}")["QueueUrl"]
    other = admin["sqs"].create_queue(QueueName=f"other-{suffix}")["QueueUrl"]
    queue_arn = f"arn:aws:sqs:{REGION}:{ACCOUNT}:q-{suffix}"
    tables = [f"t-{suffix}", f"u-{suffix}"]
    for table in tables:
        admin["dynamodb"].create_table(
            TableName=table,
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
    table_arn = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{tables[0]}"
    topic = admin["sns"].create_topic(Name=f"topic-{suffix}")["TopicArn"]
    bucket = f"b-{suffix}"
    admin["s3"].create_bucket(Bucket=bucket)
    name, arn = _role(
        emulator,
        [
            {"Effect": "Allow", "Action": ["sqs:SendMessage"], "Resource": queue_arn},
            {"Effect": "Allow", "Action": ["dynamodb:PutItem", "dynamodb:BatchWriteItem"], "Resource": table_arn},
            {"Effect": "Allow", "Action": "sns:Publish", "Resource": topic},
            {
                "Effect": "Allow",
                "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": f"arn:aws:s3:::{bucket}/users/*",
            },
        ],
    )
    session = _session(emulator, arn)
    sqs, ddb, sns, s3 = (_client(emulator, session, s) for s in ("sqs", "dynamodb", "sns", "s3"))

    sqs.send_message(QueueUrl=url, MessageBody="x")
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": "1", "MessageBody": "x"}])  # authorised as sqs:SendMessage
    assert "sqs:SendMessage" in str(
        _denied(sqs.send_message_batch, QueueUrl=other, Entries=[{"Id": "1", "MessageBody": "x"}])
    )

    ddb.put_item(TableName=tables[0], Item={"pk": {"S": "a"}})
    ddb.batch_write_item(RequestItems={tables[0]: [{"PutRequest": {"Item": {"pk": {"S": "b"}}}}]})
    error = _denied(
        ddb.batch_write_item,
        RequestItems={t: [{"PutRequest": {"Item": {"pk": {"S": "c"}}}}] for t in tables},  # every table is checked
    )
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert f"dynamodb:BatchWriteItem on resource: arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{tables[1]}" in str(error)
    assert "dynamodb:GetItem" in str(_denied(ddb.get_item, TableName=tables[0], Key={"pk": {"S": "a"}}))

    sns.publish(TopicArn=topic, Message="x")
    sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[{"Id": "1", "Message": "x"}])  # as sns:Publish
    error = _denied(sns.create_topic, Name="nope")
    assert error.response["Error"]["Code"] == "AuthorizationError" and "sns:CreateTopic" in str(error)

    s3.put_object(Bucket=bucket, Key="users/a", Body=b"x")
    assert s3.get_object(Bucket=bucket, Key="users/a")["Body"].read() == b"x"
    error = _denied(s3.put_object, Bucket=bucket, Key="other/a", Body=b"x")
    assert error.response["Error"]["Code"] == "AccessDenied"
    assert f"s3:PutObject on resource: arn:aws:s3:::{bucket}/other/a" in error.response["Error"]["Message"]


def test_lambda_events_logs_and_cloudwatch_are_checked_against_their_resources(emulator):
    suffix = uuid.uuid4().hex[:8]
    fn_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT}:function:f-{suffix}"
    bus_arn = f"arn:aws:events:{REGION}:{ACCOUNT}:event-bus/default"
    group = f"/aws/lambda/f-{suffix}"
    emulator.client("logs").create_log_group(logGroupName=group)
    emulator.client("logs").create_log_stream(logGroupName=group, logStreamName="s")
    group_arn = f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:{group}"
    name, arn = _role(
        emulator,
        [
            {"Effect": "Allow", "Action": "lambda:InvokeFunction", "Resource": f"{fn_arn}-other"},
            {"Effect": "Allow", "Action": "events:PutEvents", "Resource": bus_arn},
            {"Effect": "Allow", "Action": ["logs:PutLogEvents"], "Resource": [f"{group_arn}:*"]},
            {"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*"},
        ],
    )
    session = _session(emulator, arn)
    lam, events, logs, cw = (_client(emulator, session, s) for s in ("lambda", "events", "logs", "cloudwatch"))
    error = _denied(lam.invoke, FunctionName=f"f-{suffix}", Payload=b"{}")
    assert error.response["Error"]["Code"] == "AccessDeniedException"
    assert f"lambda:InvokeFunction on resource: {fn_arn} " in error.response["Error"]["Message"]
    assert "lambda:GetFunction" in str(_denied(lam.get_function, FunctionName=f"f-{suffix}"))
    events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}"}])
    assert "events:PutEvents" in str(
        _denied(events.put_events, Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": "x"}])
    )
    logs.put_log_events(logGroupName=group, logStreamName="s", logEvents=[{"timestamp": 1, "message": "m"}])
    assert "logs:CreateLogStream" in str(_denied(logs.create_log_stream, logGroupName=group, logStreamName="t"))
    cw.put_metric_data(Namespace="n", MetricData=[{"MetricName": "m", "Value": 1}])  # cloudwatch:, not monitoring:
    error = _denied(cw.list_metrics)
    assert "cloudwatch:ListMetrics" in error.response["Error"]["Message"]


def test_explicit_deny_wins_and_conditions_never_deny_what_aws_allows(emulator):
    url = emulator.client("sqs").create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
    name, arn = _role(
        emulator,
        [
            {"Effect": "Allow", "Action": "sqs:*", "Resource": "*"},
            # the TLS-only deny: a request to the emulator stands for a TLS request, so it never matches
            {"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Bool": {"aws:SecureTransport": "false"}}},
            # a condition on a key not evaluated here: never denies
            {
                "Effect": "Deny",
                "Action": "sqs:*",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceVpc": "v"}},
            },
            {"Effect": "Deny", "Action": "sqs:DeleteQueue", "Resource": "*"},
            # a conditional Allow matches only when it holds
            {
                "Effect": "Allow",
                "Action": "sns:ListTopics",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:SourceVpc": "v"}},
            },
        ],
    )
    session = _session(emulator, arn)
    sqs, sns = _client(emulator, session, "sqs"), _client(emulator, session, "sns")
    sqs.send_message(QueueUrl=url, MessageBody="x")
    error = _denied(sqs.delete_queue, QueueUrl=url)
    assert "sqs:DeleteQueue" in str(error) and "with an explicit deny" in str(error)
    assert "sns:ListTopics" in str(_denied(sns.list_topics))


def test_policy_evaluation_rules():
    ctx = {"aws:securetransport": "true"}
    doc = {
        "Statement": [
            {"Effect": "Allow", "Action": "DynamoDB:Get*", "Resource": "arn:aws:dynamodb:*:*:table/T"},
            {"Effect": "Allow", "NotAction": "s3:*", "Resource": "arn:aws:sns:*"},
            {"Effect": "Deny", "Action": "*", "NotResource": ["arn:aws:dynamodb:*", "arn:aws:sns:*"]},
        ]
    }
    assert iam.evaluate([doc], "dynamodb:GetItem", "arn:aws:dynamodb:r:1:table/T", ctx) == "allow"
    assert iam.evaluate([doc], "dynamodb:GetItem", "arn:aws:dynamodb:r:1:table/t", ctx) == "implicit"  # case-sensitive
    assert iam.evaluate([doc], "sns:Publish", "arn:aws:sns:r:1:t", ctx) == "allow"
    assert iam.evaluate([doc], "sqs:SendMessage", "arn:aws:sqs:r:1:q", ctx) == "deny"
    assert iam.evaluate([json.dumps(doc)], "dynamodb:PutItem", "arn:aws:dynamodb:r:1:table/T", ctx) == "implicit"


def test_modes(monkeypatch):
    monkeypatch.setenv("IAM", "report")
    assert iam.Authorizer().mode == "report"
    monkeypatch.delenv("IAM")
    assert iam.Authorizer().mode == "enforce"
    monkeypatch.setenv("IAM", "maybe")
    with pytest.raises(ValueError, match="IAM must be one of"):
        iam.Authorizer()


def test_report_mode_lets_a_denied_call_through_and_records_it():
    from local.emulator import Emulator

    with Emulator(iam="report") as emulator:
        url = emulator.client("sqs").create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        name, arn = _role(emulator, [{"Effect": "Allow", "Action": "sns:ListTopics", "Resource": "*"}])
        _client(emulator, _session(emulator, arn), "sqs").send_message(QueueUrl=url, MessageBody="x")
        assert [d.action for d in emulator.iam.denials] == ["sqs:SendMessage"]
    with Emulator(iam="off") as emulator:
        url = emulator.client("sqs").create_queue(QueueName=f"q-{uuid.uuid4().hex[:8]}")["QueueUrl"]
        name, arn = _role(emulator, [{"Effect": "Allow", "Action": "sns:ListTopics", "Resource": "*"}])
        _client(emulator, _session(emulator, arn), "sqs").send_message(QueueUrl=url, MessageBody="x")
        assert emulator.iam.denials == []


def test_a_missing_s3_key_is_access_denied_without_list_bucket(emulator):
    bucket = f"b-{uuid.uuid4().hex[:8]}"
    emulator.client("s3").create_bucket(Bucket=bucket)
    get_only = {"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/*"}
    name, arn = _role(emulator, [get_only])
    s3 = _client(emulator, _session(emulator, arn), "s3")
    error = _denied(s3.get_object, Bucket=bucket, Key="missing")
    assert error.response["Error"]["Code"] == "AccessDenied" and "s3:ListBucket" in error.response["Error"]["Message"]
    listing = {"Effect": "Allow", "Action": "s3:ListBucket", "Resource": f"arn:aws:s3:::{bucket}"}
    name, arn = _role(emulator, [get_only, listing])
    s3 = _client(emulator, _session(emulator, arn), "s3")
    assert _denied(s3.get_object, Bucket=bucket, Key="missing").response["Error"]["Code"] == "NoSuchKey"
