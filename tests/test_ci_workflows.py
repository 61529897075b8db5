"""The GitHub Actions pipeline: OIDC only, lint + tests, plans per environment, gated applies of the saved plan."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest
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


def test_ci_lints_tests_and_plans_dev_and_stg_on_pull_requests():
    ci = load("ci.yml")
    assert "make lint" in runs(ci["jobs"]["lint"]) and "make test" in runs(ci["jobs"]["test"])
    plan = ci["jobs"]["plan"]
    assert plan["if"] == "github.event_name == 'pull_request'"
    # prod is planned only on main (deploy.yml): a pull request never holds prod credentials
    assert plan["strategy"]["matrix"]["environment"] == ["dev", "stg"]
    assert "make plan ENV=${{ matrix.environment }}" in runs(plan)
    assert any(str(s.get("uses", "")).startswith("actions/upload-artifact") for s in steps(plan))


def test_ci_runs_the_scenarios_on_localstack_too():
    job = load("ci.yml")["jobs"]["localstack"]
    assert "make test TARGET=localstack" in runs(job)
    assert "secrets" not in str(job)  # 4.14.0 needs no auth token


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


def every_workflow() -> list[tuple[Path, dict]]:
    return [(path, yaml.safe_load(path.read_text())) for path in sorted(WORKFLOWS.glob("*.yml"))]


PINNED = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<action>[^@\s]+)@(?P<ref>\S+)(?:\s+#\s*(?P<tag>\S+))?\s*$")


def test_every_action_is_pinned_to_a_commit_sha_with_its_version_named():
    """A tag can be moved to other code; a full commit SHA cannot (the comment says which tag)."""
    seen = 0
    for path in WORKFLOWS.glob("*.yml"):
        for line in path.read_text().splitlines():
            if not re.match(r"^\s*(-\s+)?uses:", line) or "uses: ./" in line:
                continue
            m = PINNED.match(line)
            assert m, f"{path.name}: {line.strip()}"
            assert re.fullmatch(r"[0-9a-f]{40}", m["ref"]), f"{path.name}: {m['action']} not pinned by SHA"
            assert m["tag"] and re.fullmatch(r"v\d+\.\d+\.\d+", m["tag"]), f"{path.name}: {m['action']} lacks # vX.Y.Z"
            seen += 1
    assert seen >= 20


def test_the_same_action_is_pinned_to_the_same_commit_everywhere():
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS.glob("*.yml"):
        for m in re.finditer(r"uses:\s*([^@\s.][^@\s]*)@(\S+)", path.read_text()):
            pins.setdefault(m[1], set()).add(m[2])
    assert all(len(refs) == 1 for refs in pins.values()), pins


def test_deploys_run_only_from_main_even_when_dispatched_by_hand():
    deploy = load("deploy.yml")
    assert "workflow_dispatch" in deploy.get(True, deploy.get("on", {}))  # YAML 1.1 reads the key on as True
    for name, job in deploy["jobs"].items():
        assert job.get("if") == "github.ref == 'refs/heads/main'", name
    for name, job in load("deploy-environment.yml")["jobs"].items():  # also if called from elsewhere
        assert job.get("if") == "github.ref == 'refs/heads/main'", name


def test_prod_is_planned_only_from_main_with_the_main_subject():
    """The deploy plan job names no GitHub environment, so its OIDC subject is
    repo:<repo>:ref:refs/heads/main: the subject prod's plan role trusts (terraform/bootstrap)."""
    env = load("deploy-environment.yml")["jobs"]
    assert "environment" not in env["plan"]
    role = next(s for s in steps(env["plan"]) if str(s.get("uses", "")).startswith("aws-actions/"))
    assert role["with"]["role-to-assume"] == "${{ inputs.plan_role_arn }}"
    deploy = load("deploy.yml")["jobs"]
    assert deploy["prod"]["with"]["plan_role_arn"] == "${{ vars.AWS_PLAN_ROLE_ARN_PROD }}"
    ci_plan = load("ci.yml")["jobs"]["plan"]
    assert "prod" not in ci_plan["strategy"]["matrix"]["environment"]


def test_the_apply_job_installs_the_providers_the_plan_was_made_with():
    env = load("deploy-environment.yml")["jobs"]
    uploaded = next(s for s in steps(env["plan"]) if str(s.get("uses", "")).startswith("actions/upload-artifact"))
    assert "terraform/.terraform.lock.hcl" in uploaded["with"]["path"].split()
    assert uploaded["with"]["include-hidden-files"] is True  # upload-artifact >= 4.4 skips dot files otherwise
    apply = runs(env["apply"])
    init = apply.index("terraform -chdir=terraform init")
    assert "-lockfile=readonly" in apply[init : apply.index("make apply")]


def test_no_lock_file_is_committed_with_made_up_hashes():
    """Lock files come from a real init (CI carries it plan -> apply); none lives in the repo."""
    repo = WORKFLOWS.parents[1]
    assert ".terraform.lock.hcl" in (repo / ".gitignore").read_text().split()


@pytest.mark.parametrize(("workflow", "job"), [("ci.yml", "plan"), ("deploy-environment.yml", "plan")])
def test_plans_name_the_account_specific_state_bucket(workflow, job):
    text = runs(load(workflow)["jobs"][job])
    assert 'account="$(aws sts get-caller-identity --query Account --output text)"' in text
    assert 'export STATE_BUCKET="qp-terraform-state-' in text and '-$account"' in text


def test_the_aws_scenarios_run_by_hand_only_and_never_on_prod():
    workflow = load("scenarios-aws.yml")
    on = workflow.get("on") or workflow.get(True)  # YAML 1.1 reads the key `on` as True
    assert list(on) == ["workflow_dispatch"]
    assert on["workflow_dispatch"]["inputs"]["environment"]["options"] == ["dev", "stg"]
    job = workflow["jobs"]["scenarios"]
    assert job["environment"] == "${{ inputs.environment }}-scenarios"  # the only subject its role trusts
    assert "make outputs ENV=${{ inputs.environment }}" in runs(job)
    assert "make test TARGET=aws ENV=${{ inputs.environment }}" in runs(job)


BIN = Path(sys.executable).parent


def actionlint(*paths: Path) -> subprocess.CompletedProcess[str]:
    """actionlint with shellcheck over run: scripts, both installed from requirements.txt into the venv."""
    return subprocess.run(
        [
            str(BIN / "actionlint"),
            "-no-color",
            "-oneline",
            f"-shellcheck={BIN / 'shellcheck'}",
            "-pyflakes=",
            *map(str, paths),
        ],
        capture_output=True,
        text=True,
        check=False,
    )


def test_actionlint_finds_nothing_in_the_workflows():
    result = actionlint(*sorted(WORKFLOWS.glob("*.yml")))
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_reports_a_broken_workflow(tmp_path):
    """The linter is wired: an unknown needs, a typo'd context and a masked exit status are each reported."""
    broken = tmp_path / ".github" / "workflows" / "broken.yml"
    broken.parent.mkdir(parents=True)
    broken.write_text(
        "on: push\n"
        "jobs:\n"
        "  plan:\n"
        "    runs-on: ubuntu-latest\n"
        "    needs: lint\n"
        "    steps:\n"
        "      - run: echo ${{ github.refname }}\n"
        "      - run: export ACCOUNT=$(aws sts get-caller-identity)\n"
    )
    out = actionlint(broken).stdout
    assert "[job-needs]" in out, out
    assert "refname" in out, out
    assert "SC2155" in out, out
