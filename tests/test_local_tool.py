"""The local stack as a tool: make help, progress and summary of `make apply`, Ctrl-C, sample
events, redeploying one function, the terraform mirror switch, missing credentials."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
import zipfile
from pathlib import Path
from types import SimpleNamespace

import pytest

from local import local_env, progress, stack_record, terraform
from tests.helpers import outside_make, wait_for

REPO = Path(__file__).resolve().parents[1]
FUNCTIONS = sorted(p.name for p in (REPO / "functions").iterdir() if (p / "app.py").exists())


def make(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", *args], cwd=REPO, env=outside_make(env), text=True, capture_output=True
    )


def test_make_without_a_target_lists_the_targets():
    out = make().stdout
    targets = "help demo test unit e2e apply invoke logs deploy redrive document queues".split()
    for target in targets:
        assert f"\n  {target} " in out, target
    rows = [line for line in out.splitlines() if line.startswith("  ")]
    assert "$(" not in out  # what a user reads, not a make variable
    assert len({len(line) - len(line[2:].split(" ", 1)[1].lstrip()) for line in rows}) == 1, rows  # one column


def test_plan_for_an_aws_environment_without_credentials_names_the_variable_to_set(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.update(
        HOME=str(tmp_path), AWS_CONFIG_FILE=str(tmp_path / "none"), AWS_SHARED_CREDENTIALS_FILE=str(tmp_path / "none")
    )
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    result = make("plan", "ENV=dev", env=env)
    assert result.returncode == 2
    assert "set AWS_PROFILE (or AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY)" in result.stderr


def test_every_function_has_a_sample_event():
    for name in FUNCTIONS:
        event = json.loads((REPO / "events" / f"{name}.json").read_text())
        assert isinstance(event, dict) and event, name


def test_init_uses_the_mirror_only_where_it_exists(tmp_path, monkeypatch):
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    monkeypatch.setenv("TF_PLUGIN_DIR", str(mirror))
    assert terraform.plugin_args() == [f"-plugin-dir={mirror}"]
    monkeypatch.setenv("TF_PLUGIN_DIR", str(tmp_path / "absent"))
    assert terraform.plugin_args() == []  # the registry, as on any laptop with internet


def test_apply_progress_counts_resources_and_logs_everything():
    lines = [
        json.dumps({"type": "version", "terraform": "1.11.4"}),
        json.dumps({"type": "apply_complete", "hook": {"resource": {"addr": "data.x"}, "action": "read"}}),
        json.dumps({"type": "change_summary", "changes": {"add": 3, "change": 0, "remove": 0, "operation": "plan"}}),
        *[json.dumps({"type": "apply_complete", "hook": {"resource": {"addr": f"module.q[{i}]"}}}) for i in range(3)],
        json.dumps({"type": "diagnostic", "diagnostic": {"severity": "error", "summary": "boom", "detail": "why"}}),
        "not json",
    ]
    seen, log = [], io.StringIO()
    errors = progress.read_events(io.StringIO("\n".join(lines) + "\n"), log, lambda a, t, r: seen.append((a, t, r)))
    assert seen == [(1, 3, "module.q[0]"), (2, 3, "module.q[1]"), (3, 3, "module.q[2]")]
    assert errors == ["boom: why"] and log.getvalue().count("\n") == len(lines)
    out = io.StringIO()
    for applied, total, address in seen:
        progress.bar(applied, total, address, out)
    assert "3/3" in out.getvalue() and "[" + "#" * 30 + "]" in out.getvalue()


def test_apply_summary_says_where_and_what_to_try_with_the_projects_own_commands():
    dispatchers = {"00": "qp-local-sticky-dispatcher-00", "01": "qp-local-sticky-dispatcher-01"}
    stack = SimpleNamespace(
        outputs={
            "sticky_queue": {
                "ingester_function_name": "qp-local-sticky-ingester",
                "dispatcher_function_names": dispatchers,
            },
            "document_bucket": "docs",
        },
        emulator=SimpleNamespace(endpoint="http://127.0.0.1:4566", region="us-east-1"),
        runner=SimpleNamespace(
            functions={"a": 1}, mappings=[], schedules=[], log_dir=REPO / ".build" / "runner" / "logs"
        ),
    )
    text = local_env.summary(stack, 42.0, REPO / ".build" / "apply.log")
    assert "http://127.0.0.1:4566" in text and "us-east-1" in text and ".build/apply.log" in text
    assert "export AWS_ENDPOINT_URL=http://127.0.0.1:4566 AWS_DEFAULT_REGION=us-east-1" in text
    assert "AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test" in text
    assert "make invoke FN=sticky_ingester EVENT=events/sticky_ingester.json" in text
    assert "make document USER_ID=user-1" in text and "s3://docs/users/user-1.json" in text
    assert "make queues" in text
    assert "make logs FN=sticky_dispatcher" in text and "/aws/lambda/qp-local-sticky-dispatcher-00" in text
    assert not re.search(r"^\s*aws ", text, re.M)  # the AWS CLI is not a prerequisite
    listed = make().stdout
    for target in re.findall(r"^\s+make (\w+)", text, re.M):
        assert f"\n  {target} " in listed, target


def test_commands_without_a_running_stack_say_so_in_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(stack_record, "RECORD", tmp_path / "none.json")
    assert local_env.main(["invoke", "sticky_ingester"]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no local stack is running" in err and "make apply" in err


FAKE_TERRAFORM = """#!/bin/sh
# init succeeds; apply prints one resource and then waits until interrupted
case "$1" in
  init) exit 0 ;;
  apply)
    echo '{"type":"change_summary","changes":{"add":2,"change":0,"remove":0,"operation":"plan"}}'
    echo '{"type":"apply_complete","hook":{"resource":{"addr":"aws_sqs_queue.a"}}}'
    trap 'echo "{\\"type\\":\\"log\\",\\"@message\\":\\"Interrupt received\\"}"; exit 1' INT
    while true; do sleep 0.1; done ;;
esac
exit 0
"""


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM], ids=["ctrl-c", "kill"])
def test_ctrl_c_during_apply_stops_quietly_and_leaves_no_state(tmp_path, signum):
    fake = tmp_path / "terraform"
    fake.write_text(FAKE_TERRAFORM)
    fake.chmod(0o755)
    tmp = tmp_path / "tmp"
    tmp.mkdir()
    log = tmp_path / "apply.log"
    record = tmp_path / "local-stack.json"
    env = {**os.environ, "TERRAFORM": str(fake), "TMPDIR": str(tmp), "PYTHONPATH": str(REPO), "APPLY_LOG": str(log)}
    env["LOCAL_STACK_RECORD"] = str(record)
    proc = subprocess.Popen(
        [sys.executable, "-m", "local.local_env", "apply"],
        cwd=REPO,
        env=env,
        text=True,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        assert wait_for(lambda: log.exists() and "aws_sqs_queue.a" in log.read_text(), timeout=60), (
            "apply never started"
        )
        assert json.loads(record.read_text()) == {"pid": proc.pid}  # claimed: a second apply is refused
        time.sleep(0.5)
        proc.send_signal(signum)
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:  # the test failed: interrupt it (it stops its terraform), then make sure
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
    assert proc.returncode == 130, (out, err)
    assert "Traceback" not in err and "Interrupted" in err and len(err.strip().splitlines()) == 1, err
    assert "1/2" in out  # the progress line
    assert list(tmp.iterdir()) == []  # no state directory left behind
    assert not record.exists()


def test_redeployed_code_runs_from_the_next_invocation(tmp_path):
    """UpdateFunctionCode on the emulator -> an invocation sent once it answers runs the new code,
    however long the runner takes to fetch and unpack it (`make deploy` prints done on that answer)."""
    import boto3

    from local.emulator import Emulator
    from local.runner import LocalLambdaRunner

    def code(version: str) -> bytes:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as z:
            z.writestr("app.py", f"def handler(event, context):\n    return {version!r}\n")
        return buf.getvalue()

    emulator = Emulator().start()
    kw = dict(endpoint_url=emulator.endpoint, region_name="us-east-1", aws_access_key_id="t", aws_secret_access_key="t")
    iam, lam = boto3.client("iam", **kw), boto3.client("lambda", **kw)
    name = f"redeploy-{os.getpid()}-{int(time.time())}"
    role = iam.create_role(RoleName=name, AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    lam.create_function(
        FunctionName=name, Runtime="python3.12", Role=role, Handler="app.handler", Code={"ZipFile": code("v1")}
    )

    def fetch_slowly(function: str) -> bytes:  # as a large zip arrives
        time.sleep(1)
        return emulator.function_code(function)

    runner = LocalLambdaRunner(
        endpoint=emulator.endpoint, region="us-east-1", code_fetcher=fetch_slowly, work_dir=tmp_path
    )
    runner.discover()
    runner.functions = {name: runner.functions[name]}
    runner.mappings, runner.schedules = [], []
    runner.start()
    emulator.invoke_handler, emulator.code_updated = runner.handle_invoke, runner.reload
    try:
        assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v1"
        lam.update_function_code(FunctionName=name, ZipFile=code("v2"))
        assert json.loads(lam.invoke(FunctionName=name)["Payload"].read()) == "v2"
    finally:
        runner.stop()
        emulator.invoke_handler = None
        emulator.stop()


def test_pinned_versions_match_ci_and_the_readme():
    ci = (REPO / ".github" / "workflows" / "ci.yml").read_text()
    python = (REPO / ".python-version").read_text().strip()
    tf = (REPO / ".terraform-version").read_text().strip()
    assert f'PYTHON_VERSION: "{python}"' in ci and f'TF_VERSION: "{tf}"' in ci
    readme = (REPO / "README.md").read_text()
    assert f"Python {python}" in readme and f"Terraform {tf.rsplit('.', 1)[0]}" in readme
    assert "../shared" not in readme  # nothing points outside the repo


def test_the_configuration_page_lists_every_root_variable():
    import re

    readme = (REPO / "docs" / "configuration.md").read_text()
    variables = (REPO / "terraform" / "variables.tf").read_text()
    for name in re.findall(r'^variable "([a-z_]+)"', variables, flags=re.M):
        body = variables.split(f'variable "{name}"', 1)[1].split("\nvariable ", 1)[0]
        shape = body.split("object({", 1)[1].split("})", 1)[0] if "object({" in body else ""
        fields = re.findall(r"^\s+([a-z_]+)\s+=", shape, flags=re.M)
        for key in [f"{name}.{f}" for f in fields] or [name]:
            assert f"`{key}`" in readme or f"`relay.{key.split('.')[-1]}`" in readme, key


def test_an_aws_plan_refuses_a_host_without_python312(tmp_path):
    """The zips carry bytecode for the runtime's Python: without python3.12 make refuses first."""
    env = {**os.environ, "PATH": "/usr/bin:/bin", "MAKEFLAGS": ""}
    refused = make("check-build-host", "ENV=dev", f"VENV={tmp_path}", env=env)
    assert refused.returncode == 2, refused.stdout + refused.stderr
    assert "put python3.12 on PATH" in refused.stderr
    assert make("check-build-host", "ENV=dev").returncode == 0


FAKE_PYTHON = """#!/bin/sh
# a Python 3.11 as far as the Makefile can tell
case "$1" in -c) echo 3.11 ;; *) echo "Python 3.11.9" ;; esac
"""


def test_the_venv_is_made_only_with_python_312(tmp_path):
    fake = tmp_path / "python3"
    fake.write_text(FAKE_PYTHON)
    fake.chmod(0o755)
    for python, found in ((fake, "3.11"), (tmp_path / "absent", "not a Python that runs")):
        refused = make("check-python", f"PYTHON={python}")
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert refused.stderr.splitlines()[0] == (
            f"error: Python 3.12 is needed; PYTHON={python} is {found}:"
            " install python3.12 or run make PYTHON=/path/to/python3.12"
        )
    assert make("check-python", f"PYTHON={sys.executable}").returncode == 0
    venv = tmp_path / "venv"
    dry = make("-n", f"{venv}/.installed", f"VENV={venv}", f"PYTHON={fake}").stdout
    assert dry.index('[ "$found" = 3.12 ]') < dry.index(f"{fake} -m venv {venv}")


def test_an_aws_plan_inits_with_the_account_state_bucket():
    dry = make("-n", "plan", "ENV=dev", "STATE_BUCKET=qp-terraform-state-dev-111122223333")
    assert "-backend-config=bucket=qp-terraform-state-dev-111122223333" in dry.stdout, dry.stdout + dry.stderr
    assert "build_in_docker" not in dry.stdout
    assert "-lock-timeout=10m" in dry.stdout  # waits for a plan or apply that holds the state lock


def test_an_aws_plan_drops_bytecode_from_the_sources_the_module_hashes():
    dry = make("-n", "plan", "ENV=dev", "STATE_BUCKET=qp-terraform-state-dev-111122223333")
    assert dry.stdout.index("find functions shared -name __pycache__") < dry.stdout.index("plan -input=false")


def test_the_watcher_redeploys_a_function_whose_lock_file_changed(tmp_path):
    from local.local_env import fingerprint

    (tmp_path / "app.py").write_text("")
    (tmp_path / "requirements.txt").write_text("a==1\n")
    before = fingerprint(tmp_path)
    time.sleep(0.01)
    (tmp_path / "requirements.txt").write_text("a==2\n")
    assert fingerprint(tmp_path) != before


def test_an_aws_apply_waits_for_the_state_lock():
    dry = make("-n", "apply", "ENV=dev", "STATE_BUCKET=qp-terraform-state-dev-111122223333")
    assert "apply -input=false -lock-timeout=10m dev.tfplan" in dry.stdout, dry.stdout + dry.stderr


def test_redrive_takes_a_count_or_a_rate():
    dry = make("-n", "redrive", "DLQ=http://x/q-dlq", "MAX=5")
    assert "--max 5" in dry.stdout and "--rate" not in dry.stdout
    dry = make("-n", "redrive", "DLQ=http://x/q-dlq", "RATE=10")
    assert "--rate 10" in dry.stdout and "--max" not in dry.stdout


def test_the_local_platform_is_not_a_test_helper_and_no_tool_is_zipped_into_a_function():
    """The platform (local/), the bench and the operator tools never import the tests; shared/
    (zipped into every function) holds no command-line tool; terraform/ holds no stand-in."""
    repo = Path(__file__).resolve().parents[1]
    for folder in ("local", "bench", "ops"):
        for path in (repo / folder).rglob("*.py"):
            assert not re.search(r"^\s*(from|import) tests\b", path.read_text(), re.M), path
    for path in (repo / "shared").rglob("*.py"):
        text = path.read_text()
        assert "argparse" not in text and "__main__" not in text, f"{path}: a command-line tool in the Lambda package"
    assert not (repo / "terraform" / "modules" / "lambda_standin").exists()
