"""Security and operations rules, checked over the Terraform source and over
`terraform show -json` of real plans (the bootstrap root and the main root, per environment,
planned against the embedded emulator: the policies below are what Terraform would send AWS).
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

from local import terraform
from local.emulator import ACCOUNT_ID
from tests.conftest import REPOSITORY

REPO = Path(__file__).resolve().parents[1]
TF = REPO / "terraform"
MAIN_REF = f"repo:{REPOSITORY}:ref:refs/heads/main"


# --- source checks -----------------------------------------------------------------------


def test_provider_is_bounded_and_terraform_has_s3_native_locking():
    root = (TF / "versions.tf").read_text()
    assert re.search(r'version\s*=\s*"~> 6\.28"', root)  # no new major between plan and apply
    for path in [TF / "versions.tf", TF / "bootstrap" / "versions.tf", *TF.glob("modules/*/versions.tf")]:
        text = path.read_text()
        assert re.search(r'required_version\s*=\s*">= 1\.1\d"', text), f"{path}: use_lockfile needs >= 1.10"
        constraint = re.search(r'source\s*=\s*"hashicorp/aws"\s*\n\s*version\s*=\s*"([^"]+)"', text)
        assert constraint, f"{path}: no aws constraint the offline copy can rewrite"
        assert constraint[1] in ("~> 6.28", ">= 6.28"), f"{path}: aws {constraint[1]}"


def test_the_offline_copy_still_swaps_every_provider_constraint():
    """local/terraform.py rewrites the constraint for the aws 5.100 mirror by regex."""
    root = terraform.generate()
    for path in root.rglob("versions.tf"):
        if ".terraform" not in path.parts:
            assert '">= 5.100"' in path.read_text(), path


def test_no_lock_file_is_committed():
    tracked = subprocess.run(["git", "ls-files"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    assert ".terraform.lock.hcl" not in tracked  # it comes from a real init (CI carries it plan -> apply)


def test_state_bucket_is_not_named_in_the_backend_files():
    """The name carries the account id; make plan / CI pass it at init."""
    for env in ("dev", "stg", "prod"):
        text = (TF / "environments" / f"{env}.s3.tfbackend").read_text()
        assert not re.search(r"^\s*bucket\s*=", text, re.M), env
        assert re.search(r"^\s*use_lockfile\s*=\s*true", text, re.M), env


# --- plans against the emulator ----------------------------------------------------------


def records(plan: dict) -> list[dict]:
    """Every planned resource record (address, type, values), over every module."""
    out: list[dict] = []

    def walk(module: dict) -> None:
        out.extend(module.get("resources", []))
        for child in module.get("child_modules", []):
            walk(child)

    walk(plan["planned_values"]["root_module"])
    return out


def resources(plan: dict) -> dict[str, dict]:
    """address -> planned values (unknown values are absent)."""
    return {r["address"]: r.get("values", {}) for r in records(plan)}


def statements(document: str) -> list[dict]:
    body = json.loads(document)["Statement"]
    return body if isinstance(body, list) else [body]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


@pytest.fixture(scope="module")
def bootstrap(bootstrap_plans: dict[str, dict]) -> dict[str, dict[str, dict]]:
    """terraform/bootstrap planned for dev and prod (tests/conftest.py): address -> values."""
    return {name: resources(plan) for name, plan in bootstrap_plans.items()}


def trusted_subjects(role: dict) -> list[str]:
    (statement,) = statements(role["assume_role_policy"])
    return as_list(statement["Condition"]["StringEquals"]["token.actions.githubusercontent.com:sub"])


ROLE_POLICIES = {  # role -> its inline policies (role ids are unknown until apply: by address)
    "plan": ['aws_iam_role_policy.state["plan"]', "aws_iam_role_policy.plan_read"],
    "apply": ['aws_iam_role_policy.state["apply"]'],
    "scenarios": ["aws_iam_role_policy.scenarios[0]"],
}


def policies_of(plan: dict[str, dict], role: str) -> list[dict]:
    return [st for address in ROLE_POLICIES[role] for st in statements(plan[address]["policy"])]


@pytest.mark.plans
def test_state_bucket_name_carries_the_account_id(bootstrap):
    bucket = bootstrap["prod"]["module.state.aws_s3_bucket.this"]["bucket"]
    assert bucket == f"qp-terraform-state-prod-{ACCOUNT_ID}"


@pytest.mark.plans
def test_prod_plan_role_is_assumable_only_from_main(bootstrap):
    prod, dev = bootstrap["prod"], bootstrap["dev"]
    assert trusted_subjects(prod['aws_iam_role.ci["plan"]']) == [MAIN_REF]
    assert sorted(trusted_subjects(dev['aws_iam_role.ci["plan"]'])) == sorted(
        [f"repo:{REPOSITORY}:environment:dev-plan", MAIN_REF]
    )
    for plan, name in ((prod, "prod"), (dev, "dev")):  # apply: only its GitHub environment (reviewers, main)
        assert trusted_subjects(plan['aws_iam_role.ci["apply"]']) == [f"repo:{REPOSITORY}:environment:{name}"]


@pytest.mark.plans
@pytest.mark.parametrize("name", ["dev", "prod"])
def test_plan_role_writes_only_the_lock_object_and_reads_no_data(bootstrap, name):
    plan = bootstrap[name]
    state = f"arn:aws:s3:::qp-terraform-state-{name}-{ACCOUNT_ID}/queue-patterns/{name}.tfstate"
    assert {a for a in plan if a.startswith("aws_iam_role_policy.")} == {
        *ROLE_POLICIES["plan"],
        *ROLE_POLICIES["apply"],
        *(ROLE_POLICIES["scenarios"] if name != "prod" else []),
    }
    granted = policies_of(plan, "plan")
    writes = {"s3:PutObject", "s3:DeleteObject"}
    for st in granted:
        assert st["Effect"] == "Allow"
        actions, targets = set(as_list(st["Action"])), as_list(st["Resource"])
        assert not any("*" in a for a in actions), st  # no wildcard actions
        if actions & writes:
            assert targets == [f"{state}.tflock"], st
        # no data reads: objects other than the state, items, messages, log events, decryption
        assert not actions & {"dynamodb:GetItem", "dynamodb:Query", "dynamodb:Scan", "sqs:ReceiveMessage"}
        assert not actions & {"logs:GetLogEvents", "logs:FilterLogEvents", "kms:Decrypt"}
        if "s3:GetObject" in actions:
            assert set(targets) <= {state, f"{state}.tflock"}, st
    assert any(state in as_list(st["Resource"]) and "s3:GetObject" in as_list(st["Action"]) for st in granted)
    attached = {a: v for a, v in plan.items() if a.startswith("aws_iam_role_policy_attachment.")}
    assert all(a.startswith("aws_iam_role_policy_attachment.apply[") for a in attached)  # none on plan
    assert not any("ReadOnlyAccess" in v.get("policy_arn", "") for v in attached.values())
    apply = policies_of(plan, "apply")
    assert any(state in as_list(st["Resource"]) and "s3:PutObject" in as_list(st["Action"]) for st in apply)


@pytest.mark.plans
def test_plan_role_reads_only_this_environments_resources(bootstrap):
    for st in policies_of(bootstrap["prod"], "plan"):
        for target in as_list(st["Resource"]):
            scoped = (
                "qp-prod-" in target
                or target.startswith("arn:aws:s3:::qp-terraform-state-prod-")
                or target == "arn:aws:iam::aws:policy/*"  # AWS-managed policies a role may attach
                or (target.endswith(":key/*") and "kms:ResourceAliases" in json.dumps(st.get("Condition", {})))
                or target.endswith(":event-source-mapping:*")  # ids only; the mapping is the function's
                or (target == "*" and all(":List" in a or ":Describe" in a for a in as_list(st["Action"])))
                # no resource type: "*" or nothing (Service Authorization Reference)
                or (target == "*" and as_list(st["Action"]) == ["sns:GetSubscriptionAttributes"])
            )
            assert scoped, (st.get("Sid"), target)


@pytest.mark.plans
def test_state_keeps_old_versions_for_recovery_then_expires_them(bootstrap):
    rules = bootstrap["prod"]["module.state.aws_s3_bucket_lifecycle_configuration.this"]["rule"]
    assert [
        r["noncurrent_version_expiration"][0]["noncurrent_days"] for r in rules if r["noncurrent_version_expiration"]
    ] == [90]


@pytest.fixture(scope="module")
def root_plans(environment_plans: dict[str, dict]) -> dict[str, dict]:
    """The main root planned with dev's and prod's tfvars (tests/conftest.py)."""
    return {name: environment_plans[name] for name in ("dev", "prod")}


def of_type(plan: dict, kind: str) -> dict[str, dict]:
    return {r["address"]: r.get("values", {}) for r in records(plan) if r["type"] == kind}


@pytest.mark.plans
def test_prod_tables_have_deletion_protection_and_point_in_time_recovery(root_plans):
    for name, protected in (("prod", True), ("dev", False)):
        tables = of_type(root_plans[name], "aws_dynamodb_table")
        assert len(tables) >= 5
        for address, table in tables.items():
            assert table["deletion_protection_enabled"] is protected, (name, address)
            assert table["point_in_time_recovery"][0]["enabled"] is protected, (name, address)


@pytest.mark.plans
def test_every_bucket_expires_noncurrent_versions(root_plans):
    rules = of_type(root_plans["prod"], "aws_s3_bucket_lifecycle_configuration")
    assert len(rules) >= 3
    for address, config in rules.items():
        whole_bucket = [r for r in config["rule"] if not any(f.get("prefix") for f in r["filter"])]
        days = [
            r["noncurrent_version_expiration"][0]["noncurrent_days"]
            for r in whole_bucket
            if r["noncurrent_version_expiration"]
        ]
        assert days == [7], address
        assert any(r["abort_incomplete_multipart_upload"] for r in whole_bucket), address


@pytest.mark.plans
def test_alarm_topic_key_lets_cloudwatch_publish_for_this_accounts_alarms_only(root_plans):
    plan = root_plans["prod"]
    (key,) = of_type(plan, "aws_kms_key").values()
    assert key["enable_key_rotation"] is True
    grants = [st for st in statements(key["policy"]) if st.get("Principal") == {"Service": "cloudwatch.amazonaws.com"}]
    assert len(grants) == 1
    assert sorted(as_list(grants[0]["Action"])) == ["kms:Decrypt", "kms:GenerateDataKey"]
    assert grants[0]["Condition"]["StringEquals"]["aws:SourceAccount"] == ACCOUNT_ID
    assert grants[0]["Condition"]["ArnLike"]["aws:SourceArn"].endswith(f":{ACCOUNT_ID}:alarm:qp-prod-*")
    for st in statements(key["policy"]):
        assert not any("*" in a for a in as_list(st["Action"])), st
    topic = next(c for c in plan["resource_changes"] if c["address"] == "module.alarms.module.topic.aws_sns_topic.this")
    assert topic["change"]["after_unknown"].get("kms_master_key_id") is True  # the key above, not alias/aws/sns


@pytest.mark.plans
def test_the_client_read_results_queue_has_no_age_alarm_but_keeps_its_dlq_alarm(root_plans):
    names = {v["alarm_name"] for v in of_type(root_plans["prod"], "aws_cloudwatch_metric_alarm").values()}
    assert "qp-prod-workflow-results-dlq-not-empty" in names
    assert "qp-prod-workflow-results-oldest-message-age" not in names
    assert "qp-prod-workflow-enrich-oldest-message-age" in names  # our own consumers keep theirs
    assert all(not n.startswith("qp-prod-qp-prod-") for n in names), sorted(names)  # one prefix, not two
    assert any(n.startswith("qp-prod-") and n.endswith("-errors") for n in names)


@pytest.mark.plans
def test_the_scenarios_role_exists_below_prod_only_and_touches_only_its_environment(bootstrap):
    assert 'aws_iam_role.ci["scenarios"]' not in bootstrap["prod"]  # the scenarios never run on prod
    dev = bootstrap["dev"]
    assert trusted_subjects(dev['aws_iam_role.ci["scenarios"]']) == [f"repo:{REPOSITORY}:environment:dev-scenarios"]
    state = f"arn:aws:s3:::qp-terraform-state-dev-{ACCOUNT_ID}"
    granted = policies_of(dev, "scenarios")
    for st in granted:
        actions = as_list(st["Action"])
        assert st["Effect"] == "Allow" and not any("*" in a for a in actions), st
        for target in as_list(st["Resource"]):
            assert (
                ":qp-dev-" in target
                or "/qp-dev-" in target
                or ":::qp-dev-" in target
                or target in (state, f"{state}/queue-patterns/dev.tfstate", "arn:aws:iam::aws:policy/*")
                or (target.endswith(":key/*") and "alias/qp-dev-" in json.dumps(st.get("Condition", {})))
                or (target == "*" and all(":List" in a or ":Describe" in a for a in actions))
            ), st
        assert not set(actions) & {"s3:DeleteObject", "sqs:PurgeQueue", "iam:PassRole"}, st
        writes = [a for a in actions if a.split(":")[1].startswith(("Create", "Update", "Put", "Attach", "Delete"))]
        if set(writes) & {"dynamodb:UpdateItem", "dynamodb:DeleteItem"}:  # only the lease scenarios' own users
            assert [r.split(":")[-1] for r in as_list(st["Resource"])] == ["table/qp-dev-sticky-assignments"], st
            assert st["Condition"] == {"ForAllValues:StringLike": {"dynamodb:LeadingKeys": ["idle-*", "repair-*"]}}, st
            writes = [w for w in writes if not w.startswith("dynamodb:")]
        assert set(writes) <= {"s3:PutObject", "sqs:DeleteMessage"}, st  # the scenarios' own objects and messages
    actions = {a for st in granted for a in as_list(st["Action"])}
    assert {"lambda:InvokeFunction", "sqs:SendMessage", "dynamodb:Scan", "logs:FilterLogEvents"} <= actions
    assert "lambda:GetFunctionRecursionConfig" in actions  # the relay's recursion scenario
