"""What `make bench` reads and prices: the runner's logs and poll counts, the seeds' logs, the cost model."""

from __future__ import annotations

from collections import Counter

from bench import run as bench
from local.runner import LocalLambdaRunner
from local.runner.sqs_pollers import SqsMapping
from tests.helpers import make_function


def test_durations_and_log_bytes_come_from_the_log_the_runner_writes(tmp_path):
    """The runner's own report lines (whatever their format) must give the bench a duration per invocation."""
    functions = make_function(
        tmp_path, "import sys\ndef handler(event, context):\n    print('x' * 100, file=sys.stderr)\n"
    )
    functions.log_file.write_text('{"time": "t", "type": "local.runner.start", "record": {}}\n')
    mark = functions.log_file.stat().st_size
    try:
        assert functions.invoke({}).ok and functions.invoke({}).ok
    finally:
        functions.close()
    data = functions.log_file.read_bytes()
    usage = bench.log_usage(data[mark:])
    assert len(usage["billed_ms"]) == 2, "no duration found in the runner's platform.report lines"
    assert all(ms >= 1 for ms in usage["billed_ms"])
    assert usage["log_lines"] == 4  # two lines printed, two reports; the runner's start marker is not Lambda's
    assert usage["log_bytes"] == sum(len(line) for line in data[mark:].splitlines())
    assert bench.log_usage(data)["log_lines"] == 4


def test_a_partly_written_last_line_is_left_for_later():
    assert bench.log_usage(b'{"type": "platform.report", "record": {"metrics": {"durationMs": 1.5')["log_lines"] == 0


def test_the_runner_counts_its_pollers_requests_per_mapping():
    batches = [[{"MessageId": "a"}, {"MessageId": "b"}], []]

    class Sqs:
        def receive_message(self, **kwargs):
            return {"Messages": batches.pop(0)} if batches else {}

    runner = LocalLambdaRunner(endpoint="http://localhost:1", region="us-east-1", code_fetcher=lambda name: b"")
    mapping = SqsMapping("m-1", "f", "https://q/u", "arn:aws:sqs:us-east-1:1:u", 10, 5, True, None)
    assert len(runner.sqs.receive(Sqs(), mapping)) == 2  # fills the batch until a receive comes back empty
    assert len(runner.sqs.receive(Sqs(), mapping)) == 0
    assert runner.poll_calls["m-1"] == Counter({"sqs:ReceiveMessage": 1, "sqs:ReceiveMessage:empty": 2})


def used(**overrides):
    base = {
        "calls": Counter(),
        "polling": Counter(),
        "empty_polls": 0,
        "sqs_fifo_requests": 0,
        "s3_put_bytes": 0,
        "invocations": 0,
        "gb_seconds": 0.0,
        "log_bytes": 0,
    }
    return {**base, **overrides}


def test_fifo_requests_are_priced_as_fifo_and_polling_is_priced():
    million = Counter({"sqs:SendMessageBatch": 1_000_000})
    assert bench.cost(used(calls=million), 0)["sqs"] == bench.PRICES["sqs_standard_per_million_requests"]
    assert bench.cost(used(calls=million, sqs_fifo_requests=1_000_000), 0)["sqs"] == 0.5
    polls = Counter({"sqs:ReceiveMessage": 500_000, "sqs:DeleteMessageBatch": 500_000})
    assert bench.cost(used(polling=polls), 0)["sqs"] == 0.4


def test_logs_and_traces_are_in_the_cost():
    usd = bench.cost(used(invocations=1_000_000, log_bytes=2 * bench.GB), 0)
    assert usd["xray"] == 5.0  # every invocation a trace
    assert usd["logs"] == 1.0
    assert usd["lambda"] == 0.2


def test_a_seed_invocation_bills_its_output_and_lambdas_platform_lines():
    seed = bench.SeedLambda()

    def handler(n: int) -> int:
        print("y" * n)
        bench.seeds.log.info("z" * n)
        return n

    assert seed(handler, 50) == 50
    assert seed.invocations == 1
    platform = bench.text_platform_bytes("0" * 36, 1.0, 1, 128)
    assert seed.log_bytes >= 50 + 50 + platform
    assert seed.log_bytes < 50 + 50 + platform + 120  # plus the runtime's level, time and request id
