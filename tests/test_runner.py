"""The local runner's Lambda semantics that do not need a deployed stack."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.harness.runner import FunctionPool, FunctionSpec, InvocationResult, successful_receipts
from tests.helpers import wait_for

RECORDS = [{"messageId": m, "receiptHandle": f"rh-{m}"} for m in ("a", "b", "c")]


def test_success_deletes_everything():
    assert successful_receipts(RECORDS, InvocationResult(True, payload=None), report_failures=True) == RECORDS


def test_function_error_deletes_nothing():
    assert successful_receipts(RECORDS, InvocationResult(False, error={}), report_failures=True) == []


def test_batch_item_failures_keep_only_the_failed_ones():
    payload = {"batchItemFailures": [{"itemIdentifier": "b"}]}
    kept = successful_receipts(RECORDS, InvocationResult(True, payload=payload), report_failures=True)
    assert [r["messageId"] for r in kept] == ["a", "c"]


def test_batch_item_failures_ignored_without_report_batch_item_failures():
    payload = {"batchItemFailures": [{"itemIdentifier": "b"}]}
    assert successful_receipts(RECORDS, InvocationResult(True, payload=payload), report_failures=False) == RECORDS


def test_unknown_item_identifier_fails_the_whole_batch():
    payload = {"batchItemFailures": [{"itemIdentifier": "zzz"}]}
    assert successful_receipts(RECORDS, InvocationResult(True, payload=payload), report_failures=True) == []


def make_function(tmp_path: Path, source: str, timeout: int = 2, env: dict | None = None) -> FunctionPool:
    code = tmp_path / "code"
    code.mkdir()
    (code / "app.py").write_text(source)
    spec = FunctionSpec(
        name="f",
        arn="arn:aws:lambda:us-east-1:123456789012:function:f",
        handler="app.handler",
        timeout=timeout,
        memory=128,
        environment=env or {},
        concurrency=1,
        log_group="/aws/lambda/f",
    )
    return FunctionPool(spec, code, {"PATH": "/usr/bin"}, tmp_path / "f.log")


def test_worker_runs_in_its_own_process_with_the_deployed_environment(tmp_path):
    pool = make_function(
        tmp_path,
        "import os\n"
        "def handler(event, context):\n"
        "    print('to the log')\n"
        "    return {'pid': os.getpid(), 'x': os.environ['X'], 'name': context.function_name,\n"
        "            'event': event, 'trace': os.environ['_X_AMZN_TRACE_ID']}\n",
        env={"X": "deployed"},
    )
    try:
        result = pool.invoke({"k": 1})
        assert result.ok and result.payload["x"] == "deployed" and result.payload["event"] == {"k": 1}
        assert result.payload["pid"] != __import__("os").getpid() and result.payload["name"] == "f"
        assert "Sampled=0" in result.payload["trace"]
        assert pool.invoke({}).payload["pid"] == result.payload["pid"]  # warm worker reused
        assert "to the log" in (tmp_path / "f.log").read_text()
    finally:
        pool.close()


def test_errors_and_timeouts_are_reported_like_lambda(tmp_path):
    pool = make_function(
        tmp_path,
        "import time\n"
        "def handler(event, context):\n"
        "    if event.get('sleep'): time.sleep(5)\n"
        "    raise ValueError('bad input')\n",
        timeout=1,
    )
    try:
        error = pool.invoke({}).error
        assert error["errorType"] == "ValueError" and error["errorMessage"] == "bad input"
        timed_out = pool.invoke({"sleep": True})
        assert not timed_out.ok and timed_out.error["errorType"] == "Sandbox.Timedout"
        assert pool.invoke({}).error["errorType"] == "ValueError"  # a fresh worker replaced the killed one
        reports = [line for line in (tmp_path / "f.log").read_text().splitlines() if line.startswith("REPORT")]
        assert len(reports) == 3 and "Status: timeout" in reports[1] and "Duration:" in reports[0]
    finally:
        pool.close()


def test_rate_expressions_and_the_scheduled_event():
    from tests.harness.runner import Schedule, rate_seconds, scheduled_event

    assert rate_seconds("rate(1 minute)") == 60 and rate_seconds("rate(5 minutes)") == 300
    assert rate_seconds("rate(2 hours)") == 7200 and rate_seconds("cron(0 12 * * ? *)") is None
    rule = Schedule("tick", "arn:aws:events:us-east-1:123456789012:rule/tick", "rate(1 minute)", "f")
    event = scheduled_event(rule, "us-east-1")
    assert event["source"] == "aws.events" and event["detail-type"] == "Scheduled Event"
    assert event["resources"] == [rule.rule_arn] and event["account"] == "123456789012"
    fixed = Schedule("tick", rule.rule_arn, "rate(1 minute)", "f", input='{"fixed": true}')
    assert scheduled_event(fixed, "us-east-1") == {"fixed": True}


def test_schedules_fire_on_demand_and_sns_deliveries_invoke_asynchronously(tmp_path):
    from tests.harness.runner import LocalLambdaRunner, Schedule

    out = tmp_path / "events.jsonl"
    pool = make_function(
        tmp_path,
        "import json\n"
        "def handler(event, context):\n"
        f"    open({str(out)!r}, 'a').write(json.dumps(event) + '\\n')\n"
        "    return {'source': event.get('source') or event['Records'][0]['EventSource']}\n",
    )
    runner = LocalLambdaRunner(endpoint="http://127.0.0.1:1", region="us-east-1", code_fetcher=lambda n: b"")
    runner.pools["f"] = pool
    runner.schedules = [Schedule("tick", "arn:aws:events:us-east-1:123456789012:rule/tick", "rate(1 minute)", "f")]
    try:
        (result,) = runner.fire("tick", sync=True)
        assert result.payload == {"source": "aws.events"}
        assert runner.fire("tick") == []  # asynchronous: queued like EventBridge's invocation
        runner.deliver_sns(
            "arn:aws:lambda:us-east-1:123456789012:function:f", {"Records": [{"EventSource": "aws:sns"}]}
        )
        assert wait_for(lambda: len(out.read_text().splitlines()) == 3, timeout=10)
        sources = [json.loads(line).get("source") or "sns" for line in out.read_text().splitlines()]
        assert sorted(sources) == ["aws.events", "aws.events", "sns"]
        with pytest.raises(KeyError):
            runner.fire("no-such-rule")
    finally:
        runner.stop()


def test_each_invocation_reports_the_aws_calls_it_made(tmp_path):
    pool = make_function(
        tmp_path,
        "import boto3\n"
        "def handler(event, context):\n"
        "    s3 = boto3.client('s3', region_name='us-east-1', endpoint_url='http://127.0.0.1:9')\n"
        "    try:\n"
        "        s3.put_object(Bucket='b', Key='k', Body=b'12345')\n"
        "    except Exception:\n"
        "        pass\n"
        "    return 'ok'\n",
        timeout=30,
        env={"AWS_ACCESS_KEY_ID": "x", "AWS_SECRET_ACCESS_KEY": "x", "AWS_MAX_ATTEMPTS": "1"},
    )
    try:
        result = pool.invoke({})
        assert result.usage == {"calls": {"s3:PutObject": 1}, "s3_put_bytes": 5}
        assert pool.calls == {"s3:PutObject": 1} and pool.s3_put_bytes == 5
    finally:
        pool.close()


def test_call_counter_counts_only_its_thread_and_not_while_paused(aws):
    import threading

    import boto3

    from tests.harness.calls import CallCounter

    counter = CallCounter().install()
    counter.only_thread = threading.get_ident()
    sqs = boto3.client("sqs")
    sqs.list_queues()
    other = threading.Thread(target=lambda: boto3.client("sqs").list_queues())
    other.start()
    other.join()
    counter.paused = True
    sqs.list_queues()
    counter.paused = False
    assert counter.take() == {"calls": {"sqs:ListQueues": 1}, "s3_put_bytes": 0}
    assert counter.take()["calls"] == {}
