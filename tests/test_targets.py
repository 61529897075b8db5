"""The scenario targets' own rules (local/targets.py), offline: above all, TARGET=aws never
applies, resets or touches prod, and uses the caller's credentials."""

from __future__ import annotations

import io
import json
import subprocess
import urllib.request

import pytest

from local import targets
from tests.helpers import clear_shell_aws, outside_make


def test_the_aws_target_reads_a_deployed_environment_and_never_changes_it(tmp_path, monkeypatch):
    outputs = {"document_bucket": {"value": "qp-dev-documents", "type": "string", "sensitive": False}}
    (tmp_path / "outputs.json").write_text(json.dumps(outputs))
    monkeypatch.setenv("TARGET_OUTPUTS", str(tmp_path / "outputs.json"))
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.setenv("ENV", "dev")
    target = targets.create("aws")
    assert target.deploy() == {"document_bucket": "qp-dev-documents"}  # terraform output -json, values only
    assert target.region == "ap-northeast-1"  # environments/dev.tfvars
    with pytest.raises(RuntimeError, match="never reset"):
        target.reset()
    with pytest.raises(ValueError, match="does not apply"):
        target.deploy(extra_vars={"x": "1"})
    target.stop()  # nothing was started: nothing to stop


@pytest.mark.parametrize("environment", ["prod", "local"])
def test_the_aws_target_refuses_prod_and_local(environment, monkeypatch):
    monkeypatch.setenv("ENV", environment)
    with pytest.raises(ValueError, match="dev or stg"):
        targets.create("aws").deploy()


def test_the_aws_target_signs_with_the_callers_credentials(monkeypatch):
    clear_shell_aws(monkeypatch)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDCALLER")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    aws = targets.AwsTarget(region="eu-west-1")
    assert aws.client("sqs")._request_signer._credentials.access_key == "AKIDCALLER"
    assert aws.client("sqs").meta.endpoint_url.startswith("https://sqs.eu-west-1.")
    local = targets.LocalStackTarget(endpoint="http://127.0.0.1:4566")
    assert local.client("sqs")._request_signer._credentials.access_key == "test"


def test_the_aws_target_says_how_to_get_the_outputs_when_terraform_has_none(monkeypatch, tmp_path):
    monkeypatch.delenv("TARGET_OUTPUTS", raising=False)
    monkeypatch.setattr(targets, "REPO", tmp_path)  # a terraform/ that was never initialised
    (tmp_path / "terraform").mkdir()
    with pytest.raises(RuntimeError, match=r"make outputs ENV=dev"):
        targets.terraform_outputs("dev")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["ENV=prod"], "set ENV=dev or ENV=stg (never prod)"),
        (["ENV=local"], "set ENV=dev or ENV=stg (never prod)"),
    ],
)
def test_make_test_target_aws_needs_a_deployed_non_prod_environment(args, message):
    proc = subprocess.run(
        ["make", "--no-print-directory", "test", "TARGET=aws", *args],
        capture_output=True,
        text=True,
        env=outside_make(),
    )
    assert proc.returncode == 2 and message in proc.stderr


class _FakeTable:
    """A DynamoDB client with one item, recording the calls (``await_ttl_deletion``)."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict]] = []
        self.present = True

    def get_item(self, **kwargs):
        self.calls.append(("GetItem", kwargs))
        return {"Item": kwargs["Key"]} if self.present else {}

    def delete_item(self, **kwargs):
        self.calls.append(("DeleteItem", kwargs))
        self.present = False


def test_ttl_deletion_on_localstack_asks_its_developer_endpoint_then_waits(monkeypatch):
    table, asked = _FakeTable(), []

    def urlopen(request, timeout=None):
        asked.append((request.get_method(), request.full_url))
        table.present = False  # LocalStack deleted the expired item
        return io.BytesIO(b'{"ExpiredItems": 1}')

    target = targets.LocalStackTarget(endpoint="http://127.0.0.1:4566")
    monkeypatch.setattr(target, "client", lambda service: table)
    monkeypatch.setattr(urllib.request, "urlopen", urlopen)
    target.await_ttl_deletion("t", {"pk": {"S": "k"}}, timeout=5)
    assert asked == [("DELETE", "http://127.0.0.1:4566/_aws/dynamodb/expired")]
    assert [name for name, _ in table.calls] == ["GetItem"]


def test_ttl_deletion_on_aws_deletes_the_item_itself():
    table = _FakeTable()
    target = targets.AwsTarget(region="eu-west-1")
    target.client = lambda service: table  # type: ignore[method-assign]
    target.await_ttl_deletion("t", {"pk": {"S": "k"}}, timeout=5)
    assert table.calls[0] == ("DeleteItem", {"TableName": "t", "Key": {"pk": {"S": "k"}}})
    assert table.calls[-1][0] == "GetItem" and not table.present


def test_a_resize_applies_the_deployed_sticky_settings_with_only_the_pool_changed():
    applied: list[dict[str, str]] = []

    class Recording(targets.Target):
        def reapply(self, extra_vars: dict[str, str]) -> dict:
            applied.append(extra_vars)
            return {"sticky_queue": {"pool_queues": {}}}

    target = Recording(var_file="environments/localstack.tfvars")
    target.resize_pool(2, queues_kept=4)
    sticky = targets.sticky_settings(applied[0]["sticky"])
    deployed = targets.sticky_settings(targets.var_file_block("environments/localstack.tfvars", "sticky"))
    assert sticky == {**deployed, "pool_size": "2", "queues_kept": "4"}
    assert deployed["pool_message_retention_seconds"] == "600"  # the comment after it is not part of it
    target = Recording(deployed_vars={"sticky": '{pool_size=4, queue_type="standard", dispatcher_timeout=10}'})
    target.resize_pool(3)
    assert targets.sticky_settings(applied[1]["sticky"]) == {
        "pool_size": "3",
        "queue_type": '"standard"',
        "dispatcher_timeout": "10",
        "queues_kept": "0",
    }


def test_the_aws_target_never_resizes_the_pool_itself():
    target = targets.create("aws")
    assert not target.applies
    with pytest.raises(RuntimeError, match="make plan/apply"):
        target.resize_pool(2)
