"""Each function runs as its execution role (local/runner/roles.py, local/iam.py).

Lambda gives the runtime its execution role's temporary credentials and polls the function's
SQS queues with that role; the emulator authorises whatever is signed with them. Without the
change, workers and pollers used the emulator's own keys and nothing was ever denied.
"""

from __future__ import annotations

import io
import json
import logging
import sysconfig
import time
import uuid
import zipfile

import pytest

from tests.helpers import wait_for

ACCOUNT = "123456789012"
TRUST = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}],
}
# A handler made of the standard library and the host's botocore (a worker sees only its code):
# sends {"queue", "body"} or each SQS record's body to the queue it names; answers who it is.
HANDLER = f"""
import json, os, sys
sys.path.append({sysconfig.get_paths()["purelib"]!r})
import botocore.session

def client(service):
    return botocore.session.get_session().create_client(service, endpoint_url=os.environ["AWS_ENDPOINT_URL"])

def handler(event, context):
    for record in event.get("Records", []):
        event = json.loads(record["body"])
    if "queue" in event:
        client("sqs").send_message(QueueUrl=event["queue"], MessageBody=event.get("body", "x"))
    return {{"arn": client("sts").get_caller_identity()["Arn"], "key": os.environ["AWS_ACCESS_KEY_ID"]}}
"""


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as z:
        z.writestr("app.py", HANDLER)
    return buffer.getvalue()


@pytest.fixture
def deployed(tmp_path):
    """An emulator enforcing IAM, one function with its role and an SQS trigger, and a runner."""
    from local.emulator import Emulator
    from local.runner import LocalLambdaRunner

    emulator = Emulator(iam="enforce").start()
    suffix = uuid.uuid4().hex[:8]
    sqs, admin = emulator.client("sqs"), emulator.client("iam")
    queues = {n: sqs.create_queue(QueueName=f"{n}-{suffix}")["QueueUrl"] for n in ("trigger", "out", "other")}
    arns = {n: f"arn:aws:sqs:us-east-1:{ACCOUNT}:{n}-{suffix}" for n in queues}
    role = f"fn-role-{suffix}"
    role_arn = admin.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]
    statements = {
        "consume": {
            "Effect": "Allow",
            "Action": ["sqs:ReceiveMessage", "sqs:DeleteMessage", "sqs:GetQueueAttributes"],
            "Resource": arns["trigger"],
        },
        "send": {"Effect": "Allow", "Action": "sqs:SendMessage", "Resource": arns["out"]},
    }

    def policy(drop: str | None = None) -> None:
        kept = [s for k, s in statements.items() if k != drop]
        document = json.dumps({"Version": "2012-10-17", "Statement": kept})
        admin.put_role_policy(RoleName=role, PolicyName="inline", PolicyDocument=document)

    policy()
    lam = emulator.client("lambda")
    name = f"f-{suffix}"
    lam.create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="app.handler",
        Code={"ZipFile": _zip()},
        Timeout=20,
    )
    lam.create_event_source_mapping(EventSourceArn=arns["trigger"], FunctionName=name, BatchSize=1)
    runner = LocalLambdaRunner(
        endpoint=emulator.endpoint, region="us-east-1", code_fetcher=emulator.function_code, work_dir=tmp_path
    )
    try:
        yield (
            {"emulator": emulator, "runner": runner, "queues": queues, "arns": arns, "name": name, "role": role},
            policy,
        )
    finally:
        runner.stop()
        emulator.stop()


def _depth(sqs, url: str) -> int:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    return int(attributes["Attributes"]["ApproximateNumberOfMessages"])


def test_a_function_runs_with_its_execution_roles_credentials(deployed):
    d, _ = deployed
    runner = d["runner"]
    runner.discover()
    assert runner.functions[d["name"]].role.endswith(f":role/{d['role']}")
    runner.mappings.clear()  # no poller here
    runner.start()
    pool = runner.pools[d["name"]]
    ok = pool.invoke({"queue": d["queues"]["out"]})
    assert ok.ok, ok.error
    assert ok.payload["arn"] == f"arn:aws:sts::{ACCOUNT}:assumed-role/{d['role']}/{d['name']}"
    assert ok.payload["key"].startswith("ASIA")
    denied = pool.invoke({"queue": d["queues"]["other"]})
    assert not denied.ok
    assert denied.error["errorType"] == "ClientError"
    assert (
        f"assumed-role/{d['role']}/{d['name']} is not authorized to perform: sqs:SendMessage"
        f" on resource: {d['arns']['other']}" in denied.error["errorMessage"]
    )
    assert "sqs:SendMessage" in (runner.log_dir / f"{d['name']}.log").read_text()  # the function's log shows it


def test_credentials_are_renewed_before_they_expire(deployed):
    d, _ = deployed
    runner = d["runner"]
    runner.discover()
    runner.mappings.clear()
    runner.start()
    pool = runner.pools[d["name"]]
    first = pool.invoke({})
    assert first.ok and runner.roles.assumed == 1
    assert pool.invoke({}).payload["key"] == first.payload["key"]  # still fresh: same worker, same keys
    runner.roles.margin = runner.roles.duration + 60  # every credential now expires "soon"
    renewed = pool.invoke({"queue": d["queues"]["out"]})
    assert renewed.ok, renewed.error
    assert renewed.payload["key"] != first.payload["key"] and runner.roles.assumed == 2


def test_expired_credentials_are_refused(deployed):
    import datetime

    from moto.sts.models import sts_backends

    d, _ = deployed
    emulator = d["emulator"]
    role_arn = f"arn:aws:iam::{ACCOUNT}:role/{d['role']}"
    creds = emulator.client("sts").assume_role(RoleArn=role_arn, RoleSessionName="old")["Credentials"]
    record = next(r for r in sts_backends[ACCOUNT]["aws"].assumed_roles if r.access_key_id == creds["AccessKeyId"])
    record.expiration = datetime.datetime(2000, 1, 1)
    import boto3
    from botocore.exceptions import ClientError

    sqs = boto3.client(
        "sqs",
        endpoint_url=emulator.endpoint,
        region_name="us-east-1",
        aws_access_key_id=creds["AccessKeyId"],
        aws_secret_access_key=creds["SecretAccessKey"],
        aws_session_token=creds["SessionToken"],
    )
    with pytest.raises(ClientError, match="ExpiredToken"):
        sqs.send_message(QueueUrl=d["queues"]["out"], MessageBody="x")


def test_the_sqs_poller_uses_the_execution_role(deployed, caplog):
    d, policy = deployed
    runner, sqs = d["runner"], d["emulator"].client("sqs")
    policy(drop="consume")
    sqs.send_message(QueueUrl=d["queues"]["trigger"], MessageBody=json.dumps({"queue": d["queues"]["out"]}))
    with caplog.at_level(logging.ERROR, logger="local-runner"):
        runner.start()
        wait_for(lambda: "sqs:ReceiveMessage" in caplog.text, timeout=15)
    assert (
        f"poller for {d['name']}: AccessDenied: User: arn:aws:sts::{ACCOUNT}:assumed-role/{d['role']}/" in caplog.text
    )
    assert _depth(sqs, d["queues"]["out"]) == 0
    policy()  # the role may consume its queue again: the poller picks the message up
    wait_for(lambda: _depth(sqs, d["queues"]["out"]) == 1, timeout=20)
    time.sleep(0.5)
    assert _depth(sqs, d["queues"]["trigger"]) == 0  # deleted with the role's sqs:DeleteMessage


def test_the_runner_assumes_only_roles_that_trust_lambda(deployed, caplog):
    d, _ = deployed
    admin, runner = d["emulator"].client("iam"), d["runner"]
    assert runner.roles.trusts_lambda(f"arn:aws:iam::{ACCOUNT}:role/{d['role']}")
    other = {**TRUST, "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": "ec2.amazonaws.com"}}]}
    name = f"ec2-{uuid.uuid4().hex[:8]}"
    arn = admin.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(other))["Role"]["Arn"]
    assert not runner.roles.trusts_lambda(arn)
    runner.discover()
    runner.mappings.clear()
    spec = runner.functions[d["name"]]
    runner.functions[d["name"]] = type(spec)(**{**spec.__dict__, "role": arn})
    with caplog.at_level(logging.ERROR, logger="local-runner"):
        runner.start()
    assert f"its role {arn} does not trust lambda.amazonaws.com" in caplog.text
