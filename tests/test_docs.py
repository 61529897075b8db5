"""The docs' checkable claims: the paths they name exist, the make targets they name are in
`make help`, the README stays short, and no tracked text points at an issue number."""

from __future__ import annotations

import re
import subprocess
from functools import cache
from pathlib import Path

import pytest

from tests.helpers import outside_make

REPO = Path(__file__).resolve().parent.parent
README_MAX_LINES = 250
PAGES = [
    REPO / "README.md",
    *sorted((REPO / "docs").glob("*.md")),
    *sorted((REPO / "docs" / "patterns").glob("*.md")),
    REPO / "events" / "README.md",
    REPO / "bench" / "seeds_original" / "README.md",
]
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
INLINE = re.compile(r"`([^`\n]+)`")
LINK = re.compile(r"\]\(([^)\s]+)\)")
PATH = re.compile(r"^[\w.-]+(/[\w.*{},<>-]+)*/?$")
MAKE = re.compile(r"(?<![\w/-])make ((?:[A-Z_]+=\S+ )*)([a-z][\w-]*)")
# "issue" followed by a number: built in two parts so this file does not match itself.
ISSUE = re.compile(r"\bissues?" + r"[\s#]+\d+", re.I)


@cache
def tracked() -> tuple[str, ...]:
    out = subprocess.run(["git", "ls-files", "-z"], cwd=REPO, capture_output=True, check=True, text=True).stdout
    return tuple(p for p in out.split("\0") if p)


@cache
def top_level() -> frozenset[str]:
    return frozenset(p.split("/", 1)[0] for p in tracked())


def expand_braces(path: str) -> list[str]:
    match = re.search(r"\{([^{}]*)\}", path)
    if not match:
        return [path]
    head, tail = path[: match.start()], path[match.end() :]
    return [p for choice in match.group(1).split(",") for p in expand_braces(head + choice + tail)]


def ignored(path: str) -> bool:
    """Build output (`.build/`, `terraform/builds/`): named by the docs, never committed."""
    return subprocess.run(["git", "check-ignore", "-q", "--no-index", path], cwd=REPO).returncode == 0


def resolve(path: str, base: Path) -> list[str]:
    """What is wrong with ``path`` (relative to ``base``): nothing if it exists."""
    path, _, test = path.partition("::")
    problems = []
    for candidate in expand_braces(path):
        pattern = re.sub(r"<[^>]*>", "*", candidate)
        found = sorted(base.glob(pattern.rstrip("/"))) if pattern.rstrip("/") else [base]
        where = (base / pattern).resolve()
        if not found and not (
            where.is_relative_to(REPO) and ignored(str(where.relative_to(REPO)) + "/" * pattern.endswith("/"))
        ):
            problems.append(f"{candidate}: no such file or folder")
        elif test and found and f"def {test}(" not in found[0].read_text():
            problems.append(f"{candidate}::{test}: no such test")
    return problems


def named_paths(text: str, base: Path) -> list[tuple[str, Path]]:
    """Paths a page names, each with the folder it is relative to: inline code names a path
    from the repository's root (``functions/x/app.py``), a link one from the page's folder."""
    prose = FENCE.sub("", text)
    names = []
    for span in INLINE.findall(prose):
        head = span.split("::", 1)[0]
        if PATH.match(head) and head.split("/", 1)[0] in top_level() and ("/" in head or head in top_level()):
            names.append((span, REPO))
    for target in LINK.findall(prose):
        if not re.match(r"^[a-z]+:", target) and target.split("#", 1)[0]:
            names.append((target.split("#", 1)[0], base))
    return names


def broken_paths(text: str, folder: Path) -> list[str]:
    """What is wrong with the paths named by ``text``, a page in ``folder``."""
    return [p for name, base in named_paths(text, folder) for p in resolve(name, base)]


def make_targets_named(text: str) -> set[str]:
    """`make <target>` in code: fenced blocks and inline code (prose may say "make" otherwise)."""
    code = "\n".join(FENCE.findall(text) + INLINE.findall(text))
    return {target for _, target in MAKE.findall(code)}


@cache
def make_help_targets() -> frozenset[str]:
    out = subprocess.run(
        ["make", "-s", "help"], cwd=REPO, capture_output=True, text=True, check=True, env=outside_make()
    ).stdout
    return frozenset(m.group(1) for m in re.finditer(r"^  ([a-z][\w-]*)\s", out, re.M))


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(REPO)))
def test_every_path_a_page_names_exists(page: Path):
    assert page.exists()
    assert broken_paths(page.read_text(), page.parent) == []


def test_a_wrong_path_is_reported():
    page = (
        "Handlers live in `functions/sticky_ingester/app.py` and `functions/sticky_ingestr/app.py`;\n"
        "see [the costs](costs.md), [nothing](nothing.md) and [results](../bench/results.md#x),\n"
        "`tests/test_docs.py::test_a_wrong_path_is_reported`, `tests/test_docs.py::no_such_test`.\n"
    )
    assert broken_paths(page, REPO / "docs") == [
        "functions/sticky_ingestr/app.py: no such file or folder",
        "tests/test_docs.py::no_such_test: no such test",
        "nothing.md: no such file or folder",
    ]


def test_placeholders_braces_and_build_output():
    page = (
        "`functions/<name>/app.py`, `events/workflow_{enrich,summary}.json`, `.build/apply.log`, `terraform/builds/`\n"
    )
    assert broken_paths(page, REPO) == ["events/workflow_summary.json: no such file or folder"]


def test_every_make_target_the_readme_names_is_in_make_help():
    named = make_targets_named((REPO / "README.md").read_text())
    assert {"demo", "test"} <= named
    assert sorted(named - make_help_targets()) == []


def test_a_make_target_missing_from_help_is_caught():
    named = make_targets_named("Run `make demo`, then\n```\nmake lint\nmake ENV=dev plan\nmake tset\n```\n")
    assert named == {"demo", "lint", "plan", "tset"}
    assert sorted(named - make_help_targets()) == ["tset"]


def test_the_readme_is_short():
    lines = (REPO / "README.md").read_text().splitlines()
    assert len(lines) <= README_MAX_LINES, f"README.md has {len(lines)} lines (at most {README_MAX_LINES})"


def test_no_tracked_text_names_an_issue_number():
    hits = []
    for name in tracked():
        path = REPO / name
        if not path.is_file():
            continue
        try:
            text = path.read_text()
        except UnicodeDecodeError:
            continue
        hits += [f"{name}:{text.count(chr(10), 0, m.start()) + 1}: {m.group(0)}" for m in ISSUE.finditer(text)]
    assert hits == []


def test_the_issue_pattern_matches_what_it_must():
    word = "issue"  # split from its number so this file does not name one
    assert ISSUE.search(f"as {word.title()} 8 asked") and ISSUE.search(f"({word} #12, item 3)")
    assert not ISSUE.search("the linter's issue: resource mismatch") and not ISSUE.search("issues a uuid4")
