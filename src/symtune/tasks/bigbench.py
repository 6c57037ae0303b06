"""BIG-Bench, optional and from where the user has it.

The package registry stopped serving `bigbench==1.0.0` (the sdist that held the task data) on
2026-12-04, so nothing on by default reads BIG-Bench. A user who has a copy points
`SYMTUNE_BIGBENCH` at it:

- the sdist file `bigbench-1.0.0.tar.gz`: its sha256 must be the one recorded when symtune
  pinned it, which pins every task file inside; the task files used are extracted into the
  cache;
- a git checkout of google/BIG-bench (or its `bigbench/benchmark_tasks` folder): every task
  file used must match the sha256 recorded for it in `bigbench_sha256.json` (made from the
  verified sdist by `python -m symtune.tasks.bigbench record SDIST`), so a result made from
  a checkout is comparable with one made from the sdist, and any other copy is refused by
  file name.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tarfile
from collections.abc import Iterable, Mapping
from functools import cache
from pathlib import Path

from symtune.artifacts import BIGBENCH, cache_dir, sha256_file
from symtune.errors import SymtuneError

ENV = "SYMTUNE_BIGBENCH"
TASKS_PREFIX = "bigbench-1.0.0/bigbench/benchmark_tasks/"
MANIFEST = Path(__file__).with_name("bigbench_sha256.json")
HOW = (
    f"set {ENV} to the bigbench-1.0.0.tar.gz sdist (sha256 {BIGBENCH.sha256[:12]}…) or to a "
    "git checkout of google/BIG-bench; the registry no longer serves it"
)


@cache
def recorded() -> dict[str, str]:
    """sha256 per task file (`<task path>/task.json`) of BIG-Bench 1.0.0, as recorded."""
    if not MANIFEST.exists():
        return {}
    return dict(json.loads(MANIFEST.read_text(encoding="utf-8"))["files"])


def source() -> Path | None:
    """The BIG-Bench copy the user gave ($SYMTUNE_BIGBENCH), or None."""
    value = os.environ.get(ENV, "").strip()
    return Path(value).expanduser() if value else None


def require(what: str) -> Path:
    """The user's BIG-Bench copy; a one-line error naming `what` needs it when there is none
    or the path does not exist (checked before anything is written)."""
    path = source()
    if path is None:
        raise SymtuneError(f"{what} needs BIG-Bench: {HOW}")
    if not path.exists():
        raise SymtuneError(f"{ENV}={path}: no such file or folder; {HOW}")
    return path


def checkout_root(path: Path) -> Path:
    """The `benchmark_tasks` folder of a checkout given as its root, its `bigbench` folder
    or the folder itself."""
    for candidate in (path / "bigbench" / "benchmark_tasks", path / "benchmark_tasks", path):
        if candidate.name == "benchmark_tasks" and candidate.is_dir():
            return candidate
    raise SymtuneError(
        f"{ENV}={path}: holds no benchmark_tasks folder; expected a git checkout of "
        "google/BIG-bench (or the bigbench-1.0.0.tar.gz sdist)"
    )


def _files(root: Path, task: str) -> list[Path]:
    found = sorted((root / task).rglob("task.json"))
    if not found:
        raise SymtuneError(f"BIG-Bench task {task!r}: no task.json under {root / task}")
    return found


def check_files(root: Path, tasks: Iterable[str], expected: Mapping[str, str]) -> None:
    """Every task file of `tasks` under `root` matches its recorded sha256 (one line naming the
    first file that does not, or that has no record)."""
    for task in sorted(set(tasks)):
        for path in _files(root, task.rstrip("/")):
            relative = path.relative_to(root).as_posix()
            want = expected.get(relative)
            if want is None:
                raise SymtuneError(
                    f"BIG-Bench file {path}: symtune has no recorded sha256 for {relative} "
                    "(the record is made from the verified 1.0.0 sdist); use the sdist"
                )
            got = sha256_file(path)
            if got != want:
                raise SymtuneError(
                    f"BIG-Bench file {path}: sha256 {got[:12]}… differs from the recorded "
                    f"{want[:12]}… of BIG-Bench 1.0.0; refusing another copy"
                )


def extract(sdist: Path, tasks: Iterable[str], root: Path, sha256: str = BIGBENCH.sha256) -> Path:
    """Extract the task files of `tasks` from the verified sdist into `root`."""
    got = sha256_file(sdist)
    if got != sha256:
        raise SymtuneError(
            f"BIG-Bench sdist {sdist}: sha256 {got[:12]}… differs from the pinned {sha256[:12]}… "
            f"of {BIGBENCH.filename}; refusing another copy"
        )
    missing = [t for t in sorted(set(tasks)) if not (root / t / ".extracted").exists()]
    found: set[str] = set()
    try:
        with tarfile.open(sdist, "r:gz") as archive:
            _extract_members(archive, missing, root, found)
    except (tarfile.TarError, EOFError) as err:
        raise SymtuneError(f"BIG-Bench sdist {sdist}: cannot be read ({err})") from None
    absent = [t for t in missing if t not in found]
    if absent:
        raise SymtuneError(f"BIG-Bench task {absent[0]!r} not found in {sdist}")
    for task in missing:
        (root / task / ".extracted").touch()
    return root


def _extract_members(
    archive: tarfile.TarFile, missing: list[str], root: Path, found: set[str]
) -> None:
    """Copy the task.json members of the `missing` task paths into `root` (atomic writes)."""
    prefixes = tuple(TASKS_PREFIX + t.rstrip("/") + "/" for t in missing)
    for member in archive:
        name = member.name
        if not (member.isfile() and name.endswith("/task.json") and name.startswith(prefixes)):
            continue
        relative = name[len(TASKS_PREFIX) :]
        target = root / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        handle = archive.extractfile(member)
        assert handle is not None
        tmp = target.with_suffix(".json.tmp")
        with tmp.open("wb") as out:
            shutil.copyfileobj(handle, out)
        os.replace(tmp, target)
        found.update(t for t in missing if relative.startswith(t.rstrip("/") + "/"))


def tasks_dir(tasks: Iterable[str], what: str = "this command") -> Path:
    """A folder holding `<task>/task.json` for each BIG-Bench task path in `tasks` (a path like
    `list_functions` covers its subtasks), verified against the recorded hashes."""
    wanted = sorted(set(tasks))
    path = require(what)
    if path.is_file():
        root = cache_dir() / f"bigbench-{BIGBENCH.version}" / "benchmark_tasks"
        return extract(path, wanted, root)
    root = checkout_root(path)
    check_files(root, wanted, recorded())
    return root


def record(sdist: Path, out: Path = MANIFEST) -> int:
    """Write the sha256 of every task file in the verified sdist (the maintainers' command)."""
    if sha256_file(sdist) != BIGBENCH.sha256:
        raise SymtuneError(f"{sdist}: not the pinned {BIGBENCH.filename}")
    files: dict[str, str] = {}
    import hashlib

    with tarfile.open(sdist, "r:gz") as archive:
        for member in archive:
            name = member.name
            if member.isfile() and name.startswith(TASKS_PREFIX) and name.endswith("/task.json"):
                handle = archive.extractfile(member)
                assert handle is not None
                digest = hashlib.sha256(handle.read()).hexdigest()
                files[name[len(TASKS_PREFIX) :]] = digest
    body = {
        "source": BIGBENCH.filename,
        "sha256": BIGBENCH.sha256,
        "files": dict(sorted(files.items())),
    }
    out.write_text(json.dumps(body, indent=1) + "\n", encoding="utf-8")
    return len(files)


if __name__ == "__main__":  # python -m symtune.tasks.bigbench record SDIST
    if len(sys.argv) != 3 or sys.argv[1] != "record":
        sys.exit("usage: python -m symtune.tasks.bigbench record bigbench-1.0.0.tar.gz")
    print(f"{record(Path(sys.argv[2]))} task files recorded in {MANIFEST}")
