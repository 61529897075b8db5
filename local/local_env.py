"""The local stack as a tool (ENV=local): the embedded emulator as an environment.

python -m local.local_env plan              # what terraform would create (fresh emulator)
python -m local.local_env apply [--port N]  # apply with progress, serve (and redeploy changes) until Ctrl-C
python -m local.local_env invoke FN EVENT   # invoke a function of the running stack
python -m local.local_env logs FN           # follow a function's log
python -m local.local_env deploy FN         # rebuild FN's zip and update the running stack

FN is a function folder (``sticky_ingester``) or a deployed name (``qp-local-sticky-ingester``).
``apply`` writes .build/local-stack.json (endpoint, region, outputs) for the other commands
and removes it when it stops.
"""

from __future__ import annotations

import argparse
import base64
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from local import terraform
from local.emulator import endpoint_client

REPO = Path(__file__).resolve().parents[1]
STATE = REPO / ".build" / "local-stack.json"
APPLY_LOG = Path(os.environ.get("APPLY_LOG") or REPO / ".build" / "apply.log")
PACKAGE = REPO / "local" / "lambda_standin" / "package.py"
BUILDS = terraform.OFFLINE_ROOT / "terraform" / "builds"  # the offline root's artifacts_dir


class Problem(Exception):
    """A user-facing error: printed as one line, exit status 1."""


def plan() -> int:
    from local.emulator import Emulator

    emulator = Emulator().start()
    try:
        env = {**emulator.env(), "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}"}
        with tempfile.TemporaryDirectory() as state_dir:
            print(terraform.plan(env, Path(state_dir) / "local.tfstate"))
    finally:
        emulator.stop()
    return 0


def summary(stack: Any, seconds: float, log: Path) -> str:
    out, endpoint, region = stack.outputs, stack.emulator.endpoint, stack.emulator.region
    ingester = out["sticky_queue"]["ingester_function_name"]
    return "\n".join(
        [
            f"Local stack ready in {seconds:.0f}s: {len(stack.runner.functions)} functions,"
            f" {len(stack.runner.mappings)} queue triggers, {len(stack.runner.schedules)} schedules (on the clock).",
            f"  endpoint   {endpoint}",
            f"  region     {region}",
            f"  terraform  full log in {log.relative_to(REPO) if log.is_relative_to(REPO) else log}",
            f"  functions  logs in {stack.runner.log_dir.relative_to(REPO)}/<function>.log",
            "",
            "In another shell:",
            f"  export AWS_ENDPOINT_URL={endpoint} AWS_DEFAULT_REGION={region}"
            " AWS_ACCESS_KEY_ID=test AWS_SECRET_ACCESS_KEY=test",
            "  make invoke FN=sticky_ingester EVENT=events/sticky_ingester.json   # ingest two messages for user-1",
            f"  aws s3 cp s3://{out['document_bucket']}/users/user-1.json -          # user-1's document",
            f"  make logs FN=sticky_dispatcher   # or: aws logs tail /aws/lambda/{ingester} --follow",
            "",
            "Ctrl-C stops everything.",
        ]
    )


def _interrupt(signum: int, frame: Any) -> None:
    raise KeyboardInterrupt


def apply(port: int | None) -> int:
    from local import progress
    from local import stack as harness

    # Ctrl-C even when started in the background of a script (SIGINT inherited as ignored), and
    # `kill` (SIGTERM) stop the stack the same quiet way.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, _interrupt)

    started = time.time()
    print(f"Applying terraform/ (environment local) to the embedded emulator{f' on port {port}' if port else ''}...")
    try:
        stack = harness.start(port=port, progress=progress.bar, log_path=APPLY_LOG)
    except KeyboardInterrupt:
        print("\nInterrupted: terraform stopped, emulator stopped, no state left behind.", file=sys.stderr)
        return 130
    except OSError as exc:
        raise Problem(f"cannot start the emulator{f' on port {port}' if port else ''}: {exc.strerror or exc}") from exc
    except RuntimeError as exc:
        raise Problem(str(exc).splitlines()[0]) from exc
    try:
        stack.runner.start_clock()
        stack.runner.ship_logs_to_cloudwatch()  # `aws logs tail` works too
        STATE.write_text(
            json.dumps(
                {
                    "endpoint": stack.emulator.endpoint,
                    "region": stack.emulator.region,
                    "pid": os.getpid(),
                    "outputs": stack.outputs,
                    "log_dir": str(stack.runner.log_dir),
                }
            )
        )
        print(summary(stack, time.time() - started, APPLY_LOG), flush=True)
        watch(lambda: json.loads(STATE.read_text()))
    except KeyboardInterrupt:
        print("\nStopping.", file=sys.stderr)
    finally:
        STATE.unlink(missing_ok=True)
        stack.stop()
    return 0


# --- commands against the running stack ---------------------------------------------------------


def running() -> dict[str, Any]:
    if not STATE.exists():
        raise Problem("no local stack is running: start one with `make apply` (in another shell)")
    state = json.loads(STATE.read_text())
    try:
        os.kill(state["pid"], 0)
    except OSError:
        STATE.unlink(missing_ok=True)
        raise Problem("the local stack has stopped: start it again with `make apply`") from None
    return state


def client(state: dict[str, Any], service: str) -> Any:
    return endpoint_client(service, state["endpoint"], state["region"])


def functions_for(state: dict[str, Any], fn: str) -> list[str]:
    """Deployed functions for a folder name (every dispatcher for sticky_dispatcher) or a name."""
    names = [
        f["FunctionName"]
        for page in client(state, "lambda").get_paginator("list_functions").paginate()
        for f in page["Functions"]
    ]
    if fn in names:
        return [fn]
    dashed = fn.replace("_", "-")
    found = sorted(n for n in names if n.endswith(f"-{dashed}") or f"-{dashed}-" in n)
    if not found:
        folders = sorted(p.name for p in (REPO / "functions").iterdir() if (p / "app.py").exists())
        raise Problem(f"no function {fn!r}; one of: {', '.join(folders)}")
    return found


def invoke(fn: str, event_file: str | None) -> int:
    state = running()
    name = functions_for(state, fn)[0]
    payload = Path(event_file).read_bytes() if event_file else b"{}"
    response = client(state, "lambda").invoke(FunctionName=name, Payload=payload)
    body = response["Payload"].read()
    try:
        print(json.dumps(json.loads(body), indent=2))
    except ValueError:
        print(body.decode(errors="replace"))
    if "FunctionError" in response:
        print(f"{name}: function error ({response['FunctionError']})", file=sys.stderr)
        return 1
    return 0


def logs(fn: str) -> int:
    state = running()
    files = [str(Path(state["log_dir"]) / f"{name}.log") for name in functions_for(state, fn)]
    for f in files:
        Path(f).touch()
    try:
        return subprocess.call(["tail", "-n", "20", "-F", *files])
    except KeyboardInterrupt:
        return 0


def build_record(name: str) -> dict[str, Any]:
    """How the apply built a function's zip: the lambda module's spec, saved beside the zips."""
    record = BUILDS / f"{name}.package.json"
    if not record.exists():
        raise Problem(f"no package spec for {name} in {BUILDS.relative_to(REPO)}: run `make apply` from this checkout")
    return json.loads(record.read_text())


def build_zip(record: dict[str, Any], output: Path) -> bytes:
    """Build a zip with the lambda module's packaging (package.py, the spec's build commands)."""
    tmp = output.with_name(f".{output.name}.{os.getpid()}.tmp")
    spec = json.dumps(record["spec"])
    done = subprocess.run(
        [sys.executable, str(PACKAGE), "--output", str(tmp.resolve()), "--spec", spec, "--runtime", record["runtime"]],
        cwd=record["cwd"],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        raise Problem(f"build failed: {(done.stderr or done.stdout).strip().splitlines()[-1:]}")
    tmp.replace(output)
    return output.read_bytes()


def folder_zip(folder: str, output: Path) -> bytes:
    """A zip of functions/<folder> as the last apply built it (any one function built from it)."""
    for record in sorted(BUILDS.glob("*.package.json")):
        spec = json.loads(record.read_text())
        if Path(spec["spec"][0]["path"]).name == folder:  # the function's folder is the first part
            return build_zip(spec, output)
    raise Problem(f"no apply has built functions/{folder} yet: run `make apply` (or make test) first")


def deploy(fn: str, state: dict[str, Any] | None = None) -> int:
    state = state or running()
    started = time.time()
    lam = client(state, "lambda")
    for name in functions_for(state, fn):
        code = build_zip(build_record(name), BUILDS / f"deploy-{name}.zip")
        sha = lam.update_function_code(FunctionName=name, ZipFile=code)["CodeSha256"]
        print(f"{name}: deployed {len(code) // 1024} KiB (sha256 {base64.b64decode(sha).hex()[:12]})")
    print(f"done in {time.time() - started:.1f}s; the running stack uses the new code from the next invocation")
    return 0


def fingerprint(path: Path) -> tuple:
    """What a redeploy depends on: the folder's Python files and its lock file."""
    files = [f for f in path.rglob("*.py") if "__pycache__" not in f.parts] + list(path.glob("requirements.txt"))
    return tuple(sorted((str(f), f.stat().st_mtime_ns) for f in files))


def watch(state: Any, every: float = 1.0) -> None:
    """Redeploy a function into the running stack when its folder (or shared/) changes."""
    folders = {p.name: p for p in (REPO / "functions").iterdir() if (p / "app.py").exists()}
    seen = {name: fingerprint(path) for name, path in folders.items()}
    shared = fingerprint(REPO / "shared")
    print("Watching functions/ and shared/: a saved change is redeployed.", flush=True)
    while True:
        time.sleep(every)
        now_shared = fingerprint(REPO / "shared")
        changed = [name for name, path in folders.items() if fingerprint(path) != seen[name]]
        if now_shared != shared:
            changed = list(folders)
        for name in changed:
            seen[name] = fingerprint(folders[name])
            try:
                deploy(name, state())
            except Exception as exc:  # a broken build must not stop the stack
                print(f"redeploy of {name} failed: {exc}", file=sys.stderr, flush=True)
        shared = now_shared


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    sub.add_parser("plan")
    p_apply = sub.add_parser("apply")
    p_apply.add_argument("--port", type=int, default=None)
    p_invoke = sub.add_parser("invoke")
    p_invoke.add_argument("fn")
    p_invoke.add_argument("event", nargs="?")
    sub.add_parser("logs").add_argument("fn")
    sub.add_parser("deploy").add_argument("fn")
    args = parser.parse_args(argv)
    try:
        if args.command == "plan":
            return plan()
        if args.command == "apply":
            return apply(args.port)
        if args.command == "invoke":
            return invoke(args.fn, args.event)
        if args.command == "logs":
            return logs(args.fn)
        return deploy(args.fn)
    except Problem as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    except FileNotFoundError as exc:
        print(f"error: no such file: {exc.filename}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
