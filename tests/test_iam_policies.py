"""Every IAM policy document in every plan, linted by parliament.

The documents are the ones `terraform show -json` holds for each environment's main root
(the functions' inline policies, queue, topic, bucket and key policies) and for the bootstrap
root's CI roles (dev and prod): what Terraform would send AWS. parliament checks each against
AWS's service definitions: unknown actions, resources that do not fit their action, malformed
conditions and ARNs. A finding fails the test unless ALLOWED names it, with the reason it
is parliament's mistake and not ours.
"""

from __future__ import annotations

import json
import warnings
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from tests.conftest import BOOTSTRAP_ENVIRONMENTS, PLAN_ENVIRONMENTS
from tests.harness import aws_limits

with warnings.catch_warnings():  # parliament 1.6.4 imports pkg_resources (setuptools < 81), which warns
    warnings.simplefilter("ignore")
    import parliament

# Resource types whose `policy` is an IAM policy document.
POLICY_TYPES = (
    "aws_iam_role_policy",
    "aws_iam_policy",
    "aws_sqs_queue_policy",
    "aws_sns_topic_policy",
    "aws_s3_bucket_policy",
    "aws_kms_key",
)
# Trust policies (aws_iam_role.assume_role_policy) are not linted: parliament reads every
# statement as an identity policy's and reports their missing Resource, which a trust policy
# never has. tests/test_security_checks.py checks the CI roles' trust policies by value.

# The one policy unknown at plan time: the lambda module's log policy names the log group by
# the ARN AWS assigns it (8.8.1 and the stand-in alike).
UNKNOWN_AT_PLAN_TIME = ".module.lambda.aws_iam_role_policy.logs[0]"


@dataclass(frozen=True)
class Allowed:
    issue: str
    detail: str  # a substring of the finding's detail
    reason: str
    resource_type: str | None = None  # only in documents of this resource type
    string: str | None = None  # only where the finding points at exactly this string


# parliament's false positives, each with why it is one.
ALLOWED = (
    Allowed(
        "INVALID_ARN",
        "Account expected",
        "arn:aws:iam::aws:policy/* names AWS-managed policies, whose account field is 'aws'",
        string="arn:aws:iam::aws:policy/*",
    ),
    Allowed(
        "UNKNOWN_CONDITION_FOR_ACTION",
        "Unknown condition kms:ResourceAliases for action",
        "kms:ResourceAliases is a condition key of the KMS key resource type (Service Authorization"
        " Reference); parliament 1.6.4 looks only at the actions' own condition keys",
    ),
    Allowed(
        "RESOURCE_STAR",
        "kms:",
        'a key policy is attached to one key: its Resource "*" means that key',
        resource_type="aws_kms_key",
    ),
)


@dataclass(frozen=True)
class Document:
    plan: str
    address: str
    resource_type: str
    text: str


def documents(plan: dict[str, Any], name: str) -> Iterator[Document]:
    for r in aws_limits.resources(plan):
        if r["type"] in POLICY_TYPES:
            text = r.get("values", {}).get("policy")
            if text is None:
                assert r["address"].endswith(UNKNOWN_AT_PLAN_TIME), f"{name}: {r['address']}: policy unknown at plan"
                continue
            yield Document(name, r["address"], r["type"], text)


def findings(text: str, resource_type: str | None = None) -> list[tuple[str, str]]:
    """(issue, detail) of every finding ALLOWED does not name."""
    policy = parliament.analyze_policy_string(text)
    out = []
    for finding in policy.findings:
        detail = json.dumps(finding.detail) if not isinstance(finding.detail, str) else finding.detail
        if not any(
            a.issue == finding.issue
            and a.detail in detail
            and a.resource_type in (None, resource_type)
            and a.string in (None, finding.location.get("string"))
            for a in ALLOWED
        ):
            out.append((finding.issue, detail))
    return out


def policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def allow(actions: list[str], resources: list[str], condition: dict | None = None) -> dict[str, Any]:
    return {
        "Effect": "Allow",
        "Action": actions,
        "Resource": resources,
        **({"Condition": condition} if condition else {}),
    }


BUCKET = "arn:aws:s3:::qp-dev-documents-123456789012"
QUEUE = "arn:aws:sqs:ap-northeast-1:123456789012:qp-dev-work"


@pytest.mark.parametrize(
    ("statement", "issue"),
    [
        (allow(["sqs:ReceiveMessages"], [QUEUE]), "UNKNOWN_ACTION"),  # a typo
        (allow(["SNS:Receive"], ["arn:aws:sns:ap-northeast-1:123456789012:t"]), "UNKNOWN_ACTION"),  # not an action
        (allow(["s3:ListBucket"], [f"{BUCKET}/users/*"]), "RESOURCE_MISMATCH"),  # a bucket action on objects
        (allow(["sqs:SendMessage"], [BUCKET]), "RESOURCE_MISMATCH"),
        (allow(["sns:GetSubscriptionAttributes"], ["arn:aws:sns:ap-northeast-1:123456789012:t"]), "RESOURCE_MISMATCH"),
        (allow(["s3:ListBucket"], [BUCKET], {"StringLike": {"s3:prefx": ["users/*"]}}), "UNKNOWN_CONDITION_FOR_ACTION"),
        (allow(["s3:ListBucket"], [BUCKET], {"StringLikes": {"s3:prefix": ["users/*"]}}), "UNKNOWN_OPERATOR"),
        (allow(["s3:GetObject"], ["*"]), "RESOURCE_STAR"),
        (allow(["iam:GetRole"], ["arn:aws:iam::acme:role/r"]), "INVALID_ARN"),
    ],
)
def test_the_linter_refuses_each_kind_of_mistake(statement: dict[str, Any], issue: str):
    assert issue in [i for i, _ in findings(policy(statement))]


def test_the_allow_list_admits_only_what_it_names():
    good = allow(["s3:ListBucket"], [BUCKET], {"StringLike": {"s3:prefix": ["users/*"]}})
    assert findings(policy(good)) == []
    managed = allow(["iam:GetPolicy"], ["arn:aws:iam::aws:policy/*"])
    assert findings(policy(managed)) == []
    key = {**allow(["kms:Decrypt"], ["*"]), "Principal": {"Service": "cloudwatch.amazonaws.com"}}
    assert findings(policy(key), "aws_kms_key") == []
    assert [i for i, _ in findings(policy(key), "aws_sqs_queue_policy")] == ["RESOURCE_STAR"]


@pytest.mark.plans
@pytest.mark.parametrize("environment", PLAN_ENVIRONMENTS)
def test_every_policy_of_every_environment_passes_parliament(environment_plans, environment: str):
    found = {}
    docs = list(documents(environment_plans[environment], environment))
    assert sum(d.resource_type == "aws_iam_role_policy" for d in docs) >= 16  # inline + tracing per function
    for doc in docs:
        if problems := findings(doc.text, doc.resource_type):
            found[doc.address] = problems
    assert found == {}


@pytest.mark.plans
@pytest.mark.parametrize("environment", BOOTSTRAP_ENVIRONMENTS)
def test_every_ci_role_policy_passes_parliament(bootstrap_plans, environment: str):
    docs = [d for d in documents(bootstrap_plans[environment], environment) if d.resource_type == "aws_iam_role_policy"]
    assert {d.address for d in docs} >= {'aws_iam_role_policy.state["plan"]', "aws_iam_role_policy.plan_read"}
    found = {d.address: problems for d in docs if (problems := findings(d.text, d.resource_type))}
    assert found == {}
