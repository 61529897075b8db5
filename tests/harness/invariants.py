"""Rules every deployed queue and consumer must follow, checked against the applied stack:
a DLQ, encryption at rest, a TLS-only queue policy, visibility >= 6x every consumer's timeout, partial batch
responses, and alarms (DLQ not empty; function errors and throttles) with actions that can
notify: an alarm topic encrypted with a rotated customer-managed key whose policy lets CloudWatch
use it, and a topic policy letting CloudWatch publish (both only for this account).

The inventory is read from the emulator after ``terraform apply`` — the same deployed
state the runner uses — so the rules hold for what Terraform builds, not for what a list says.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

VISIBILITY_FACTOR = 6


@dataclass
class QueueInfo:
    arn: str
    visibility: int
    redrive: dict | None
    encrypted: bool
    tls_only: bool = True


@dataclass
class AlarmTopic:
    kms_key: str  # the topic's KmsMasterKeyId ("" when unencrypted)
    key_policy: str | None  # None: the key is AWS-managed (alias/aws/...) or unreadable
    key_rotation: bool
    topic_policy: str | None


@dataclass
class Inventory:
    queues: dict[str, QueueInfo] = field(default_factory=dict)
    timeouts: dict[str, int] = field(default_factory=dict)  # function -> timeout
    consumers: dict[str, set[str]] = field(default_factory=dict)  # queue ARN -> functions receiving from it
    mappings: list[dict[str, Any]] = field(default_factory=list)  # SQS event source mappings
    alarms: set[tuple[str, str]] = field(default_factory=set)  # (metric, queue or function) with actions
    alarm_topics: dict[str, AlarmTopic] = field(default_factory=dict)  # topic ARN -> what CloudWatch needs


def _statements(document: Any) -> list[dict]:
    document = json.loads(document) if isinstance(document, str) else document
    statements = document.get("Statement", [])
    return [statements] if isinstance(statements, dict) else statements


def _as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def _denies_insecure_transport(policy: str | None) -> bool:
    if not policy:
        return False
    return any(
        st.get("Effect") == "Deny"
        and st.get("Condition", {}).get("Bool", {}).get("aws:SecureTransport") in ("false", ["false"])
        for st in _statements(policy)
    )


CLOUDWATCH = "cloudwatch.amazonaws.com"
KEY_ACTIONS_FOR_SNS = {"kms:Decrypt", "kms:GenerateDataKey"}  # what a publisher to an encrypted topic needs


def _allows_cloudwatch(policy: str | None, actions: set[str], account: str) -> bool:
    """An Allow for CloudWatch of every one of ``actions``, only on behalf of ``account``."""
    granted: set[str] = set()
    for st in _statements(policy or "{}"):
        principal = st.get("Principal", {})
        services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else []
        source = st.get("Condition", {}).get("StringEquals", {}).get("aws:SourceAccount")
        if st.get("Effect") == "Allow" and CLOUDWATCH in services and _as_list(source) == [account]:
            granted |= {a.lower() for a in _as_list(st.get("Action", []))}
    return {a.lower() for a in actions} <= granted


def _alarm_topic(client, arn: str) -> AlarmTopic:
    attributes = client("sns").get_topic_attributes(TopicArn=arn)["Attributes"]
    key = attributes.get("KmsMasterKeyId", "")
    key_policy, rotation = None, False
    if key and not key.startswith("alias/aws/"):
        kms = client("kms")
        key_id = kms.describe_key(KeyId=key)["KeyMetadata"]["KeyId"]
        key_policy = kms.get_key_policy(KeyId=key_id, PolicyName="default")["Policy"]
        rotation = kms.get_key_rotation_status(KeyId=key_id)["KeyRotationEnabled"]
    return AlarmTopic(key, key_policy, rotation, attributes.get("Policy"))


def read_inventory(client, prefix: str = "") -> Inventory:
    """``client(service)`` returns a boto3 client for the deployed environment; ``prefix``
    (e.g. ``qp-dev-``) limits the inventory to one root's queues, functions and alarms (an AWS
    account holds other things)."""
    sqs, lam, iam = client("sqs"), client("lambda"), client("iam")
    inv = Inventory()
    for page in sqs.get_paginator("list_queues").paginate(**({"QueueNamePrefix": prefix} if prefix else {})):
        for url in page.get("QueueUrls", []):
            a = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
            inv.queues[a["QueueArn"]] = QueueInfo(
                arn=a["QueueArn"],
                visibility=int(a["VisibilityTimeout"]),
                redrive=json.loads(a["RedrivePolicy"]) if a.get("RedrivePolicy") else None,
                encrypted=a.get("SqsManagedSseEnabled") == "true" or bool(a.get("KmsMasterKeyId")),
                tls_only=_denies_insecure_transport(a.get("Policy")),
            )
    for page in lam.get_paginator("list_functions").paginate():
        for fn in page["Functions"]:
            name = fn["FunctionName"]
            if not name.startswith(prefix):
                continue
            inv.timeouts[name] = fn["Timeout"]
            role = fn["Role"].rsplit("/", 1)[-1]
            documents = [
                iam.get_role_policy(RoleName=role, PolicyName=p)["PolicyDocument"]
                for p in iam.list_role_policies(RoleName=role)["PolicyNames"]
            ]
            for attached in iam.list_attached_role_policies(RoleName=role)["AttachedPolicies"]:
                policy = iam.get_policy(PolicyArn=attached["PolicyArn"])["Policy"]
                version = iam.get_policy_version(PolicyArn=policy["Arn"], VersionId=policy["DefaultVersionId"])
                documents.append(version["PolicyVersion"]["Document"])
            for document in documents:
                for st in _statements(document):
                    if st.get("Effect") == "Allow" and "sqs:ReceiveMessage" in _as_list(st.get("Action", [])):
                        for resource in _as_list(st.get("Resource", [])):
                            inv.consumers.setdefault(resource, set()).add(name)
    alarms = {"AlarmNamePrefix": prefix} if prefix else {}
    for page in client("cloudwatch").get_paginator("describe_alarms").paginate(**alarms):
        for alarm in page["MetricAlarms"]:
            if alarm.get("AlarmActions"):
                for d in alarm.get("Dimensions", []):
                    inv.alarms.add((alarm["MetricName"], d["Value"]))
            for action in alarm.get("AlarmActions", []):
                if action.startswith("arn:aws:sns:") and action not in inv.alarm_topics:
                    inv.alarm_topics[action] = _alarm_topic(client, action)
    for page in lam.get_paginator("list_event_source_mappings").paginate():
        for m in page["EventSourceMappings"]:
            function = m["FunctionArn"].split(":")[6]
            if m.get("EventSourceArn", "").startswith("arn:aws:sqs:") and function.startswith(prefix):
                inv.mappings.append(m)
                inv.consumers.setdefault(m["EventSourceArn"], set()).add(function)
    return inv


def violations(inv: Inventory) -> list[str]:
    problems: list[str] = []
    dlqs = {q.redrive["deadLetterTargetArn"] for q in inv.queues.values() if q.redrive}
    for arn, q in sorted(inv.queues.items()):
        if not q.encrypted:
            problems.append(f"{arn}: not encrypted at rest")
        if not q.tls_only:
            problems.append(f"{arn}: its policy does not deny plain-HTTP requests")
        if arn in dlqs:
            continue
        if not q.redrive:
            problems.append(f"{arn}: no dead-letter queue")
        elif q.redrive["deadLetterTargetArn"] not in inv.queues:
            problems.append(f"{arn}: its DLQ {q.redrive['deadLetterTargetArn']} does not exist")
        for function in sorted(inv.consumers.get(arn, ())):
            timeout = inv.timeouts.get(function)
            if timeout is not None and q.visibility < VISIBILITY_FACTOR * timeout:
                problems.append(
                    f"{arn}: visibility {q.visibility}s < {VISIBILITY_FACTOR} x {function}'s timeout {timeout}s"
                )
    for arn in sorted(set(inv.consumers) - set(inv.queues)):
        problems.append(f"{arn}: consumed by {sorted(inv.consumers[arn])} but no such queue")
    for arn in sorted(dlqs):
        if ("ApproximateNumberOfMessagesVisible", arn.rsplit(":", 1)[-1]) not in inv.alarms:
            problems.append(f"{arn}: no alarm when it holds a message")
    for function in sorted(inv.timeouts):
        for metric in ("Errors", "Throttles"):
            if (metric, function) not in inv.alarms:
                problems.append(f"{function}: no {metric} alarm")
    for m in inv.mappings:
        if "ReportBatchItemFailures" not in (m.get("FunctionResponseTypes") or []):
            problems.append(f"{m['EventSourceArn']} -> {m['FunctionArn']}: no partial batch responses")
    for arn, topic in sorted(inv.alarm_topics.items()):
        account = arn.split(":")[4]
        if topic.key_policy is None:
            problems.append(f"{arn}: alarm topic not encrypted with a customer-managed key ({topic.kms_key or 'none'})")
        elif not _allows_cloudwatch(topic.key_policy, KEY_ACTIONS_FOR_SNS, account):
            problems.append(
                f"{arn}: its key's policy does not let CloudWatch use it (kms:Decrypt, kms:GenerateDataKey)"
            )
        if topic.key_policy is not None and not topic.key_rotation:
            problems.append(f"{arn}: its key is not rotated")
        if not _allows_cloudwatch(topic.topic_policy, {"sns:Publish"}, account):
            problems.append(f"{arn}: its policy does not let CloudWatch publish")
        if not _denies_insecure_transport(topic.topic_policy):
            problems.append(f"{arn}: its policy does not deny plain-HTTP requests")
    return problems
