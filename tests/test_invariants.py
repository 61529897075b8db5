"""Queue rules (DLQ, visibility >= 6x consumer timeout, encryption, partial batch responses)."""

from __future__ import annotations

import json

import pytest

from tests.conftest import STANDARD
from tests.harness.invariants import AlarmTopic, Inventory, QueueInfo, violations

Q, DLQ = "arn:aws:sqs:us-east-1:123456789012:q", "arn:aws:sqs:us-east-1:123456789012:q-dlq"
TOPIC = "arn:aws:sns:us-east-1:123456789012:alarms"


def policy(*statements: dict) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def cloudwatch_may(actions: list[str], account: str = "123456789012") -> dict:
    return {
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": actions,
        "Resource": "*",
        "Condition": {"StringEquals": {"aws:SourceAccount": account}},
    }


DENY_HTTP = {
    "Effect": "Deny",
    "Principal": "*",
    "Action": ["SNS:Publish"],
    "Resource": TOPIC,
    "Condition": {"Bool": {"aws:SecureTransport": "false"}},
}


def alarm_topic(
    key: str = "arn:aws:kms:us-east-1:123456789012:key/k",
    key_grants: list[str] | None = None,
    rotation: bool = True,
    publish: dict | None = None,
) -> AlarmTopic:
    key_policy = policy(cloudwatch_may(key_grants or ["kms:Decrypt", "kms:GenerateDataKey"]))
    return AlarmTopic(
        kms_key=key,
        key_policy=None if key.startswith("alias/aws/") else key_policy,
        key_rotation=rotation,
        topic_policy=policy(DENY_HTTP, publish or cloudwatch_may(["SNS:Publish"])),
    )


def inventory(
    visibility: int = 60,
    redrive: bool = True,
    encrypted: bool = True,
    partial: bool = True,
    alarms: bool = True,
    tls_only: bool = True,
    topic: AlarmTopic | None = None,
) -> Inventory:
    inv = Inventory()
    inv.queues[DLQ] = QueueInfo(DLQ, 30, None, True)
    inv.queues[Q] = QueueInfo(
        Q, visibility, {"deadLetterTargetArn": DLQ, "maxReceiveCount": 3} if redrive else None, encrypted, tls_only
    )
    inv.timeouts = {"f": 10, "poller": 5}
    inv.consumers = {Q: {"f", "poller"}}
    inv.alarms = {("ApproximateNumberOfMessagesVisible", "q-dlq")} | {
        (m, f) for m in ("Errors", "Throttles") for f in ("f", "poller")
    }
    if not alarms:
        inv.alarms = set()
    inv.alarm_topics = {TOPIC: topic or alarm_topic()}
    inv.mappings = [
        {
            "EventSourceArn": Q,
            "FunctionArn": "arn:aws:lambda:us-east-1:123456789012:function:f",
            "FunctionResponseTypes": ["ReportBatchItemFailures"] if partial else [],
        }
    ]
    return inv


def test_a_compliant_inventory_has_no_violations():
    assert violations(inventory()) == []


@pytest.mark.parametrize(
    ("inv", "expected"),
    [
        (inventory(visibility=59), "visibility 59s < 6 x f's timeout 10s"),
        (inventory(redrive=False), "no dead-letter queue"),
        (inventory(encrypted=False), "not encrypted at rest"),
        (inventory(tls_only=False), "does not deny plain-HTTP requests"),
        (inventory(partial=False), "no partial batch responses"),
        (inventory(alarms=False), "no alarm when it holds a message"),
        (inventory(alarms=False), "f: no Throttles alarm"),
        (inventory(topic=alarm_topic(key="alias/aws/sns")), "not encrypted with a customer-managed key"),
        (inventory(topic=alarm_topic(key_grants=["kms:Decrypt"])), "does not let CloudWatch use it"),
        (inventory(topic=alarm_topic(rotation=False)), "its key is not rotated"),
        (inventory(topic=alarm_topic(publish={"Effect": "Deny"})), "does not let CloudWatch publish"),
        (
            inventory(topic=alarm_topic(publish=cloudwatch_may(["SNS:Publish"], account="999999999999"))),
            "does not let CloudWatch publish",
        ),
    ],
)
def test_each_broken_rule_is_reported(inv, expected):
    assert any(expected in v for v in violations(inv)), violations(inv)


@pytest.mark.e2e
@STANDARD
def test_every_deployed_queue_follows_the_rules(stack):
    from tests.harness.invariants import read_inventory

    inv = read_inventory(stack.client)
    consumed = {arn for arn, functions in inv.consumers.items() if functions}
    assert len(inv.queues) >= 20 and len(consumed) >= 9  # the inventory really saw the stack
    # every alarm notifies its root's alarm topic: the main root's and the FIFO variant's, one each
    assert sorted(arn.rsplit(":", 1)[1] for arn in inv.alarm_topics) == ["qp-local-alarms", "qp-local-fifo-alarms"]
    assert violations(inv) == []
