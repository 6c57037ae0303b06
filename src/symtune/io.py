"""File I/O at the edges: atomic writes (a temp file unique to its writer, fsynced, renamed over
the target, so a kill leaves the old file or the new one, never half of one), readers of
JSON / JSONL that name the file and line on damage instead of raising a bare decode error, and
a YAML reader that a hostile file cannot exhaust (no aliases, bounded size, depth and nodes)."""

from __future__ import annotations

import contextlib
import errno
import json
import os
import re
import secrets
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from symtune.errors import SymtuneError

_TEMP = re.compile(r"^(?P<target>.+)\.(?P<pid>\d+)-[0-9a-f]{8}\.tmp$")


def temp_path(path: Path) -> Path:
    """A temp name beside `path` that no other writer uses: `<name>.<pid>-<random>.tmp`."""
    return path.with_name(f"{path.name}.{os.getpid()}-{secrets.token_hex(4)}.tmp")


def temp_target(path: Path) -> str | None:
    """The file name a temp file from `temp_path` was written for; None if not one of ours."""
    found = _TEMP.match(path.name)
    return found["target"] if found else None


def check_input_file(path: Path, what: str, max_bytes: int | None = None) -> int:
    """A file symtune reads must be a regular file (a symlink to one is fine) of at most
    `max_bytes`: a device, FIFO or socket could block or never end. Returns its size; a
    one-line error naming the path otherwise."""
    try:
        found = os.stat(path)
    except (FileNotFoundError, NotADirectoryError):
        raise SymtuneError(f"{what} {path} not found") from None
    if not stat.S_ISREG(found.st_mode):
        kind = next((n for n, test in _KINDS if test(found.st_mode)), "special file")
        raise SymtuneError(f"{what} {path}: is a {kind}, not a regular file")
    if max_bytes is not None and found.st_size > max_bytes:
        raise SymtuneError(
            f"{what} {path}: {found.st_size:,} bytes, over the {max_bytes:,} symtune reads "
            "from one file"
        )
    return found.st_size


_KINDS = (
    ("folder", stat.S_ISDIR),
    ("FIFO", stat.S_ISFIFO),
    ("character device", stat.S_ISCHR),
    ("block device", stat.S_ISBLK),
    ("socket", stat.S_ISSOCK),
)


@contextlib.contextmanager
def writing(path: Path) -> Iterator[None]:
    """A write to `path` inside that the system refuses ends as an OSError naming `path`:
    a full disk, also where a library reports it in its own words (safetensors'
    "os error 28", torch's "file write failed"), is an environment error, not a bug."""
    try:
        yield
    except OSError as err:
        if err.filename is not None:
            raise
        raise OSError(err.errno, err.strerror or str(err), str(path)) from None
    except Exception as err:
        text = str(err)
        if "os error 28" in text or "No space left" in text:
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(path)) from None
        if "file write failed" in text or "I/O error" in text:
            failed = f"write failed ({text.splitlines()[0][:120]})"
            raise OSError(errno.EIO, failed, str(path)) from None
        raise


def atomic_write(path: Path, data: bytes | str) -> None:
    """Write bytes (or UTF-8 text) to `path` atomically."""
    payload = data.encode("utf-8") if isinstance(data, str) else data
    tmp = temp_path(path)
    try:
        with writing(path), tmp.open("wb") as handle:
            handle.write(payload)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def atomic_json(path: Path, data: Any) -> None:
    """Write indented, key-sorted JSON to `path` atomically."""
    atomic_write(path, json.dumps(data, indent=2, sort_keys=True, default=str) + "\n")


def read_json(path: Path, what: str = "file") -> Any:
    """A JSON file's value; a missing or damaged file is a one-line error naming it."""
    check_input_file(path, what)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SymtuneError(f"{what} {path} not found") from None
    except UnicodeDecodeError:
        raise SymtuneError(f"{what} {path}: not UTF-8 text (damaged?)") from None
    try:
        return json.loads(text)
    except json.JSONDecodeError as err:
        raise SymtuneError(
            f"{what} {path}: not valid JSON at line {err.lineno} (truncated or damaged?)"
        ) from None


def read_json_object(path: Path, what: str = "file") -> dict[str, Any]:
    """`read_json`, and the value must be a JSON object."""
    value = read_json(path, what)
    if not isinstance(value, dict):
        raise SymtuneError(f"{what} {path}: expected a JSON object, got {type(value).__name__}")
    return value


def parse_jsonl(raw: bytes, where: str, torn_tail: bool = True) -> tuple[list[dict[str, Any]], int]:
    """JSON objects, one per line, and how many leading bytes of `raw` they came from. With
    `torn_tail`, a last line without its newline that does not parse (an append cut by a kill)
    is dropped; any other bad line is a one-line error naming `where` and the line number."""
    records: list[dict[str, Any]] = []
    lines = raw.split(b"\n")
    complete = len(lines) - 1  # the part after the last newline is not a finished line
    kept = 0
    for number, line in enumerate(lines, 1):
        unfinished = number > complete
        if unfinished and not line:
            break
        if line.strip():
            try:
                record = json.loads(line.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                if torn_tail and unfinished:
                    break
                raise SymtuneError(f"{where}:{number}: not valid JSON (damaged?)") from None
            if not isinstance(record, dict):
                raise SymtuneError(
                    f"{where}:{number}: expected a JSON object, got {type(record).__name__}"
                )
            records.append(record)
        kept += len(line) + (0 if unfinished else 1)
    return records, kept


def read_jsonl(path: Path, torn_tail: bool = True) -> list[dict[str, Any]]:
    """The objects of a JSONL file (see `parse_jsonl`); a missing file has none."""
    if not path.exists():
        return []
    return parse_jsonl(path.read_bytes(), str(path), torn_tail)[0]


def repair_jsonl(path: Path) -> list[dict[str, Any]]:
    """Read an append-only JSONL log and cut a torn last line off the file, so the next append
    starts on a line of its own; returns the records kept."""
    if not path.exists():
        return []
    raw = path.read_bytes()
    records, keep = parse_jsonl(raw, str(path))
    if keep < len(raw):
        with path.open("r+b") as handle:
            handle.truncate(keep)
    if keep and not raw[:keep].endswith(b"\n"):  # a whole last record, its newline lost
        with path.open("ab") as handle:
            handle.write(b"\n")
    return records


YAML_MAX_BYTES = 1 << 20
"""Largest YAML file read (1 MiB): a run, suite or sweep config is a few kilobytes."""
YAML_MAX_DEPTH = 32
"""Deepest nesting of lists and mappings accepted (the project's own configs use 4)."""
YAML_MAX_NODES = 100_000
"""Most YAML nodes (scalars, lists, mappings) in one file."""


class _BoundedLoader(yaml.SafeLoader):
    """The safe loader, refusing aliases (an alias bomb expands 9 lines into 10^8 strings) and
    counting depth and nodes while composing, before anything is built."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.depth = 0
        self.nodes = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        event = self.peek_event()
        line = f"line {event.start_mark.line + 1}"
        if isinstance(event, yaml.AliasEvent):
            raise _Refused(
                f"{line}: YAML alias *{event.anchor} refused (aliases are not accepted; "
                "write the value out)"
            )
        self.nodes += 1
        if self.nodes > YAML_MAX_NODES:
            raise _Refused(f"{line}: more than {YAML_MAX_NODES:,} YAML nodes")
        self.depth += 1
        if self.depth > YAML_MAX_DEPTH:
            raise _Refused(f"{line}: nested deeper than {YAML_MAX_DEPTH} levels")
        try:
            return super().compose_node(parent, index)
        finally:
            self.depth -= 1


class _Refused(Exception):
    pass


def parse_yaml(text: str, where: str) -> Any:
    """The value of one YAML document (None when empty), read safely: plain data only, no
    aliases, at most `YAML_MAX_DEPTH` levels and `YAML_MAX_NODES` nodes; anything else is a
    one-line error naming `where`."""
    if len(text) > YAML_MAX_BYTES:
        raise SymtuneError(f"{where}: {len(text):,} characters; at most {YAML_MAX_BYTES:,} read")
    loader = _BoundedLoader(text)
    try:
        return loader.get_single_data()
    except _Refused as err:
        raise SymtuneError(f"{where}: {err}") from None
    except yaml.YAMLError as err:
        raise SymtuneError(f"{where}: not valid YAML ({str(err).splitlines()[0]})") from None
    finally:
        loader.dispose()


def beside(value: str, named_in: Path) -> str:
    """A relative path written in the file `named_in`, read from that file's folder when it
    is there (`{split}` matching any split), so the file means the same from any current
    folder; anything else as written (an absolute path, a registry or hub name)."""
    import glob

    if not value or os.path.isabs(value):
        return value
    candidate = os.path.normpath(os.path.abspath(named_in.parent / value))
    pattern = glob.escape(candidate).replace(glob.escape("{split}"), "*")
    found = glob.glob(pattern) if "{split}" in value else os.path.exists(candidate)
    return candidate if found else value


def read_yaml(path: Path, what: str) -> Any:
    """`parse_yaml` of a file; a missing, oversized or non-UTF-8 file is a one-line error."""
    check_input_file(path, what)
    try:
        with path.open("rb") as handle:
            raw = handle.read(YAML_MAX_BYTES + 1)
    except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
        raise SymtuneError(f"{what} {path} not found") from None
    if len(raw) > YAML_MAX_BYTES:
        raise SymtuneError(f"{what} {path}: over {YAML_MAX_BYTES:,} bytes; not a config file?")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        raise SymtuneError(f"{what} {path}: not UTF-8 text") from None
    return parse_yaml(text, f"{what} {path}")
