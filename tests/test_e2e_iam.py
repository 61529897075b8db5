"""Each function's role is just enough: without one of its statements, its sample event fails
and the emulator names the action that statement allowed (local/iam.py, IAM=enforce).

The deployed role is not touched (the other scenarios run on it meanwhile): a copy of it,
minus one statement of its inline policy, runs the deployed function's code and environment
in a pool of its own, as the runner runs every function, with the copy's credentials.
"""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from pathlib import Path

import pytest

from local.runner.pool import FunctionPool
from tests.conftest import STANDARD

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[1]

# folder -> (the deployed function's name ends with, the statement dropped (its Sid), the action denied)
CASES = {
    "fanout_counter": ("-fanout-counter", "depth", "sqs:GetQueueAttributes"),
    "fanout_worker": ("-fanout-worker", "work", "sqs:ReceiveMessage"),
    "relay_consumer": ("-relay-consumer", "leases", "dynamodb:PutItem"),
    "sticky_ingester": ("-sticky-ingester", "assignments", "dynamodb:UpdateItem"),
    "sticky_dispatcher": ("-sticky-dispatcher-", "documents", "s3:GetObject"),
    "workflow_preprocessor": ("-workflow-preprocessor", "documents", "s3:PutObject"),
    "workflow_enrich": ("-workflow-enrich", "readinput", "s3:GetObject"),
    "workflow_summarize": ("-workflow-summarize", "readinput", "s3:GetObject"),
}


def test_every_function_has_a_case():
    assert sorted(CASES) == sorted(p.name for p in (REPO / "functions").iterdir() if (p / "app.py").exists())


def _role_without(iam, role_name: str, sid: str) -> str:
    """A copy of ``role_name`` (trust, inline and attached policies) without statement ``sid``."""
    role = iam.get_role(RoleName=role_name)["Role"]
    copy = f"iam-minus-{sid}-{uuid.uuid4().hex[:8]}"
    trust = role["AssumeRolePolicyDocument"]
    arn = iam.create_role(
        RoleName=copy, AssumeRolePolicyDocument=trust if isinstance(trust, str) else json.dumps(trust)
    )["Role"]["Arn"]
    dropped = 0
    for name in iam.list_role_policies(RoleName=role_name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=role_name, PolicyName=name)["PolicyDocument"]
        document = json.loads(document) if isinstance(document, str) else document
        statements = document["Statement"] if isinstance(document["Statement"], list) else [document["Statement"]]
        kept = [s for s in statements if s.get("Sid") != sid]
        dropped += len(statements) - len(kept)
        iam.put_role_policy(RoleName=copy, PolicyName=name, PolicyDocument=json.dumps({**document, "Statement": kept}))
    for policy in iam.list_attached_role_policies(RoleName=role_name)["AttachedPolicies"]:
        iam.attach_role_policy(RoleName=copy, PolicyArn=policy["PolicyArn"])
    assert dropped == 1, f"{role_name} has no statement {sid!r}"
    return arn


@STANDARD
@pytest.mark.parametrize("folder", sorted(CASES))
def test_without_one_statement_of_its_role_the_function_fails_naming_the_action(stack, folder, tmp_path):
    if stack.emulator.iam.mode != "enforce":
        pytest.skip("IAM is not enforced (IAM=report or off)")
    suffix, sid, action = CASES[folder]
    runner = stack.runner
    name = next(n for n in sorted(runner.functions) if suffix in n and "-fifo-" not in n)
    spec = runner.functions[name]
    assert spec.role, f"{name} has no role"
    copy = _role_without(stack.client("iam"), spec.role.split("/")[-1], sid)
    copy_spec = dataclasses.replace(spec, role=copy)
    pool = FunctionPool(
        copy_spec, runner.pools[name].code_dir, runner.base_env, tmp_path / "f.log", runner.role_credentials(copy_spec)
    )
    seen = len(stack.emulator.iam.denials)
    try:
        result = pool.invoke(json.loads((REPO / "events" / f"{folder}.json").read_text()))
    finally:
        pool.close()
    copy_name = copy.split("/")[-1]
    denials = [d for d in stack.emulator.iam.denials[seen:] if f"assumed-role/{copy_name}/" in d.principal]
    assert [d.action for d in denials][:1] == [action], denials
    failed = not result.ok or bool((result.payload or {}).get("batchItemFailures"))
    assert failed, f"{folder} succeeded without {sid}: {result.payload}"
    log = (tmp_path / "f.log").read_text()
    assert re.search(rf"not authorized to perform: {re.escape(action)} on resource: arn:aws:", log), log[-2000:]
