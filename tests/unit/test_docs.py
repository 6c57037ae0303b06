"""The documentation cannot go stale: docs/cli.md is what the CLI generates, and every
relative link and anchor in README.md and docs/ resolves."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").rglob("*.md"))]
LINK = re.compile(r"(?<!!)\[[^\]]*\]\(([^)\s]+)\)|!\[[^\]]*\]\(([^)\s]+)\)")


def test_the_cli_reference_is_what_the_code_generates():
    from symtune.cli.docs import TARGET, cli_markdown

    assert TARGET == ROOT / "docs" / "cli.md"
    assert TARGET.read_text(encoding="utf-8") == cli_markdown(), (
        "docs/cli.md is stale: run `python -m symtune.cli.docs`"
    )


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lowercase, punctuation dropped, spaces to hyphens, repeats
    numbered."""
    found: dict[str, int] = {}
    out = set()
    in_code = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.startswith("```"):
            in_code = not in_code
        if in_code or not line.startswith("#"):
            continue
        title = line.lstrip("#").strip()
        slug = re.sub(r"[^\w\- ]", "", title.lower()).replace(" ", "-")
        n = found.get(slug, 0)
        found[slug] = n + 1
        out.add(slug if n == 0 else f"{slug}-{n}")
    return out


def links(page: Path) -> list[str]:
    text = re.sub(r"```.*?```", "", page.read_text(encoding="utf-8"), flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    return [a or b for a, b in LINK.findall(text)]


@pytest.mark.parametrize("page", PAGES, ids=[str(p.relative_to(ROOT)) for p in PAGES])
def test_every_relative_link_and_anchor_resolves(page):
    broken = []
    for link in links(page):
        if re.match(r"^[a-z]+:", link):  # https:, mailto:
            continue
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        missing = not target.exists()
        if missing or (anchor and target.suffix == ".md" and anchor not in anchors(target)):
            broken.append(link)
    assert not broken, f"{page.relative_to(ROOT)}: {broken}"


def test_the_link_checker_finds_a_broken_link_and_a_missing_anchor(tmp_path):
    page = tmp_path / "page.md"
    (tmp_path / "other.md").write_text("# Other\n\n## A section: `code`, here\n")
    page.write_text(
        "[ok](other.md#a-section-code-here) [gone](missing.md) [bad](other.md#nowhere)\n"
        "`[not a link](x.md)`\n```\n[in code](y.md)\n```\n"
    )
    assert links(page) == ["other.md#a-section-code-here", "missing.md", "other.md#nowhere"]
    assert anchors(tmp_path / "other.md") == {"other", "a-section-code-here"}


def test_report_html_renders_markdown_marks_and_names_what_a_figure_shows(tmp_path, monkeypatch):
    from symtune.report import figures
    from symtune.report.render import html_page, inline

    assert inline("`replicates: N` adds **noise** <x>") == (
        "<code>replicates: N</code> adds <b>noise</b> &lt;x&gt;"
    )
    page = html_page([("p", "a `b`"), ("table", ["h"], [["`sha`"]]), ("pre", "`kept`")], {})
    assert "<code>b</code>" in page and "<td><code>sha</code></td>" in page
    assert "<pre>`kept`</pre>" in page
    titles = []
    monkeypatch.setattr(
        figures, "bars", lambda path, groups, values, chance, title: titles.append(title)
    )
    summary = {
        "base": {
            g: {"average": 0.5, "chance": 0.5, "tasks": {}} for g in ("labels_only", "neither")
        }
    }
    figures.figures({"summary": {"rank": summary}}, [], "rank", tmp_path)
    assert titles == ["In-context learning, two settings (rank scoring)"]
