"""The GitHub Actions pipeline: OIDC only, lint + tests, plans per environment, gated applies of the saved plan."""

from __future__ import annotations

from pathlib import Path

import yaml

WORKFLOWS = Path(__file__).resolve().parents[1] / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps(job: dict) -> list[dict]:
    return job.get("steps", [])


def runs(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in steps(job))


def test_no_static_aws_keys_and_oidc_wherever_a_role_is_assumed():
    for path in WORKFLOWS.glob("*.yml"):
        text = path.read_text()
        assert "aws-access-key-id" not in text and "AWS_SECRET_ACCESS_KEY" not in text, path
        workflow = yaml.safe_load(text)
        for name, job in workflow["jobs"].items():
            for step in steps(job):
                if str(step.get("uses", "")).startswith("aws-actions/configure-aws-credentials"):
                    assert "role-to-assume" in step["with"], (path, name)
                    permissions = job.get("permissions") or workflow.get("permissions") or {}
                    assert permissions.get("id-token") == "write", (path, name)


def test_ci_lints_tests_and_plans_every_environment_on_pull_requests():
    ci = load("ci.yml")
    assert "make lint" in runs(ci["jobs"]["lint"]) and "make test" in runs(ci["jobs"]["test"])
    plan = ci["jobs"]["plan"]
    assert plan["if"] == "github.event_name == 'pull_request'"
    assert plan["strategy"]["matrix"]["environment"] == ["dev", "stg", "prod"]
    assert "make plan ENV=${{ matrix.environment }}" in runs(plan)
    assert any(str(s.get("uses", "")).startswith("actions/upload-artifact") for s in steps(plan))


def test_main_applies_each_environment_in_order_behind_its_environment():
    deploy = load("deploy.yml")["jobs"]
    assert [deploy[e]["with"]["environment"] for e in ("dev", "stg", "prod")] == ["dev", "stg", "prod"]
    assert deploy["stg"]["needs"] == "dev" and deploy["prod"]["needs"] == "stg"
    env = load("deploy-environment.yml")["jobs"]
    assert env["apply"]["environment"] == "${{ inputs.environment }}"  # approval rules live there
    assert env["apply"]["needs"] == "plan"
    uploaded = next(s for s in steps(env["plan"]) if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert "terraform/builds/" in uploaded["with"]["path"]  # the packages the plan was made with
    assert any(str(s.get("uses", "")).startswith("actions/download-artifact") for s in steps(env["apply"]))
    assert "make apply ENV=${{ inputs.environment }}" in runs(env["apply"])
    assert "make plan" not in runs(env["apply"])  # apply never re-plans
