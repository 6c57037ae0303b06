"""BIG-Bench is optional and read from the user's copy: the sdist (checked whole by its sha256)
or a checkout (each task file checked against the recorded sha256), on small files in
BIG-Bench's format that the test writes. Suites that need it say so before anything is
written."""

import dataclasses
import hashlib
import io
import json
import tarfile

import pytest

from symtune.errors import SymtuneError
from symtune.tasks import bigbench
from symtune.tasks.suites import load_named, suite_specs

EXAMPLES = [
    {"input": f"sentence {i}", "target_scores": {"yes": int(i % 2 == 0), "no": int(i % 2)}}
    for i in range(40)
]


def _task_bytes() -> bytes:
    return json.dumps({"examples": EXAMPLES}).encode()


def _checkout(root):
    tasks = root / "bigbench" / "benchmark_tasks"
    for name in ("navigate", "snarks"):
        (tasks / name).mkdir(parents=True)
        (tasks / name / "task.json").write_bytes(_task_bytes())
    return tasks


def _sdist(path):
    with tarfile.open(path, "w:gz") as archive:
        for name in ("navigate", "snarks"):
            data = _task_bytes()
            info = tarfile.TarInfo(f"{bigbench.TASKS_PREFIX}{name}/task.json")
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
    return path


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


@pytest.fixture
def recorded(monkeypatch):
    """The recorded hashes of the two written task files."""
    files = {f"{n}/task.json": _sha(_task_bytes()) for n in ("navigate", "snarks")}
    monkeypatch.setattr(bigbench, "recorded", lambda: files)
    return files


def test_without_a_copy_the_offline_suite_says_so_in_one_line(monkeypatch):
    monkeypatch.delenv(bigbench.ENV, raising=False)
    with pytest.raises(SymtuneError, match=r"suite 'offline' \(task '.*'\) needs BIG-Bench: set "):
        suite_specs("offline")
    monkeypatch.setenv(bigbench.ENV, "/nonexistent/bigbench")
    with pytest.raises(SymtuneError, match=r"SYMTUNE_BIGBENCH=/nonexistent/bigbench: no such"):
        suite_specs("offline")
    assert suite_specs("reachable")[0].name == "reachable"  # the default needs none


def test_a_checkout_whose_files_match_the_record_is_read(tmp_path, monkeypatch, recorded):
    _checkout(tmp_path)
    monkeypatch.setenv(bigbench.ENV, str(tmp_path))
    navigate, _ = load_named(["navigate", "snarks"])
    assert navigate.labels == ("yes", "no") and len(navigate.splits["train"]) > 20
    assert bigbench.tasks_dir(["snarks"]) == tmp_path / "bigbench" / "benchmark_tasks"


def test_a_checkout_file_with_other_bytes_or_no_record_is_refused_by_name(
    tmp_path, monkeypatch, recorded
):
    tasks = _checkout(tmp_path)
    (tasks / "snarks" / "task.json").write_text('{"examples": []}')
    monkeypatch.setenv(bigbench.ENV, str(tmp_path))
    with pytest.raises(SymtuneError, match=r"snarks/task.json: sha256 .* differs from the record"):
        load_named(["snarks"])
    recorded.pop("navigate/task.json")
    with pytest.raises(SymtuneError, match=r"no recorded sha256 for navigate/task.json"):
        load_named(["navigate"])


def test_a_path_without_benchmark_tasks_is_refused(tmp_path, monkeypatch):
    monkeypatch.setenv(bigbench.ENV, str(tmp_path))
    with pytest.raises(SymtuneError, match=r"holds no benchmark_tasks folder"):
        load_named(["navigate"])


def test_the_sdist_is_checked_whole_then_its_tasks_extracted(tmp_path, monkeypatch):
    sdist = _sdist(tmp_path / "bigbench-1.0.0.tar.gz")
    monkeypatch.setenv(bigbench.ENV, str(sdist))
    monkeypatch.setenv("SYMTUNE_CACHE", str(tmp_path / "cache"))
    with pytest.raises(SymtuneError, match=r"sdist .*: sha256 .* differs from the pinned 1bb398a5"):
        load_named(["navigate"])
    assert not (tmp_path / "cache").exists()  # nothing written for another copy
    pinned = dataclasses.replace(bigbench.BIGBENCH, sha256=_sha(sdist.read_bytes()))
    monkeypatch.setattr(bigbench, "BIGBENCH", pinned)
    monkeypatch.setattr(bigbench.extract, "__defaults__", (pinned.sha256,))
    (navigate,) = load_named(["navigate"])
    assert len(navigate.splits["train"]) + len(navigate.splits["validation"]) == 40
    assert (tmp_path / "cache" / "bigbench-1.0.0/benchmark_tasks/navigate/task.json").exists()
