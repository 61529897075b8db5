"""Every cross-service delivery in every environment's plan has the resource policy that lets
exactly that service in, from exactly that source.

A delivery is a service acting on a target on behalf of a source: S3 sends a bucket's event
notifications to a queue, SNS delivers a topic's messages to a queue or a function,
EventBridge invokes a rule's target, CloudWatch publishes an alarm's state changes to a topic.
None of these services has an IAM role of ours: the target's resource policy (queue policy,
topic policy, Lambda permission) must allow the service principal, conditioned on the source
ARN, and where a customer-managed KMS key encrypts the target, the key policy must let the
service use the key. Conversely every Allow a resource policy grants a service is used by a
delivery in the plan: nothing else is let in.
"""

from __future__ import annotations

import fnmatch
import json
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import PLAN_ENVIRONMENTS
from tests.harness import aws_limits


@dataclass(frozen=True)
class Delivery:
    service: str  # the service principal, e.g. sns.amazonaws.com
    source: str  # ARN of the bucket, topic, rule or alarm on whose behalf it acts
    target: str  # ARN of the queue, function or topic
    via: str  # the plan address that sets it up


def statements(document: str) -> list[dict[str, Any]]:
    body = json.loads(document)["Statement"]
    return body if isinstance(body, list) else [body]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def arn_parts(arn: str) -> tuple[str, str, str]:
    """(partition, region, account) of an ARN."""
    parts = arn.split(":")
    return parts[1], parts[3], parts[4]


def deliveries(plan: dict[str, Any]) -> list[Delivery]:
    out = []
    for r in aws_limits.resources(plan):
        v, address = r.get("values", {}), r["address"]
        if r["type"] == "aws_s3_bucket_notification":
            assert v.get("bucket"), f"{address}: bucket unknown at plan time"
            for kind, key in (
                ("queue", "queue_arn"),
                ("topic", "topic_arn"),
                ("lambda_function", "lambda_function_arn"),
            ):
                for target in v.get(kind) or []:
                    partition = arn_parts(target[key])[0]
                    out.append(
                        Delivery("s3.amazonaws.com", f"arn:{partition}:s3:::{v['bucket']}", target[key], address)
                    )
        elif r["type"] == "aws_sns_topic_subscription" and v.get("protocol") in ("sqs", "lambda"):
            assert v.get("topic_arn") and v.get("endpoint"), f"{address}: topic or endpoint unknown at plan time"
            out.append(Delivery("sns.amazonaws.com", v["topic_arn"], v["endpoint"], address))
        elif r["type"] == "aws_cloudwatch_event_target":
            assert v.get("arn") and v.get("rule"), f"{address}: target or rule unknown at plan time"
            partition, region, account = arn_parts(v["arn"])
            rule = f"arn:{partition}:events:{region}:{account}:rule/{v['rule']}"
            out.append(Delivery("events.amazonaws.com", rule, v["arn"], address))
        elif r["type"] == "aws_cloudwatch_metric_alarm":
            for key in ("alarm_actions", "ok_actions", "insufficient_data_actions"):
                for action in v.get(key) or []:
                    if action.startswith("arn:") and arn_parts(action) and action.split(":")[2] == "sns":
                        partition, region, account = arn_parts(action)
                        alarm = f"arn:{partition}:cloudwatch:{region}:{account}:alarm:{v['alarm_name']}"
                        out.append(Delivery("cloudwatch.amazonaws.com", alarm, action, address))
    return sorted(set(out), key=lambda d: (d.target, d.service, d.source))


def condition_values(statement: dict[str, Any], key: str, operators: tuple[str, ...]) -> list[str]:
    condition = statement.get("Condition", {})
    return [value for op in operators for value in as_list(condition.get(op, {}).get(key, []))]


def source_arns(statement: dict[str, Any]) -> list[str]:
    return condition_values(statement, "aws:SourceArn", ("ArnEquals", "ArnLike", "StringEquals", "StringLike"))


def admits(statement: dict[str, Any], delivery: Delivery, actions: set[str]) -> bool:
    """The statement allows exactly the delivery's service, from its source, the actions needed."""
    granted = {a.lower() for a in as_list(statement.get("Action", []))}
    return (
        statement.get("Effect") == "Allow"
        and statement.get("Principal") == {"Service": delivery.service}
        and {a.lower() for a in actions} <= granted
        and any(fnmatch.fnmatchcase(delivery.source, pattern) for pattern in source_arns(statement))
        and (
            not condition_values(statement, "aws:SourceAccount", ("StringEquals",))
            or condition_values(statement, "aws:SourceAccount", ("StringEquals",)) == [arn_parts(delivery.source)[2]]
        )
    )


def resource_policies(plan: dict[str, Any], kind: str) -> dict[str, list[dict[str, Any]]]:
    """target ARN -> the statements of its resource policy (queue or topic)."""
    out: dict[str, list[dict[str, Any]]] = {}
    for r in aws_limits.resources(plan):
        if r["type"] == kind:
            document = r.get("values", {}).get("policy")
            assert document, f"{r['address']}: policy unknown at plan time"
            sts = statements(document)
            (target,) = {t for st in sts for t in as_list(st["Resource"])}  # one policy, one resource
            out.setdefault(target, []).extend(sts)
    return out


def module_of(address: str, resource_type: str) -> str:
    """The module path of a resource address ('' at the root)."""
    return address.rsplit(f".{resource_type}.", 1)[0] if f".{resource_type}." in address else ""


def key_policies(plan: dict[str, Any]) -> dict[tuple[str, str], str | None]:
    """(service, queue or topic name) -> its customer-managed key's policy, or None where AWS
    manages the key (SSE-SQS, alias/aws/sns) and no key policy of ours takes part. A key created
    in the plan has an ARN unknown until apply: it is the one key of the module that creates
    the queue or topic (or of a module containing it)."""
    resources = list(aws_limits.resources(plan))
    keys = {
        module_of(r["address"], "aws_kms_key"): r["values"]["policy"] for r in resources if r["type"] == "aws_kms_key"
    }
    out: dict[tuple[str, str], str | None] = {}
    for r in resources:
        if r["type"] not in ("aws_sqs_queue", "aws_sns_topic"):
            continue
        v, address = r.get("values", {}), r["address"]
        service = "sqs" if r["type"] == "aws_sqs_queue" else "sns"
        if "kms_master_key_id" not in v:  # unknown: a key this plan creates
            module = module_of(address, r["type"])
            owners = [m for m in keys if m == "" or module == m or module.startswith(f"{m}.")]
            assert len(owners) == 1, f"{address}: encrypted by a key created in the plan, but which? {sorted(keys)}"
            out[service, v["name"]] = keys[owners[0]]
        else:
            key = v.get("kms_master_key_id")
            assert key in (None, "alias/aws/sns", "alias/aws/sqs"), f"{address}: key {key} outside the plan"
            out[service, v["name"]] = None
    return out


SEND = {"sqs": {"sqs:SendMessage"}, "sns": {"sns:Publish"}}


def problems(plan: dict[str, Any]) -> list[str]:
    found: list[str] = []
    all_deliveries = deliveries(plan)
    queues = resource_policies(plan, "aws_sqs_queue_policy")
    topics = resource_policies(plan, "aws_sns_topic_policy")
    keys = key_policies(plan)
    permissions = [
        (r["address"], r["values"]) for r in aws_limits.resources(plan) if r["type"] == "aws_lambda_permission"
    ]
    used: set[tuple[str, int]] = set()
    used_permissions: set[str] = set()
    for d in all_deliveries:
        service = d.target.split(":")[2]
        if service in ("sqs", "sns"):
            policy = (queues if service == "sqs" else topics).get(d.target)
            if policy is None:
                found.append(f"{d.via}: {d.target} has no resource policy")
                continue
            matches = [i for i, st in enumerate(policy) if admits(st, d, SEND[service])]
            if not matches:
                found.append(f"{d.via}: {d.target}'s policy does not let {d.service} in from {d.source}")
            used.update((d.target, i) for i in matches)
            key_policy = keys.get((service, d.target.split(":")[5]))
            if key_policy is not None and not any(
                admits(st, d, {"kms:GenerateDataKey", "kms:Decrypt"})
                or (
                    st.get("Effect") == "Allow"
                    and st.get("Principal") == {"Service": d.service}
                    and {"kms:GenerateDataKey", "kms:Decrypt"} <= set(as_list(st["Action"]))
                    and condition_values(st, "aws:SourceAccount", ("StringEquals",)) == [arn_parts(d.source)[2]]
                )
                for st in statements(key_policy)
            ):
                found.append(f"{d.via}: {d.target}'s key does not let {d.service} use it for {d.source}")
        elif service == "lambda":
            function = d.target.split(":")[6]
            matches = [
                address
                for address, p in permissions
                if p.get("function_name") in (function, d.target)
                and p.get("principal") == d.service
                and p.get("source_arn") == d.source
                and p.get("action") == "lambda:InvokeFunction"
                and not p.get("qualifier")
            ]
            if not matches:
                found.append(f"{d.via}: no permission lets {d.service} invoke {function} from {d.source}")
            used_permissions.update(matches)
        else:
            found.append(f"{d.via}: delivery to {d.target} not checked")
    # nothing else is let in
    for policies in (queues, topics):
        for target, sts in policies.items():
            for i, st in enumerate(sts):
                if st.get("Effect") == "Allow" and (target, i) not in used:
                    found.append(f"{target}: {st.get('Sid')} allows {st.get('Principal')} with no delivery")
    for address, p in permissions:
        if address not in used_permissions:
            found.append(f"{address}: {p.get('principal')} from {p.get('source_arn')} with no delivery")
    return found


@pytest.mark.plans
@pytest.mark.parametrize("environment", PLAN_ENVIRONMENTS)
def test_every_delivery_has_its_resource_policy_and_nothing_else_is_let_in(environment_plans, environment: str):
    plan = environment_plans[environment]
    found = deliveries(plan)
    services = {(d.service, d.target.split(":")[2]) for d in found}
    assert services == {
        ("s3.amazonaws.com", "sqs"),  # relay inbox -> relay queue
        ("sns.amazonaws.com", "sqs"),  # workflow connector -> services, notifier -> results
        ("sns.amazonaws.com", "lambda"),  # fan-out topic -> worker
        ("events.amazonaws.com", "lambda"),  # schedules -> counter, relay
        ("cloudwatch.amazonaws.com", "sns"),  # alarms -> alarm topic
    }
    assert problems(plan) == []


# --- the checks refuse what they should (synthetic plans) ----------------------------------

ACCOUNT = "123456789012"
QUEUE = f"arn:aws:sqs:us-east-1:{ACCOUNT}:q"
TOPIC = f"arn:aws:sns:us-east-1:{ACCOUNT}:t"
FUNCTION = f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:f"


def plan_with(*resources: tuple[str, str, dict[str, Any]]) -> dict[str, Any]:
    return {
        "planned_values": {
            "root_module": {
                "resources": [
                    {"address": f"{type_}.{name}", "mode": "managed", "type": type_, "name": name, "values": values}
                    for type_, name, values in resources
                ]
            }
        }
    }


def queue_policy(*extra: dict[str, Any]) -> tuple[str, str, dict[str, Any]]:
    deny = {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": QUEUE}
    return ("aws_sqs_queue_policy", "q", {"policy": json.dumps({"Statement": [deny, *extra]})})


def sns_may_send(source: str = TOPIC, principal: str = "sns.amazonaws.com") -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Principal": {"Service": principal},
        "Action": "sqs:SendMessage",
        "Resource": QUEUE,
        "Condition": {"ArnEquals": {"aws:SourceArn": source}},
    }


SUBSCRIPTION = ("aws_sns_topic_subscription", "s", {"protocol": "sqs", "topic_arn": TOPIC, "endpoint": QUEUE})
QUEUE_ITSELF = ("aws_sqs_queue", "q", {"name": "q", "kms_master_key_id": None})


def test_a_subscription_with_its_queue_policy_passes():
    assert problems(plan_with(SUBSCRIPTION, QUEUE_ITSELF, queue_policy(sns_may_send()))) == []


@pytest.mark.parametrize(
    "statement",
    [
        None,  # no Allow at all
        {k: v for k, v in sns_may_send().items() if k != "Condition"},  # from any topic
        sns_may_send(source=f"arn:aws:sns:us-east-1:{ACCOUNT}:other"),  # another topic
        sns_may_send(principal="s3.amazonaws.com"),  # another service
    ],
)
def test_a_subscription_without_exactly_its_permission_fails(statement):
    plan = plan_with(SUBSCRIPTION, QUEUE_ITSELF, queue_policy(*([statement] if statement else [])))
    assert any("does not let sns.amazonaws.com in" in p for p in problems(plan))


def test_an_allow_without_a_delivery_fails():
    plan = plan_with(QUEUE_ITSELF, queue_policy(sns_may_send()))
    assert any("with no delivery" in p for p in problems(plan))


def test_a_schedule_needs_a_permission_scoped_to_its_rule():
    target = ("aws_cloudwatch_event_target", "t", {"arn": FUNCTION, "rule": "tick"})
    rule = f"arn:aws:events:us-east-1:{ACCOUNT}:rule/tick"
    allowed = {"function_name": "f", "principal": "events.amazonaws.com", "action": "lambda:InvokeFunction"}
    assert problems(plan_with(target, ("aws_lambda_permission", "p", {**allowed, "source_arn": rule}))) == []
    (problem, unused) = problems(plan_with(target, ("aws_lambda_permission", "p", allowed)))  # no source ARN
    assert "no permission lets events.amazonaws.com invoke f" in problem and "with no delivery" in unused


def test_an_alarm_needs_the_topic_and_its_key_to_let_cloudwatch_in_for_it():
    alarm = ("aws_cloudwatch_metric_alarm", "a", {"alarm_name": "qp-x-errors", "alarm_actions": [TOPIC]})
    topic = ("aws_sns_topic", "t", {"name": "t"})  # kms_master_key_id unknown: the key below
    publish = {
        "Effect": "Allow",
        "Principal": {"Service": "cloudwatch.amazonaws.com"},
        "Action": "SNS:Publish",
        "Resource": TOPIC,
        "Condition": {
            "ArnLike": {"aws:SourceArn": f"arn:aws:cloudwatch:us-east-1:{ACCOUNT}:alarm:qp-x-*"},
            "StringEquals": {"aws:SourceAccount": ACCOUNT},
        },
    }
    topic_policy = ("aws_sns_topic_policy", "t", {"policy": json.dumps({"Statement": [publish]})})
    use_key = {**publish, "Action": ["kms:Decrypt", "kms:GenerateDataKey"], "Resource": "*"}
    key = ("aws_kms_key", "k", {"policy": json.dumps({"Statement": [use_key]})})
    assert problems(plan_with(alarm, topic, topic_policy, key)) == []
    no_key_grant = ("aws_kms_key", "k", {"policy": json.dumps({"Statement": []})})
    assert [p for p in problems(plan_with(alarm, topic, topic_policy, no_key_grant)) if "key does not let" in p]
    other_alarms = {**publish, "Condition": {"ArnLike": {"aws:SourceArn": "arn:aws:cloudwatch:*:*:alarm:other-*"}}}
    wrong = ("aws_sns_topic_policy", "t", {"policy": json.dumps({"Statement": [other_alarms]})})
    assert [p for p in problems(plan_with(alarm, topic, wrong, key)) if "does not let cloudwatch" in p]
