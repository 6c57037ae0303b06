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


@pytest.mark.parametrize("path", modules("analysis"), ids=lambda p: p.name)
def test_statistics_import_only_statistics(path):
    """analysis/ reads result records: no scoring engine, no tuning, no model, no torch."""
    forbidden = ("symtune.evaluate", "symtune.tune", "symtune.models", "symtune.pipeline")
    forbidden += ("symtune.report", "symtune.cli", "torch", "transformers")
    assert not {m for m in imports_of(path) if m.startswith(forbidden)}


def test_statistics_load_without_torch():
    import subprocess
    import sys

    names = ", ".join(f"symtune.analysis.{p.stem}" for p in modules("analysis"))
    code = f"import sys, {names}; print('torch' in sys.modules, 'transformers' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["False", "False"]


@pytest.mark.parametrize("path", modules("report"), ids=lambda p: p.name)
def test_the_report_reads_files_and_never_builds_prompts(path):
    forbidden = ("symtune.evaluate.api", "symtune.evaluate.protocol", "symtune.prompts")
    forbidden += ("symtune.tune", "symtune.mixture", "symtune.data")
    assert not {m for m in imports_of(path) if m.startswith(forbidden)}


@pytest.mark.parametrize(
    "path",
    [*modules("prompts"), *modules("mixture"), SRC / "provenance.py", SRC / "layout.py"],
    ids=lambda p: f"{p.parent.name}/{p.name}",
)
def test_data_side_modules_do_not_import_torch(path):
    assert not {m for m in imports_of(path) if m.split(".")[0] == "torch"}


@pytest.mark.parametrize("path", modules("tune"), ids=lambda p: p.name)
def test_tuning_imports_neither_evaluation_nor_the_report(path):
    """The tune stage hands over final/; the card and the evaluation come after it."""
    assert not {m for m in imports_of(path) if m.startswith(("symtune.evaluate", "symtune.report"))}


@pytest.mark.parametrize("path", modules("evaluate"), ids=lambda p: p.name)
def test_evaluation_never_imports_the_mixture_builder(path):
    """Evaluation resolves suites through tasks.suites, never through the data stage."""
    assert not {m for m in imports_of(path) if m.startswith("symtune.mixture")}


def test_the_package_root_holds_at_most_ten_modules():
    root = {p.name for p in SRC.glob("*.py")} - {"__init__.py", "__main__.py"}
    assert len(root) <= 10, sorted(root)


ROOT = SRC.parents[1]
OUTSIDE = sorted([*(ROOT / "bench").glob("*.py"), *(ROOT / "experiments").rglob("*.py")])


@pytest.mark.parametrize("path", OUTSIDE, ids=lambda p: f"{p.parent.name}/{p.name}")
def test_bench_and_experiments_keep_the_size_rule_and_no_path_hacks(path):
    text = path.read_text()
    assert len(text.splitlines()) <= 420, path
    assert "sys.path" not in text, path


@pytest.mark.parametrize("path", sorted(SRC.rglob("*.py")), ids=lambda p: p.name)
def test_no_module_is_over_about_400_lines(path):
    assert len(path.read_text().splitlines()) <= 420, path


def test_no_function_in_src_is_over_80_lines():
    long = []
    for path in sorted(SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            function = isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef)
            if function and node.end_lineno - node.lineno + 1 > 80:
                long.append(f"{path.relative_to(SRC)}:{node.lineno} {node.name}")
    assert not long, long


def module_name(path: Path) -> str:
    parts = path.relative_to(SRC.parent).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the symtune modules it imports (`from symtune.a.b import x` counts as
    symtune.a.b, or the nearest package above it that is a file)."""
    paths = {module_name(p): p for p in SRC.rglob("*.py")}
    graph = {}
    for name, path in paths.items():
        targets = set()
        for imported in imports_of(path):
            while imported and imported not in paths:
                imported = imported.rpartition(".")[0]
            if imported and imported != name:
                targets.add(imported)
        graph[name] = targets
    return graph


def test_no_import_circle_between_modules():
    """No module reaches itself through imports, at the top or inside a function (imports
    of a package's __init__, which re-exports its own modules, are not followed)."""
    graph = import_graph()
    packages = {module_name(p) for p in SRC.rglob("__init__.py")}
    circles = []
    for start in graph:
        stack, seen = [(start, [start])], set()
        while stack:
            node, trail = stack.pop()
            for nxt in graph[node] - packages:
                if nxt == start:
                    circles.append(" -> ".join([*trail, start]))
                elif nxt not in seen:
                    seen.add(nxt)
                    stack.append((nxt, [*trail, nxt]))
    assert not circles, sorted(set(circles))[:5]
