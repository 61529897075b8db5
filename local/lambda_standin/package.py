"""Build a Lambda zip like terraform-aws-modules/lambda does for python source_path entries.

Each spec entry: {"path", "prefix_in_zip", "pip_requirements", "patterns"}. Requirements are
installed with the current interpreter (the one the local runner uses) into a cache keyed by
the requirements file's hash, shared between functions; with --docker-image, inside that image
(as the real module's build_in_docker). The zip is deterministic.

``patterns`` have the real module's semantics (package.py ZipContentFilter, 8.8.1): each is a
regular expression matched with fullmatch against a path relative to the source directory (or
the pip target), joined to prefix_in_zip; directories are tested as "dir/". A pattern starting
with "!" excludes, any other re-includes; the last matching pattern wins; no match = included.
The patterns of an entry apply to its pip requirements and to its directory.
"""

from __future__ import annotations

import argparse
import fcntl
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

Rules = list[tuple[bool, "re.Pattern[str]"]]


def compile_patterns(patterns: list[str] | str | None) -> Rules | None:
    if not patterns:
        return None
    if isinstance(patterns, str):
        patterns = [p.strip() for p in patterns.splitlines() if p.strip()]
    return [(p.startswith("!"), re.compile(p[1:] if p.startswith("!") else p)) for p in patterns]


def included(path: str, rules: Rules | None) -> bool:
    keep = True
    for exclude, regex in rules or []:
        if regex.fullmatch(path):
            keep = not exclude
    return keep


def files_under(root: Path, prefix: str = "", rules: Rules | None = None):
    """(name in zip, file) for every file the rules keep, in a stable order."""
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        dirnames.sort()
        rel_dir = os.path.relpath(dirpath, root)
        for name in sorted(filenames):
            rel = os.path.normpath(os.path.join(prefix, rel_dir, name))
            if included(rel, rules):
                yield rel, Path(dirpath) / name


def install_requirements(requirements: Path, cache_root: Path, docker_image: str | None = None) -> Path:
    mode = f"docker:{docker_image}" if docker_image else sys.version
    digest = hashlib.sha256(requirements.read_bytes() + mode.encode()).hexdigest()[:16]
    target = cache_root / digest
    cache_root.mkdir(parents=True, exist_ok=True)
    with open(cache_root / f"{digest}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (target / ".complete").exists():
            if docker_image:
                if not shutil.which("docker"):
                    sys.exit("build_in_docker is set but no docker CLI is on PATH")
                shutil.copy2(requirements, cache_root / f"{digest}.requirements.txt")
                subprocess.run(
                    [
                        "docker",
                        "run",
                        "--rm",
                        "-v",
                        f"{cache_root.resolve()}:/build",
                        docker_image,
                        "pip",
                        "install",
                        "--quiet",
                        "-r",
                        f"/build/{digest}.requirements.txt",
                        "--target",
                        f"/build/{digest}",
                    ],
                    check=True,
                )
            else:
                subprocess.run(
                    [
                        sys.executable,
                        "-m",
                        "pip",
                        "install",
                        "--quiet",
                        "--disable-pip-version-check",
                        "-r",
                        str(requirements),
                        "--target",
                        str(target),
                        "--upgrade",
                    ],
                    check=True,
                )
            (target / ".complete").touch()
    return target


def build(output: Path, spec: list[dict], docker_image: str | None = None) -> None:
    entries: dict[str, Path] = {}
    for item in spec:
        path = Path(item["path"])
        prefix = item.get("prefix_in_zip") or ""
        rules = compile_patterns(item.get("patterns"))
        if item.get("pip_requirements"):
            deps = install_requirements(path / "requirements.txt", output.parent / "deps", docker_image)
            for name, f in files_under(deps, prefix, rules):
                if name != ".complete":
                    entries[name] = f
        for name, f in files_under(path, prefix, rules):
            entries[name] = f
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
    parser.add_argument("--runtime", default="")
    parser.add_argument("--docker-image", default=None)
    args = parser.parse_args()
    build(args.output, json.loads(args.spec), args.docker_image)


if __name__ == "__main__":
    main()
