"""Per handler: the zip's size, and the instructions and wall time of a cold import under Python 3.12.

* The zip: ``function_zip`` is the one place that builds a function's zip; everything else
  measures whatever that zip holds (the SDK, bytecode, or not).
* The import: a fresh extract of the zip, then ``python3.12 -I -S -B`` (no site-packages, no
  PYTHON* variables, no user or current directory on sys.path, no .pyc written) whose probe puts
  the extract first on sys.path: only the zip's contents and Python 3.12's standard library can
  be imported. The process has the variables the Lambda runtime sets (LAMBDA_TASK_ROOT,
  AWS_LAMBDA_FUNCTION_NAME, ...) and the function's own, Tracer enabled
  (POWERTOOLS_TRACE_DISABLED unset). Python 3.12 is pyenv's 3.12.1, or $BENCH_PYTHON312.
* Wall: ``time.perf_counter`` around ``import app`` in a fresh process, the median of 5; CPU
  time (``time.process_time``) beside it. All wall runs happen before any instruction count, one
  process at a time.
* Instructions: valgrind's callgrind counts the instructions of the whole process importing the
  handler, once per handler (two handlers at a time: a count does not depend on load); the
  instructions of the same process importing nothing (the interpreter's start and exit) are
  subtracted and reported as the baseline. ``-I`` ignores PYTHONHASHSEED, so hash randomisation
  stays on and a count varies slightly from one run to the next. valgrind is installed with
  apt-get when missing (as root, or with passwordless sudo); if it cannot be, instructions are
  reported as not measured.
"""

from __future__ import annotations

import io
import os
import re
import shutil
import statistics
import subprocess
import sys
import zipfile
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CACHE = ROOT / ".build" / "bench-py312"
PYTHON312 = os.environ.get("BENCH_PYTHON312", str(Path.home() / ".pyenv/versions/3.12.1/bin/python"))
RUNS = 5
# The goals the project states for a handler's cold start (results.md prints them beside the numbers).
GOALS = {"instructions_g": 1.0, "import_ms_median": 400, "zip_mb": 6.0}
PROBE = (
    "import sys, time; sys.path.insert(0, {code!r}); t = time.perf_counter(); c = time.process_time();"
    " {statement}; print((time.perf_counter() - t) * 1000, (time.process_time() - c) * 1000)"
)


def function_zip(function: str, output: Path) -> bytes:
    """The zip of ``functions/<function>`` as the apply built it (the lambda module's packaging):
    the one place the bench gets a function's code from."""
    from local.local_env import folder_zip

    return folder_zip(function, output)


def extract(data: bytes, dest: Path) -> Path:
    """A fresh extract of a zip, as Lambda unpacks it into /var/task."""
    shutil.rmtree(dest, ignore_errors=True)
    dest.mkdir(parents=True)
    zipfile.ZipFile(io.BytesIO(data)).extractall(dest)
    return dest


def lambda_env(function: str, code: Path, env: dict[str, str]) -> dict[str, str]:
    """The variables the python3.12 runtime sets, and the function's own; nothing from this process."""
    return {
        "PATH": "/usr/local/bin:/usr/bin:/bin",
        "LANG": "en_US.UTF-8",
        "TZ": ":UTC",
        "LAMBDA_TASK_ROOT": str(code),
        "_HANDLER": "app.lambda_handler",
        "AWS_EXECUTION_ENV": "AWS_Lambda_python3.12",
        "AWS_REGION": "us-east-1",
        "AWS_DEFAULT_REGION": "us-east-1",
        "AWS_LAMBDA_FUNCTION_NAME": function,
        "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
        "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "128",
        "AWS_LAMBDA_LOG_GROUP_NAME": f"/aws/lambda/{function}",
        "AWS_LAMBDA_LOG_STREAM_NAME": "bench",
        **env,
    }


def _command(code: Path, statement: str) -> list[str]:
    return [PYTHON312, "-I", "-S", "-B", "-c", PROBE.format(code=str(code), statement=statement)]


def import_times(code: Path, env: dict[str, str], statement: str = "import app") -> list[tuple[float, float]]:
    """(wall, CPU) milliseconds of ``statement`` in RUNS fresh processes."""
    out = []
    for _ in range(RUNS):
        run = subprocess.run(_command(code, statement), env=env, cwd=code, capture_output=True, text=True)
        if run.returncode != 0:
            raise RuntimeError(f"import failed in {code}: {run.stderr[-2000:]}")
        wall, cpu = run.stdout.strip().splitlines()[-1].split()
        out.append((float(wall), float(cpu)))
    return out


def valgrind() -> str | None:
    """valgrind's path, installing the Debian package if it is missing; None (with a message) if it cannot be."""
    found = shutil.which("valgrind")
    if found:
        return found
    if os.geteuid() == 0:
        prefix: list[str] = []
    elif shutil.which("sudo"):
        prefix = ["sudo", "-n"]
    else:
        print(
            "bench: valgrind is not installed and this user cannot install it (not root, no sudo):"
            " instructions are not measured. Install it with: apt-get install valgrind",
            file=sys.stderr,
        )
        return None
    print("bench: valgrind is not installed; installing the Debian package with apt-get ...", file=sys.stderr)
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    try:
        subprocess.run([*prefix, "apt-get", "update", "-q"], check=True, env=env, capture_output=True)
        subprocess.run(
            [*prefix, "apt-get", "install", "-y", "-q", "valgrind"], check=True, env=env, capture_output=True
        )
    except (OSError, subprocess.CalledProcessError) as exc:
        detail = (
            exc.stderr.decode(errors="replace").strip().splitlines()[-1:]
            if isinstance(exc, subprocess.CalledProcessError) and exc.stderr
            else [str(exc)]
        )
        print(
            f"bench: could not install valgrind ({' '.join(detail)}): instructions are not measured."
            " Install it with: apt-get install valgrind",
            file=sys.stderr,
        )
        return None
    return shutil.which("valgrind")


def instructions(tool: str, code: Path, env: dict[str, str], statement: str = "import app") -> int:
    """Instructions executed by a whole ``python3.12 -I -S -B`` process running the probe (callgrind)."""
    run = subprocess.run(
        [tool, "--tool=callgrind", "--callgrind-out-file=/dev/null", *_command(code, statement)],
        env=env,
        cwd=code,
        capture_output=True,
        text=True,
    )
    found = re.search(r"Collected : (\d+)", run.stderr)
    if run.returncode != 0 or found is None:
        raise RuntimeError(f"callgrind failed in {code}: {run.stderr[-2000:]}")
    return int(found.group(1))


def python_version() -> str:
    return subprocess.run([PYTHON312, "--version"], capture_output=True, text=True).stdout.strip()


def measure_all(functions: dict[str, dict[str, str]]) -> dict:
    """Zip size, import wall/CPU (median of RUNS) and import instructions of each function (name ->
    its environment variables), and the interpreter's own baseline."""
    rows: dict[str, dict] = {}
    codes: dict[str, tuple[Path, dict[str, str]]] = {}
    for function, own_env in functions.items():
        data = function_zip(function, CACHE / "zips" / f"{function}.zip")
        code = extract(data, CACHE / "extract" / function)
        env = lambda_env(function, code, own_env)
        codes[function] = (code, env)
        times = import_times(code, env)
        rows[function] = {
            "function": function,
            "zip_bytes": len(data),
            "import_ms": [round(w) for w, _ in times],
            "import_ms_median": round(statistics.median(w for w, _ in times)),
            "import_cpu_ms_median": round(statistics.median(c for _, c in times)),
            "instructions": None,
        }
    tool = valgrind()
    baseline = None
    if tool is not None:
        first = next(iter(codes.values()))
        baseline = instructions(tool, first[0], first[1], statement="pass")
        with ThreadPoolExecutor(max_workers=2) as pool:
            counted = dict(zip(codes, pool.map(lambda item: instructions(tool, *item), codes.values()), strict=True))
        for function, total in counted.items():
            rows[function]["instructions"] = total - baseline
            rows[function]["process_instructions"] = total
    for code, _ in codes.values():
        shutil.rmtree(code, ignore_errors=True)
    return {
        "python": python_version(),
        "valgrind": subprocess.run([tool, "--version"], capture_output=True, text=True).stdout.strip()
        if tool
        else None,
        "baseline_instructions": baseline,
        "goals": GOALS,
        "functions": list(rows.values()),
    }


if __name__ == "__main__":  # python -m bench.packages relay_consumer ...
    print(measure_all({name: {"POWERTOOLS_SERVICE_NAME": name} for name in sys.argv[1:]}))
