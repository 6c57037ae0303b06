"""The architecture, checked from the source: which stage may import which, and module size."""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "symtune"


def imports_of(path: Path) -> set[str]:
    """Every module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
    return found


def modules(package: str) -> list[Path]:
    return sorted((SRC / package).glob("*.py"))


@pytest.mark.parametrize("path", modules("evaluate"), ids=lambda p: p.name)
def test_evaluation_never_imports_tuning(path):
    assert not {m for m in imports_of(path) if m.startswith("symtune.tune")}


@pytest.mark.parametrize("path", modules("report"), ids=lambda p: p.name)
def test_the_report_reads_files_and_never_builds_prompts(path):
    forbidden = ("symtune.evaluate.api", "symtune.evaluate.protocol", "symtune.prompts")
    forbidden += ("symtune.tune", "symtune.mixture", "symtune.data")
    assert not {m for m in imports_of(path) if m.startswith(forbidden)}


def test_data_side_modules_do_not_import_torch():
    data_side = ("symbols", "formats", "lengths", "prompts", "mixture_config", "mixture")
    for name in (*data_side, "mixture_read", "validation", "provenance", "rundir"):
        assert not {m for m in imports_of(SRC / f"{name}.py") if m.split(".")[0] == "torch"}


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_is_over_about_400_lines(path):
    assert len(path.read_text().splitlines()) <= 420, path
