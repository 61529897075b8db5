"""Build a Lambda zip like terraform-aws-modules/lambda does for python source_path entries.

Each spec entry: {"path", "prefix_in_zip", "pip_requirements"}. Requirements are installed
with the current interpreter (the one the local runner uses) into a cache keyed by the
requirements file's hash, shared between functions. The zip is deterministic.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import subprocess
import sys
import zipfile
from pathlib import Path

SKIP_DIRS = {"__pycache__"}


def files_under(root: Path):
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in SKIP_DIRS)
        for name in sorted(filenames):
            if not name.endswith(".pyc"):
                yield Path(dirpath) / name


def install_requirements(requirements: Path, cache_root: Path) -> Path:
    digest = hashlib.sha256(requirements.read_bytes() + sys.version.encode()).hexdigest()[:16]
    target = cache_root / digest
    cache_root.mkdir(parents=True, exist_ok=True)
    with open(cache_root / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            subprocess.run(
                [sys.executable, "-m", "pip", "install", "--quiet", "--disable-pip-version-check",
                 "-r", str(requirements), "--target", str(target), "--upgrade"],
                check=True,
            )
            (target / ".complete").touch()
    return target


def build(output: Path, spec: list[dict]) -> None:
    entries: dict[str, Path] = {}
    for item in spec:
        path = Path(item["path"])
        prefix = item.get("prefix_in_zip") or ""
        if item.get("pip_requirements"):
            deps = install_requirements(path / "requirements.txt", output.parent / "deps")
            for f in files_under(deps):
                if f.name not in (".complete",):
                    entries[str(f.relative_to(deps))] = f
        for f in files_under(path):
            entries[str(Path(prefix) / f.relative_to(path))] = f
    output.parent.mkdir(parents=True, exist_ok=True)
    tmp = output.with_suffix(".tmp")
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name in sorted(entries):
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.external_attr = 0o644 << 16
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, entries[name].read_bytes())
    tmp.replace(output)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", required=True, type=Path)
    parser.add_argument("--spec", required=True)
    args = parser.parse_args()
    build(args.output, json.loads(args.spec))


if __name__ == "__main__":
    main()
